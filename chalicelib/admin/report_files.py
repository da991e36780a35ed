"""The monthly report as an XLSX workbook (issue 9): a header row, one row per agency, a totals row.

Why a module of its own: openpyxl (pure Python, ~3 MB unpacked) is imported only here and only when an admin asks
for `format=xlsx` (chalicelib.admin.reports), so no other route or handler pays for it at cold start. The cells
come from `chalicelib.domain.kpi.table_rows`, the same table the CSV is written from, so the two files carry the
same numbers; numbers stay numbers (not text), shares as 0..1 with a percent format.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

from chalicelib.domain import kpi

__all__ = ["SHEET_TITLE", "xlsx_bytes"]

SHEET_TITLE = "Báo cáo tháng"
_SHARE_COLUMNS = {"electronic_only_share", "signed_share", "target_electronic_only_share", "target_signed_share"}


def xlsx_bytes(report: Mapping[str, Any]) -> bytes:
    from openpyxl import Workbook  # lazy: see the module docstring
    from openpyxl.styles import Font  # lazy: the same package

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = SHEET_TITLE
    rows = kpi.table_rows(report)
    header = rows[0]
    for row in rows:
        sheet.append(row)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)
    for index, name in enumerate(header, start=1):
        if name in _SHARE_COLUMNS:
            for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                cell.number_format = "0.00%"
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
