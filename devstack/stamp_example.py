"""The README's picture of a signed document: the competent person's signature, then the organisation's seal over
the left third of it, with the organisation's name and the signing time beside (signature-appearance.md).

Made the way the gateway makes it: a PDF with the person's handwritten signature image and their own digital
signature (as their signing tool leaves it), then `sign_pdf_file` with a demo agency's seal and a stamp box placed
over the signature, rendered by poppler's pdftoppm. Development only (reportlab, Pillow, a throwaway demo CA).

    .venv/bin/python -m devstack.stamp_example tests/fixtures/signed-stamp-example.png
"""

from __future__ import annotations

import datetime as dt
import io
import math
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["make_example"]

ORGAN_ID = "000.00.00.H62"
ORG_NAME = "UBND tỉnh Vĩnh Phúc"
#: The person's signature image on the page (points, lower-left origin): where the signer's block leaves room.
SIGNATURE_BOX = (360.0, 300.0, 140.0, 55.0)
#: The organisation's stamp: the seal's left edge a little left of the signature, covering its left third.
STAMP = {"page": 1, "x": 318.0, "y": 266.0, "width": 262.0, "height": 100.0}
SIGNED_AT = dt.datetime(2019, 9, 20, 14, 30, 15, tzinfo=dt.timezone(dt.timedelta(hours=7)))


def _handwriting_png() -> bytes:
    """A blue, transparent scribble standing in for the person's handwritten signature image."""
    from PIL import Image, ImageDraw

    w, h = 560, 220
    img = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    pts = [(30 + t * 4.6, 120 - 55 * math.sin(t / 9.0) * math.exp(-t / 160) - 18 * math.sin(t / 2.3))
           for t in range(0, 110)]
    draw.line(pts, fill=(20, 40, 170, 255), width=7, joint="curve")
    draw.line([(90, 175), (470, 150)], fill=(20, 40, 170, 255), width=5)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _document(out: Path) -> Path:
    """One A4 page: a công văn's closing part with the signer's block on the right and the signature image."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    from devstack.sample_pdf import _register_fonts

    regular, bold = _register_fonts()
    c = canvas.Canvas(str(out), pagesize=A4)
    c.setFont(bold, 12)
    c.drawCentredString(170, 790, "ỦY BAN NHÂN DÂN")
    c.drawCentredString(170, 775, "TỈNH VĨNH PHÚC")
    c.drawCentredString(420, 790, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM")
    c.drawCentredString(420, 775, "Độc lập - Tự do - Hạnh phúc")
    c.setFont(regular, 12)
    c.drawCentredString(170, 752, "Số: 7413/UBND-VX3")
    c.drawCentredString(420, 752, "Vĩnh Phúc, ngày 20 tháng 9 năm 2019")
    c.drawCentredString(170, 730, "V/v triển khai các nhiệm vụ phát triển Chính quyền điện tử")
    y = 690
    for line in ("Kính gửi: Các sở, ban, ngành thuộc UBND tỉnh.", "",
                 "Thực hiện chỉ đạo của Chính phủ về phát triển Chính quyền điện tử, Chủ tịch UBND tỉnh",
                 "yêu cầu các cơ quan, đơn vị triển khai gửi, nhận văn bản điện tử có ký số theo đúng quy định",
                 "của Nghị định số 30/2020/NĐ-CP; thời gian hoàn thành trước ngày 31 tháng 12 năm 2019."):
        c.drawString(72, y, line)
        y -= 18
    c.setFont(bold, 11)
    c.drawString(72, 430, "Nơi nhận:")
    c.setFont(regular, 10)
    for i, line in enumerate(("- Như trên;", "- Chủ tịch, các PCT UBND tỉnh;", "- Lưu: VT, VX3.")):
        c.drawString(72, 415 - 13 * i, line)
    c.setFont(bold, 12)
    for i, line in enumerate(("TL. CHỦ TỊCH", "KT. CHÁNH VĂN PHÒNG", "PHÓ CHÁNH VĂN PHÒNG")):
        c.drawCentredString(430, 430 - 16 * i, line)
    x, y0, w, h = SIGNATURE_BOX
    c.drawImage(ImageReader(io.BytesIO(_handwriting_png())), x, y0, w, h, mask="auto")
    c.drawCentredString(430, 240, "Trần Thị Minh Lợi")
    c.showPage()
    c.save()
    return out


def make_example(out_png: Path, *, dpi: int = 110, ca: Any = None) -> Path:
    """Build, sign twice (person, organisation), render the lower part of the page to `out_png`. `ca`: a
    `DemoCA` to issue the two certificates (default: a throwaway one)."""
    from asn1crypto import x509
    from cryptography.hazmat.primitives.asymmetric import rsa
    from PIL import Image

    from chalicelib.keys.backends import LocalKeySigner
    from chalicelib.signing.pades import SigningIdentity, StampBox, sign_pdf_file
    from chalicelib.signing.seal import load_png
    from devstack.pki import DemoCA
    from devstack.seal import make_demo_seal

    with tempfile.TemporaryDirectory(prefix="stamp-example-") as tmp:
        work = Path(tmp)
        ca = ca or DemoCA.load_or_create(work / "ca")
        doc = _document(work / "congvan.pdf")
        person = work / "person.pdf"
        _person_signature(doc, person, ca)
        raw = LocalKeySigner(rsa.generate_private_key(public_exponent=65537, key_size=2048))
        cert = x509.Certificate.load(ca.issue_org_certificate(raw.public_key_der(), ORGAN_ID, ORG_NAME))
        identity = SigningIdentity(ORGAN_ID, ORG_NAME, cert, [x509.Certificate.load(ca.root_cert_der)], raw)
        signed = work / "signed.pdf"
        sign_pdf_file(person, signed, identity, box=StampBox.from_placement(STAMP),
                      seal=load_png(make_demo_seal(ORG_NAME)), signed_at=SIGNED_AT)
        subprocess.run(["pdftoppm", "-r", str(dpi), "-f", "1", "-l", "1", "-png", "-singlefile", str(signed),
                        str(work / "page")], check=True, capture_output=True)
        page = Image.open(work / "page.png")
        scale = dpi / 72
        top = page.height - int((STAMP["y"] + STAMP["height"] + 130) * scale)
        bottom = page.height - int((STAMP["y"] - 50) * scale)
        page.crop((int(40 * scale), top, page.width - int(10 * scale), bottom)).save(out_png, optimize=True)
    return Path(out_png)


def _person_signature(src: Path, dst: Path, ca: object) -> None:
    """The competent person's own digital signature (invisible: their image is already on the page)."""
    from asn1crypto import keys, x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    from chalicelib.keys.backends import LocalKeySigner

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    der = ca.issue_org_certificate(LocalKeySigner(key).public_key_der(), "person", "Trần Thị Minh Lợi")  # type: ignore[attr-defined]
    signer = signers.SimpleSigner(
        signing_cert=x509.Certificate.load(der),
        signing_key=keys.PrivateKeyInfo.load(key.private_bytes(serialization.Encoding.DER,
                                                               serialization.PrivateFormat.PKCS8,
                                                               serialization.NoEncryption())),
        cert_registry=SimpleCertificateStore.from_certs([x509.Certificate.load(ca.root_cert_der)]),  # type: ignore[attr-defined]
    )
    with open(src, "rb") as fh:
        out = signers.sign_pdf(IncrementalPdfFileWriter(fh), signers.PdfSignatureMetadata(field_name="NguoiKy"),
                               signer=signer)
    dst.write_bytes(out.getvalue())


if __name__ == "__main__":  # pragma: no cover
    print(make_example(Path(sys.argv[1] if len(sys.argv) > 1 else "signed-stamp-example.png")))
