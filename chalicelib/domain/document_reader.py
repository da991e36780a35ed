"""Reading an administrative document's own metadata from its page text (issue 12, "Read the document"): số and ký
hiệu, date and place, type, trích yếu, signer, and the recipients as written, each field with a confidence, by the
layout of NĐ 30/2020 Phụ lục I (the patterns are chalicelib.standards.nd30_layout). Pure: lines in
(chalicelib.domain.page_text, from chalicelib.signing.pdf_text or from text in tests), a `Reading` out. Resolving
the written recipients to identifier codes is chalicelib.domain.recipient_names.

What the reader trusts, in order: the "Số:" line (③) for số, ký hiệu and, through the ký hiệu's first part, the
type (Phụ lục III); the "<Địa danh>, ngày … tháng … năm …" line (④); the type's name printed in upper case (⑤a),
else "V/v …" under the số for a công văn (⑤b); the lines under it up to the addressees, the authority line, a
new paragraph that starts with a capital, or a line ending in "." (a trích yếu over two or more lines); the lists
under "Kính gửi:", "Nơi nhận:" and "Bản điện tử:"; the signature block (⑦) at the foot: competence lines (Art.
13), the position in upper case, the full name last.

Blanks stay blanks (Art. 15, 16: the văn thư fills them at issuance): a blank number is `""`, a date without its
day is `YYYY-MM` and one with neither day nor month `YYYY` (ISO 8601 reduced precision), each with a warning.
"""

from __future__ import annotations

import re
import statistics
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from chalicelib.domain.page_text import Cell, PageLine
from chalicelib.domain.text_search import fold
from chalicelib.standards import nd30_layout as nd30

__all__ = ["Reading", "WrittenRecipient", "fill_from_issuer", "issuer_abbreviation", "read_document"]

_TYPE_BY_FOLDED_NAME = {fold(name): abbr for abbr, name in nd30.TYPE_NAMES.items() if abbr != "CV"}
_TYPE_BY_FOLDED_ABBR = {fold(abbr): abbr for abbr in nd30.TYPE_NAMES if abbr != "CV"}
_MAX_SUBJECT_LINES = 6
_NAME_WORD = re.compile(r"^[^\W\d_][^\W\d_]*$")


@dataclass(frozen=True)
class WrittenRecipient:
    """One entry of a list as written: `list` is `kinh_gui`, `noi_nhan` or `ban_dien_tu`; `paper` when the entry
    stands in the paper list (a "Nơi nhận:" marked VB, or followed by a separate "Bản điện tử:" list); `note` is
    `archive` ("Lưu: VT"), `as_above` ("Như trên") or empty."""

    text: str
    list: str
    paper: bool = False
    note: str = ""


@dataclass
class Reading:
    """What the text gives: `metadata` (fields of POST /v1/documents), `confidence` per field (0..1), the recipients
    as written, `warnings` ({code, message, field?}), `header`: whether the first page has ③ and ④, and
    `national_title`: whether it has ① (with both, the text can be held against a record: chalicelib.domain.
    agreement)."""

    metadata: dict[str, Any] = field(default_factory=dict)
    confidence: dict[str, float] = field(default_factory=dict)
    recipients: list[WrittenRecipient] = field(default_factory=list)
    warnings: list[dict[str, str]] = field(default_factory=list)
    header: bool = False
    national_title: bool = False  # ① the quốc hiệu stands on the first page

    def warn(self, code: str, message: str, field_name: str = "") -> None:
        entry = {"code": code, "message": message}
        if field_name:
            entry["field"] = field_name
        self.warnings.append(entry)


@dataclass(frozen=True)
class _Row:
    page: int
    y: float
    gap: float  # distance to the row above on the same page, in leadings (1.0: the next line of a paragraph)
    cells: tuple[Cell, ...]
    right: tuple[bool, ...]  # per cell: stands in the right column


def read_document(lines: list[PageLine]) -> Reading:
    """The `Reading` of a document's lines (module docstring)."""
    rows = _rows(lines)
    out = Reading()
    first_page = [i for i, r in enumerate(rows) if r.page == rows[0].page] if rows else []
    num_at = _find(rows, first_page, nd30.NUMBER_LINE)
    date_at = _find(rows, first_page, nd30.DATE_LINE)
    out.header = num_at is not None and date_at is not None
    out.national_title = any(fold(c.text) == nd30.NATIONAL_TITLE for i in first_page for c in rows[i].cells)
    _number(out, rows, num_at)
    _date(out, rows, date_at)
    after_header = max((i for i in (num_at, date_at) if i is not None), default=-1) + 1
    _type_and_subject(out, rows, first_page, after_header)
    kinh_gui = _find(rows, range(len(rows)), nd30.KINH_GUI, last=False)
    if kinh_gui is not None:
        entries, _ = _list_after(rows, kinh_gui, nd30.KINH_GUI)
        out.recipients += [_entry(text, "kinh_gui", False) for text in entries]
    sig_from = _foot(out, rows)
    _signer(out, rows, max(sig_from, after_header + (2 if "type" in out.metadata else 0)))
    if not out.header and "type" not in out.metadata:
        out.warn("not_nd30_layout", "Không nhận ra thể thức văn bản hành chính (NĐ 30/2020): không có dòng "
                                    "số, ký hiệu, địa danh, ngày tháng và tên loại văn bản.")
    return out


def fill_from_issuer(reading: Reading, *, issuer_name: str, place: str) -> None:
    """Fields a text without its header (③, ④) leaves out, proposed from the issuing agency (the caller), with low
    confidence and a warning each: the ký hiệu (type-issuer by Phụ lục III, the issuer's abbreviation only for a
    công văn, whose unit part nothing tells) and the place (địa danh: the issuer's province)."""
    meta = reading.metadata
    if "notation" not in meta and meta.get("type") and issuer_name:
        abbr = issuer_abbreviation(issuer_name, place)
        meta["notation"] = abbr if meta["type"] == "CV" else f"{meta['type']}-{abbr}"
        reading.confidence["notation"] = 0.3 if meta["type"] == "CV" else 0.5
        reading.warn("notation_inferred", "Văn bản không có dòng số, ký hiệu: ký hiệu được đề xuất theo tên loại "
                                          "và cơ quan ban hành, cần kiểm tra.", "notation")
    if "place" not in meta and place and meta.get("type"):
        meta["place"] = place
        reading.confidence["place"] = 0.5
        reading.warn("place_inferred", "Văn bản không có dòng địa danh, ngày tháng: địa danh được đề xuất theo "
                                       "tỉnh của cơ quan ban hành.", "place")


def issuer_abbreviation(name: str, province: str = "") -> str:
    """The issuer part of a ký hiệu from an agency's name: "UBND tỉnh Bắc Giang" → "UBND", "Sở Thông tin và
    Truyền thông Vĩnh Phúc" → "STTTT", "Sở Nội vụ" → "SNV", "Văn phòng UBND tỉnh" → "VP" (the usual forms; a
    registered abbreviation, when agencies get one, would win). `province` is cut from the name's end first."""
    folded = fold(name)
    for prefix, abbr in (("ubnd", "UBND"), ("uy ban nhan dan", "UBND"), ("hdnd", "HĐND"),
                         ("hoi dong nhan dan", "HĐND"), ("van phong", "VP")):
        if folded.startswith(prefix):
            return abbr
    words = name.split()
    if province and fold(" ".join(words[-len(province.split()):])) == fold(province):
        words = words[:-len(province.split())]
    initials = "".join(w[0] for w in words if fold(w) not in {"va", "tinh"} and w[0].isalpha())
    return initials.upper()


# -- rows -----------------------------------------------------------------------------------------------------------
def _rows(lines: list[PageLine]) -> list[_Row]:
    """Lines as rows with their gap in leadings and each cell's column (right: centred past the page's middle)."""
    rows: list[_Row] = []
    by_page: dict[int, list[PageLine]] = {}
    for line in lines:
        by_page.setdefault(line.page, []).append(line)
    for page in sorted(by_page):
        page_lines = [ln for ln in by_page[page] if ln.cells]
        cells = [c for ln in page_lines for c in ln.cells]
        if not cells:
            continue
        # The text block: its left margin is where most lines start (a centred line that overflows its column
        # must not move it), its right edge where the lines starting there end.
        left = float(statistics.mode(round(c.x0) for c in cells))
        right = max((c.x1 for c in cells if abs(c.x0 - left) < 3), default=max(c.x1 for c in cells))
        middle = (left + right) / 2
        steps = [a.y - b.y for a, b in zip(page_lines, page_lines[1:], strict=False) if 0 < a.y - b.y < 60]
        leading = statistics.median(steps) if steps else 18.0
        for n, line in enumerate(page_lines):
            gap = (page_lines[n - 1].y - line.y) / leading if n else 9.0
            clean = tuple(Cell(c.x0, c.x1, _clean(c.text)) for c in line.cells if _clean(c.text))
            if not clean:
                continue
            flags = tuple(i > 0 or c.x0 > middle - 10 or
                          ((c.x0 + c.x1) / 2 > middle + 0.15 * (right - left) and c.x0 > left + 60)
                          for i, c in enumerate(clean))
            rows.append(_Row(page, line.y, gap, clean, flags))
    return rows


def _clean(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


def _find(rows: list[_Row], where: Any, pattern: re.Pattern[str], *, last: bool = False) -> int | None:
    hits = [i for i in where if any(pattern.match(c.text) for c in rows[i].cells)]
    return (hits[-1] if last else hits[0]) if hits else None


def _cell(row: _Row, pattern: re.Pattern[str]) -> re.Match[str] | None:
    for cell in row.cells:
        match = pattern.match(cell.text)
        if match:
            return match
    return None


# -- ③ số, ký hiệu; ④ place and date ---------------------------------------------------------------------------------
def _number(out: Reading, rows: list[_Row], at: int | None) -> None:
    if at is None:
        out.warn("number_line_missing", "Không thấy dòng \"Số: …/…\" ở đầu văn bản.", "number")
        return
    match = _cell(rows[at], nd30.NUMBER_LINE)
    assert match is not None
    notation = re.sub(r"\s*-\s*", "-", match["notation"]).strip(".")
    out.metadata["number"] = match["number"]
    out.metadata["notation"] = notation
    out.confidence["number"] = out.confidence["notation"] = 0.95
    if not match["number"]:
        out.warn("number_blank", "Số văn bản để trống: văn thư điền khi ban hành (NĐ 30/2020, Điều 15).", "number")


def _date(out: Reading, rows: list[_Row], at: int | None) -> None:
    if at is None:
        out.warn("date_missing", "Không thấy dòng \"<Địa danh>, ngày … tháng … năm …\".", "issued_on")
        return
    match = _cell(rows[at], nd30.DATE_LINE)
    assert match is not None
    out.metadata["place"] = match["place"].strip()
    out.confidence["place"] = 0.95
    year, month, day = int(match["year"]), match["month"], match["day"]
    if month and day:
        try:
            out.metadata["issued_on"] = date(year, int(month), int(day)).isoformat()
            out.confidence["issued_on"] = 0.95
            return
        except ValueError:
            out.warn("date_invalid", "Ngày ban hành ghi trên văn bản không có thật.", "issued_on")
    partial = f"{year:04d}-{int(month):02d}" if month and 1 <= int(month) <= 12 else f"{year:04d}"
    out.metadata["issued_on"] = partial
    out.confidence["issued_on"] = 0.9  # sure of what the page says; the warning says it is incomplete
    out.warn("date_incomplete", "Ngày ban hành còn để trống: văn thư điền khi ban hành (NĐ 30/2020, Điều 16).",
             "issued_on")


# -- ⑤ type and trích yếu ---------------------------------------------------------------------------------------------
def _type_and_subject(out: Reading, rows: list[_Row], first_page: list[int], start: int) -> None:
    from_notation = _type_of_notation(out.metadata.get("notation", ""))
    title_at = next((i for i in first_page if i >= start and any(
        fold(c.text) in _TYPE_BY_FOLDED_NAME for c in rows[i].cells)), None)
    if title_at is None and start == 0:  # no header: the title may stand anywhere above the body
        title_at = next((i for i in first_page if any(fold(c.text) in _TYPE_BY_FOLDED_NAME
                                                      for c in rows[i].cells)), None)
    if title_at is not None:
        cell = next(c for c in rows[title_at].cells if fold(c.text) in _TYPE_BY_FOLDED_NAME)
        kind = _TYPE_BY_FOLDED_NAME[fold(cell.text)]
        out.metadata["type"] = kind
        out.confidence["type"] = 0.95 if from_notation in (kind, None) else 0.5
        if from_notation not in (kind, None):
            out.warn("type_mismatch", f"Tên loại \"{cell.text}\" không khớp ký hiệu "
                                      f"\"{out.metadata.get('notation')}\".", "type")
        subject, sure = _subject(rows, title_at + 1, None)
    else:
        vv_at = next((i for i in first_page if i >= start and any(
            nd30.SUBJECT_PREFIX.match(c.text) for c in rows[i].cells)), None)
        if from_notation is not None:
            out.metadata["type"], out.confidence["type"] = from_notation, 0.8
        elif vv_at is not None or out.metadata.get("notation"):
            out.metadata["type"], out.confidence["type"] = "CV", 0.85 if vv_at is not None else 0.6
        if vv_at is None:
            return
        column = next(k for k, c in enumerate(rows[vv_at].cells) if nd30.SUBJECT_PREFIX.match(c.text))
        subject, sure = _subject(rows, vv_at, rows[vv_at].right[column] if len(rows[vv_at].cells) > 1 else None)
    if subject:
        out.metadata["subject"] = subject
        out.confidence["subject"] = 0.9 if sure else 0.7
    else:
        out.warn("subject_missing", "Không thấy trích yếu dưới tên loại văn bản.", "subject")


def _type_of_notation(notation: str) -> str | None:
    """Phụ lục III: a ký hiệu "TB-UBND" starts with its type's abbreviation; a công văn's ("UBND-VX3") does not."""
    head = notation.split("-", 1)[0] if "-" in notation else ""
    if head in nd30.TYPE_NAMES and head != "CV":
        return head
    return _TYPE_BY_FOLDED_ABBR.get(fold(head)) if head and head == head.upper() else None


def _subject(rows: list[_Row], at: int, right: bool | None) -> tuple[str, bool]:
    """The trích yếu from row `at` on: (text, whether a clear end was seen). `right` picks one column of two-column
    rows (a công văn's "V/v" stands under the số, left); None takes whole rows."""
    parts: list[str] = []
    for n in range(at, min(len(rows), at + 3 * _MAX_SUBJECT_LINES)):
        row = rows[n]
        if row.page != rows[at].page:
            break
        if right is None:
            text = " ".join(c.text for c in row.cells)
        else:
            picked = [c.text for c, r in zip(row.cells, row.right, strict=True) if r == right]
            if not picked:
                continue
            text = " ".join(picked)
        folded = fold(text)
        if folded in (nd30.NATIONAL_TITLE, nd30.MOTTO) or nd30.DATE_LINE.match(text):
            continue
        if parts and (nd30.KINH_GUI.match(text) or nd30.NOI_NHAN.match(text) or _upper(text)
                      or (row.gap > 1.2 and text[:1].isupper())):
            return _end_subject(parts), True
        if not parts and (nd30.KINH_GUI.match(text) or nd30.NOI_NHAN.match(text)):
            return "", False
        parts.append(text)
        if text.endswith(".") or len(parts) >= _MAX_SUBJECT_LINES:
            return _end_subject(parts), text.endswith(".")
    return _end_subject(parts), False


def _end_subject(parts: list[str]) -> str:
    text = " ".join(parts).strip()
    return text[:-1].rstrip() if text.endswith(".") and not text.endswith("./.") else text


def _upper(text: str) -> bool:
    letters = [ch for ch in text if ch.isalpha()]
    return len(letters) >= 3 and all(ch.isupper() for ch in letters)


# -- ⑨ the lists -----------------------------------------------------------------------------------------------------
def _list_after(rows: list[_Row], at: int, label: re.Pattern[str]) -> tuple[list[str], int]:
    """The entries of the list whose label stands in row `at`, and the index of the row after the list. Entries
    start with "-" (or "+"); a line without one continues the entry above unless that ended with "." or ";" or a
    new paragraph starts; the list ends at the signature block (competence or upper-case lines), another label,
    or the body."""
    label_cell = next(k for k, c in enumerate(rows[at].cells) if label.match(c.text))
    right_side = rows[at].right[label_cell]
    rest = label.match(rows[at].cells[label_cell].text)["rest"].strip()  # type: ignore[index]
    entries = [e for e in [_dash(rest)] if e and not nd30.PAPER_MARK.match(e)]
    n = at + 1
    while n < len(rows):
        row = rows[n]
        picked = [c.text for c, r in zip(row.cells, row.right, strict=True) if r == right_side]
        if not picked:
            n += 1
            continue
        text = picked[0]
        if (nd30.NOI_NHAN.match(text) or nd30.ELECTRONIC_LIST.match(text) or nd30.KINH_GUI.match(text)
                or nd30.COMPETENCE.match(text) or (_upper(text) and not text.startswith(("-", "+")))):
            break
        if text.startswith(("-", "+", "•")):
            entries.append(_dash(text))
        elif not entries:
            entries.append(text)
        elif entries[-1].endswith((";", ".")) or (row.gap > 1.2 and text[:1].isupper()):
            break
        else:
            entries[-1] = f"{entries[-1]} {text}"
        n += 1
    return [e.rstrip(";,. ") for e in entries if e.rstrip(";,. ")], n


def _dash(text: str) -> str:
    return text.lstrip("-+• ").strip()


def _entry(text: str, kind: str, paper: bool) -> WrittenRecipient:
    note = "archive" if nd30.ARCHIVE.match(text) else "as_above" if nd30.AS_ABOVE.match(text) else ""
    return WrittenRecipient(text, kind, paper and note != "archive", note)


def _foot(out: Reading, rows: list[_Row]) -> int:
    """The "Nơi nhận:" and "Bản điện tử:" lists; returns the row where the signature block may start."""
    noi_nhan = _find(rows, range(len(rows)), nd30.NOI_NHAN, last=True)
    electronic = _find(rows, range(noi_nhan or 0, len(rows)), nd30.ELECTRONIC_LIST)
    if noi_nhan is None and electronic is None:
        return max(0, len(rows) - 12)
    end = noi_nhan or electronic or 0
    if noi_nhan is not None:
        rest = nd30.NOI_NHAN.match(next(c.text for c in rows[noi_nhan].cells if nd30.NOI_NHAN.match(c.text)))
        paper = electronic is not None or bool(rest and nd30.PAPER_MARK.match(rest["rest"]))
        entries, end = _list_after(rows, noi_nhan, nd30.NOI_NHAN)
        out.recipients += [_entry(text, "noi_nhan", paper) for text in entries]
    if electronic is not None:
        entries, end = _list_after(rows, electronic, nd30.ELECTRONIC_LIST)
        out.recipients += [_entry(text, "ban_dien_tu", False) for text in entries]
    return min(noi_nhan if noi_nhan is not None else end, end)


# -- ⑦ the signer -----------------------------------------------------------------------------------------------------
def _signer(out: Reading, rows: list[_Row], start: int) -> None:
    """Competence lines (Art. 13), the position (upper case), the full name (the last name-like line)."""
    two_columns = any(any(r) for r in (row.right for row in rows[start:]))
    heading = {nd30.NATIONAL_TITLE, nd30.MOTTO}
    texts: list[str] = []
    listing = True
    for row in rows[start:]:
        for cell, right in zip(row.cells, row.right, strict=True):
            if (two_columns and not right) or fold(cell.text) in heading or nd30.DATE_LINE.match(cell.text) \
                    or nd30.NUMBER_LINE.match(cell.text):
                continue
            if not two_columns and listing:
                if nd30.COMPETENCE.match(cell.text) or (_upper(cell.text) and not cell.text.startswith("-")):
                    listing = False
                else:
                    continue
            texts.append(cell.text)
    competence = [_competence(t) for t in texts if nd30.COMPETENCE.match(t)]
    after = texts[max((i for i, t in enumerate(texts) if nd30.COMPETENCE.match(t)), default=-1) + 1:]
    position = " ".join(t for t in after if _upper(t) and not nd30.COMPETENCE.match(t))
    names = [t for t in after if _is_name(t)]
    if not (out.header or "type" in out.metadata) or not (names or (position and competence)):
        if out.header or "type" in out.metadata:
            out.warn("signer_missing", "Không thấy khối chữ ký (thẩm quyền, chức vụ, họ tên người ký).", "signer")
        return
    signer = {"full_name": names[-1] if names else "", "position": position, "competence": ", ".join(competence)}
    out.metadata["signer"] = signer
    out.confidence["signer"] = 0.9 if names and position else 0.5


def _competence(text: str) -> str:
    match = nd30.COMPETENCE.match(text)
    assert match is not None
    return f"{match['word']}. {match['rest'].strip()}"


def _is_name(text: str) -> bool:
    words = text.split()
    return 2 <= len(words) <= 6 and all(_NAME_WORD.match(w) and w[0].isupper() and (len(w) == 1 or w[1:].islower())
                                        for w in words)
