"""sign_pdf_file with a local key and a DemoCA certificate, checked by poppler and qpdf (not only by pyHanko)."""

from __future__ import annotations

import datetime as dt
import hashlib
import subprocess
from pathlib import Path

import pytest
from asn1crypto import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from chalicelib.core.errors import SigningUnavailable, UploadRejected
from chalicelib.keys.backends import LocalKeySigner
from chalicelib.signing import pades
from chalicelib.signing.pades import SigningIdentity, StampBox, identity_from_pem, sign_pdf_file, signer_for
from devstack.pdftools import pdfsig_report, pdftotext, pdftotext_area, qpdf_check
from devstack.pki import DemoCA
from devstack.sample_pdf import make_pdf_of_size, render_text_pdf
from tests.support.pki import person_sign

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "documents"
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

    Guards docs/traps.md#stamp-font-units-per-em: with wrongly scaled /W widths every letter is drawn far apart."""
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
    # The upload does not match the placement asked for: a rejection with its own code, never a retry.
    with pytest.raises(UploadRejected) as info:
        sign_pdf_file(document, tmp_path / "x.pdf", identity, box=StampBox(page=5))
    assert info.value.code == "stamp_page_missing"
    assert not (tmp_path / "x.pdf").exists()
    with pytest.raises(UploadRejected) as info:
        sign_pdf_file(document, tmp_path / "x.pdf", identity, box=StampBox(page=0, x=900, y=100))
    assert info.value.code == "stamp_outside_page"


def test_existing_signature_stays_valid(tmp_path: Path, document: Path, ca: DemoCA,
                                        identity: SigningIdentity) -> None:
    person = tmp_path / "person.pdf"
    person_sign(document, person, ca)
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
    person_sign(document, locked, ca, certify_no_changes=True)
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


# -- the organisation's seal (signature-appearance.md) -----------------------------------------------------------


@pytest.fixture(scope="module")
def seal():
    from chalicelib.signing.seal import load_png
    from devstack.seal import make_demo_seal

    return load_png(make_demo_seal(ORG_NAME), key="seals/test.png")


def _render_rgb(pdf: Path, page: int, dpi: int, prefix: Path) -> tuple[int, int, bytes]:
    subprocess.run(["pdftoppm", "-r", str(dpi), "-f", str(page), "-l", str(page), "-singlefile", str(pdf),
                    str(prefix)], check=True)
    data = prefix.with_suffix(".ppm").read_bytes()
    magic, width, height, _maxval, pixels = data.split(maxsplit=4)
    assert magic == b"P6"
    width, height = int(width), int(height)
    return width, height, data[len(data) - width * height * 3:]


def _red_columns_rows(width: int, height: int, pixels: bytes) -> tuple[list[int], list[int]]:
    """Columns and rows (pixel units, origin top-left) holding seal-red pixels."""
    cols: set[int] = set()
    rows: set[int] = set()
    for y in range(height):
        row = pixels[y * width * 3:(y + 1) * width * 3]
        for x in range(width):
            r, g, b = row[3 * x], row[3 * x + 1], row[3 * x + 2]
            if r > 150 and g < 110 and b < 110:
                cols.add(x)
                rows.add(y)
    return sorted(cols), sorted(rows)


def test_seal_drawn_red_in_the_left_of_the_box_with_name_and_time_beside_it(
        tmp_path: Path, document: Path, identity: SigningIdentity, seal) -> None:

    box = StampBox(page=-1, x=250, y=300, width=300, height=100)
    out = tmp_path / "signed.pdf"
    sign_pdf_file(document, out, identity, box=box, seal=seal,
                  signed_at=dt.datetime(2019, 9, 20, 14, 30, 15, tzinfo=VN))
    assert pdfsig_report(out)[0]["valid"] and qpdf_check(out)

    dpi = 72  # one pixel per point: page coordinates read straight off the image
    width, height, pixels = _render_rgb(out, 2, dpi, tmp_path / "page")
    cols, rows = _red_columns_rows(width, height, pixels)
    assert cols, "no seal-red pixels on the page"
    top = height - (box.y + box.height)
    # All red is inside the box's left third (the seal is 100 pt: the box's height), and it fills most of it.
    assert box.x - 1 <= cols[0] and cols[-1] <= box.x + box.width / 3 + 1, (cols[0], cols[-1])
    assert top - 1 <= rows[0] and rows[-1] <= top + box.height + 1, (rows[0], rows[-1])
    assert cols[-1] - cols[0] > 0.9 * box.height and rows[-1] - rows[0] > 0.9 * box.height
    # Text right of the seal, inside the box: the organisation's name and the NĐ 30 time.
    beside = pdftotext_area(out, 2, box.x + box.width / 3, top, box.width * 2 / 3, box.height)
    assert ORG_NAME in " ".join(beside.split())
    assert "2019-09-20T14:30:15+07:00" in beside
    # Nothing of the stamp on the first page.
    _, _, first = _render_rgb(out, 1, dpi, tmp_path / "first")
    assert not _red_columns_rows(width, height, first)[0]


def test_seal_box_follows_placement_from_the_record(tmp_path: Path, document: Path, identity: SigningIdentity,
                                                    seal) -> None:
    # Admin/client convention: page from 1, points from the lower-left corner.
    box = StampBox.from_placement({"page": 1, "x": 60, "y": 600, "width": 250, "height": 80})
    assert box == StampBox(page=0, x=60.0, y=600.0, width=250.0, height=80.0)
    out = tmp_path / "signed.pdf"
    sign_pdf_file(document, out, identity, box=box, seal=seal)
    width, height, pixels = _render_rgb(out, 1, 72, tmp_path / "page")
    cols, rows = _red_columns_rows(width, height, pixels)
    assert cols and cols[0] >= 59 and cols[-1] <= 60 + 80 + 1  # seal side = the box's height (80 pt)
    assert height - 680 - 1 <= rows[0] and rows[-1] <= height - 600 + 1
    assert pdfsig_report(out)[0]["valid"]


def test_stamp_box_from_placement_defaults_and_refusals() -> None:
    assert StampBox.from_placement(None) == StampBox()
    assert StampBox.from_placement({}) == StampBox()
    assert StampBox.from_placement({"page": -2}) == StampBox(page=-2)
    assert StampBox.from_placement({"page": 3, "x": None, "width": 200}) == StampBox(page=2, width=200.0)
    with pytest.raises(ValueError):
        StampBox.from_placement({"page": 0})
    with pytest.raises(ValueError):
        StampBox.from_placement({"width": -5})


def test_seal_adds_one_image_and_its_mask_per_signature(tmp_path: Path, document: Path, identity: SigningIdentity,
                                                        seal) -> None:
    """The seal is written from the cached streams: one image XObject with an /SMask, the PNG's pixels as is."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    out = tmp_path / "signed.pdf"
    sign_pdf_file(document, out, identity, seal=seal)
    with open(out, "rb") as fh:
        reader = PdfFileReader(fh)
        ap = reader.embedded_signatures[0].sig_field["/AP"]["/N"]
        seal_ref = ap["/Resources"]["/XObject"]
        images = []

        def walk(xobjects):  # noqa: ANN001, ANN202
            for value in xobjects.values():
                obj = value.get_object()
                if obj.get("/Subtype") == "/Image":
                    images.append(obj)
                elif "/Resources" in obj and "/XObject" in obj["/Resources"]:
                    walk(obj["/Resources"]["/XObject"])

        walk(seal_ref)
        assert len(images) == 1
        image = images[0]
        assert (image["/Width"], image["/Height"]) == (seal.width, seal.height)
        assert image["/SMask"].get_object()["/ColorSpace"] == "/DeviceGray"
        assert image.encoded_data == seal.color_data


def test_readme_picture_is_made_the_way_the_gateway_signs(tmp_path: Path, ca: DemoCA) -> None:
    """`python -m devstack.stamp_example` (the README's picture) still runs and shows a red seal."""
    from PIL import Image

    from devstack.stamp_example import make_example

    png = make_example(tmp_path / "example.png", dpi=60, ca=ca)
    data = Image.open(png).convert("RGB").tobytes()
    red = sum(1 for i in range(0, len(data), 3) if data[i] > 150 and data[i + 1] < 110 and data[i + 2] < 110)
    assert red > 200, red


def test_attachment_stamp_is_text_only_top_right_of_first_page_at_10pt(tmp_path: Path, document: Path,
                                                                         identity: SigningIdentity) -> None:
    """The phụ lục row of signature-appearance.md: top-right corner of page 1, số/ký hiệu and the +07:00 time."""
    import re

    out = tmp_path / "att.pdf"
    when = dt.datetime(2019, 9, 20, 14, 30, 15, tzinfo=VN)
    sign_pdf_file(document, out, identity, signed_at=when, box=StampBox.attachment(),
                  stamp_label="Số: 7413/UBND-VX3")
    assert pdfsig_report(out)[0]["valid"]
    assert qpdf_check(out)
    bbox = subprocess.run(["pdftotext", "-bbox", "-f", "1", "-l", "1", str(out), "-"], capture_output=True,
                          text=True, check=True).stdout
    page = re.search(r'<page width="([\d.]+)"', bbox)
    assert page
    width = float(page[1])
    lines = {m[5]: tuple(float(v) for v in m.groups()[:4]) for m in re.finditer(
        r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>', bbox)}
    label = next(k for k in lines if k.endswith("7413/UBND-VX3"))
    for word in (label, "2019-09-20T14:30:15+07:00"):
        x_min, y_min, x_max, y_max = lines[word]
        assert x_min > width / 2 and y_max < 56.7, (word, lines[word])  # top-right corner, in the top margin
        assert 9.0 <= y_max - y_min <= 14.0, (word, y_max - y_min)  # 10 pt (poppler's box: ascent + descent)
    box = StampBox.attachment()
    top_right = pdftotext_area(out, 1, width - box.margin - box.width, box.margin, box.width, box.height)
    assert "Số: 7413/UBND-VX3" in top_right and "2019-09-20T14:30:15+07:00" in top_right
    assert "Sở Thông tin" not in top_right


def test_appearance_rules_are_pure_geometry_and_text() -> None:
    """standards.appearance without pyHanko: the default box sits lower right inside the margin, the phụ lục box top
    right; a long name wraps at word boundaries; the time is ISO 8601 in +07:00, whole seconds."""
    from chalicelib.standards import appearance

    a4 = (0.0, 0.0, 595.28, 841.89)
    x1, y1, x2, y2 = appearance.box_on_page(StampBox(), a4)
    assert (x2, y1) == pytest.approx((595.28 - pades.DEFAULT_STAMP_MARGIN, pades.DEFAULT_STAMP_MARGIN))
    assert (x2 - x1, y2 - y1) == pytest.approx((pades.DEFAULT_STAMP_WIDTH, pades.DEFAULT_STAMP_HEIGHT))
    top = appearance.box_on_page(StampBox.attachment(), a4)
    assert top[2] == pytest.approx(595.28 - pades.ATTACHMENT_STAMP_MARGIN)
    assert top[3] == pytest.approx(841.89 - pades.ATTACHMENT_STAMP_MARGIN)
    assert appearance.box_on_page(StampBox(x=10, y=20, width=30, height=40), a4) == (10, 20, 40, 60)
    assert appearance.seal_side(300, 100) == 100 and appearance.seal_side(100, 100) == 40
    assert appearance.wrap_words("Ủy ban nhân dân tỉnh", 60, lambda s: 6.0 * len(s)) == "Ủy ban\nnhân dân\ntỉnh"
    assert appearance.wrap_words("Supercalifragilistic", 10, len) == "Supercalifragilistic"
    at = appearance.signing_time(dt.datetime(2019, 9, 20, 7, 30, 15, 999, tzinfo=dt.UTC))
    assert at.isoformat() == "2019-09-20T14:30:15+07:00"
