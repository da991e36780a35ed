"""The registers (sổ đăng ký văn bản đi / đến) of each agency served by the gateway: what a number is and which
register a document belongs to (issue 12).

NĐ 30/2020/NĐ-CP Art. 15 (văn bản đi) and Art. 22 (văn bản đến): documents are numbered consecutively per calendar
year, starting at 01 on 1 January; Phụ lục I: the number is written in Arabic numerals, a number below 10 with a
leading zero ("01" … "09", then "10", "11", …). The year is Vietnam's calendar year (Asia/Ho_Chi_Minh) of the
moment the number is issued. Numbers are never issued twice and never skipped: a document that fails after its
number was issued keeps it (the register shows the document's state beside it). Pure: the store is
chalicelib.adapters.register_store.
"""

from __future__ import annotations

from datetime import datetime

from chalicelib.core.clock import VN_TZ

__all__ = ["DIRECTIONS", "INCOMING", "INCOMING_COLUMNS", "OUTGOING", "OUTGOING_COLUMNS", "format_number",
           "register_key", "register_year", "slot_key", "table_rows"]

OUTGOING = "outgoing"  # sổ văn bản đi
INCOMING = "incoming"  # sổ văn bản đến
DIRECTIONS = (OUTGOING, INCOMING)

#: Sort keys are zero-padded so that a register reads in number order (10 after 09, 100 after 99).
_SLOT_DIGITS = 9


def format_number(n: int) -> str:
    """NĐ 30 Phụ lục I: Arabic numerals, below 10 with a leading zero."""
    if n < 1:
        raise ValueError(f"register numbers start at 1, not {n}")
    return f"{n:02d}"


def register_year(at: datetime) -> int:
    """The calendar year in Vietnam at `at` (a number issued at 23:30 UTC on 31 December is next year's)."""
    if at.tzinfo is None:
        raise ValueError("a register needs an aware instant")
    return at.astimezone(VN_TZ).year


def register_key(organ_id: str, direction: str, year: int) -> str:
    """The partition holding one agency's register of one direction and year."""
    if direction not in DIRECTIONS:
        raise ValueError(f"unknown register {direction!r}")
    return f"REG#{organ_id}#{direction}#{year}"


def slot_key(n: int) -> str:
    """The sort key of number `n` in its register."""
    return f"NUM#{n:0{_SLOT_DIGITS}d}"


#: The register as printed (NĐ 30/2020 Phụ lục IV, sổ đăng ký văn bản đi / đến), column by column: (heading, field).
OUTGOING_COLUMNS = (("Số", "number"), ("Ký hiệu", "notation"), ("Ngày ban hành", "issued_on"),
                    ("Loại văn bản", "type"), ("Trích yếu nội dung", "subject"), ("Người ký", "signer"),
                    ("Nơi nhận", "recipients"), ("Ngày cấp số", "issued_at"), ("Trạng thái", "state"),
                    ("Ghi chú", "reason"))
INCOMING_COLUMNS = (("Số đến", "number"), ("Ngày đến", "received_at"), ("Cơ quan ban hành", "from_name"),
                    ("Mã định danh", "from_organ_id"), ("Số, ký hiệu", "document_code"),
                    ("Ngày văn bản", "issued_on"), ("Loại văn bản", "type_name"),
                    ("Trích yếu nội dung", "subject"), ("Trạng thái", "status"))


def table_rows(direction: str, entries: list[dict[str, object]]) -> list[list[str]]:
    """The register as a table: the headings, then one row of text per entry (lists joined by "; ")."""
    columns = OUTGOING_COLUMNS if direction == OUTGOING else INCOMING_COLUMNS
    rows = [[heading for heading, _ in columns]]
    for entry in entries:
        row = []
        for _, name in columns:
            value = entry.get(name)
            if name == "document_code":
                value = "/".join(str(v) for v in (entry.get("document_number"), entry.get("notation")) if v)
            if isinstance(value, list):
                value = "; ".join(str(v) for v in value)
            row.append("" if value is None else str(value))
        rows.append(row)
    return rows
