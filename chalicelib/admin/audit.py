"""The audit trail's use cases: append an entry (called once, at the HTTP edge), search, verify a day's chains.

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
from chalicelib.domain.audit import (
    DAY_INDEX_PK,
    DAY_INDEX_SK,
    DayReport,
    chained_item,
    day_end,
    day_key,
    day_of,
    day_prefix,
    parse_day,
    parse_entry_key,
    verify_chain,
)

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


#: store → {organ_id: the last entry this container put in that agency's chain}: where its next entry most likely
#: goes (issue 11). Bounded: a container that served more agencies than this forgets them all and reads once more.
_last_put: weakref.WeakKeyDictionary[Any, dict[str, dict[str, Any]]] = weakref.WeakKeyDictionary()
_last_put_lock = threading.Lock()
_MAX_HINTS = 1024
#: After a lost race, a random pause of up to this many seconds times 2^(losses-1), capped by _BACKOFF_CAP.
_BACKOFF_BASE = 0.005
_BACKOFF_CAP = 0.1


def _hint(store: Any, organ_id: str, day: str) -> dict[str, Any] | None:
    """This container's last entry in the chain, if it is of `day` (a guess the conditional put then proves)."""
    with _last_put_lock:
        last = _last_put.get(store, {}).get(organ_id)
    where = parse_entry_key(str(last["sk"])) if last is not None else None
    return last if where is not None and where[0] == day else None


def _remember(store: Any, organ_id: str, item: dict[str, Any]) -> None:
    with _last_put_lock:
        hints = _last_put.setdefault(store, {})
        if len(hints) >= _MAX_HINTS and organ_id not in hints:
            hints.clear()
        hints[organ_id] = item


def append(fields: dict[str, Any], store: Any = None) -> dict[str, Any]:
    """Append one entry to its agency's chain (the actor's `organ_id`): take the day's next number with a conditional
    put, retried on a lost race (another writer's entry is then the chain's new last one, chained from); the stored
    item.

    Issue 11 (scale): writers of different agencies never race (each agency has its own chain, so a burst from five
    agencies is five independent sequences); within one agency, without weakening the chain:
    - the first try chains from the last entry this container put in the same chain and day, without a Query. Safe
      because numbers are taken one after the other: if number n+1 is free, entry n (ours) is the day's last, which
      is what a fresh read would have answered; if it is taken, the put loses and the chain's end is read. A day's
      first entry always reads (its link is to whatever the chain's previous entry is, which a number cannot prove);
    - one Query answers both cases: the chain's last entry at or before the day (`sk < DAY#<day>$`): of the day,
      the next number follows it; of an earlier day, number 1 links to it;
    - a lost put answers with the entry that won the number (`put_new`), and the next try chains from it without a
      Query, by the same argument (if n+2 is free, the winner's n+1 is the day's last);
    - after a lost race the writer waits a random, growing pause before it tries again, so writers of one agency
      spread out instead of losing to each other in lockstep (docs/performance.md)."""
    store = store or get_audit_store()
    day, organ = day_of(fields["at"]), str(fields["actor"]["organ_id"])
    last = _hint(store, organ, day)
    for losses in range(MAX_ATTEMPTS):
        if last is None:
            last = store.last_before(organ, day_end(day))
        item = chained_item(fields, last=last)
        written, holder = store.put_new(item)
        if written:
            _remember(store, organ, item)
            return item
        last = holder if holder is not None and holder.get("sk") == item["sk"] and "hash" in holder else None
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


#: The cursor's keys: the day index's key of the last entry answered (both the table's and the index's attributes).
_CURSOR_KEYS = frozenset({"pk", "sk", DAY_INDEX_PK, DAY_INDEX_SK})


def _cursor(day: dt.date, start: dict[str, str] | None) -> str:
    return encode_cursor(start or {"pk": _DAY_START, "sk": _DAY_START, DAY_INDEX_PK: day_key(day.isoformat()),
                                   DAY_INDEX_SK: _DAY_START})


def _resume(cursor: str | None, start: dt.date, end: dt.date) -> tuple[dt.date, dict[str, str] | None]:
    """Where a page starts: the cursor's day and index key (checked: one of ours, inside the asked range, every
    attribute in its place, so it can neither trip the query nor start it in another day)."""
    if cursor is None:
        return end, None
    key = decode_cursor(cursor, keys=_CURSOR_KEYS)
    try:
        day = parse_day(key[DAY_INDEX_PK].removeprefix("DAY#")) if key[DAY_INDEX_PK].startswith("DAY#") else None
    except ValueError:
        day = None
    if day is None or not start <= day <= end:
        raise ValidationFailed("Con trỏ phân trang không hợp lệ.", code="invalid_cursor")
    if key[DAY_INDEX_SK] == _DAY_START and key["pk"] == key["sk"] == _DAY_START:
        return day, None
    where = parse_entry_key(key["sk"])
    if where is None or where[0] != day.isoformat() or not key["pk"].startswith("CHAIN#") or \
            key[DAY_INDEX_SK] == _DAY_START:
        raise ValidationFailed("Con trỏ phân trang không hợp lệ.", code="invalid_cursor")
    return day, key


def _view(item: dict[str, Any]) -> dict[str, Any]:
    fields = ("at", "actor", "action", "resource", "result", "source_ip", "prev_hash", "hash")
    day, seq = parse_entry_key(item["sk"]) or ("", 0)
    return {"day": day, "seq": seq, **{k: item[k] for k in fields if k in item}}


def search(caller: Any, *, actor: str | None = None, organ_id: str | None = None, resource_id: str | None = None,
           from_day: str | None = None, to_day: str | None = None, limit: str | None = None,
           cursor: str | None = None, store: Any = None) -> dict[str, Any]:
    """`GET /v1/admin/audit`: entries newest first, in the days `from`..`to` (Vietnam days; default the last 7,
    at most 366), matching `actor` (username), `organ_id` (the actor's agency) and `resource_id`, all exact;
    `{"items", "next"?}` with an opaque cursor. A day is read from the `by_day` index, every agency's chain at
    once, in time order (`seq` then counts within the entry's agency and day)."""
    _require_admin(caller)
    store = store or get_audit_store()
    start, end = _days(_day_param(from_day, "from"), _day_param(to_day, "to"))
    size = _limit(limit)
    filters = {k: v for k, v in (("actor", actor), ("organ_id", organ_id), ("resource_id", resource_id)) if v}
    day, after = _resume(cursor, start, end)
    items: list[dict[str, Any]] = []
    for _ in range(MAX_QUERIES):
        page, after = store.search_day(day.isoformat(), filters, start=after, limit=size - len(items))
        items.extend(_view(i) for i in page)
        if after is None:
            if day <= start:
                return {"items": items}
            day -= dt.timedelta(days=1)
        if len(items) >= size:
            break
    return {"items": items, "next": _cursor(day, after)}


def verify_day(caller: Any, day: str | None, store: Any = None) -> dict[str, Any]:
    """`GET /v1/admin/audit/verify?day=YYYY-MM-DD`: recompute, from the stored entries, every agency's chain that
    has entries that day (found on the `by_day` index; each chain then read from the table, consistently, with
    its entry just before the day for the first link); `{"day", "entries", "valid", "first_bad"?, "chains":
    [{"organ_id", "entries", "valid", "first_bad"?, "last_hash"?}]}`, `valid` when every chain holds."""
    _require_admin(caller)
    if not day:
        raise ValidationFailed("Thiếu tham số day (YYYY-MM-DD).", code="invalid_date", details={"field": "query.day"})
    date = _day_param(day, "day").isoformat()
    store = store or get_audit_store()
    reports = tuple(verify_chain(date, organ, store.chain_day(organ, date), store.last_before(organ, day_prefix(date)))
                    for organ in store.day_chains(date))
    return DayReport(date, reports).as_dict()


def now() -> str:
    """The entry time (a seam for tests)."""
    return now_iso()
