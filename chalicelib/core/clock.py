"""Time as the gateway writes it: UTC instants for records, Vietnam's civil time (UTC+07:00) for people and the axis.

Why one module: the signing time in the seal (NĐ 30/2020 Phụ lục I: ISO 8601 with +07:00), edXML dates (QCVN
102:2016, `docs/edxml.md`) and the axis headers all use the same zone; four copies of it had drifted apart in name.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

__all__ = ["VN_TZ", "now_iso", "utc_now"]

#: Indochina Time, the zone of every date a Vietnamese document or the axis carries (no daylight saving).
VN_TZ = timezone(timedelta(hours=7), "ICT")


def utc_now() -> datetime:
    """The current instant, timezone-aware (a seam for tests that need a fixed clock)."""
    return datetime.now(UTC)


def now_iso() -> str:
    """UTC timestamp with microseconds and a `Z`: sortable as text and unambiguous (record and event times)."""
    return utc_now().isoformat(timespec="microseconds").replace("+00:00", "Z")
