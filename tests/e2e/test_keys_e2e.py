"""The key lifecycle end to end on the embedded stack, over HTTP only, as the `admin` demo user.

Given Sở Nội vụ Vĩnh Phúc signing with its provisioned KMS key, when the admin creates a new KMS key, gets a CSR
signed through it, has a CA issue a certificate (the demo CA, loaded from the stack's state dir, playing the
external CA), uploads the chain and activates it, then the agency's next document is signed with the new
certificate, the old key is listed RETIRED, and a PDF signed before the rotation still validates. On the way, a
certificate for another key is refused (`certificate_key_mismatch`), one from a CA that is not a trust root is
refused (`untrusted_chain`), activation before certification is refused, and clerks get 403 on every key route.
"""

from __future__ import annotations

import io
import json
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from devstack.client import ApiError, GatewayClient, operator_client
from devstack.demo_data import AGENCIES, SAMPLES
from devstack.pdftools import pdfsig_report, qpdf_check
from devstack.pki import DemoCA

ORGAN = "000.00.13.H62"  # Sở Nội vụ Vĩnh Phúc: no other end-to-end test signs as it
NAME = next(a.name for a in AGENCIES if a.organ_id == ORGAN)


@pytest.fixture(scope="module")
def admin(client: GatewayClient) -> str:
    return client.login("admin")


@pytest.fixture(scope="module")
def clerk(client: GatewayClient) -> str:
    return client.login(client.user_for(ORGAN))


@pytest.fixture(scope="module")
def ca(stack_handle) -> DemoCA:
    """The CA an agency would send its CSR to; here the stack's demo root, read from its state dir."""
    return DemoCA.load_or_create(Path(stack_handle.state_dir) / "pki")


def _spki(csr_pem: str) -> bytes:
    request = x509.load_pem_x509_csr(csr_pem.encode("ascii"))
    assert request.is_signature_valid
    return request.public_key().public_bytes(serialization.Encoding.DER,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)


def _sign_a_document(client: GatewayClient, clerk: str, pdf: Path, suffix: str) -> bytes:
    metadata = json.loads(json.dumps(SAMPLES[0].metadata))
    metadata["notation"] = f"SNV-KEYS-{suffix}"
    created = client.create_document(clerk, metadata)
    client.upload(created["upload"], pdf)
    doc = client.wait_for(clerk, created["document_id"], {"SIGNED", "DISPATCHED", "FAILED", "REJECTED"}, timeout=90)
    assert doc["state"] in ("SIGNED", "DISPATCHED"), doc
    return client.download_signed(clerk, created["document_id"])


def _signer_certificate(pdf: bytes) -> bytes:
    from pyhanko.pdf_utils.reader import PdfFileReader

    return PdfFileReader(io.BytesIO(pdf)).embedded_signatures[-1].signer_cert.dump()


def _valid(pdf: bytes, tmp_path: Path, name: str) -> bool:
    path = tmp_path / name
    path.write_bytes(pdf)
    report = pdfsig_report(path)
    return bool(report) and all(s["valid"] for s in report) and qpdf_check(path)


def _alias_target(client: GatewayClient, alias: str) -> str | None:
    """Where a KMS alias points, asked of the stack's AWS endpoint (people find the active key by it)."""

    kms = operator_client(client.info, "kms")
    return next((a.get("TargetKeyId") for page in kms.get_paginator("list_aliases").paginate()
                 for a in page["Aliases"] if a["AliasName"] == alias), None)


def _refused(client: GatewayClient, method: str, path: str, token: str, **kwargs) -> ApiError:
    with pytest.raises(ApiError) as info:
        client.call(method, path, token, **kwargs)
    assert info.value.body["error"]["message"]  # Vietnamese text for people, always
    return info.value


def test_clerks_cannot_touch_keys(client: GatewayClient, clerk: str) -> None:
    for method, path, body in (("GET", "/v1/admin/keys", None), ("GET", "/v1/admin/keys?organ_id=" + ORGAN, None),
                               ("POST", "/v1/admin/keys", {"organ_id": ORGAN}),
                               ("POST", "/v1/admin/keys/rotate", {"organ_id": ORGAN}),
                               ("GET", f"/v1/admin/keys/{ORGAN}/k1", None),
                               ("POST", f"/v1/admin/keys/{ORGAN}/k1/csr", {}),
                               ("PUT", f"/v1/admin/keys/{ORGAN}/k1/certificate", {"certificate_pem": "x"}),
                               ("POST", f"/v1/admin/keys/{ORGAN}/k1/activate", {})):
        error = _refused(client, method, path, clerk, json=body)
        assert (error.status, error.code) == (403, "forbidden"), (method, path, error.body)
    assert _refused(client, "GET", "/v1/admin/keys", None).status == 401


def test_rotation_create_csr_upload_activate(client: GatewayClient, admin: str, clerk: str, ca: DemoCA,
                                             sample_pdf: Path, tmp_path: Path) -> None:
    listed = client.call("GET", "/v1/admin/keys", admin, params={"organ_id": ORGAN})["items"]
    [old] = [k for k in listed if k["state"] == "ACTIVE"]
    assert old["days_left"] > 700 and old["not_after"] and old["backend"] == "kms"
    overview = client.call("GET", "/v1/admin/keys", admin)["items"]
    assert ORGAN in {k["organ_id"] for k in overview}
    assert [k["not_after"] for k in overview] == sorted(k["not_after"] for k in overview)  # soonest expiry first

    before = _sign_a_document(client, clerk, sample_pdf, "BEFORE")
    assert _valid(before, tmp_path, "before.pdf")

    # 1. a new KMS key
    created = client.call("POST", "/v1/admin/keys", admin, json={"organ_id": ORGAN, "backend": "kms"})
    ref = created["key_ref"]
    assert created["state"] == "CREATED" and created["key_id"].startswith("arn:aws:kms:")
    assert created["public_key_pem"].startswith("-----BEGIN PUBLIC KEY-----")
    error = _refused(client, "POST", f"/v1/admin/keys/{ORGAN}/{ref}/activate", admin)
    assert (error.status, error.code) == (409, "key_not_certified")

    # 2. its CSR, signed through KMS: the public key is the key's, the subject the agency's
    csr = client.call("POST", f"/v1/admin/keys/{ORGAN}/{ref}/csr", admin, json={})
    spki = _spki(csr["csr_pem"])
    assert spki == serialization.load_pem_public_key(created["public_key_pem"].encode()).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert csr["subject"]["serial_number"] == ORGAN and csr["subject"]["organization_name"] == NAME

    # 3. the CA's answers: for another key, from another root, then the right one
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    wrong_key = ssl.DER_cert_to_PEM_cert(ca.issue_org_certificate(other_key, ORGAN, NAME))
    error = _refused(client, "PUT", f"/v1/admin/keys/{ORGAN}/{ref}/certificate", admin,
                     json={"certificate_pem": wrong_key, "chain_pem": ca.root_cert_pem})
    assert (error.status, error.code) == (422, "certificate_key_mismatch")

    rogue = DemoCA.load_or_create(tmp_path / "rogue-ca")  # same name as the demo root, another key
    untrusted = ssl.DER_cert_to_PEM_cert(rogue.issue_org_certificate(spki, ORGAN, NAME))
    error = _refused(client, "PUT", f"/v1/admin/keys/{ORGAN}/{ref}/certificate", admin,
                     json={"certificate_pem": untrusted, "chain_pem": rogue.root_cert_pem})
    assert (error.status, error.code) == (422, "untrusted_chain")

    issued = ssl.DER_cert_to_PEM_cert(ca.issue_org_certificate(spki, ORGAN, NAME, days=365))
    certified = client.call("PUT", f"/v1/admin/keys/{ORGAN}/{ref}/certificate", admin,
                            json={"certificate_pem": issued, "chain_pem": ca.root_cert_pem})
    assert certified["state"] == "CERTIFIED" and 363 <= certified["days_left"] <= 365
    assert certified["chain_pem"] == ca.root_cert_pem

    # Until activation the old key signs.
    still_old = _sign_a_document(client, clerk, sample_pdf, "CERTIFIED")
    assert _signer_certificate(still_old) == _signer_certificate(before)

    # 4. activate
    active = client.call("POST", f"/v1/admin/keys/{ORGAN}/{ref}/activate", admin)
    assert active["state"] == "ACTIVE"
    again = client.call("POST", f"/v1/admin/keys/{ORGAN}/{ref}/activate", admin)
    assert again["state"] == "ACTIVE"  # activating twice changes nothing
    states = {k["key_ref"]: k["state"] for k in
              client.call("GET", "/v1/admin/keys", admin, params={"organ_id": ORGAN})["items"]}
    assert states[ref] == "ACTIVE" and states[old["key_ref"]] == "RETIRED"
    assert list(states.values()).count("ACTIVE") == 1
    alias = "alias/edoc-sign/local/" + ORGAN.replace(".", "-")
    assert _alias_target(client, alias) == created["key_id"].rsplit("/", 1)[1]

    after = _sign_a_document(client, clerk, sample_pdf, "AFTER")
    assert _valid(after, tmp_path, "after.pdf")
    assert _signer_certificate(after) == x509.load_pem_x509_certificate(issued.encode()).public_bytes(
        serialization.Encoding.DER)
    # Documents signed before the rotation are finished PDFs with their own certificate: still valid.
    assert _valid(before, tmp_path, "before-again.pdf")
    assert _valid(still_old, tmp_path, "certified-again.pdf")


def test_rotate_in_one_call_then_roll_back(client: GatewayClient, admin: str, ca: DemoCA) -> None:
    started = client.call("POST", "/v1/admin/keys/rotate", admin, json={"organ_id": ORGAN})
    new = started["key"]
    assert new["state"] == "CREATED" and started["csr_pem"].startswith("-----BEGIN CERTIFICATE REQUEST-----")
    assert started["next"] == [f"PUT /v1/admin/keys/{ORGAN}/{new['key_ref']}/certificate",
                               f"POST /v1/admin/keys/{ORGAN}/{new['key_ref']}/activate"]
    spki = _spki(started["csr_pem"])
    # The chain as one bundle, root first: the gateway finds the leaf by its key.
    bundle = ca.root_cert_pem + ssl.DER_cert_to_PEM_cert(ca.issue_org_certificate(spki, ORGAN, NAME))
    client.call("PUT", f"/v1/admin/keys/{ORGAN}/{new['key_ref']}/certificate", admin, json={"chain_pem": bundle})
    before = {k["key_ref"]: k for k in client.call("GET", "/v1/admin/keys", admin, params={"organ_id": ORGAN})["items"]}
    [previous] = [k for k in before.values() if k["state"] == "ACTIVE"]
    client.call("POST", f"/v1/admin/keys/{ORGAN}/{new['key_ref']}/activate", admin)
    # Roll back: a RETIRED key with a valid certificate may be activated again.
    if previous.get("source") != "registry":
        client.call("POST", f"/v1/admin/keys/{ORGAN}/{previous['key_ref']}/activate", admin)
        states = {k["key_ref"]: k["state"] for k in
                  client.call("GET", "/v1/admin/keys", admin, params={"organ_id": ORGAN})["items"]}
        assert states[previous["key_ref"]] == "ACTIVE" and states[new["key_ref"]] == "RETIRED"
    detail = client.call("GET", f"/v1/admin/keys/{ORGAN}/{new['key_ref']}", admin)
    assert detail["csr_pem"] == started["csr_pem"] and detail["certificate_pem"].startswith("-----BEGIN CERTIFICATE")


def test_renewing_the_active_keys_certificate(client: GatewayClient, admin: str, ca: DemoCA) -> None:
    """The CA re-issues a certificate for the same key: uploaded on the ACTIVE key, the registry follows at once."""
    keys = client.call("GET", "/v1/admin/keys", admin, params={"organ_id": ORGAN})["items"]
    active = next((k for k in keys if k["state"] == "ACTIVE" and k.get("source") != "registry"), None)
    if active is None:  # run alone: make one first
        created = client.call("POST", "/v1/admin/keys/rotate", admin, json={"organ_id": ORGAN})["key"]
        spki = _spki(created["csr_pem"])
        client.call("PUT", f"/v1/admin/keys/{ORGAN}/{created['key_ref']}/certificate", admin,
                    json={"certificate_pem": ssl.DER_cert_to_PEM_cert(ca.issue_org_certificate(spki, ORGAN, NAME))})
        active = client.call("POST", f"/v1/admin/keys/{ORGAN}/{created['key_ref']}/activate", admin)
    detail = client.call("GET", f"/v1/admin/keys/{ORGAN}/{active['key_ref']}", admin)
    spki = serialization.load_pem_public_key(detail["public_key_pem"].encode()).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    renewed = ssl.DER_cert_to_PEM_cert(ca.issue_org_certificate(spki, ORGAN, NAME, days=1000))
    answer = client.call("PUT", f"/v1/admin/keys/{ORGAN}/{active['key_ref']}/certificate", admin,
                         json={"certificate_pem": renewed})
    assert answer["state"] == "ACTIVE" and 998 <= answer["days_left"] <= 1000
    overview = {k["organ_id"]: k for k in client.call("GET", "/v1/admin/keys", admin)["items"]}
    assert overview[ORGAN]["not_after"] == answer["not_after"]  # the registry's signing_key has the renewed one


def test_bad_requests_have_stable_codes(client: GatewayClient, admin: str) -> None:
    cases = [
        ("POST", "/v1/admin/keys", {"organ_id": ORGAN, "backend": "gpg"}, 400, "unsupported_key_backend"),
        ("POST", "/v1/admin/keys", {"organ_id": "000.00.00.G22"}, 400, "agency_not_served"),
        ("POST", "/v1/admin/keys", {"organ_id": "000.00.99.H62"}, 404, "unknown_agency"),
        ("POST", "/v1/admin/keys", {"organ_id": ORGAN, "backend": "pkcs11",
                                    "pkcs11": {"token_label": "t", "key_label": "k", "pin": "123456"}},
         400, "pin_not_allowed"),
        ("GET", f"/v1/admin/keys/{ORGAN}/k20000101T000000-000000", None, 404, "unknown_key"),
        ("PUT", f"/v1/admin/keys/{ORGAN}/k20000101T000000-000000/certificate", {"certificate_pem": "x"}, 404,
         "unknown_key"),
    ]
    for method, path, body, status, code in cases:
        error = _refused(client, method, path, admin, json=body)
        assert (error.status, error.code) == (status, code), (method, path, error.body)
        assert "123456" not in json.dumps(error.body)
