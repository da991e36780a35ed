"""The signing handler with the PKCS#11 backend (a key on a SoftHSM2 token) and with an expired certificate.

Given the handler environment (moto, provisioning, `app` imported as Lambda imports it) and one served agency moved
to a key generated on a SoftHSM2 token (PIN in Secrets Manager, certificate from the demo CA), when a PDF is
uploaded and the upload message is delivered to `sign_document`, then the record is SIGNED and poppler's pdfsig
finds the signature valid. With a wrong PIN the record is FAILED `signing_key_unavailable` (the PIN is not tried
again until its secret changes); with an expired certificate it is FAILED `certificate_expired`; in both the
original stays in S3 and nothing is signed.
"""

from __future__ import annotations

import datetime as dt
import json
import ssl
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote_plus

import boto3
import pytest

from devstack import demo_data
from devstack.pdftools import pdfsig_report, qpdf_check
from devstack.pki import DemoCA
from tests.support import uploads
from tests.support.handlers import HandlerEnv

HSM_AGENCY = "000.00.12.H62"  # Sở Thông tin và Truyền thông Vĩnh Phúc: on the token in this module
EXPIRED_AGENCY = "000.00.13.H62"  # Sở Nội vụ Vĩnh Phúc: given an expired certificate in this module
G22 = "000.00.00.G22"
KEY_LABEL = "it-sign-000-00-12-H62"
PIN_SECRET = "edoc-gateway/local/pkcs11/it-000-00-12-H62"


def _name(organ_id: str) -> str:
    return next(a.name for a in demo_data.AGENCIES if a.organ_id == organ_id)


@pytest.fixture(scope="module")
def env(softhsm_token: Any, handler_env: HandlerEnv) -> Iterator[HandlerEnv]:
    """The handler environment with HSM_AGENCY on a SoftHSM key (and the module allowed by PKCS11_MODULES)."""
    from chalicelib.adapters import aws
    from chalicelib.keys import pkcs11
    from chalicelib.keys.pkcs11 import Pkcs11Uri
    from devstack import softhsm

    spki = softhsm.generate_keypair(softhsm_token, KEY_LABEL, b"\x12\x62")
    secrets = _client(handler_env, "secretsmanager")
    secrets.create_secret(Name=PIN_SECRET, SecretString=json.dumps({"pin": softhsm_token.pin}))
    ca = DemoCA.load_or_create(handler_env.state_dir / "pki")
    cert = ssl.DER_cert_to_PEM_cert(ca.issue_org_certificate(spki, HSM_AGENCY, _name(HSM_AGENCY)))
    uri = Pkcs11Uri(token=softhsm_token.label, object=KEY_LABEL, id=b"\x12\x62",
                    pin_source=f"secretsmanager:{PIN_SECRET}")
    _set_signing_key(handler_env, HSM_AGENCY, {
        "backend": "pkcs11", "key_id": str(uri), "signing_algorithm": "RSASSA_PKCS1_V1_5_SHA_256",
        "certificate_pem": cert, "chain_pem": ca.root_cert_pem})
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PKCS11_MODULES", softhsm_token.module)
        aws.reset()
        yield handler_env
        pkcs11.clear_sessions()
    aws.reset()


@pytest.fixture(autouse=True)
def clean(env: HandlerEnv) -> None:
    for queue in (env.upload, env.dispatch):
        queue.drain()


@pytest.fixture(scope="module")
def pdf(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    from devstack.sample_pdf import render_text_pdf

    sample = demo_data.SAMPLES[0]
    return render_text_pdf(sample.metadata["subject"], sample.text(),
                           tmp_path_factory.mktemp("pdf") / "cv.pdf").read_bytes()


# -- helpers ----------------------------------------------------------------------------------------------------


def _client(env: HandlerEnv, service: str) -> Any:
    return boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                 region_name="ap-southeast-1").client(service, endpoint_url=env.endpoint_url)


def _set_signing_key(env: HandlerEnv, organ_id: str, signing_key: dict[str, Any]) -> None:
    from chalicelib.adapters import aws
    from chalicelib.core import settings

    aws.table(settings.AGENCIES_TABLE).update_item(Key={"organ_id": organ_id}, UpdateExpression="SET signing_key = :k",
                                                   ExpressionAttributeValues={":k": signing_key})


def _signing_key(organ_id: str) -> dict[str, Any]:
    from chalicelib.adapters import aws
    from chalicelib.core import settings

    return aws.table(settings.AGENCIES_TABLE).get_item(Key={"organ_id": organ_id})["Item"]["signing_key"]


def _upload_and_sign(env: HandlerEnv, organ_id: str, pdf: bytes) -> str:
    """Register a document as the agency's clerk, upload it, deliver the S3 notification to sign_document."""
    from chalicelib.api.auth import Caller
    from chalicelib.outbound.documents import create_document

    metadata = {**demo_data.SAMPLES[0].metadata, "recipients": [G22]}
    created = uploads.remember(create_document(Caller(f"clerk-{organ_id}", organ_id, False), metadata))
    document_id = created["document_id"]
    key = f"incoming/{organ_id}/{document_id}.pdf"
    env.s3.put_object(Bucket=env.bucket, Key=key, Body=pdf, ContentType="application/pdf",
                      Metadata=uploads.metadata(key))
    messages = env.upload.receive()
    assert [unquote_plus(r["s3"]["object"]["key"]) for m in messages
            for r in json.loads(m["Body"]).get("Records", [])] == [key]
    invocation = env.upload.deliver(messages)
    assert invocation.error is None and not invocation.retried  # a final outcome either way: never retried
    return document_id


def _record(document_id: str) -> dict[str, Any]:
    from chalicelib.adapters.document_store import DocumentStore

    record = DocumentStore().get(document_id)
    assert record is not None
    return record


def _exists(env: HandlerEnv, key: str) -> bool:
    try:
        env.s3.head_object(Bucket=env.bucket, Key=key)
        return True
    except env.s3.exceptions.ClientError:
        return False


# -- tests ------------------------------------------------------------------------------------------------------


def test_signing_handler_signs_with_a_key_on_the_pkcs11_token(env: HandlerEnv, pdf: bytes, tmp_path) -> None:
    document_id = _upload_and_sign(env, HSM_AGENCY, pdf)

    record = _record(document_id)
    assert record["state"] == "SIGNED", record
    signed = env.s3.get_object(Bucket=env.bucket, Key=f"signed/{HSM_AGENCY}/{document_id}.pdf")["Body"].read()
    path = tmp_path / "signed.pdf"
    path.write_bytes(signed)
    [signature] = pdfsig_report(path)
    assert signature["valid"], signature
    assert signature["common_name"] == _name(HSM_AGENCY)
    assert signature["type"] == "ETSI.CAdES.detached"
    assert qpdf_check(path)


def test_a_csr_and_the_issued_certificate_through_the_pkcs11_key(env: HandlerEnv) -> None:
    from cryptography import x509

    from chalicelib.adapters.signing_keys import open_raw_signer
    from chalicelib.keys import certificates
    from chalicelib.keys.csr import build_csr

    key = _signing_key(HSM_AGENCY)
    signer = open_raw_signer("pkcs11", key["key_id"])
    der = build_csr(certificates.csr_subject(HSM_AGENCY, _name(HSM_AGENCY)), signer.public_key_der(), signer)
    request = x509.load_der_x509_csr(der)
    assert request.is_signature_valid
    # The certificate provisioned above is for this very key: the upload check agrees.
    ca = DemoCA.load_or_create(env.state_dir / "pki")
    checked = certificates.check_certificate_chain(signer.public_key_der(), key["certificate_pem"], None,
                                           certificates.parse_certificates(ca.root_cert_pem))
    assert checked.chain_pem == ca.root_cert_pem


def test_a_wrong_pin_fails_the_document_and_is_not_retried_until_the_secret_changes(
        env: HandlerEnv, pdf: bytes, softhsm_token: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.keys import pkcs11

    secrets = _client(env, "secretsmanager")
    pkcs11.clear_sessions()  # log in again: PKCS#11 login state belongs to the token, not to a signature
    secrets.put_secret_value(SecretId=PIN_SECRET, SecretString="00000000")
    logins: list[str] = []
    real_lib = pkcs11._lib
    monkeypatch.setattr(pkcs11, "_lib", lambda module: logins.append(module) or real_lib(module))
    try:
        for _ in range(2):
            document_id = _upload_and_sign(env, HSM_AGENCY, pdf)
            record = _record(document_id)
            assert record["state"] == "FAILED" and record["reason"] == "signing_key_unavailable", record
            assert _exists(env, f"incoming/{HSM_AGENCY}/{document_id}.pdf")
            assert not _exists(env, f"signed/{HSM_AGENCY}/{document_id}.pdf")
        assert "00000000" not in json.dumps(record)
        # One login attempt with the wrong PIN, not one per document: the token's retry counter is left alone.
        assert len(logins) == 1
    finally:
        secrets.put_secret_value(SecretId=PIN_SECRET, SecretString=json.dumps({"pin": softhsm_token.pin}))
    # The admin put the right PIN in a new secret version: the next document signs, with no restart.
    assert _record(_upload_and_sign(env, HSM_AGENCY, pdf))["state"] == "SIGNED"


def test_an_expired_certificate_fails_the_document_and_keeps_the_original(env: HandlerEnv, pdf: bytes) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization

    key = _signing_key(EXPIRED_AGENCY)
    current = x509.load_pem_x509_certificate(key["certificate_pem"].encode())
    ca = DemoCA.load_or_create(env.state_dir / "pki")
    now = dt.datetime.now(dt.UTC)
    expired = (x509.CertificateBuilder().subject_name(current.subject).issuer_name(ca.certificate.subject)
               .public_key(current.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(days=731)).not_valid_after(now - dt.timedelta(minutes=1))
               .sign(ca.key, hashes.SHA256()))
    _set_signing_key(env, EXPIRED_AGENCY, {**key, "certificate_pem": expired.public_bytes(
        serialization.Encoding.PEM).decode("ascii")})
    try:
        document_id = _upload_and_sign(env, EXPIRED_AGENCY, pdf)
        record = _record(document_id)
        assert record["state"] == "FAILED", record
        assert record["reason"] == "certificate_expired"
        assert "hết hạn" in record["reason_message"]
        assert _exists(env, f"incoming/{EXPIRED_AGENCY}/{document_id}.pdf")  # nothing lost
        assert not _exists(env, f"signed/{EXPIRED_AGENCY}/{document_id}.pdf")
    finally:
        _set_signing_key(env, EXPIRED_AGENCY, key)
