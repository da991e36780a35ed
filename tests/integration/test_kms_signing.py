"""Signing through KMS (moto): a SIGN_VERIFY key, a DemoCA certificate for its public key, one Sign call per PDF."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib.core.errors import SigningUnavailable
from chalicelib.keys.backends import KmsRawSigner
from chalicelib.signing.pades import SigningIdentity, sign_pdf_file
from devstack.pdftools import pdfsig_report, pdftotext, qpdf_check
from devstack.pki import DemoCA
from tests.support import pki
from tests.support.documents import bacgiang_congvan_pdf
from tests.support.moto_tables import REGION, mocked_aws
from tests.support.organs import H62, NAMES

ORGAN_ID = H62
ORG_NAME = NAMES[H62]


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bacgiang_congvan_pdf(tmp_path_factory.mktemp("doc"))


@pytest.fixture
def kms(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    import boto3

    with mocked_aws(monkeypatch):
        yield boto3.client("kms", region_name=REGION)


def _count_sign_calls(kms: Any) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    kms.meta.events.register("before-parameter-build.kms.Sign", lambda params, **_: calls.append(params))
    return calls


def _identity(kms: Any, ca: DemoCA, key_spec: str, algorithm: str, *, pass_key_spec: bool = True,
              organ_id: str = ORGAN_ID, org_name: str = ORG_NAME) -> SigningIdentity:
    key_id = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec=key_spec,
                            Description=f"edoc-gateway signing key {organ_id}")["KeyMetadata"]["KeyId"]
    public_key = kms.get_public_key(KeyId=key_id)["PublicKey"]
    raw = KmsRawSigner(kms, key_id, algorithm, key_spec=key_spec if pass_key_spec else None)
    return pki.identity(ca, raw, organ_id, org_name, public_key_der=public_key)


def test_rsa_2048_kms_key(kms: Any, ca: DemoCA, document: Path, tmp_path: Path) -> None:
    identity = _identity(kms, ca, "RSA_2048", "RSASSA_PKCS1_V1_5_SHA_256")
    calls = _count_sign_calls(kms)

    out = tmp_path / "signed.pdf"
    sign_pdf_file(document, out, identity)

    sigs = pdfsig_report(out)
    assert len(sigs) == 1 and sigs[0]["valid"], sigs
    assert sigs[0]["common_name"] == ORG_NAME
    assert sigs[0]["type"] == "ETSI.CAdES.detached"
    assert qpdf_check(out)
    assert ORG_NAME in pdftotext(out)
    # One KMS call per signature, with the DER signed attributes as a RAW message (moto re-hashes DIGEST).
    assert len(calls) == 1
    assert calls[0]["MessageType"] == "RAW"
    assert calls[0]["SigningAlgorithm"] == "RSASSA_PKCS1_V1_5_SHA_256"
    assert 100 < len(calls[0]["Message"]) < 400
    assert calls[0]["Message"][:1] == b"\x31"  # DER SET OF attributes

    # The next document of the same agency: still exactly one call, nothing re-done per document.
    out2 = tmp_path / "signed2.pdf"
    sign_pdf_file(out, out2, identity)
    assert len(calls) == 2
    assert [s["valid"] for s in pdfsig_report(out2)] == [True, True]


def test_ecc_nist_p256_kms_key(kms: Any, ca: DemoCA, document: Path, tmp_path: Path) -> None:
    identity = _identity(kms, ca, "ECC_NIST_P256", "ECDSA_SHA_256", organ_id="000.00.00.H03",
                         org_name="UBND tỉnh Bắc Giang")
    calls = _count_sign_calls(kms)
    out = tmp_path / "signed.pdf"
    sign_pdf_file(document, out, identity)
    sigs = pdfsig_report(out)
    assert sigs[0]["valid"], sigs
    assert sigs[0]["common_name"] == "UBND tỉnh Bắc Giang"
    assert len(calls) == 1 and calls[0]["SigningAlgorithm"] == "ECDSA_SHA_256"


def test_key_spec_looked_up_once_when_not_given(kms: Any, ca: DemoCA, document: Path, tmp_path: Path) -> None:
    identity = _identity(kms, ca, "RSA_3072", "RSASSA_PKCS1_V1_5_SHA_256", pass_key_spec=False,
                         organ_id="000.00.01.H62", org_name="Văn phòng UBND tỉnh Vĩnh Phúc")
    describes: list[Any] = []
    kms.meta.events.register("before-parameter-build.kms.DescribeKey", lambda params, **_: describes.append(params))
    for i in range(2):
        sign_pdf_file(document, tmp_path / f"s{i}.pdf", identity)
        assert pdfsig_report(tmp_path / f"s{i}.pdf")[0]["valid"]
    assert identity.raw_signer.signature_size == 384
    assert len(describes) == 1


def test_missing_kms_key_is_signing_unavailable(kms: Any, ca: DemoCA, document: Path, tmp_path: Path) -> None:
    identity = _identity(kms, ca, "RSA_2048", "RSASSA_PKCS1_V1_5_SHA_256", organ_id="000.00.13.H62",
                         org_name="Sở Nội vụ Vĩnh Phúc")
    identity.raw_signer.key_id = "00000000-0000-0000-0000-000000000000"  # type: ignore[attr-defined]
    with pytest.raises(SigningUnavailable) as info:
        sign_pdf_file(document, tmp_path / "x.pdf", identity)
    assert info.value.details["kms_error"] == "NotFoundException"
    assert not (tmp_path / "x.pdf").exists()


def test_pss_is_refused_up_front(kms: Any) -> None:
    with pytest.raises(ValueError):
        KmsRawSigner(kms, "any", "RSASSA_PSS_SHA_256")
    with pytest.raises(ValueError):
        KmsRawSigner(kms, "any", "ECDSA_SHA_256", key_spec="RSA_2048")
