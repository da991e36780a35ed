"""The number and date written into a draft's blanks by the organisation's signature (chalicelib.signing.marks,
issue 12 acceptance 2): poppler reads them where the blanks were, and every signature stays valid, a person's
earlier one included; a certification forbidding annotations refuses the marks (`blanks_locked`)."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from chalicelib.core.errors import UploadRejected
from chalicelib.domain.issuance import marks_for
from chalicelib.signing.marks import marks_forbidden, refuse_if_marks_forbidden
from chalicelib.signing.pades import SigningIdentity, sign_pdf_file
from chalicelib.signing.pdf_text import first_page
from devstack.pdftools import pdfsig_report, pdftotext, qpdf_check
from devstack.pki import DemoCA
from tests.support.nd30_pdf import CORPUS, render_nd30_pdf
from tests.support.pki import local_identity, person_sign

ISSUED_ON = date(2020, 6, 3)


@pytest.fixture(scope="module")
def identity(ca: DemoCA) -> SigningIdentity:
    return local_identity(ca, "000.00.12.H62", "Sở Thông tin và Truyền thông tỉnh Vĩnh Phúc")


@pytest.fixture(scope="module")
def blank_draft(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A notice with "Số:      /TB-STTTT" and "ngày    tháng 6 năm 2020", as its author leaves it."""
    text = (CORPUS / "tb-stttt-giao-ban-blank.txt").read_text(encoding="utf-8")
    return render_nd30_pdf(text, tmp_path_factory.mktemp("draft") / "blank.pdf")


def _header(path: Path) -> str:
    return " ".join(pdftotext(path, 1, 1).split("\n")[:4])


def test_the_number_and_date_fill_the_blanks_and_every_signature_stays_valid(
        tmp_path: Path, blank_draft: Path, ca: DemoCA, identity: SigningIdentity) -> None:
    person = tmp_path / "person.pdf"
    person_sign(blank_draft, person, ca)  # the leader signs the draft, the blanks left for the văn thư
    _, glyphs = first_page(person)
    marks = marks_for(glyphs, "5", ISSUED_ON)
    assert [(m.field, m.text) for m in marks] == [("number", "05"), ("day", "03")]

    out = tmp_path / "signed.pdf"
    sign_pdf_file(person, out, identity, marks=marks)

    header = _header(out)
    assert re.search(r"Số:\s*05\s*/TB-STTTT", header), header
    assert re.search(r"ngày\s+03\s+tháng 6 năm 2020", header), header
    assert "05" not in _header(person)  # the original had nothing there
    sigs = pdfsig_report(out)
    assert [s["field"] for s in sigs] == ["NguoiKy", "CoQuan_000_00_12_H62"]
    assert all(s["valid"] for s in sigs), sigs
    assert sigs[-1]["total_document_signed"]
    assert out.read_bytes().startswith(person.read_bytes())  # an incremental update: the person's bytes untouched
    qpdf_check(out)


def test_the_marks_are_locked_printed_annotations_inside_the_organisations_signature(
        tmp_path: Path, blank_draft: Path, identity: SigningIdentity) -> None:
    from pyhanko.pdf_utils.reader import PdfFileReader

    _, glyphs = first_page(blank_draft)
    out = tmp_path / "signed.pdf"
    sign_pdf_file(blank_draft, out, identity, marks=marks_for(glyphs, "12", ISSUED_ON))
    with out.open("rb") as fh:
        reader = PdfFileReader(fh)
        annots = [a.get_object() for a in reader.root["/Pages"]["/Kids"][0].get_object()["/Annots"]]
        texts = [a for a in annots if a["/Subtype"] == "/FreeText"]
        assert sorted(str(a["/Contents"]) for a in texts) == ["03", "12"]
        assert all(int(a["/F"]) & (4 | 128 | 512) == 4 | 128 | 512 for a in texts)  # Print, Locked, LockedContents
        [sig] = reader.embedded_signatures
        assert sig.sig_object["/ByteRange"][-2] + sig.sig_object["/ByteRange"][-1] == out.stat().st_size


def test_no_blank_no_mark(tmp_path: Path, identity: SigningIdentity) -> None:
    text = (CORPUS / "qd-ubnd-vp-quy-che.txt").read_text(encoding="utf-8")  # numbered and dated already
    pdf = render_nd30_pdf(text, tmp_path / "numbered.pdf")
    _, glyphs = first_page(pdf)
    assert marks_for(glyphs, "7", ISSUED_ON) == []


@pytest.mark.parametrize(("permission", "forbidden"), [("FILL_FORMS", True), ("ANNOTATE", False)])
def test_a_certification_that_forbids_annotations_refuses_the_marks(
        tmp_path: Path, blank_draft: Path, ca: DemoCA, identity: SigningIdentity, permission: str,
        forbidden: bool) -> None:
    certified = tmp_path / "certified.pdf"
    person_sign(blank_draft, certified, ca, certify=permission)
    _, glyphs = first_page(certified)
    marks = marks_for(glyphs, "5", ISSUED_ON)
    from pyhanko.pdf_utils.reader import PdfFileReader

    with certified.open("rb") as fh:
        assert marks_forbidden(PdfFileReader(fh)) is forbidden
    out = tmp_path / "signed.pdf"
    if forbidden:
        with pytest.raises(UploadRejected) as refused:
            refuse_if_marks_forbidden(str(certified))
        assert refused.value.code == "blanks_locked"
        with pytest.raises(UploadRejected) as refused:
            sign_pdf_file(certified, out, identity, marks=marks)
        assert refused.value.code == "blanks_locked" and not out.exists()
    else:
        sign_pdf_file(certified, out, identity, marks=marks)
        assert all(s["valid"] for s in pdfsig_report(out))
        assert re.search(r"Số:\s*05\s*/TB-STTTT", _header(out))
