"""The key administration use cases (chalicelib.admin.keys) through in-memory ports: a key is created for a served
agency, its CSR is signed through the key itself, the CA's certificate is checked against the trust roots, and
activation switches the agency's signing key in one step, retiring the old one (never deleting it)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from chalicelib.admin import keys as admin
from chalicelib.admin.ports import KeyAdminPorts
from chalicelib.core.errors import CertificateRejected, Conflict, Forbidden, NotFound, ValidationFailed
from chalicelib.keys import certificates
from devstack.pki import DemoCA
from tests.fakes.key_admin import MemoryKeyStore, MemoryKms

H62, H03, EXT = "000.00.00.H62", "000.00.00.H03", "000.00.00.G22"
ADMIN = SimpleNamespace(username="admin", organ_id=H03, is_admin=True)
CLERK = SimpleNamespace(username="clerk", organ_id=H62, is_admin=False)


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> DemoCA:
    return DemoCA.load_or_create(Path(tmp_path_factory.mktemp("ca")))


@pytest.fixture
def kms() -> MemoryKms:
    return MemoryKms()


@pytest.fixture
def store() -> MemoryKeyStore:
    return MemoryKeyStore({"organ_id": H62, "name": "UBND tỉnh Hà Giang", "served": True, "active": True},
                          {"organ_id": EXT, "name": "Bộ Nội vụ", "served": False})


@pytest.fixture
def ports(store: MemoryKeyStore, kms: MemoryKms, ca: DemoCA) -> KeyAdminPorts:
    def no_token(uri: object) -> None:
        raise AssertionError("no PKCS#11 token in these tests")

    return KeyAdminPorts(keys=store, kms=kms, trust_roots=lambda: certificates.parse_certificates(ca.root_cert_pem),
                         signer_for=kms.signer_for, token_key=no_token)


def certificate_for(ca: DemoCA, record: dict) -> str:
    spki = certificates.spki_from_pem(record["public_key_pem"])
    der = ca.issue_org_certificate(spki, H62, "UBND tỉnh Hà Giang")
    return x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM).decode("ascii")


def certified_key(ports: KeyAdminPorts, ca: DemoCA) -> dict:
    created = admin.create_key(ADMIN, {"organ_id": H62}, ports)
    record = ports.keys.get(H62, created["key_ref"])
    admin.upload_certificate(ADMIN, H62, created["key_ref"], {"certificate_pem": certificate_for(ca, record),
                                                              "chain_pem": ca.root_cert_pem}, ports)
    return created


# -- create ----------------------------------------------------------------------------------------------------


def test_a_new_kms_key_is_recorded_created_with_its_public_key(store, kms, ports):
    view = admin.create_key(ADMIN, {"organ_id": f" {H62} "}, ports)
    record = store.get(H62, view["key_ref"])
    assert record["state"] == view["state"] == certificates.CREATED and record["backend"] == "kms"
    assert record["key_id"] in kms.private and record["created_by"] == "admin"
    assert [h["action"] for h in record["history"]] == ["created"]
    assert view["public_key_pem"] == record["public_key_pem"]
    assert record["public_key_sha256"] == certificates.public_key_sha256(
        certificates.spki_from_pem(record["public_key_pem"]))


@pytest.mark.parametrize(("caller", "body", "error", "code"), [
    (CLERK, {"organ_id": H62}, Forbidden, "forbidden"),
    (ADMIN, {}, ValidationFailed, "missing_organ_id"),
    (ADMIN, {"organ_id": "000.00.00.Z99"}, NotFound, "unknown_agency"),
    (ADMIN, {"organ_id": EXT}, ValidationFailed, "agency_not_served"),
    (ADMIN, {"organ_id": H62, "backend": "softkey"}, ValidationFailed, "unsupported_key_backend"),
])
def test_a_key_is_created_only_by_an_admin_for_a_served_agency_on_a_known_backend(store, kms, ports, caller, body,
                                                                                 error, code):
    with pytest.raises(error) as exc:
        admin.create_key(caller, body, ports)
    assert exc.value.code == code
    assert store.records == {} and kms.private == {}


# -- CSR -------------------------------------------------------------------------------------------------------


def test_the_csr_is_signed_through_the_key_and_names_the_agency(store, ports):
    created = admin.create_key(ADMIN, {"organ_id": H62}, ports)
    out = admin.make_csr(ADMIN, H62, created["key_ref"], {}, ports)
    csr = x509.load_pem_x509_csr(out["csr_pem"].encode("ascii"))
    assert csr.is_signature_valid
    spki = csr.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert spki == certificates.spki_from_pem(store.get(H62, created["key_ref"])["public_key_pem"])
    assert out["subject"] == certificates.csr_subject(H62, "UBND tỉnh Hà Giang")
    assert csr.subject.get_attributes_for_oid(x509.NameOID.SERIAL_NUMBER)[0].value == H62
    record = store.get(H62, created["key_ref"])
    assert record["csr_pem"] == out["csr_pem"] and record["history"][-1]["action"] == "csr"


def test_no_csr_for_an_unknown_or_retired_key(store, ports):
    with pytest.raises(NotFound) as exc:
        admin.make_csr(ADMIN, H62, "k" * 26, {}, ports)
    assert exc.value.code == "unknown_key"
    created = admin.create_key(ADMIN, {"organ_id": H62}, ports)
    store.records[(H62, created["key_ref"])]["state"] = certificates.RETIRED
    with pytest.raises(Conflict) as exc:
        admin.make_csr(ADMIN, H62, created["key_ref"], {}, ports)
    assert exc.value.code == "key_retired"


# -- certificate -----------------------------------------------------------------------------------------------


def test_a_certificate_for_the_key_from_a_trusted_ca_makes_it_certified(store, ports, ca):
    created = certified_key(ports, ca)
    record = store.get(H62, created["key_ref"])
    assert record["state"] == certificates.CERTIFIED and record["certificate"]["not_after"]
    assert record["history"][-1]["action"] == "certificate"


def test_a_certificate_for_another_key_is_refused_and_changes_nothing(store, ports, ca):
    first = admin.create_key(ADMIN, {"organ_id": H62}, ports)
    second = admin.create_key(ADMIN, {"organ_id": H62}, ports)
    other = certificate_for(ca, store.get(H62, second["key_ref"]))
    with pytest.raises(CertificateRejected) as exc:
        admin.upload_certificate(ADMIN, H62, first["key_ref"], {"certificate_pem": other}, ports)
    assert exc.value.code == "certificate_key_mismatch"
    assert store.get(H62, first["key_ref"])["state"] == certificates.CREATED
    with pytest.raises(ValidationFailed) as exc:
        admin.upload_certificate(ADMIN, H62, first["key_ref"], {"certificate_pem": 42}, ports)
    assert exc.value.code == "invalid_certificate"


# -- activate --------------------------------------------------------------------------------------------------


def test_activation_switches_the_agencys_key_and_retires_the_old_one(store, kms, ports, ca):
    first = certified_key(ports, ca)
    admin.activate(ADMIN, H62, first["key_ref"], ports)
    agency = store.agency_item(H62)
    assert agency["signing_key"]["key_ref"] == first["key_ref"] and "previous_keys" not in agency
    assert kms.aliases[H62] == agency["signing_key"]["key_id"]
    assert admin.activate(ADMIN, H62, first["key_ref"], ports)["state"] == certificates.ACTIVE, "twice: no change"

    second = certified_key(ports, ca)
    view = admin.activate(ADMIN, H62, second["key_ref"], ports)
    assert view["state"] == certificates.ACTIVE
    agency = store.agency_item(H62)
    assert agency["signing_key"]["key_ref"] == second["key_ref"]
    assert [k["key_ref"] for k in agency["previous_keys"]] == [first["key_ref"]]
    old = store.get(H62, first["key_ref"])
    assert old["state"] == certificates.RETIRED and old["history"][-1] == {
        **old["history"][-1], "action": "retired", "replaced_by": second["key_ref"]}
    listed = admin.list_keys(ADMIN, H62, ports)["items"]
    assert {v["key_ref"]: v["state"] for v in listed} == {first["key_ref"]: certificates.RETIRED,
                                                          second["key_ref"]: certificates.ACTIVE}
    (renewals,) = admin.list_keys(ADMIN, None, ports)["items"]
    assert renewals["organ_id"] == H62 and "source" not in renewals


def test_a_key_without_a_checked_certificate_cannot_be_activated(ports):
    created = admin.create_key(ADMIN, {"organ_id": H62}, ports)
    with pytest.raises(Conflict) as exc:
        admin.activate(ADMIN, H62, created["key_ref"], ports)
    assert exc.value.code == "key_not_certified" and exc.value.details == {"state": certificates.CREATED}


def test_another_admins_key_change_meanwhile_makes_activation_a_conflict(store, kms, ports, ca):
    created = certified_key(ports, ca)

    def another_admin() -> None:
        store.agencies[H62]["signing_key"] = {"key_id": "arn:other", "certificate_pem": "x", "key_ref": "other"}

    store.before_switch = another_admin
    with pytest.raises(Conflict) as exc:
        admin.activate(ADMIN, H62, created["key_ref"], ports)
    assert exc.value.code == "concurrent_key_change"
    assert store.get(H62, created["key_ref"])["state"] == certificates.CERTIFIED and kms.aliases == {}


def test_a_renewed_certificate_for_the_active_key_replaces_the_registrys_copy(store, ports, ca):
    created = certified_key(ports, ca)
    admin.activate(ADMIN, H62, created["key_ref"], ports)
    renewed = certificate_for(ca, store.get(H62, created["key_ref"]))
    view = admin.upload_certificate(ADMIN, H62, created["key_ref"], {"certificate_pem": renewed,
                                                                     "chain_pem": ca.root_cert_pem}, ports)
    assert view["state"] == certificates.ACTIVE
    agency_key = store.agency_item(H62)["signing_key"]
    assert agency_key["certificate_pem"] == store.get(H62, created["key_ref"])["certificate_pem"]
    assert agency_key["certificate_pem"].strip() == renewed.strip()
