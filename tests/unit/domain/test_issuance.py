"""Where the number and the date go at issuance (chalicelib.domain.issuance, NĐ 30/2020 Art. 15, Phụ lục I)."""

from __future__ import annotations

from datetime import date

import pytest

from chalicelib.domain.issuance import GlyphLine, date_parts, marks_for, plan_marks


def line(text: str, *, y: float = 750.0, size: float = 13.0, x0: float = 100.0, space: float = 3.25,
         char: float = 6.5) -> GlyphLine:
    """A line whose characters are `char` wide and spaces `space` wide (a quarter em at 13 pt)."""
    xs, x = [x0], x0
    for ch in text:
        x += space if ch == " " else char
        xs.append(round(x, 2))
    return GlyphLine(y, size, text, tuple(xs))


@pytest.mark.parametrize(("day", "expected"), [
    (date(2020, 6, 3), ("03", "6")),
    (date(2020, 1, 15), ("15", "01")),
    (date(2020, 2, 9), ("09", "02")),
    (date(2020, 3, 9), ("09", "3")),
    (date(2020, 12, 31), ("31", "12")),
])
def test_the_date_is_written_as_nd30_writes_it(day: date, expected: tuple[str, str]) -> None:
    # Phụ lục I: a day below 10 and the months 1 and 2 take a leading zero (so no digit can be put in front).
    assert date_parts(day) == expected


def test_the_number_goes_in_the_middle_of_the_blank_between_so_and_the_slash() -> None:
    header = line("Số:        /TB-STTTT")
    [mark] = plan_marks([header], "05", date(2020, 6, 3))
    start, end = header.xs[3], header.xs[11]  # the gap: after "Số:" up to the "/"
    assert mark.field == "number" and mark.text == "05" and mark.y == header.y and mark.size == header.size
    assert mark.x > start and mark.x + mark.width < end
    assert abs((mark.x + mark.width / 2) - (start + end) / 2) < 0.01


def test_blank_day_and_month_are_both_filled_and_a_printed_month_is_left_alone() -> None:
    both = plan_marks([line("Vĩnh Phúc, ngày      tháng      năm 2020")], "", date(2020, 2, 7))
    assert [(m.field, m.text) for m in both] == [("day", "07"), ("month", "02")]
    day_only = plan_marks([line("Vĩnh Phúc, ngày      tháng 6 năm 2020")], "", date(2020, 6, 3))
    assert [(m.field, m.text) for m in day_only] == [("day", "03")]


def test_a_document_already_numbered_and_dated_has_no_blank() -> None:
    lines = [line("Số: 15/TB-STTTT"), line("Vĩnh Phúc, ngày 03 tháng 6 năm 2020", y=720.0)]
    assert plan_marks(lines, "15", date(2020, 6, 3)) == []


def test_a_plain_space_is_not_a_blank() -> None:
    # "Số: /TB" with one space: no room was left for a number, nothing is drawn over the text.
    assert plan_marks([line("Số: /TB-STTTT"), line("ngày tháng 6 năm 2020", y=700)], "05", date(2020, 6, 3)) == []


def test_only_the_header_counts_not_a_number_quoted_in_the_body() -> None:
    lines = [line("Số:      /TB-STTTT", y=750), line("Vĩnh Phúc, ngày     tháng 6 năm 2020", y=750),
             line("Căn cứ Văn bản Số:      /UBND ngày     tháng 5 năm 2020", y=500)]
    marks = plan_marks(lines, "05", date(2020, 6, 3))
    assert [m.field for m in marks] == ["number", "day"] and all(m.y == 750 for m in marks)


def test_marks_for_writes_the_registers_leading_zero() -> None:
    [mark] = marks_for([line("Số:        /QĐ-UBND")], "7", date(2020, 6, 3))
    assert mark.text == "07"
    [mark] = marks_for([line("Số:        /QĐ-UBND")], "123", date(2020, 6, 3))
    assert mark.text == "123"


def test_a_line_whose_positions_do_not_match_its_text_is_skipped() -> None:
    broken = GlyphLine(750.0, 13.0, "Số:      /TB", (0.0, 1.0))
    assert plan_marks([broken], "05", date(2020, 6, 3)) == []


@pytest.mark.parametrize(("texts", "expected"), [
    (["Số: /TB-STTTT", "Vĩnh Phúc, ngày 03 tháng 6 năm 2020"], True),  # the text layer collapses the blank's spaces
    (["Số: 15/TB-STTTT", "Vĩnh Phúc, ngày tháng 6 năm 2020"], True),
    (["Số: 15/TB-STTTT", "Vĩnh Phúc, ngày 03 tháng 6 năm 2020"], False),
    (["Căn cứ Luật Ban hành văn bản quy phạm pháp luật"], False),
])
def test_has_blanks_tells_which_pages_need_their_glyph_positions(texts: list[str], expected: bool) -> None:
    from chalicelib.domain.issuance import has_blanks

    assert has_blanks(texts) is expected
