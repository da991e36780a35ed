"""The administrators' document search across agencies and their revocation on an agency's behalf (issue 9).

`GET /v1/admin/documents?organ_id=&state=&recipient=&from=&to=&number=&notation=&q=&limit=&cursor=`: admins only
(403 `forbidden`). `from`/`to` are ISO dates of creation in Vietnam time (default: the twelve months up to today;
at most MAX_RANGE_DAYS apart); `q` matches the trích yếu accent- and case-insensitively: every folded word of `q`
must occur in the record's `subject_folded` (chalicelib.domain.text_search.fold, written when the record is
created; records created before that have none and are found by the other filters only).

Index design (chalicelib.adapters.document_store): with `organ_id`, the agency's own `by_organ` partition between
the two dates (one Query a page); without it, the creation-month index `by_month` (`MONTH#YYYY-MM`), month by month
from `to` back to `from`, newest first. The other filters are FilterExpressions: DynamoDB reads (and bills) every
record of the range, then returns the matches, so a search costs about (records created in the range / 1 MB) reads
of 1 MB = 128 RCU each, eventually consistent: ~2 RCU a 1,000 records of a few KB. One request runs at most
MAX_QUERIES Queries and answers what it found with a `next` cursor when the range is not exhausted, so an empty page
with a `next` means "nothing yet, keep going", never a timeout.

The cursor is opaque: base64 JSON of the month (or agency) partition and the index's LastEvaluatedKey (null: that
partition from its top), checked on
the way back in (`invalid_cursor` when it is not ours, names another index, or lies outside the request's range).

`POST /v1/admin/documents/{id}/revoke` {"reason"}: the admin acts for the document's agency through the agency's
own revocation (chalicelib.outbound.amendments.revoke), which records the admin's username as `created_by`/`by`
and `by_admin: true` on the amendment and the timeline.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from datetime import date, timedelta
from typing import Any

from chalicelib.adapters.document_store import get_document_store
from chalicelib.adapters.dynamo import MAX_CURSOR_CHARS, encode_cursor
from chalicelib.adapters.report_store import get_report_store
from chalicelib.admin.reports import require_admin
from chalicelib.core.clock import VN_TZ, utc_now
from chalicelib.core.errors import NotFound, ValidationFailed
from chalicelib.domain import states
from chalicelib.domain.caller import Caller
from chalicelib.domain.report_months import day_start_utc, months_between, parse_date
from chalicelib.domain.text_search import words
from chalicelib.outbound import amendments
from chalicelib.outbound.presenters import present
from chalicelib.standards.identifiers import is_strict

__all__ = ["MAX_QUERIES", "MAX_RANGE_DAYS", "QUERY_PARAMS", "revoke_document", "search_documents"]

MAX_RANGE_DAYS = 3 * 366
DEFAULT_RANGE_DAYS = 365
MAX_QUERIES = 40
#: The query parameters of the search (app.py passes each one, checked as client text).
QUERY_PARAMS = ("organ_id", "state", "recipient", "from", "to", "number", "notation", "q", "limit", "cursor")


def _code(value: str | None, name: str) -> str | None:
    if value is None or value == "":
        return None
    if not is_strict(value):
        raise ValidationFailed("Mã định danh cơ quan không đúng dạng.", code="invalid_organ_id",
                               details={"field": name, "value": value[:64]})
    return value


def _range(start: str | None, end: str | None) -> tuple[date, date]:
    today = utc_now().astimezone(VN_TZ).date()
    last = parse_date(end) if end else today
    if last is None:
        raise ValidationFailed("Ngày phải có dạng YYYY-MM-DD.", code="invalid_date",
                               details={"field": "to", "value": end})
    first = parse_date(start) if start else last - timedelta(days=DEFAULT_RANGE_DAYS)
    if first is None:
        raise ValidationFailed("Ngày phải có dạng YYYY-MM-DD.", code="invalid_date",
                               details={"field": "from", "value": start})
    if first > last or (last - first).days > MAX_RANGE_DAYS:
        raise ValidationFailed("Khoảng ngày tìm kiếm không hợp lệ (từ ≤ đến, tối đa 3 năm).", code="invalid_date_range",
                               details={"from": first.isoformat(), "to": last.isoformat(), "max_days": MAX_RANGE_DAYS})
    return first, last


def _encode(partition: str, key: dict[str, Any] | None) -> str:
    return encode_cursor({"p": partition, "k": key})


def _decode(cursor: str, partitions: list[str], *, by_organ: bool) -> tuple[str, dict[str, Any] | None]:
    """The partition and LastEvaluatedKey behind a cursor (None: the partition from its top), only if it is one of
    this search's partitions and the key has exactly that index's attributes as short strings; `invalid_cursor`
    otherwise."""
    names = {"pk", "sk", "gsi1pk", "gsi1sk"} if by_organ else {"pk", "sk", "gsi2pk", "gsi2sk"}
    try:
        if len(cursor) > MAX_CURSOR_CHARS:
            raise ValueError("too long")
        value = json.loads(base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode("ascii")))
        partition, key = value["p"], value["k"]
        if set(value) != {"p", "k"} or partition not in partitions:
            raise ValueError("not this search's")
        if key is None:
            return partition, None
        if not isinstance(key, dict) or set(key) != names or not all(
                isinstance(v, str) and 0 < len(v) <= 1024 for v in key.values()):
            raise ValueError("not the index's key")
        if key["gsi1pk" if by_organ else "gsi2pk"] != (partition if by_organ else f"MONTH#{partition}"):
            raise ValueError("another partition's key")
    except (ValueError, KeyError, TypeError, UnicodeError, binascii.Error, RecursionError) as exc:
        raise ValidationFailed("Con trỏ phân trang không hợp lệ.", code="invalid_cursor") from exc
    return partition, key


def search_documents(caller: Caller, params: dict[str, str | None], store: Any = None) -> dict[str, Any]:
    """`GET /v1/admin/documents`: `{"items": [list items as GET /v1/documents gives them, with organ_id],
    "next"?}`, newest first."""
    require_admin(caller)
    if store is None:
        store = get_report_store()
    try:
        size = max(1, min(int(params.get("limit") or 50), 200))
    except ValueError as exc:
        raise ValidationFailed("Tham số limit phải là số nguyên.", code="invalid_limit") from exc
    state = params.get("state") or None
    if state and state not in states.ALL_STATES:
        raise ValidationFailed("Trạng thái lọc không hợp lệ.", code="invalid_state", details={"state": state})
    organ_id = _code(params.get("organ_id"), "organ_id")
    filters: dict[str, Any] = {
        "state": state, "recipient": _code(params.get("recipient"), "recipient"),
        "number": (params.get("number") or "").strip() or None,
        "notation": (params.get("notation") or "").strip() or None,
        "words": words(params.get("q") or "")[:10],
    }
    first, last = _range(params.get("from"), params.get("to"))
    lo, hi = day_start_utc(first), day_start_utc(last + timedelta(days=1))
    # Partitions newest first: the agency's one, or the months of the range.
    partitions = [f"ORG#{organ_id}"] if organ_id else list(reversed(months_between(first, last)))
    index = 0
    start: dict[str, Any] | None = None
    if params.get("cursor"):
        partition, start = _decode(params["cursor"] or "", partitions, by_organ=organ_id is not None)
        index = partitions.index(partition)
    found: list[dict[str, Any]] = []
    nxt: str | None = None
    for _ in range(MAX_QUERIES):
        items, start = store.search_page(organ_id=organ_id, month=None if organ_id else partitions[index],
                                         lo=lo, hi=hi, filters=filters, limit=size - len(found), start=start)
        found.extend(items)
        if start is None:
            index += 1
            if index >= len(partitions):
                break
        if len(found) >= size:
            break
    if index < len(partitions):  # more to read: where this page stopped, or the next partition from its top
        nxt = _encode(partitions[index], start)
    body: dict[str, Any] = {"items": [present(r) for r in found]}
    if nxt:
        body["next"] = nxt
    return body


def revoke_document(caller: Caller, document_id: str, body: Any) -> dict[str, Any]:
    """`POST /v1/admin/documents/{id}/revoke` {"reason"}: the agency's revocation, done by an admin for it."""
    require_admin(caller)
    try:
        uuid.UUID(document_id)
    except ValueError as exc:
        raise NotFound("Không tìm thấy văn bản.", code="document_not_found") from exc
    record = get_document_store().get(document_id)
    if record is None:
        raise NotFound("Không tìm thấy văn bản.", code="document_not_found")
    acting = Caller(username=caller.username, organ_id=record["organ_id"], is_admin=True)
    return amendments.revoke(acting, document_id, body, by_admin=True)
