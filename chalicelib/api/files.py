"""Answers that are files, not JSON: the monthly report as CSV or XLSX (issue 9), a register as XLSX (issue 12).

A use case returns `(bytes, content type, file name)` (chalicelib.admin.reports.monthly); this turns it into a
chalice `Response`, which `chalicelib.api.http.Routes` passes through as it is. Text (CSV: UTF-8 with its BOM kept,
so Excel reads the Vietnamese names right) goes out as a string; a binary type (XLSX) as bytes, which API Gateway
and chalice base64-encode only because app.py lists the type in `app.api.binary_types` — and only for a request
whose `Accept` names that type (or `*/*`); otherwise chalice answers 400 (docs/traps.md#binary-answers).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalice import Response

from chalicelib.admin import reports
from chalicelib.domain.caller import Caller
from chalicelib.registers import listing

__all__ = ["file_answer", "monthly_report_answer", "register_answer"]


def file_answer(result: Any) -> Any:
    """A `(bytes, content type, file name)` result as a download `Response`; anything else as it is (JSON)."""
    if not isinstance(result, tuple):
        return result
    body, content_type, file_name = result
    text = content_type.startswith("text/")
    return Response(body=body.decode("utf-8") if text else body, status_code=200,
                    headers={"Content-Type": content_type, "Cache-Control": "no-store",
                             "Content-Disposition": f'attachment; filename="{file_name}"'})


def monthly_report_answer(caller: Caller, *, month: str | None, fmt: str | None) -> Any:
    """`GET /v1/admin/reports/monthly`: JSON, or the CSV/XLSX file."""
    return file_answer(reports.monthly(caller, month=month, fmt=fmt))


def register_answer(caller: Caller, direction: str, query: Callable[[str], str | None]) -> Any:
    """`GET /v1/registers/outgoing|incoming` (issue 12): a JSON page, or the year's register as an XLSX file."""
    return file_answer(listing.register_page(caller, direction, year=query("year"), organ_id=query("organ_id"),
                                             limit=query("limit"), cursor=query("cursor"), fmt=query("format")))
