"""Months and days as the province counts them: Vietnam's civil calendar (UTC+07:00), over UTC record times.

Why a module: the documents table indexes records by month (chalicelib.adapters.document_store: `MONTH#YYYY-MM`
by creation for the admin search, `DONE#YYYY-MM` by the terminal transition for the monthly report), the search
turns `from`/`to` dates into index bounds, and the reports name months; all must agree on where a month starts.
A document dispatched at 2026-11-30T18:00Z was sent on 1 December in Vĩnh Phúc, and is December's.
Pure code (no AWS).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from chalicelib.core.clock import VN_TZ

__all__ = ["CREATED_PREFIX", "DONE_PREFIX", "day_start_utc", "month_of", "month_start_utc", "months_between",
           "next_month", "parse_date", "parse_month", "parse_year", "seconds_between"]

CREATED_PREFIX = "MONTH#"
DONE_PREFIX = "DONE#"
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_YEAR = re.compile(r"^\d{4}$")


def _instant(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def month_of(iso: str) -> str:
    """`YYYY-MM` of a UTC record time, in Vietnam time."""
    return _instant(iso).astimezone(VN_TZ).strftime("%Y-%m")


def parse_month(text: str | None) -> str | None:
    """`YYYY-MM` (month 01–12, year 2000–2999) or None when malformed."""
    match = _MONTH.fullmatch(text or "")
    if not match or not 2000 <= int(match[1]) <= 2999 or not 1 <= int(match[2]) <= 12:
        return None
    return text


def parse_year(text: str | None) -> int | None:
    if not _YEAR.fullmatch(text or "") or not 2000 <= int(text or 0) <= 2999:
        return None
    return int(text or 0)


def parse_date(text: str | None) -> date | None:
    """An ISO date `YYYY-MM-DD`, or None when malformed."""
    try:
        return date.fromisoformat(text or "") if len(text or "") == 10 else None
    except ValueError:
        return None


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def day_start_utc(day: date) -> str:
    """The record-time string (UTC, as `now_iso` writes) at which `day` starts in Vietnam."""
    return _iso(datetime(day.year, day.month, day.day, tzinfo=VN_TZ))


def month_start_utc(month: str) -> str:
    year, mon = (int(p) for p in month.split("-"))
    return _iso(datetime(year, mon, 1, tzinfo=VN_TZ))


def next_month(month: str) -> str:
    year, mon = (int(p) for p in month.split("-"))
    return f"{year + mon // 12:04d}-{mon % 12 + 1:02d}"


def months_between(first: date, last: date) -> list[str]:
    """Every `YYYY-MM` from `first`'s month to `last`'s, oldest first."""
    months, month, end = [], first.strftime("%Y-%m"), last.strftime("%Y-%m")
    while month <= end:
        months.append(month)
        month = next_month(month)
    return months


def seconds_between(start: str | None, end: str | None) -> float | None:
    """Seconds from one record time to another (None when either is missing or the order is wrong)."""
    if not start or not end:
        return None
    delta: timedelta = _instant(end) - _instant(start)
    seconds = delta.total_seconds()
    return seconds if seconds >= 0 else None
