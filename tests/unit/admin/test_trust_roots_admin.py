"""`/v1/admin/trust-roots` use cases (chalicelib.admin.trust_roots) against an in-memory bundle: CA certificates
only, duplicates refused, configured roots listed but not removable, a concurrent edit retried, never lost."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from chalicelib.adapters import trust_store
from chalicelib.adapters.trust_store import trust_roots, use_trust_bundle
from chalicelib.admin import trust_roots as admin
from chalicelib.core.errors import CertificateRejected, Conflict, Forbidden, NotFound, ValidationFailed
from chalicelib.core.settings import get_settings
from chalicelib.domain.caller import Caller
from devstack.pki import DemoCA
from tests.fakes.audit import FakeTrustBundle
from tests.support.pki import fresh_ca, rsa_key

ADMIN = Caller("admin1", "000.00.01.H62", True)
CLERK = Caller("clerk1", "000.00.12.H62", False)


@pytest.fixture()
def bundle(monkeypatch: pytest.MonkeyPatch, ca: DemoCA) -> Iterator[FakeTrustBundle]:
    monkeypatch.setenv("TRUST_ROOTS", ca.root_cert_pem)
    get_settings.cache_clear()
    fake = FakeTrustBundle()
    use_trust_bundle(fake)
    yield fake
    use_trust_bundle(None)
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory: pytest.TempPathFactory) -> DemoCA:
    return fresh_ca(tmp_path_factory.mktemp("other-ca"))


def test_add_list_and_delete_a_root(bundle: FakeTrustBundle, ca: DemoCA, other_ca: DemoCA) -> None:
    added = admin.add_root(ADMIN, {"pem": other_ca.root_cert_pem})
    assert added["source"] == "admin" and len(added["fingerprint"]) == 64 and added["pem"].startswith("-----BEGIN")
    listed = admin.list_roots(ADMIN)["items"]
    assert [r["source"] for r in listed] == ["configured", "admin"]
    assert listed[1]["fingerprint"] == added["fingerprint"] and listed[1]["not_after"]
    assert {r.sha256.hex() for r in trust_roots()} == {r["fingerprint"] for r in listed}, "the store sees it at once"
    assert admin.delete_root(ADMIN, added["fingerprint"].upper()) == {"fingerprint": added["fingerprint"],
                                                                     "deleted": True}
    assert [r["source"] for r in admin.list_roots(ADMIN)["items"]] == ["configured"]
    assert len(trust_roots()) == 1


def test_duplicates_and_configured_roots(bundle: FakeTrustBundle, ca: DemoCA, other_ca: DemoCA) -> None:
    with pytest.raises(Conflict) as exc:
        admin.add_root(ADMIN, {"pem": ca.root_cert_pem})
    assert exc.value.code == "trust_root_exists" and exc.value.details["source"] == "configured"
    admin.add_root(ADMIN, {"pem": other_ca.root_cert_pem})
    with pytest.raises(Conflict) as exc:
        admin.add_root(ADMIN, {"pem": other_ca.root_cert_pem})
    assert exc.value.code == "trust_root_exists"
    configured = admin.list_roots(ADMIN)["items"][0]["fingerprint"]
    with pytest.raises(Conflict) as exc:
        admin.delete_root(ADMIN, configured)
    assert exc.value.code == "trust_root_configured"


def test_only_ca_certificates_in_pem(bundle: FakeTrustBundle, ca: DemoCA) -> None:
    from asn1crypto import pem

    leaf_pem = pem.armor("CERTIFICATE", ca.issue_org_certificate(_spki(), "000.00.12.H62", "Sở Thử")).decode()
    with pytest.raises(CertificateRejected) as exc:
        admin.add_root(ADMIN, {"pem": leaf_pem})
    assert exc.value.code == "not_a_ca_certificate"
    with pytest.raises(CertificateRejected) as exc:
        admin.add_root(ADMIN, {"pem": "not a certificate"})
    assert exc.value.code == "invalid_certificate"
    with pytest.raises(ValidationFailed):
        admin.add_root(ADMIN, {"pem": ca.root_cert_pem, "extra": 1})
    with pytest.raises(NotFound):
        admin.delete_root(ADMIN, "ab" * 32)
    with pytest.raises(ValidationFailed) as exc2:
        admin.delete_root(ADMIN, "zz")
    assert exc2.value.code == "invalid_fingerprint"


def _spki() -> bytes:
    from cryptography.hazmat.primitives import serialization

    return rsa_key().public_key().public_bytes(serialization.Encoding.DER,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)


def test_a_concurrent_edit_is_retried_not_lost(bundle: FakeTrustBundle, other_ca: DemoCA,
                                               tmp_path: Path) -> None:
    third = fresh_ca(tmp_path / "third")
    bundle.interfere = third.root_cert_pem  # another admin's write lands between our read and our write
    admin.add_root(ADMIN, {"pem": other_ca.root_cert_pem})
    assert [r["source"] for r in admin.list_roots(ADMIN)["items"]] == ["configured", "admin", "admin"]
    assert bundle.writes == 1


def test_only_admins(bundle: FakeTrustBundle, other_ca: DemoCA) -> None:
    for call in (lambda: admin.list_roots(CLERK), lambda: admin.add_root(CLERK, {"pem": other_ca.root_cert_pem}),
                 lambda: admin.delete_root(CLERK, "ab" * 32)):
        with pytest.raises(Forbidden):
            call()
    assert trust_store.get_trust_bundle() is bundle
