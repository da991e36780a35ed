"""PAdES B-T and B-LT against the local PKI (OCSP responder, CRL, RFC 3161 TSA over HTTP on 127.0.0.1).

Checked by pyHanko's validator (timestamp and revocation data embedded: B-LT must validate from the document's DSS
alone, fetching off, revocation information required) and by poppler's pdfsig with the demo root trusted in an NSS
database (certutil), plus qpdf. A certificate revoked at the CA is refused before the key is used.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import x509

from chalicelib.core.errors import CertificateUnusable
from chalicelib.signing import ltv
from chalicelib.signing.pades import PadesProfile, SigningIdentity, StampBox, sign_pdf_file
from devstack.pdftools import make_nss_db, pdfsig_report, pyhanko_report, qpdf_check
from devstack.pki import DemoCA
from devstack.pki_server import LocalPki
from tests.support.documents import bacgiang_congvan_pdf
from tests.support.organs import H03, NAMES
from tests.support.pki import local_identity, person_sign

ORG_NAME = NAMES[H03]


@pytest.fixture(scope="module")
def pki(ca: DemoCA):
    with LocalPki(ca) as server:
        yield server


@pytest.fixture(scope="module")
def root(ca: DemoCA) -> x509.Certificate:
    return x509.Certificate.load(ca.root_cert_der)


@pytest.fixture(scope="module")
def nssdir(tmp_path_factory: pytest.TempPathFactory, ca: DemoCA) -> str:
    return make_nss_db(tmp_path_factory.mktemp("nss"), ca.root_cert_pem)


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bacgiang_congvan_pdf(tmp_path_factory.mktemp("doc"))


def _identity(ca: DemoCA, pki: LocalPki, organ_id: str, *, pointers: bool = True) -> SigningIdentity:
    return local_identity(ca, organ_id, ORG_NAME, ocsp_url=pki.ocsp_url if pointers else None,
                          crl_url=pki.crl_url if pointers else None)


@pytest.fixture(scope="module")
def identity(ca: DemoCA, pki: LocalPki) -> SigningIdentity:
    return _identity(ca, pki, H03)


def _sign_at(level: str, document: Path, out: Path, identity: SigningIdentity, pki: LocalPki,
             root: x509.Certificate) -> tuple[Path, Any, dict[str, Any]]:
    """Sign `document` into `out` at PAdES `level` with the local TSA: (out, the result, pyHanko's one report)."""
    result = sign_pdf_file(document, out, identity, profile=PadesProfile(level=level, tsa_url=pki.tsa_url))
    [report] = pyhanko_report(out, [root])
    return out, result, report


@pytest.fixture(autouse=True)
def _fresh_revocation_cache():
    ltv.default_checker().forget()
    yield
    ltv.default_checker().forget()


def test_b_t_carries_a_trusted_signature_timestamp(tmp_path: Path, document: Path, identity: SigningIdentity,
                                                   pki: LocalPki, root: x509.Certificate, nssdir: str) -> None:
    out, result, report = _sign_at("B-T", document, tmp_path / "bt.pdf", identity, pki, root)
    assert result.level == "B-T"
    assert report["level"] == "B-T", report
    assert report["timestamped"] and report["dss"] is None
    [sig] = pdfsig_report(out, nssdir=nssdir)
    assert sig["valid"] and sig["trusted"] and sig["total_document_signed"], sig
    assert qpdf_check(out)


def test_b_lt_embeds_certificates_and_revocation_answers(tmp_path: Path, document: Path, identity: SigningIdentity,
                                                         pki: LocalPki, root: x509.Certificate, nssdir: str) -> None:
    out, result, report = _sign_at("B-LT", document, tmp_path / "blt.pdf", identity, pki, root)
    assert result.level == "B-LT"
    assert report["level"] == "B-LT", report
    # root, agency certificate, TSA certificate; an OCSP answer for each of the two leaves
    assert report["dss"] == {"certs": 3, "ocsps": 2, "crls": 0}
    [sig] = pdfsig_report(out, nssdir=nssdir)
    assert sig["valid"] and sig["trusted"], sig
    assert not sig["total_document_signed"]  # the DSS is a later incremental update, as PAdES B-LT has it
    assert qpdf_check(out)
    # Without the root trusted, pdfsig still finds the signature valid but the certificate not trusted.
    assert not pdfsig_report(out)[0]["trusted"]


def test_b_t_alone_is_not_reported_as_b_lt(tmp_path: Path, document: Path, identity: SigningIdentity,
                                           pki: LocalPki, root: x509.Certificate) -> None:
    """The level check is real: with revocation data required and none embedded, B-T stays B-T."""
    out = tmp_path / "bt.pdf"
    sign_pdf_file(document, out, identity, profile=PadesProfile(level="B-T", tsa_url=pki.tsa_url))
    assert pyhanko_report(out, [root])[0]["level"] == "B-T"


def test_person_signature_and_b_lt_organisation_signature_both_valid(
        tmp_path: Path, document: Path, identity: SigningIdentity, pki: LocalPki, ca: DemoCA,
        root: x509.Certificate, nssdir: str) -> None:
    person = tmp_path / "person.pdf"
    person_sign(document, person, ca)
    out = tmp_path / "both.pdf"
    sign_pdf_file(person, out, identity, profile=PadesProfile(level="B-LT", tsa_url=pki.tsa_url),
                  box=StampBox(page=-1, x=60, y=300, width=280, height=90))
    sigs = pdfsig_report(out, nssdir=nssdir)
    assert [s["field"] for s in sigs] == ["NguoiKy", "CoQuan_000_00_00_H03"]
    assert all(s["valid"] for s in sigs), sigs
    # Ours is trusted. (The person's test certificate names no CRL, and poppler 22's NSS check, offline, then
    # answers "Unknown issue with Certificate": a quirk of that certificate, not of either signature.)
    assert sigs[1]["trusted"], sigs[1]
    reports = pyhanko_report(out, [root])
    assert reports[1]["level"] == "B-LT"
    assert reports[0]["intact"] and reports[0]["valid"]  # the person's stays intact under both updates
    assert qpdf_check(out)


def test_revoked_certificate_is_refused_before_signing(tmp_path: Path, document: Path, ca: DemoCA,
                                                       pki: LocalPki) -> None:
    revoked = _identity(ca, pki, "000.00.01.H62")
    ca.revoke(revoked.certificate.serial_number, "key_compromise",
              at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
    calls = []
    real_sign = revoked.raw_signer.sign
    revoked.raw_signer.sign = lambda data: calls.append(data) or real_sign(data)  # type: ignore[method-assign]
    out = tmp_path / "never.pdf"
    with pytest.raises(CertificateUnusable) as info:
        sign_pdf_file(document, out, revoked, profile=PadesProfile(level="B-LT", tsa_url=pki.tsa_url))
    assert info.value.code == "certificate_revoked"
    assert info.value.details["reason"] == "key_compromise"
    assert not out.exists()
    assert calls == [], "the key must not be used once the certificate is known revoked"


def test_revocation_answers_are_cached_briefly_per_certificate(identity: SigningIdentity, ca: DemoCA) -> None:
    now = [1000.0]
    checker = ltv.RevocationChecker(ttl_seconds=60, clock=lambda: now[0])
    first = checker.check(identity.certificate, x509.Certificate.load(ca.root_cert_der))
    assert first.status == "good" and first.source == "ocsp" and checker.fetches == 1
    checker.check(identity.certificate, x509.Certificate.load(ca.root_cert_der))
    assert checker.fetches == 1  # answered from the cache
    now[0] += 61
    checker.check(identity.certificate, x509.Certificate.load(ca.root_cert_der))
    assert checker.fetches == 2  # expired: asked again


def test_crl_is_used_when_the_ocsp_responder_is_down(identity: SigningIdentity, ca: DemoCA, pki: LocalPki) -> None:
    def fetch(url: str, body: bytes | None = None, content_type: str | None = None) -> bytes:
        if url == pki.ocsp_url:
            raise OSError("connection refused")
        return ltv.http_request(url, body, content_type)

    answer = ltv.RevocationChecker(fetch=fetch).check(identity.certificate, x509.Certificate.load(ca.root_cert_der))
    assert (answer.status, answer.source) == ("good", "crl")


def test_no_revocation_source_reachable_is_transient(identity: SigningIdentity, ca: DemoCA) -> None:
    def down(url: str, body: bytes | None = None, content_type: str | None = None) -> bytes:
        raise OSError("connection refused")

    with pytest.raises(ltv.RevocationUnavailable):
        ltv.RevocationChecker(fetch=down).check(identity.certificate, x509.Certificate.load(ca.root_cert_der))


def test_ocsp_answer_signed_by_another_key_is_not_believed(identity: SigningIdentity, ca: DemoCA,
                                                           tmp_path: Path) -> None:
    impostor = DemoCA.load_or_create(tmp_path / "impostor")
    root = x509.Certificate.load(ca.root_cert_der)

    def forged(url: str, body: bytes | None = None, content_type: str | None = None) -> bytes:
        if body is None:
            raise OSError("no CRL either")
        # An answer about our certificate, signed by another CA's key that claims the real CA's name hashes.
        impostor.certificate = ca.certificate  # responder id and issuer hashes of the real CA ...
        try:
            return impostor.ocsp_response(body)  # ... signature by the impostor's key
        finally:
            impostor.certificate = DemoCA.load_or_create(tmp_path / "impostor").certificate

    with pytest.raises(ltv.RevocationUnavailable, match="OCSP"):
        ltv.RevocationChecker(fetch=forged).check(identity.certificate, root)


def test_certificate_without_revocation_pointers_is_signed_at_b_t(tmp_path: Path, document: Path, ca: DemoCA,
                                                                  pki: LocalPki, root: x509.Certificate) -> None:
    bare = _identity(ca, pki, "000.00.13.H62", pointers=False)
    out = tmp_path / "bt.pdf"
    result = sign_pdf_file(document, out, bare, profile=PadesProfile(level="B-LT", tsa_url=pki.tsa_url))
    assert result.level == "B-T"
    assert pyhanko_report(out, [root])[0]["level"] == "B-T"


def test_profile_from_configuration() -> None:
    assert PadesProfile.from_config("").level == "B-B"
    assert PadesProfile.from_config("", "B-LT").level == "B-B"  # no TSA, no timestamp: B-B whatever is asked
    assert PadesProfile.from_config("http://tsa.example/").level == "B-LT"
    assert PadesProfile.from_config("http://tsa.example/", "b-t").level == "B-T"
    assert PadesProfile.from_config("http://tsa.example/", "B-B").level == "B-B"
    with pytest.raises(ValueError):
        PadesProfile.from_config("http://tsa.example/", "B-LTA")
