"""edXML date and time forms (QCVN 102:2016, `docs/edxml.md#formats`): dates `yyyy/MM/dd`, timestamps
`yyyy/MM/dd HH:mm:ss` in Vietnam local time (UTC+7) without a zone.

Writing is strict (one form, an aware datetime); reading is lenient, as the other side's software is: `-`
separators and ISO 8601 are accepted, and an unreadable value is None for the caller to note, never an error.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from chalicelib.core.clock import VN_TZ

__all__ = ["format_date", "format_timestamp", "parse_date", "parse_timestamp"]


def format_date(value: date) -> str:
    """`yyyy/MM/dd`, the edXML date format (`PromulgationDate`, `DueDate`)."""
    return f"{value.year:04d}/{value.month:02d}/{value.day:02d}"


def format_timestamp(value: datetime) -> str:
    """`yyyy/MM/dd HH:mm:ss` in Vietnam local time without a zone (`Timestamp`).

    A naive datetime is refused: guessing its zone would silently move the trace by up to seven hours.
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("edXML timestamps need a timezone-aware datetime")
    local = value.astimezone(VN_TZ)
    return f"{format_date(local)} {local.hour:02d}:{local.minute:02d}:{local.second:02d}"


def parse_date(text: str) -> date | None:
    """A date written `yyyy/MM/dd` or `yyyy-MM-dd` (a trailing time part is ignored); None if unreadable."""
    text = text.strip()
    match = re.match(r"(\d{4})[/-](\d{1,2})[/-](\d{1,2})(?:$|[ T])", text, re.ASCII)
    if not match:
        return None
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None


def parse_timestamp(text: str) -> datetime | None:
    """A timestamp `yyyy/MM/dd HH:mm:ss` (or `-` separators, or ISO 8601) as an aware datetime; no zone = UTC+7."""
    text = text.strip()
    match = re.fullmatch(r"(\d{4})[/-](\d{1,2})[/-](\d{1,2})[ T](\d{1,2}):(\d{2})(?::(\d{2}))?", text, re.ASCII)
    try:
        if match:
            parts = [int(g) if g else 0 for g in match.groups()]
            return datetime(*parts, tzinfo=VN_TZ)  # type: ignore[misc]
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=VN_TZ)
