"""Page text with positions from a PDF (chalicelib.signing.pdf_text, issue 12): both columns of an NĐ 30 header on
one line come apart, a scan answers `no_text_layer`, anything not a readable PDF its own stable code."""

from __future__ import annotations

from pathlib import Path

import pytest

from chalicelib.signing.pdf_text import TextUnavailable, page_lines
from tests.support.nd30_pdf import render_nd30_pdf


def test_two_columns_on_one_line_are_two_cells(tmp_path: Path) -> None:
    pdf = render_nd30_pdf("SỞ NỘI VỤ | CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\nSố: 5/QĐ-SNV | Vĩnh Phúc, ngày 03 "
                          "tháng 02 năm 2021\n\nNội dung.\n", tmp_path / "a.pdf")
    pages, lines = page_lines(pdf)
    assert pages == 1
    assert [c.text for c in lines[1].cells] == ["Số: 5/QĐ-SNV", "Vĩnh Phúc, ngày 03 tháng 02 năm 2021"]
    assert lines[1].cells[1].x0 > lines[1].cells[0].x1 + 13  # x from the page's leftmost text, in points


def test_a_scan_without_text_is_no_text_layer(tmp_path: Path) -> None:
    from reportlab.pdfgen.canvas import Canvas

    path = tmp_path / "scan.pdf"
    canvas = Canvas(str(path))
    canvas.rect(50, 50, 400, 600, fill=1)  # an image of the page stands where the text would be
    canvas.showPage()
    canvas.save()
    with pytest.raises(TextUnavailable) as caught:
        page_lines(path)
    assert caught.value.code == "no_text_layer"
    assert caught.value.details == {"pages": 1}


@pytest.mark.parametrize(("body", "code"), [(b"hello", "not_a_pdf"), (b"%PDF-1.7\ngarbage", "malformed_pdf")])
def test_not_a_readable_pdf(tmp_path: Path, body: bytes, code: str) -> None:
    path = tmp_path / "x.pdf"
    path.write_bytes(body)
    with pytest.raises(TextUnavailable) as caught:
        page_lines(path)
    assert caught.value.code == code


@pytest.mark.parametrize("bomb", ["xref_stream_bomb", "page_tree_loop", "deep_nesting"])
def test_hostile_pdfs_end_in_a_code_within_the_bounds(tmp_path: Path, bomb: str) -> None:
    from tests.support import pdf_bombs

    path = tmp_path / "bomb.pdf"
    path.write_bytes(getattr(pdf_bombs, bomb)())
    with pytest.raises(TextUnavailable) as caught:
        page_lines(path)
    assert caught.value.code in {"pdf_too_complex", "malformed_pdf", "no_text_layer"}


def test_runs_of_one_word_drawn_apart_join_without_a_space(tmp_path: Path) -> None:
    """Word processors draw a justified or kerned line as many runs that touch: they are one text, spaces only where
    the line has them (the runs' real advances, not estimates)."""
    from reportlab.pdfbase.pdfmetrics import stringWidth
    from reportlab.pdfgen.canvas import Canvas

    from devstack.sample_pdf import _register_fonts

    regular, _ = _register_fonts()
    path = tmp_path / "runs.pdf"
    canvas = Canvas(str(path))
    canvas.setFont(regular, 13)
    x = 85.0
    for run in ["Kín", "h gử", "i: Sở Tài ", "chính"]:
        canvas.drawString(x, 700, run)
        x += stringWidth(run, regular, 13)
    canvas.drawString(x + 4, 700, "tỉnh")  # a gap of a space: a space
    canvas.save()
    _, lines = page_lines(path)
    assert [c.text for c in lines[0].cells] == ["Kính gửi: Sở Tài chính tỉnh"]


def test_if_pypdfs_layout_step_moves_the_public_visitor_takes_over(tmp_path: Path, monkeypatch) -> None:
    from chalicelib.signing import pdf_text

    def moved(page: object) -> list:
        raise AttributeError("text_show_operations")

    monkeypatch.setattr(pdf_text, "_runs", moved)  # the bounded child is a fork: it sees the patch
    pdf = render_nd30_pdf("SỞ NỘI VỤ | CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\nSố: 5/QĐ-SNV | Vĩnh Phúc, ngày 03 "
                          "tháng 02 năm 2021\n", tmp_path / "a.pdf")
    _, lines = page_lines(pdf)
    assert [c.text for c in lines[1].cells] == ["Số: 5/QĐ-SNV", "Vĩnh Phúc, ngày 03 tháng 02 năm 2021"]
