"""The audit trail's use cases: append an entry (called once, at the HTTP edge), search, verify a day's chain.

Issue 9: every admin action, every admin read and every state-changing agency action is appended by
`chalicelib.api.http.Routes.route` through `record`; the entry's shape and the chain are `chalicelib.domain.audit`,
the table `chalicelib.adapters.audit_store`.

The upload itself is an S3 POST the gateway never sees; the agency's audited act is `POST /v1/documents`, the
upload's authorisation (it answers the presigned POST bound to that one record), and what the signer does with
the upload is in the document's own timeline. So the signing function writes no audit entry and needs no grant.

Failing closed (DESIGN.md: an audit trail promises that nothing audited happens unrecorded): when the entry cannot
be written, the request answers 503 `audit_unavailable` instead of its result, so an admin never reads an agency's
content without a trace. A write that already took effect (the handler ran first) stays done; its entry is then
in the function's error log with every field, for the operator to add back.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
import weakref
from typing import Any

from chalicelib.adapters.audit_store import get_audit_store
from chalicelib.adapters.dynamo import decode_cursor, encode_cursor
from chalicelib.core.clock import VN_TZ, now_iso, utc_now
from chalicelib.core.errors import Forbidden, GatewayError, ValidationFailed
from chalicelib.core.log import logger
from chalicelib.domain.audit import chained_item, day_key, day_of, parse_day, verify_chain

__all__ = ["AuditUnavailable", "MAX_DAYS", "MAX_LIMIT", "append", "record", "search", "verify_day"]

#: How many times a writer retries after losing the race for the next number (each loss means another entry landed).
MAX_ATTEMPTS = 25
#: A search spans at most this many days (each day is a partition queried); the default span is the last 7 days.
MAX_DAYS = 366
DEFAULT_DAYS = 7
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
#: DynamoDB queries one search request may make before it answers with a cursor (bounds an empty year's walk).
MAX_QUERIES = 40
#: The sort key a cursor names to start a day from its newest entry.
_DAY_START = "START"


class AuditUnavailable(GatewayError):
    status = 503
    code = "audit_unavailable"


def _require_admin(caller: Any) -> None:
    if not getattr(caller, "is_admin", False):
        raise Forbidden(details={"required_group": "admins"})  # the one answer of every admin route (admin/keys.py)


#: store → (day, the last entry this container put there): where its next entry most likely goes (issue 11).
_last_put: weakref.WeakKeyDictionary[Any, tuple[str, dict[str, Any]]] = weakref.WeakKeyDictionary()
_last_put_lock = threading.Lock()
#: After a lost race, a random pause of up to this many seconds times 2^(losses-1), capped by _BACKOFF_CAP.
_BACKOFF_BASE = 0.005
_BACKOFF_CAP = 0.1


def append(fields: dict[str, Any], store: Any = None) -> dict[str, Any]:
    """Append one entry to its day's chain: take the next number with a conditional put, retried on a lost race
    (another writer's entry is then the new last one, chained from); the stored item.

    Fewer calls (issue 11) without weakening the chain:
    - the first try chains from the last entry this container put in the same store and day, without a Query. Safe
      because numbers are taken one after the other: if number n+1 is free, entry n (ours) is the day's last, which
      is what a fresh read would have answered; if it is taken, the put loses and the day's end is read as before;
    - after a lost race the writer waits a random, growing pause before it reads again, so a burst of writers (every
      `POST /v1/documents` of a 1,000-document burst is audited) spreads out instead of losing to each other in
      lockstep, each loss a billed write and a read (measured: docs/performance.md)."""
    store = store or get_audit_store()
    day = day_of(fields["at"])
    with _last_put_lock:
        hint = _last_put.get(store)
    last = hint[1] if hint is not None and hint[0] == day else None
    known = last is not None
    for losses in range(MAX_ATTEMPTS):
        previous_hash = None
        if not known:
            last = store.latest(day)
            if last is None:
                previous = store.latest((parse_day(day) - dt.timedelta(days=1)).isoformat())
                previous_hash = previous["hash"] if previous else None
        item = chained_item(fields, last=last, previous_day_hash=previous_hash)
        if store.put_new(item):
            with _last_put_lock:
                _last_put[store] = (day, item)
            return item
        known = False
        time.sleep(random.uniform(0, min(_BACKOFF_CAP, _BACKOFF_BASE * 2 ** losses)))  # noqa: S311 (jitter)
    raise AuditUnavailable(details={"reason": "contention"})


def record(fields: dict[str, Any]) -> None:
    """Append `fields` (chalicelib.domain.audit.entry_fields), or AuditUnavailable: the edge answers 503 then."""
    try:
        append(fields)
    except AuditUnavailable:
        logger.error("audit entry not written", extra={"audit_entry": fields})
        raise
    except Exception as exc:
        logger.exception("audit entry not written", extra={"audit_entry": fields})
        raise AuditUnavailable(details={"reason": "store"}) from exc


def _day_param(value: str | None, name: str) -> dt.date | None:
    if value is None or value == "":
        return None
    try:
        return parse_day(value)
    except ValueError:
        raise ValidationFailed("Ngày phải có dạng YYYY-MM-DD.", code="invalid_date",
                               details={"field": f"query.{name}"}) from None


def _limit(value: str | None) -> int:
    if value is None or value == "":
        return DEFAULT_LIMIT
    if not value.isdigit() or not 1 <= int(value) <= MAX_LIMIT:
        raise ValidationFailed("Tham số limit phải là số nguyên.", code="invalid_limit",
                               details={"min": 1, "max": MAX_LIMIT})
    return int(value)


def _days(start: dt.date | None, end: dt.date | None) -> tuple[dt.date, dt.date]:
    today = utc_now().astimezone(VN_TZ).date()
    end = end or (min(today, start + dt.timedelta(days=DEFAULT_DAYS - 1)) if start else today)
    start = start or end - dt.timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise ValidationFailed("Khoảng ngày không hợp lệ: from sau to.", code="invalid_date_range",
                               details={"from": start.isoformat(), "to": end.isoformat()})
    if (end - start).days + 1 > MAX_DAYS:
        raise ValidationFailed("Khoảng ngày tìm kiếm quá dài.", code="invalid_date_range",
                               details={"max_days": MAX_DAYS})
    return start, end


def _resume(cursor: str | None, start: dt.date, end: dt.date) -> tuple[dt.date, str | None]:
    """Where a page starts: the cursor's day and sort key (checked: one of ours, inside the asked range)."""
    if cursor is None:
        return end, None
    key = decode_cursor(cursor, keys=frozenset({"pk", "sk"}))
    try:
        day = parse_day(key["pk"].removeprefix("DAY#")) if key["pk"].startswith("DAY#") else None
    except ValueError:
        day = None
    if day is None or not start <= day <= end or not (key["sk"] == _DAY_START or key["sk"].startswith("SEQ#")):
        raise ValidationFailed("Con trỏ phân trang không hợp lệ.", code="invalid_cursor")
    return day, (None if key["sk"] == _DAY_START else key["sk"])


def _view(item: dict[str, Any]) -> dict[str, Any]:
    fields = ("at", "actor", "action", "resource", "result", "source_ip", "prev_hash", "hash")
    return {"day": item["pk"].removeprefix("DAY#"), "seq": int(item["sk"].removeprefix("SEQ#")),
            **{k: item[k] for k in fields if k in item}}


def search(caller: Any, *, actor: str | None = None, organ_id: str | None = None, resource_id: str | None = None,
           from_day: str | None = None, to_day: str | None = None, limit: str | None = None,
           cursor: str | None = None, store: Any = None) -> dict[str, Any]:
    """`GET /v1/admin/audit`: entries newest first, in the days `from`..`to` (Vietnam days; default the last 7,
    at most 366), matching `actor` (username), `organ_id` (the actor's agency) and `resource_id`, all exact;
    `{"items", "next"?}` with an opaque cursor."""
    _require_admin(caller)
    store = store or get_audit_store()
    start, end = _days(_day_param(from_day, "from"), _day_param(to_day, "to"))
    size = _limit(limit)
    filters = {k: v for k, v in (("actor", actor), ("organ_id", organ_id), ("resource_id", resource_id)) if v}
    day, before = _resume(cursor, start, end)
    items: list[dict[str, Any]] = []
    for _ in range(MAX_QUERIES):
        page, before = store.search_day(day.isoformat(), filters, before_sk=before, limit=size - len(items))
        items.extend(_view(i) for i in page)
        if before is None:
            if day <= start:
                return {"items": items}
            day -= dt.timedelta(days=1)
        if len(items) >= size:
            break
    return {"items": items, "next": encode_cursor({"pk": day_key(day.isoformat()), "sk": before or _DAY_START})}


def verify_day(caller: Any, day: str | None, store: Any = None) -> dict[str, Any]:
    """`GET /v1/admin/audit/verify?day=YYYY-MM-DD`: recompute the day's chain from the stored entries;
    `{"day", "entries", "valid", "first_bad"?, "last_hash"?}`."""
    _require_admin(caller)
    if not day:
        raise ValidationFailed("Thiếu tham số day (YYYY-MM-DD).", code="invalid_date", details={"field": "query.day"})
    date = _day_param(day, "day")
    store = store or get_audit_store()
    previous = store.latest((date - dt.timedelta(days=1)).isoformat())
    report = verify_chain(date.isoformat(), store.day_items(date.isoformat()), previous["hash"] if previous else None)
    return report.as_dict()


def now() -> str:
    """The entry time (a seam for tests)."""
    return now_iso()
