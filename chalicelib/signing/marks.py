"""Drawing the number and the date into a document's blanks (chalicelib.domain.issuance) in the same incremental
update that carries the organisation's signature (issue 12).

Why annotations, not page content: a person may have signed the draft already (the author's or the leader's own
signature, with the blanks left for the văn thư, NĐ 30/2020 Art. 15). Changing a page's content stream after a
signature is never an allowed change (ISO 32000-1 §12.8.2.2; pyHanko's difference analysis reports it as such),
whereas a locked annotation is: it is ANNOTATE level for a certification (DocMDP P=3) and for an approval
signature. Each mark is a FreeText annotation (§12.5.6.6, intent FreeTextTypeWriter: plain text, no border), flags
Print, ReadOnly, Locked and LockedContents, with its own appearance stream in Times-Roman, a standard font (the
marks are digits only: nothing to embed, NĐ 30 Phụ lục I asks for Times New Roman). Viewers draw it and poppler's
pdftotext reads it as the line's text; the organisation's signature, added after it in the same revision, covers
it, and the person's earlier signature stays valid: its byte range is untouched.

A certification that allows less than annotations (DocMDP P=2, form filling and signing only) forbids the marks: the
upload is refused `blanks_locked` before a number is issued (`refuse_if_marks_forbidden`). P=1 is `locked_pdf`
already (chalicelib.signing.sign_file).
"""

from __future__ import annotations

from typing import Any

from chalicelib.core.errors import UploadRejected
from chalicelib.domain.issuance import Mark

__all__ = ["ANNOT_FLAGS", "add_marks", "marks_forbidden", "refuse_if_marks_forbidden"]

#: Print (4) | ReadOnly (64) | Locked (128) | LockedContents (512): printed, neither movable nor editable.
ANNOT_FLAGS = 4 | 64 | 128 | 512
MSG_BLANKS_LOCKED = ("Văn bản đã được chứng thực với quyền chỉ cho phép điền biểu mẫu và ký: không thể điền số và "
                     "ngày ban hành vào chỗ trống. Hãy ghi số, ngày trước khi ký chứng thực, hoặc ký lại cho phép "
                     "thêm chú thích.")


def marks_forbidden(reader: Any) -> bool:
    """Whether the document's certification (if any) forbids annotations: DocMDP P=1 or P=2."""
    from pyhanko.sign.fields import MDPPerm  # lazy: pyHanko ~150 ms at cold start
    from pyhanko.sign.validation import read_certification_data  # lazy: pyHanko ~150 ms at cold start

    data = read_certification_data(reader)
    return data is not None and data.permission in (MDPPerm.NO_CHANGES, MDPPerm.FILL_FORMS)


def refuse_if_marks_forbidden(path: str) -> None:
    """`blanks_locked` (UploadRejected) when the PDF at `path` may not take the marks (module docstring)."""
    from pyhanko.pdf_utils.reader import PdfFileReader  # lazy: pyHanko ~150 ms at cold start

    with open(path, "rb") as fh:
        if marks_forbidden(PdfFileReader(fh, strict=False)):
            raise UploadRejected(MSG_BLANKS_LOCKED, code="blanks_locked")


def _appearance(writer: Any, mark: Mark, width: float, height: float) -> Any:
    """The mark's normal appearance: its text on the baseline, Times-Roman at the line's size, black."""
    from pyhanko.pdf_utils import generic  # lazy: pyHanko ~150 ms at cold start

    descent = round(0.25 * mark.size, 2)
    text = mark.text.encode("ascii")  # digits (issuance.Mark): WinAnsi and ASCII agree
    inset = round(0.1 * mark.size, 2)  # the rect starts this far left of the mark (add_marks)
    content = b"BT /TiRo %s Tf 0 g %s %s Td (%s) Tj ET" % (
        str(mark.size).encode(), str(inset).encode(), str(descent).encode(), text)
    font = generic.DictionaryObject({
        generic.NameObject("/Type"): generic.NameObject("/Font"),
        generic.NameObject("/Subtype"): generic.NameObject("/Type1"),
        generic.NameObject("/BaseFont"): generic.NameObject("/Times-Roman"),
        generic.NameObject("/Encoding"): generic.NameObject("/WinAnsiEncoding"),
    })
    stream = generic.StreamObject({
        generic.NameObject("/Type"): generic.NameObject("/XObject"),
        generic.NameObject("/Subtype"): generic.NameObject("/Form"),
        generic.NameObject("/BBox"): generic.ArrayObject([generic.FloatObject(v) for v in (0, 0, width, height)]),
        generic.NameObject("/Resources"): generic.DictionaryObject({
            generic.NameObject("/Font"): generic.DictionaryObject({generic.NameObject("/TiRo"): font})}),
    }, stream_data=content)
    return writer.add_object(stream)


def add_marks(writer: Any, page_index: int, marks: list[Mark], *, at: str) -> None:
    """Add each mark to page `page_index` of `writer` (a pyHanko IncrementalPdfFileWriter) as a locked FreeText
    annotation; `at` is the PDF date (`D:…`) they are dated with (the signing time)."""
    from pyhanko.pdf_utils import generic  # lazy: pyHanko ~150 ms at cold start

    page_ref = writer.find_page_for_modification(page_index)[0] if marks else None
    for index, mark in enumerate(marks):
        width = round(mark.width + 0.2 * mark.size, 2)
        height = round(1.2 * mark.size, 2)
        x0, y0 = round(mark.x - 0.1 * mark.size, 2), round(mark.y - 0.25 * mark.size, 2)
        rect = [x0, y0, x0 + width, y0 + height]
        annot = generic.DictionaryObject({
            generic.NameObject("/Type"): generic.NameObject("/Annot"),
            generic.NameObject("/Subtype"): generic.NameObject("/FreeText"),
            generic.NameObject("/Rect"): generic.ArrayObject([generic.FloatObject(v) for v in rect]),
            generic.NameObject("/Contents"): generic.TextStringObject(mark.text),
            generic.NameObject("/NM"): generic.TextStringObject(f"edoc-issuance-{mark.field}-{index}"),
            generic.NameObject("/M"): generic.TextStringObject(at),
            generic.NameObject("/F"): generic.NumberObject(ANNOT_FLAGS),
            generic.NameObject("/DA"): generic.TextStringObject(f"/TiRo {mark.size} Tf 0 g"),
            generic.NameObject("/IT"): generic.NameObject("/FreeTextTypeWriter"),
            generic.NameObject("/BS"): generic.DictionaryObject({generic.NameObject("/W"): generic.NumberObject(0)}),
            generic.NameObject("/P"): page_ref,
            generic.NameObject("/AP"): generic.DictionaryObject({
                generic.NameObject("/N"): _appearance(writer, mark, width, height)}),
        })
        writer.register_annotation(page_ref, writer.add_object(annot))
