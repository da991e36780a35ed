"""`POST /v1/verify` on the embedded stack: the gateway's own B-LT signature is reported intact, valid, trusted
(the local PKI's root is a configured trust root) and revocation-checked from the document's embedded evidence;
the same report by `document_id`; tenants and bad input refused with stable codes; PDF bombs answered 400 with
their code quickly and a report that would be huge cut to fit (issue 8)."""

from __future__ import annotations

import time

import pytest
import requests

from chalicelib.signing.verification import MAX_REPORT_BYTES, MAX_SIGNATURES
from devstack.client import ApiError
from devstack.demo_data import SAMPLES
from tests.support import pdf_bombs
from tests.support.pki import person_sign

SENDER = SAMPLES[0].uploader


@pytest.fixture(scope="module")
def signed(client, sample_pdf):
    token = client.login(client.user_for(SENDER))
    created = client.create_document(token, dict(SAMPLES[0].metadata, notation="UBND-VERIFY"))
    client.upload(created["upload"], sample_pdf)
    doc = client.wait_for(token, created["document_id"], {"DISPATCHED", "REJECTED", "FAILED"}, timeout=90)
    assert doc["state"] == "DISPATCHED", doc
    return token, created["document_id"], client.download_signed(token, created["document_id"])


def test_the_gateway_signature_is_reported_as_b_lt_trusted_and_revocation_checked(client, signed):
    token, _, pdf = signed
    report = client.call("POST", "/v1/verify", token, data=pdf, headers={"Content-Type": "application/pdf"})
    (sig,) = report["signatures"]
    assert sig["intact"] and sig["valid"]
    # B-LT: the validation data (DSS) is a later incremental update, so the signature covers its revision only,
    # and the only change after it is of the kind PAdES allows.
    assert not sig["covers_whole_document"] and sig["modification_level"] == "LTA_UPDATES"
    assert sig["trusted"] and sig["revocation_checked"]
    assert sig["pades_level"] == "B-LT" and sig["timestamped"]
    assert sig["organisation"] == "UBND tỉnh Vĩnh Phúc" and sig["signed_at"].endswith("+07:00")


def test_by_document_id_gives_the_same_report_and_other_agencies_get_404(client, signed):
    token, document_id, pdf = signed
    by_body = client.call("POST", "/v1/verify", token, data=pdf, headers={"Content-Type": "application/pdf"})
    by_id = client.call("POST", "/v1/verify", token, json={"document_id": document_id})
    assert by_id == by_body
    other = client.login(client.user_for("000.00.12.H62"))
    with pytest.raises(ApiError) as info:
        client.call("POST", "/v1/verify", other, json={"document_id": document_id})
    assert info.value.status == 404


def test_an_unsigned_pdf_has_no_signatures(client, sample_pdf):
    token = client.login(client.user_for(SENDER))
    report = client.call("POST", "/v1/verify", token, data=sample_pdf.read_bytes(),
                         headers={"Content-Type": "application/pdf"})
    assert report == {"signatures": []}


@pytest.mark.parametrize(("body", "content_type", "status", "code"), [
    (b"not a pdf at all", "application/pdf", 400, "not_a_pdf"),
    (b"%PDF-1.7\n" + b"x" * (5 * 1024 * 1024), "application/pdf", 413, "payload_too_large"),
    (b'{"something": 1}', "application/json", 400, "nothing_to_verify"),
])
def test_bad_requests_get_stable_codes(client, body, content_type, status, code):
    token = client.login(client.user_for(SENDER))
    with pytest.raises(ApiError) as info:
        client.call("POST", "/v1/verify", token, data=body, headers={"Content-Type": content_type})
    assert info.value.status == status and info.value.code == code


def test_needs_a_token(client, sample_pdf):
    with pytest.raises(ApiError) as info:
        client.call("POST", "/v1/verify", None, data=sample_pdf.read_bytes(),
                    headers={"Content-Type": "application/pdf"})
    assert info.value.status == 401


def test_a_b_t_document_is_reported_as_b_t(client, stack, sample_pdf, tmp_path):
    """A PDF signed elsewhere with a signature timestamp from the stack's TSA, and no validation data: B-T."""
    from asn1crypto import x509
    from cryptography.hazmat.primitives.asymmetric import rsa

    from chalicelib.keys.backends import LocalKeySigner
    from chalicelib.signing.pades import PadesProfile, SigningIdentity, sign_pdf_file
    from devstack.pki import DemoCA

    ca = DemoCA.load_or_create(tmp_path / "other-ca")
    raw = LocalKeySigner(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    cert = x509.Certificate.load(ca.issue_org_certificate(raw.public_key_der(), "000.00.00.H49",
                                                          "UBND tỉnh Quảng Ninh"))
    identity = SigningIdentity("000.00.00.H49", "UBND tỉnh Quảng Ninh", cert,
                               [x509.Certificate.load(ca.root_cert_der)], raw)
    out = tmp_path / "bt.pdf"
    sign_pdf_file(sample_pdf, out, identity, profile=PadesProfile(level="B-T", tsa_url=stack["pki"]["tsa_url"]))

    token = client.login(client.user_for(SENDER))
    report = client.call("POST", "/v1/verify", token, data=out.read_bytes(),
                         headers={"Content-Type": "application/pdf"})
    (sig,) = report["signatures"]
    assert sig["pades_level"] == "B-T" and sig["timestamped"] and sig["intact"] and sig["valid"]
    assert sig["covers_whole_document"]
    assert not sig["trusted"]  # another CA than the configured roots


# -- issue 8: bombs are answered quickly with their code, reports fit ---------------------------------------------

BOMBS = {
    "xref_stream_2M_entries": (pdf_bombs.xref_stream_bomb, "pdf_too_complex", "xref_too_large"),
    "xref_table_2M_entries": (pdf_bombs.xref_table_bomb, "pdf_too_complex", "xref_too_large"),
    "million_objects": (pdf_bombs.many_objects_pdf, "pdf_too_complex", "xref_too_large"),
    "object_stream_1M_header": (pdf_bombs.object_stream_bomb, "pdf_too_complex", "object_stream_too_large"),
    "deep_nesting": (pdf_bombs.deep_nesting, "pdf_too_complex", "nesting_too_deep"),
    "signature_value_a_number": (lambda: pdf_bombs.sig_value_not_dict(b"5"), "malformed_pdf",
                                 "signature_value_not_dictionary"),
}


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_a_bomb_is_answered_400_with_its_code_quickly(client, name):
    build, code, reason = BOMBS[name]
    token = client.login(client.user_for(SENDER))
    body = build()
    started = time.monotonic()
    with pytest.raises(ApiError) as info:
        client.call("POST", "/v1/verify", token, data=body, headers={"Content-Type": "application/pdf"})
    elapsed = time.monotonic() - started
    print(f"\n/v1/verify {name} ({len(body)} bytes): HTTP {info.value.status} {info.value.code} in {elapsed:.2f} s")
    assert info.value.status == 400 and info.value.code == code
    assert info.value.body["error"]["details"]["reason"] == reason
    assert elapsed < 15  # the naive parse of the 230-byte xref bomb alone took 7-12 s


def test_a_report_that_would_be_huge_is_cut_and_says_so(client, ca, sample_pdf, tmp_path):
    person = tmp_path / "person.pdf"
    person_sign(sample_pdf, person, ca)
    bomb = pdf_bombs.huge_report_pdf(person, tmp_path / "huge.pdf", fields=300, name_length=2_000)
    token = client.login(client.user_for(SENDER))
    started = time.monotonic()
    response = requests.post(f"{client.info['api_url']}/v1/verify", data=bomb.read_bytes(), timeout=60,
                             headers={"Content-Type": "application/pdf", "Authorization": f"Bearer {token}"})
    elapsed = time.monotonic() - started
    print(f"\n/v1/verify on a {bomb.stat().st_size}-byte PDF with 301 signatures: {len(response.content)} bytes "
          f"in {elapsed:.2f} s")
    assert response.status_code == 200
    report = response.json()
    assert report["truncated"] is True and report["signature_count"] == 301
    assert len(report["signatures"]) <= MAX_SIGNATURES and len(response.content) <= 2 * MAX_REPORT_BYTES
