"""EventBridge schedule expressions, read the way EventBridge reads them: `rate(...)` and `cron(...)`.

Why the stack parses them itself: the pump must fire `@app.schedule` handlers at the times the deployed rules
would (the same expressions `chalice package` writes into the template), with no EventBridge to ask. Only the
common cron forms are supported; `L`, `W` and `#` are not needed by the app and are not supported locally.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

__all__ = ["cron_matches", "expression", "rate_seconds"]

_MONTHS = {m: i for i, m in enumerate(["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT",
                                        "NOV", "DEC"], start=1)}
_WEEKDAYS = {d: i for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], start=1)}
_RATE_UNITS = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}


def expression(schedule: Any) -> str:
    """The expression text of a Chalice schedule (a string, or a `Rate`/`Cron` object)."""
    return schedule if isinstance(schedule, str) else schedule.to_string()


def rate_seconds(expression: str) -> float | None:
    """`rate(5 minutes)` → 300; None for a cron expression."""
    if not expression.startswith("rate("):
        return None
    value, unit = expression[5:-1].split()
    return int(value) * _RATE_UNITS[unit.lower()]


def _cron_field(field: str, value: int, lo: int, hi: int, names: dict[str, int]) -> bool:
    if field in ("*", "?"):
        return True
    for part in field.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/")
            step = int(step_text)
        if part in ("*", ""):
            start, end = lo, hi
        elif "-" in part:
            a, b = part.split("-")
            start, end = names.get(a.upper()) or int(a), names.get(b.upper()) or int(b)
        else:
            start = names.get(part.upper()) or int(part)
            end = hi if step > 1 else start
        if start <= value <= end and (value - start) % step == 0:
            return True
    return False


def cron_matches(expression: str, when: datetime) -> bool:
    """Whether EventBridge's `cron(min hour dom month dow year)` fires at `when` (UTC minute).

    The common forms (`*`, `?`, lists, ranges, steps, names); `L`, `W` and `#` are not supported locally.
    """
    minute, hour, dom, month, dow, year = expression[5:-1].split()
    weekday = (when.weekday() + 1) % 7 + 1  # EventBridge: 1 = SUN … 7 = SAT
    return (_cron_field(minute, when.minute, 0, 59, {}) and _cron_field(hour, when.hour, 0, 23, {})
            and _cron_field(dom, when.day, 1, 31, {}) and _cron_field(month, when.month, 1, 12, _MONTHS)
            and _cron_field(dow, weekday, 1, 7, _WEEKDAYS) and _cron_field(year, when.year, 1970, 2199, {}))
