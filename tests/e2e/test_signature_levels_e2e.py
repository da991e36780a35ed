"""The organisation's signature end to end on the embedded stack: NĐ 30 appearance, PAdES B-LT, revocation.

Given the stack's local PKI (OCSP, CRL, TSA over the demo CA) and a seal registered for each demo agency, when a
clerk uploads a PDF the competent person already signed, asking for the organisation's signature at a given place,
then the signed PDF: validates as PAdES B-LT with pyHanko from its own DSS (demo root trusted, no fetching); passes
pdfsig with both signatures valid and the organisation's certificate trusted in an NSS database holding the root;
passes qpdf --check; and, rendered with pdftoppm, shows the red seal and the name and time in that place.
When the agency's certificate is revoked at the CA, its next upload ends FAILED with reason `certificate_revoked`
and the original untouched in S3; once the hold is lifted, the agency signs again.
"""

from __future__ import annotations

import hashlib
import subprocess
import time
from pathlib import Path

import pytest
from asn1crypto import pem, x509

from devstack.client import operator_client
from devstack.demo_data import SAMPLES
from devstack.pdftools import make_nss_db, pdfsig_report, pdftotext_area, pyhanko_report, qpdf_check
from devstack.pki import DemoCA
from tests.support.documents import fresh_metadata
from tests.support.pki import person_sign

SAMPLE = SAMPLES[0]
SENDER = SAMPLE.uploader
#: Văn phòng UBND tỉnh Vĩnh Phúc: no other end-to-end test signs as it, so holding its certificate disturbs none.
HELD_AGENCY = "000.00.01.H62"
STAMP = {"page": -1, "x": 40, "y": 290, "width": 300, "height": 100}


def _metadata(suffix: str, **extra: object) -> dict:
    return fresh_metadata(suffix, **extra)


def _root(stack: dict) -> x509.Certificate:
    _, _, der = pem.unarmor(stack["pki"]["root_pem"].encode("ascii"))
    return x509.Certificate.load(der)


@pytest.fixture(scope="module")
def person_signed(tmp_path_factory: pytest.TempPathFactory, sample_pdf: Path) -> Path:
    """The upload as it usually arrives: already signed by the competent person, with their own certificate."""
    out = tmp_path_factory.mktemp("person") / "person-signed.pdf"
    person_sign(sample_pdf, out, DemoCA.load_or_create(tmp_path_factory.mktemp("person-ca")))
    return out


def test_signed_at_b_lt_with_the_seal_where_asked_and_the_person_signature_kept(
        client, stack, person_signed: Path, tmp_path: Path) -> None:
    token = client.login(client.user_for(SENDER))
    created = client.create_document(token, _metadata("LT1", stamp=STAMP))
    client.upload(created["upload"], person_signed)
    doc = client.wait_for(token, created["document_id"], {"DISPATCHED", "REJECTED", "FAILED"}, timeout=90)
    assert doc["state"] == "DISPATCHED", doc
    assert doc["pades_level"] == "B-LT"
    assert doc["metadata"]["stamp"] == STAMP

    signed = tmp_path / "signed.pdf"
    signed.write_bytes(client.download_signed(token, created["document_id"]))
    assert hashlib.sha256(signed.read_bytes()).hexdigest() == doc["signed_sha256"]

    # pyHanko: B-LT from the document's own DSS, revocation data required, nothing fetched.
    reports = pyhanko_report(signed, [_root(stack)])
    assert [r["level"] for r in reports][-1] == "B-LT", reports
    assert reports[-1]["dss"]["ocsps"] >= 2 and reports[-1]["timestamped"]
    assert reports[0]["intact"] and reports[0]["valid"]  # the person's signature

    # poppler/NSS: every signature valid; ours trusted once the root is in the NSS database.
    nssdir = make_nss_db(tmp_path / "nss", stack["pki"]["root_pem"])
    sigs = pdfsig_report(signed, nssdir=nssdir)
    assert [s["field"] for s in sigs] == ["NguoiKy", "CoQuan_000_00_00_H62"]
    assert all(s["valid"] for s in sigs), sigs
    assert sigs[1]["trusted"], sigs[1]
    assert qpdf_check(signed)

    # The rendering: seal red inside the box's left third, name and time beside it.
    subprocess.run(["pdftoppm", "-r", "72", "-f", "2", "-l", "2", "-singlefile", str(signed), str(tmp_path / "p")],
                   check=True)
    data = (tmp_path / "p.ppm").read_bytes()
    _, width, height, _, _ = data.split(maxsplit=4)
    width, height = int(width), int(height)
    pixels = data[len(data) - width * height * 3:]
    red = [(i // 3 % width, i // 3 // width) for i in range(0, len(pixels), 3)
           if pixels[i] > 150 and pixels[i + 1] < 110 and pixels[i + 2] < 110]
    assert red, "no seal on the page"
    xs, ys = [p[0] for p in red], [p[1] for p in red]
    top = height - (STAMP["y"] + STAMP["height"])
    assert STAMP["x"] - 1 <= min(xs) and max(xs) <= STAMP["x"] + STAMP["width"] / 3 + 1
    assert top - 1 <= min(ys) and max(ys) <= top + STAMP["height"] + 1
    text = pdftotext_area(signed, 2, STAMP["x"] + STAMP["width"] / 3, top, STAMP["width"] * 2 / 3, STAMP["height"])
    assert "UBND tỉnh Vĩnh Phúc" in text
    assert doc["signed_at"] in text  # ISO 8601 with +07:00, as recorded


def _agency_certificate_serial(stack: dict, organ_id: str) -> int:
    ddb = operator_client(stack, "dynamodb")
    item = ddb.get_item(TableName="edoc-local-agencies", Key={"organ_id": {"S": organ_id}})["Item"]
    cert_pem = item["signing_key"]["M"]["certificate_pem"]["S"]
    _, _, der = pem.unarmor(cert_pem.encode("ascii"))
    return x509.Certificate.load(der).serial_number


def test_revoked_certificate_is_refused_and_the_upload_kept(client, stack, stack_handle, sample_pdf: Path) -> None:
    ca = DemoCA.load_or_create(Path(stack_handle.state_dir) / "pki")
    serial = _agency_certificate_serial(stack, HELD_AGENCY)
    token = client.login(client.user_for(HELD_AGENCY))
    metadata = _metadata("REV", recipients=["000.00.00.G22"])
    ca.revoke(serial, "certificate_hold")
    try:
        created = client.create_document(token, metadata)
        client.upload(created["upload"], sample_pdf)
        doc = client.wait_for(token, created["document_id"], {"SIGNED", "DISPATCHED", "FAILED", "REJECTED"},
                              timeout=90)
        assert doc["state"] == "FAILED", doc
        assert doc["reason"] == "certificate_revoked"
        assert "signed_sha256" not in doc
        # Nothing lost: the upload is still there, byte for byte, for a retry once a valid certificate is active.
        s3 = operator_client(stack, "s3")
        bucket = created["upload"]["url"].rstrip("/").rsplit("/", 1)[-1]
        kept = s3.get_object(Bucket=bucket, Key=f"incoming/{HELD_AGENCY}/{created['document_id']}.pdf")
        assert hashlib.sha256(kept["Body"].read()).hexdigest() == hashlib.sha256(sample_pdf.read_bytes()).hexdigest()
    finally:
        ca.release_hold(serial)

    # The hold lifted, the agency signs again once its short revocation cache (2 s on the stack) has expired.
    time.sleep(2.5)
    again = client.create_document(token, _metadata("REV2", recipients=["000.00.00.G22"]))
    client.upload(again["upload"], sample_pdf)
    doc = client.wait_for(token, again["document_id"], {"DISPATCHED", "FAILED", "REJECTED"}, timeout=90)
    assert doc["state"] == "DISPATCHED" and doc["pades_level"] == "B-LT", doc
