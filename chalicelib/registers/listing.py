"""`GET /v1/registers/outgoing` and `GET /v1/registers/incoming` (issue 12): one agency's register of one calendar
year, page by page in number order, each entry with the current state of what it numbers, as JSON or as an XLSX
workbook (`format=xlsx`, the whole year's register in one file, as the văn thư prints it, NĐ 30 Phụ lục IV).

Who reads which: a clerk their own agency's registers only (`organ_id` another agency's: 403 `forbidden`); an
admin any agency's (`organ_id` required unless they act for one); every admin call is audited at the edge
(chalicelib.api.http). Year: the current year in Vietnam by default (chalicelib.domain.registers.register_year).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chalicelib.adapters.register_store import get_register_store
from chalicelib.core.errors import Forbidden, ValidationFailed
from chalicelib.domain.caller import Caller
from chalicelib.domain.paging import page_limit
from chalicelib.domain.registers import DIRECTIONS, OUTGOING, register_year
from chalicelib.domain.report_months import parse_year
from chalicelib.registers.ports import RegisterReader
from chalicelib.registers.register_files import xlsx_bytes
from chalicelib.standards.identifiers import is_strict

__all__ = ["FORMATS", "MAX_FILE_ENTRIES", "XLSX_TYPE", "register_page"]

FORMATS = ("json", "xlsx")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: A workbook holds at most this many entries (a large province's busiest agency numbers ~15 000 a year); more is
#: refused with `register_too_large` and the JSON pages remain.
MAX_FILE_ENTRIES = 20_000
_FILE_PAGE = 1000


def _organ(caller: Caller, organ_id: str | None) -> str:
    wanted = (organ_id or "").strip() or caller.organ_id
    if not is_strict(wanted):  # an admin acting for no agency must name one
        raise ValidationFailed("Hãy chọn cơ quan (organ_id) bằng mã định danh đúng dạng.", code="invalid_organ_id",
                               details={"organ_id": wanted[:64]})
    if wanted != caller.organ_id and not caller.is_admin:
        raise Forbidden("Chỉ xem được sổ văn bản của cơ quan mình.", code="forbidden")
    return wanted


def _year(value: str | None) -> int:
    if not value:
        return register_year(datetime.now(UTC))
    year = parse_year(value)
    if year is None:
        raise ValidationFailed("Năm của sổ phải có dạng YYYY.", code="invalid_year", details={"year": value})
    return year


def _with_state(direction: str, items: list[dict[str, Any]], store: RegisterReader) -> list[dict[str, Any]]:
    """Each entry beside the current state of its document or inbox item (one batch read per page)."""
    current = store.holders(direction, [str(i.get("holder_id")) for i in items if i.get("holder_id")])
    out = []
    for item in items:
        entry = {k: v for k, v in item.items() if k not in ("organ_id", "direction")}
        now = current.get(str(item.get("holder_id")), {})
        if direction == OUTGOING:
            entry["state"] = now.get("state") or item.get("state")
            if now.get("reason") or item.get("reason"):
                entry["reason"] = now.get("reason") or item.get("reason")
        else:
            entry.update({k: now[k] for k in ("status", "status_code", "revoked") if k in now})
        out.append(entry)
    return out


def register_page(caller: Caller, direction: str, *, year: str | None = None, organ_id: str | None = None,
                  limit: str | None = None, cursor: str | None = None, fmt: str | None = None,
                  store: RegisterReader | None = None) -> dict[str, Any] | tuple[bytes, str, str]:
    """One page of the register (JSON), or the whole year's register as `(bytes, content type, file name)`."""
    if direction not in DIRECTIONS:
        raise ValidationFailed(code="invalid_request", details={"direction": direction})
    organ = _organ(caller, organ_id)
    checked_year = _year(year)
    fmt = (fmt or "json").lower()
    if fmt not in FORMATS:
        raise ValidationFailed("Định dạng của sổ phải là json hoặc xlsx.", code="invalid_format",
                               details={"format": fmt, "allowed": list(FORMATS)})
    store = store or get_register_store()
    if fmt == "xlsx":
        entries = _whole_year(store, organ, direction, checked_year)
        name = f"so-van-ban-{'di' if direction == OUTGOING else 'den'}-{organ}-{checked_year}.xlsx"
        return xlsx_bytes(direction, organ, checked_year, entries), XLSX_TYPE, name
    items, nxt = store.page(organ, direction, checked_year, limit=page_limit(limit), cursor=cursor or None)
    return {"organ_id": organ, "direction": direction, "year": checked_year,
            "items": _with_state(direction, items, store), "next": nxt}


def _whole_year(store: RegisterReader, organ: str, direction: str, year: int) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    cursor = None
    while True:
        items, cursor = store.page(organ, direction, year, limit=_FILE_PAGE, cursor=cursor)
        entries.extend(_with_state(direction, items, store))
        if len(entries) > MAX_FILE_ENTRIES:
            raise ValidationFailed("Sổ quá lớn để xuất một tệp; hãy xem theo trang.", code="register_too_large",
                                   details={"max_entries": MAX_FILE_ENTRIES})
        if not cursor:
            return entries
