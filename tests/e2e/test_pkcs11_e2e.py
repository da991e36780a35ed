"""The same end-to-end flow with the KMS backend and with the PKCS#11 backend on SoftHSM2 (issue 3, acceptance 4).

A second embedded stack is started for this module with UBND tỉnh Vĩnh Phúc's organisation key on a SoftHSM2 token
under the stack's state dir (`EDOC_LOCAL_PKCS11_AGENCIES`), PIN in the stack's Secrets Manager; the session stack
keeps it in KMS. Given the agency's clerk and the 7413/UBND-VX3 công văn, when it is registered and uploaded on each
stack, then it is DISPATCHED, the signed PDF passes pdfsig and qpdf with the agency's certificate, and each
recipient's system fetches exactly one package carrying the signed PDF byte for byte.

Then the key lifecycle through PKCS#11: a new key generated on the token by the HSM's own tooling is registered by
URI (no PIN in the request), its CSR is signed on the token, the CA's certificate is uploaded and activated, and
the next document is signed with it.
"""

from __future__ import annotations

import io
import json
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from devstack.client import GatewayClient
from devstack.demo_data import AGENCIES, SAMPLES
from devstack.pdftools import pdfsig_report, qpdf_check
from devstack.pki import DemoCA
from tests.support.axis import packages_for
from tests.support.documents import fresh_metadata

SAMPLE = SAMPLES[0]
SENDER = SAMPLE.uploader
NAME = next(a.name for a in AGENCIES if a.organ_id == SENDER)


@pytest.fixture(scope="module")
def hsm_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from devstack.stack import PKCS11_AGENCIES_ENV, start_stack

    handle = start_stack(Path(tmp_path_factory.mktemp("hsm-stack")), ports=0,
                         app_env={PKCS11_AGENCIES_ENV: SENDER, "MAX_UPLOAD_BYTES": str(2 * 1024 * 1024)})
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture(scope="module")
def hsm_client(hsm_stack) -> GatewayClient:
    return GatewayClient(hsm_stack.info)


@pytest.fixture(params=["kms", "pkcs11"])
def backend(request, client: GatewayClient, hsm_client: GatewayClient) -> tuple[str, GatewayClient]:
    return request.param, (client if request.param == "kms" else hsm_client)


def _packages_for(client: GatewayClient, system_id: str, header_id: str) -> list:
    return [(entry, package) for entry, package, _ in packages_for(client, system_id, header_id)]


def _send(client: GatewayClient, token: str, pdf: Path, suffix: str) -> tuple[dict, dict, bytes]:
    metadata = fresh_metadata(suffix)
    created = client.create_document(token, metadata)
    client.upload(created["upload"], pdf)
    doc = client.wait_for(token, created["document_id"], {"DISPATCHED", "REJECTED", "FAILED"}, timeout=90)
    assert doc["state"] == "DISPATCHED", doc
    return metadata, doc, client.download_signed(token, created["document_id"])


def _signer_certificate(pdf: bytes) -> bytes:
    from pyhanko.pdf_utils.reader import PdfFileReader

    return PdfFileReader(io.BytesIO(pdf)).embedded_signatures[-1].signer_cert.dump()


def test_the_same_flow_with_either_key_backend(backend, sample_pdf: Path, tmp_path: Path) -> None:
    name, client = backend
    token = client.login(client.user_for(SENDER))
    admin = client.login("admin")
    [active] = [k for k in client.call("GET", "/v1/admin/keys", admin, params={"organ_id": SENDER})["items"]
                if k["state"] == "ACTIVE"]
    assert active["backend"] == name
    if name == "pkcs11":
        assert active["key_id"].startswith("pkcs11:token=") and "pin-value" not in active["key_id"]

    metadata, doc, signed = _send(client, token, sample_pdf, f"BACKEND-{name.upper()}")

    assert [e["state"] for e in doc["timeline"]] == ["AWAITING_UPLOAD", "UPLOADED", "SIGNED", "DISPATCHED"]
    path = tmp_path / "signed.pdf"
    path.write_bytes(signed)
    [signature] = pdfsig_report(path)
    assert signature["valid"] and signature["common_name"] == NAME, signature
    assert signature["type"] == "ETSI.CAdES.detached"
    assert qpdf_check(path)
    header_id = f"{SENDER},2019/09/20,7413/{metadata['notation']}"
    for recipient in metadata["recipients"]:
        [(entry, package)] = _packages_for(client, recipient, header_id)
        (attachment,) = package.attachments
        assert Path(attachment.path).read_bytes() == signed
        assert entry["docId"] == next(d["axis_doc_id"] for d in doc["deliveries"] if d["organ_id"] == recipient)


def test_register_certify_and_activate_a_token_key(hsm_stack, hsm_client: GatewayClient, sample_pdf: Path,
                                                   tmp_path: Path) -> None:
    from devstack import softhsm
    from devstack.provision import PKCS11_PIN_SECRET_PREFIX, SOFTHSM_DIR, SOFTHSM_TOKEN_LABEL

    client, state = hsm_client, Path(hsm_stack.state_dir)
    admin = client.login("admin")
    # The HSM's own tooling makes the key on the token; the gateway only ever sees its public half.
    token = softhsm.ensure_token(state / SOFTHSM_DIR, SOFTHSM_TOKEN_LABEL)
    spki = softhsm.generate_keypair(token, "edoc-sign-rotation-1", b"\x52\x01")
    pin_secret = PKCS11_PIN_SECRET_PREFIX + SENDER.replace(".", "-")

    created = client.call("POST", "/v1/admin/keys", admin, json={
        "organ_id": SENDER, "backend": "pkcs11",
        "pkcs11": {"token_label": token.label, "key_label": "edoc-sign-rotation-1", "key_id_hex": "5201",
                   "pin_secret": pin_secret}})
    assert created["state"] == "CREATED" and created["backend"] == "pkcs11"
    assert serialization.load_pem_public_key(created["public_key_pem"].encode()).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) == spki
    assert token.pin not in json.dumps(created)
    ref = created["key_ref"]

    csr = client.call("POST", f"/v1/admin/keys/{SENDER}/{ref}/csr", admin, json={})
    request = x509.load_pem_x509_csr(csr["csr_pem"].encode())
    assert request.is_signature_valid  # signed on the token
    ca = DemoCA.load_or_create(state / "pki")
    issued = ssl.DER_cert_to_PEM_cert(ca.issue_org_certificate(spki, SENDER, NAME))
    client.call("PUT", f"/v1/admin/keys/{SENDER}/{ref}/certificate", admin,
                json={"certificate_pem": issued, "chain_pem": ca.root_cert_pem})
    assert client.call("POST", f"/v1/admin/keys/{SENDER}/{ref}/activate", admin)["state"] == "ACTIVE"

    clerk = client.login(client.user_for(SENDER))
    _, _, signed = _send(client, clerk, sample_pdf, "HSM-ROTATED")
    path = tmp_path / "rotated.pdf"
    path.write_bytes(signed)
    assert [s["valid"] for s in pdfsig_report(path)] == [True]
    assert _signer_certificate(signed) == x509.load_pem_x509_certificate(issued.encode()).public_bytes(
        serialization.Encoding.DER)
