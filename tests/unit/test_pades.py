"""sign_pdf_file with a local key and a DemoCA certificate, checked by poppler and qpdf (not only by pyHanko)."""

from __future__ import annotations

import datetime as dt
import hashlib
import subprocess
from pathlib import Path

import pytest
from asn1crypto import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from chalicelib.errors import SigningUnavailable, UploadRejected
from chalicelib.local.pdftools import pdfsig_report, pdftotext, qpdf_check
from chalicelib.local.pki import DemoCA
from chalicelib.local.sample_pdf import make_pdf_of_size, render_text_pdf
from chalicelib.signing import pades
from chalicelib.signing.backends import LocalKeySigner
from chalicelib.signing.pades import SigningIdentity, StampBox, identity_from_pem, sign_pdf_file, signer_for

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "documents"
ORGAN_ID = "000.00.12.H62"
ORG_NAME = "Sở Thông tin và Truyền thông Vĩnh Phúc"
VN = dt.timezone(dt.timedelta(hours=7))


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> DemoCA:
    return DemoCA.load_or_create(tmp_path_factory.mktemp("ca"))


def make_identity(ca: DemoCA, key: object, organ_id: str = ORGAN_ID, org_name: str = ORG_NAME) -> SigningIdentity:
    raw = LocalKeySigner(key)
    cert = ca.issue_org_certificate(raw.public_key_der(), organ_id, org_name)
    return SigningIdentity(organ_id, org_name, x509.Certificate.load(cert), [x509.Certificate.load(ca.root_cert_der)],
                           raw)


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def identity(ca: DemoCA, rsa_key: rsa.RSAPrivateKey) -> SigningIdentity:
    return make_identity(ca, rsa_key)


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> Path:
    text = (FIXTURES / "vinhphuc-7413-UBND-VX3-congvan.txt").read_text(encoding="utf-8")
    return render_text_pdf("ỦY BAN NHÂN DÂN TỈNH VĨNH PHÚC", text, tmp_path_factory.mktemp("doc") / "congvan.pdf")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("variant", ["as_rendered", "object_streams", "linearized"])
def test_signature_is_valid_pades_and_structurally_sound(tmp_path: Path, document: Path,
                                                         identity: SigningIdentity, variant: str) -> None:
    # Word and most modern producers write xref/object streams; scanners often linearize.
    qpdf_args = {"object_streams": ["--object-streams=generate"], "linearized": ["--linearize"]}.get(variant)
    if qpdf_args:
        src = tmp_path / f"{variant}.pdf"
        subprocess.run(["qpdf", *qpdf_args, str(document), str(src)], check=True)
        document = src
    out = tmp_path / "signed.pdf"
    result = sign_pdf_file(document, out, identity)

    sigs = pdfsig_report(out)
    assert len(sigs) == 1
    sig = sigs[0]
    assert sig["valid"], sig
    assert sig["total_document_signed"]
    assert sig["type"] == "ETSI.CAdES.detached"
    assert sig["hash_algorithm"] == "SHA-256"
    assert sig["common_name"] == ORG_NAME
    assert f"serialNumber={ORGAN_ID}" in sig["subject"]
    assert qpdf_check(out)

    # Incremental update: the upload is, byte for byte, the prefix of the signed file.
    original, signed = document.read_bytes(), out.read_bytes()
    assert signed[: len(original)] == original
    assert result.original_sha256 == _sha256(document)
    assert result.signed_sha256 == _sha256(out)
    assert result.signed_size == len(signed)
    assert result.signed_at.utcoffset() == dt.timedelta(hours=7)
    assert result.signed_at.microsecond == 0


def test_pyhanko_sees_a_trusted_whole_file_pades_signature(tmp_path: Path, document: Path, ca: DemoCA,
                                                           identity: SigningIdentity) -> None:
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.status import SignatureCoverageLevel
    from pyhanko_certvalidator import ValidationContext

    out = tmp_path / "signed.pdf"
    sign_pdf_file(document, out, identity)
    with open(out, "rb") as fh:
        sig = PdfFileReader(fh).embedded_signatures[0]
        assert sig.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
        status = validate_pdf_signature(sig, ValidationContext(trust_roots=[x509.Certificate.load(ca.root_cert_der)]))
    assert status.intact and status.valid and status.trusted, status.pretty_print_details()
    assert status.coverage == SignatureCoverageLevel.ENTIRE_FILE


def test_stamp_shows_org_name_and_vietnam_time(tmp_path: Path, document: Path, identity: SigningIdentity) -> None:
    out = tmp_path / "signed.pdf"
    signed_at = dt.datetime(2019, 9, 20, 14, 30, 15, tzinfo=VN)
    result = sign_pdf_file(document, out, identity, signed_at=signed_at)
    assert result.signed_at == signed_at

    last_page = pdftotext(out, first_page=2, last_page=2)
    # Whole words in one piece: the letter-spacing trap (wrong /W widths) makes pdftotext split them up.
    assert ORG_NAME in last_page
    assert "2019-09-20T14:30:15+07:00" in last_page
    assert ORG_NAME not in pdftotext(out, first_page=1, last_page=1)


def test_time_given_in_utc_is_shown_in_vietnam_time(tmp_path: Path, document: Path,
                                                    identity: SigningIdentity) -> None:
    out = tmp_path / "signed.pdf"
    result = sign_pdf_file(document, out, identity,
                           signed_at=dt.datetime(2019, 9, 20, 7, 30, 15, 999, tzinfo=dt.UTC))
    assert result.signed_at.isoformat() == "2019-09-20T14:30:15+07:00"
    assert "2019-09-20T14:30:15+07:00" in pdftotext(out)
    # pdfsig reports the CMS/dictionary time in UTC
    assert pdfsig_report(out)[0]["signing_time"] == "Sep 20 2019 07:30:15"


def test_naive_time_is_refused(tmp_path: Path, document: Path, identity: SigningIdentity) -> None:
    with pytest.raises(ValueError):
        sign_pdf_file(document, tmp_path / "x.pdf", identity, signed_at=dt.datetime(2019, 9, 20, 14, 30))
    assert not (tmp_path / "x.pdf").exists()


def _read_pgm(path: Path) -> tuple[int, int, bytes]:
    data = path.read_bytes()
    parts = data.split(maxsplit=4)
    assert parts[0] == b"P5"
    width, height = int(parts[1]), int(parts[2])
    return width, height, data[len(data) - width * height:]


def _advance_pt(text: str, size: float) -> float:
    from fontTools import ttLib

    tt = ttLib.TTFont(str(pades.FONT_PATH))
    cmap, hmtx = tt.getBestCmap(), tt["hmtx"]
    upem = tt["head"].unitsPerEm
    return sum(hmtx[cmap[ord(ch)]][0] for ch in text) * size / upem


def test_stamp_renders_at_natural_width(tmp_path: Path, document: Path, identity: SigningIdentity) -> None:
    """Rendered ink of the stamp is as wide as the font says the name is, not spread over (and clipped by) the box.

    Guards NOTES.md's trap: with wrongly scaled /W widths every letter is drawn far apart."""
    out = tmp_path / "signed.pdf"
    box = StampBox(page=-1, x=300, y=60, width=240, height=48)
    sign_pdf_file(document, out, identity, box=box)
    dpi = 144
    subprocess.run(["pdftoppm", "-gray", "-r", str(dpi), "-f", "2", "-l", "2", "-singlefile", str(out),
                    str(tmp_path / "page")], check=True)
    width, height, pixels = _read_pgm(tmp_path / "page.pgm")
    scale = dpi / 72
    x0, x1 = int(box.x * scale), int((box.x + box.width) * scale)
    y0, y1 = height - int((box.y + box.height) * scale), height - int(box.y * scale)
    cols = [x for x in range(x0, x1) if any(pixels[y * width + x] < 128 for y in range(y0, y1))]
    assert cols, "no ink in the stamp box"
    ink_pt = (cols[-1] - cols[0] + 1) / scale
    expected = _advance_pt(ORG_NAME, pades.STAMP_FONT_SIZE)
    assert expected * 0.95 < ink_pt < expected * 1.03, (ink_pt, expected)


def test_default_box_is_lower_right_of_last_page(tmp_path: Path, document: Path, identity: SigningIdentity) -> None:
    from pyhanko.pdf_utils.reader import PdfFileReader

    out = tmp_path / "signed.pdf"
    sign_pdf_file(document, out, identity)
    with open(out, "rb") as fh:
        reader = PdfFileReader(fh)
        sig = reader.embedded_signatures[0]
        widget = sig.sig_field
        rect = [float(v) for v in widget["/Rect"]]
        last_page = reader.find_page_for_modification(-1)[0]
        assert widget.raw_get("/P").idnum == last_page.idnum
    media_w = 595.2756  # A4 from reportlab
    assert rect[2] == pytest.approx(media_w - pades.DEFAULT_STAMP_MARGIN, abs=0.5)
    assert rect[1] == pytest.approx(pades.DEFAULT_STAMP_MARGIN, abs=0.5)
    assert rect[2] - rect[0] == pytest.approx(pades.DEFAULT_STAMP_WIDTH, abs=0.5)


def test_custom_box_on_first_page(tmp_path: Path, document: Path, identity: SigningIdentity) -> None:
    out = tmp_path / "signed.pdf"
    sign_pdf_file(document, out, identity, box=StampBox(page=0, x=350, y=700, width=200, height=40),
                  signed_at=dt.datetime(2020, 6, 1, 8, 0, 0, tzinfo=VN))
    assert ORG_NAME in pdftotext(out, first_page=1, last_page=1)
    assert ORG_NAME not in pdftotext(out, first_page=2, last_page=2)
    assert pdfsig_report(out)[0]["valid"]


def test_stamp_box_on_missing_page_is_refused(tmp_path: Path, document: Path, identity: SigningIdentity) -> None:
    with pytest.raises(ValueError):
        sign_pdf_file(document, tmp_path / "x.pdf", identity, box=StampBox(page=5))
    assert not (tmp_path / "x.pdf").exists()


def _person_sign(src: Path, dst: Path, ca: DemoCA, *, certify_no_changes: bool = False) -> None:
    """Sign like the competent person's tool would: plain pyHanko, adbe.pkcs7.detached, its own key."""
    from asn1crypto import keys
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko.stamp import TextStampStyle
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    der = ca.issue_org_certificate(LocalKeySigner(key).public_key_der(), "person", "Tran Thi Minh Loi")
    signer = signers.SimpleSigner(
        signing_cert=x509.Certificate.load(der),
        signing_key=keys.PrivateKeyInfo.load(key.private_bytes(serialization.Encoding.DER,
                                                               serialization.PrivateFormat.PKCS8,
                                                               serialization.NoEncryption())),
        cert_registry=SimpleCertificateStore.from_certs([x509.Certificate.load(ca.root_cert_der)]),
    )
    meta = signers.PdfSignatureMetadata(field_name="NguoiKy", certify=certify_no_changes,
                                        docmdp_permissions=fields.MDPPerm.NO_CHANGES)
    with open(src, "rb") as fh:
        pdf_signer = signers.PdfSigner(meta, signer, stamp_style=TextStampStyle(stamp_text="Signed %(ts)s"),
                                       new_field_spec=fields.SigFieldSpec("NguoiKy", on_page=-1,
                                                                          box=(72, 300, 272, 360)))
        dst.write_bytes(pdf_signer.sign_pdf(IncrementalPdfFileWriter(fh)).getvalue())


def test_existing_signature_stays_valid(tmp_path: Path, document: Path, ca: DemoCA,
                                        identity: SigningIdentity) -> None:
    person = tmp_path / "person.pdf"
    _person_sign(document, person, ca)
    assert pdfsig_report(person)[0]["valid"]

    out = tmp_path / "both.pdf"
    sign_pdf_file(person, out, identity)
    sigs = pdfsig_report(out)
    assert [s["field"] for s in sigs] == ["NguoiKy", "CoQuan_000_00_12_H62"]
    assert all(s["valid"] for s in sigs), sigs
    assert not sigs[0]["total_document_signed"]  # covers its own revision, as it should
    assert sigs[1]["total_document_signed"]
    assert qpdf_check(out)


def test_signing_twice_gives_two_valid_signatures_with_distinct_fields(tmp_path: Path, document: Path,
                                                                       identity: SigningIdentity) -> None:
    once, twice = tmp_path / "once.pdf", tmp_path / "twice.pdf"
    sign_pdf_file(document, once, identity)
    sign_pdf_file(once, twice, identity)
    sigs = pdfsig_report(twice)
    assert [s["field"] for s in sigs] == ["CoQuan_000_00_12_H62", "CoQuan_000_00_12_H62_2"]
    assert all(s["valid"] for s in sigs)


def test_certified_no_changes_document_is_rejected(tmp_path: Path, document: Path, ca: DemoCA,
                                                   identity: SigningIdentity) -> None:
    locked = tmp_path / "locked.pdf"
    _person_sign(document, locked, ca, certify_no_changes=True)
    with pytest.raises(UploadRejected) as info:
        sign_pdf_file(locked, tmp_path / "out.pdf", identity)
    assert info.value.code == "locked_pdf"
    assert not (tmp_path / "out.pdf").exists()


def test_ecdsa_p256_key(tmp_path: Path, document: Path, ca: DemoCA) -> None:
    ident = make_identity(ca, ec.generate_private_key(ec.SECP256R1()), organ_id="000.00.13.H62",
                          org_name="Sở Nội vụ Vĩnh Phúc")
    out = tmp_path / "signed.pdf"
    sign_pdf_file(document, out, ident)
    sigs = pdfsig_report(out)
    assert sigs[0]["valid"] and sigs[0]["common_name"] == "Sở Nội vụ Vĩnh Phúc"
    assert "Sở Nội vụ Vĩnh Phúc" in pdftotext(out)


def test_large_document(tmp_path: Path, identity: SigningIdentity) -> None:
    src = make_pdf_of_size(tmp_path / "big.pdf", 6 * 1024 * 1024)
    out = tmp_path / "big-signed.pdf"
    result = sign_pdf_file(src, out, identity)
    assert pdfsig_report(out)[0]["valid"]
    assert qpdf_check(out)
    assert result.original_sha256 == _sha256(src)
    assert result.signed_sha256 == _sha256(out)


def test_identity_from_pem_and_signer_cache(tmp_path: Path, document: Path, ca: DemoCA,
                                            rsa_key: rsa.RSAPrivateKey, identity: SigningIdentity) -> None:
    cert_pem = x509.Certificate.load(identity.certificate.dump())
    from asn1crypto import pem

    text = pem.armor("CERTIFICATE", cert_pem.dump()).decode()
    ident = identity_from_pem(ORGAN_ID, ORG_NAME, text, ca.root_cert_pem, identity.raw_signer)
    assert ident.certificate.dump() == identity.certificate.dump()
    assert [c.dump() for c in ident.chain] == [ca.root_cert_der]
    # Same agency and certificate: the pyHanko signer is built once per container.
    assert signer_for(ident) is signer_for(identity)
    other = make_identity(ca, rsa_key)  # same key, renewed certificate (new serial)
    assert signer_for(other) is not signer_for(identity)
    out = tmp_path / "signed.pdf"
    sign_pdf_file(document, out, ident)
    assert pdfsig_report(out)[0]["valid"]


def test_certificate_and_key_of_different_kinds_are_refused(tmp_path: Path, document: Path, ca: DemoCA,
                                                            identity: SigningIdentity) -> None:
    wrong = SigningIdentity("000.00.00.H03", "UBND tỉnh Bắc Giang", identity.certificate, identity.chain,
                            LocalKeySigner(ec.generate_private_key(ec.SECP256R1())))
    with pytest.raises(SigningUnavailable):
        sign_pdf_file(document, tmp_path / "x.pdf", wrong)
