"""A register as an XLSX workbook (issue 12): a title row, the headings of NĐ 30 Phụ lục IV's register, one row per
number. openpyxl is imported here only, when `format=xlsx` is asked (as chalicelib.admin.report_files); the rows are
chalicelib.domain.registers.table_rows, so the file says what the JSON says."""

from __future__ import annotations

import io
from typing import Any

from chalicelib.domain.registers import OUTGOING, table_rows

__all__ = ["xlsx_bytes"]


def xlsx_bytes(direction: str, organ_id: str, year: int, entries: list[dict[str, Any]]) -> bytes:
    from openpyxl import Workbook  # lazy: see the module docstring
    from openpyxl.styles import Font  # lazy: the same package

    workbook = Workbook()
    sheet = workbook.active
    title = "Sổ đăng ký văn bản đi" if direction == OUTGOING else "Sổ đăng ký văn bản đến"
    sheet.title = f"{'Văn bản đi' if direction == OUTGOING else 'Văn bản đến'} {year}"
    sheet.append([f"{title} năm {year} — {organ_id}"])
    sheet["A1"].font = Font(bold=True, size=13)
    rows = table_rows(direction, entries)
    for row in rows:
        sheet.append(row)
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A3"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
