"""DynamoDB plumbing shared by every repository: plain values, opaque cursors, transactions, lost conditions.

Why here: each table's repository (documents, inbound, keys) needs the same four things, and a copy per repository
had drifted (one raised `ConditionFailed`, one a 409). The repositories decide what a lost condition means.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from chalicelib.core.errors import ValidationFailed
from chalicelib.domain.leases import Lease

__all__ = ["CURSOR_KEYS", "MAX_CURSOR_CHARS", "ConditionFailed", "all_index_pages", "batch_get",
           "condition_failed_class", "conditional_update", "index_page",
           "decode_cursor", "encode_cursor", "lease_free", "lease_owned", "plain", "transact"]


class ConditionFailed(Exception):
    """A conditional write lost: the item is not in a state that allows the change (a duplicate or stale run)."""


def plain(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal: make items JSON-ready (ints stay ints)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, set):
        return {plain(v) for v in value}
    return value


def all_pages(read: Callable[..., dict[str, Any]], **kwargs: Any) -> list[dict[str, Any]]:
    """Every item a Query or Scan answers (`read` is the table's bound `query` or `scan`), page after page
    (DynamoDB stops a page at 1 MB: `LastEvaluatedKey`), as plain Python values. For the reads that need a whole
    partition, index range or small table (a report, a key list, the agency registry)."""
    items: list[dict[str, Any]] = []
    while True:
        resp = read(**kwargs)
        items.extend(plain(i) for i in resp.get("Items", []))
        if "LastEvaluatedKey" not in resp:
            return items
        kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]


def encode_cursor(key: dict[str, Any]) -> str:
    """A LastEvaluatedKey as an opaque, URL-safe cursor."""
    return base64.urlsafe_b64encode(json.dumps(plain(key), separators=(",", ":")).encode()).decode().rstrip("=")


#: The attributes of every list's LastEvaluatedKey: a `by_organ` GSI page of a pk/sk table.
CURSOR_KEYS = frozenset({"pk", "sk", "gsi1pk", "gsi1sk"})
#: A cursor longer than this is not one of ours (ours are a few hundred characters).
MAX_CURSOR_CHARS = 2048


def decode_cursor(cursor: str, *, partition: str | None = None,
                  keys: frozenset[str] = CURSOR_KEYS) -> dict[str, Any]:
    """The key behind a cursor; anything else is the client's error (`invalid_cursor`), never a 500.

    Not only base64 JSON: exactly the key attributes of the list's index (`keys`), every one a short string, and,
    given `partition`, a `gsi1pk` naming the caller's own list, so a cursor can neither crash the query (DynamoDB
    and moto refuse or trip over a missing or mistyped key attribute) nor start it in another agency's partition."""
    try:
        if not isinstance(cursor, str) or len(cursor) > MAX_CURSOR_CHARS:
            raise ValueError("cursor too long")
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        if not isinstance(value, dict) or set(value) != keys:
            raise ValueError("not the index's key")
        if not all(isinstance(v, str) and 0 < len(v) <= 1024 for v in value.values()):
            raise ValueError("key attributes are not strings")
        if partition is not None and value.get("gsi1pk") != partition:
            raise ValueError("another list's cursor")
        return value
    except (ValueError, RecursionError) as exc:
        raise ValidationFailed("Con trỏ phân trang không hợp lệ.", code="invalid_cursor") from exc


#: BatchGetItem: at most 100 keys a call; rounds for keys DynamoDB left unprocessed (throttling) before giving up.
_BATCH_KEYS = 100
_BATCH_ROUNDS = 4


def batch_get(table: Any, keys: list[dict[str, Any]], names: tuple[str, ...] = ("pk", "sk")) -> list[dict[str, Any]]:
    """The items at `keys` (pk/sk of index entries, say), in the keys' order, an absent one left out: BatchGetItem,
    100 keys a call, eventually consistent. Why: the documents table's `by_organ` and `by_month` indexes hold keys
    only (issue 11: no later write of a record writes to them), so their readers take the records by key. `names`:
    the table's key attributes (given, not read: `table.key_schema` would cost a DescribeTable)."""
    wanted = [{n: k[n] for n in names} for k in keys]
    found: dict[tuple[Any, ...], dict[str, Any]] = {}
    client = table.meta.client  # the resource's client: Python values in, Python values out
    for start in range(0, len(wanted), _BATCH_KEYS):
        request: dict[str, Any] = {table.name: {"Keys": wanted[start:start + _BATCH_KEYS]}}
        for _ in range(_BATCH_ROUNDS):
            resp = client.batch_get_item(RequestItems=request)
            for item in resp.get("Responses", {}).get(table.name, []):
                found[tuple(item[n] for n in names)] = item
            request = resp.get("UnprocessedKeys") or {}
            if not request:
                break
        else:  # throttled throughout: the caller's request fails and its client retries it
            raise RuntimeError("BatchGetItem left keys unprocessed")
    return [found[key] for key in (tuple(k[n] for n in names) for k in wanted) if key in found]


def index_page(table: Any, **kwargs: Any) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """One Query page on a keys-only index and the items it names (`batch_get`), as plain Python values, with the
    page's LastEvaluatedKey (None at the end). Every reader of the documents table's `by_organ` and `by_month`."""
    resp = table.query(**kwargs)
    keys = resp.get("Items", [])
    return ([plain(i) for i in batch_get(table, keys)] if keys else []), resp.get("LastEvaluatedKey")


def all_index_pages(table: Any, **kwargs: Any) -> list[dict[str, Any]]:
    """`all_pages` on a keys-only index: every item of the index range, read by key page after page."""
    items: list[dict[str, Any]] = []
    while True:
        page, last = index_page(table, **kwargs)
        items.extend(page)
        if last is None:
            return items
        kwargs["ExclusiveStartKey"] = last


def condition_failed_class(table: Any) -> type[Exception]:
    """The `ConditionalCheckFailedException` of the Table's own client: botocore builds exception classes per
    session, so another client's class does not catch it (docs/traps.md#botocore-exception-classes-per-client)."""
    return table.meta.client.exceptions.ConditionalCheckFailedException


def transact(client: Any, table_name: str, operations: list[dict[str, Any]]) -> None:
    """TransactWriteItems from resource-style operations (`{"Put": {"Item": {...}}}`, `{"Update": {"Key": ...}}`),
    serialised for the low-level client. Any cancellation (a lost condition, a conflicting transaction) raises
    ConditionFailed: the caller decides whether that is a duplicate run or a conflict to report."""
    from boto3.dynamodb.types import TypeSerializer  # lazy: boto3 on first write, not at import

    ser = TypeSerializer()
    items = []
    for op in operations:
        (kind, body), = op.items()
        low: dict[str, Any] = {"TableName": body.get("TableName", table_name)}
        for key, value in body.items():
            if key in ("Item", "Key", "ExpressionAttributeValues"):
                low[key] = {k: ser.serialize(v) for k, v in value.items()}
            elif key != "TableName":
                low[key] = value
        items.append({kind: low})
    try:
        client.transact_write_items(TransactItems=items)
    except client.exceptions.TransactionCanceledException as exc:
        raise ConditionFailed(str(exc)) from exc


def conditional_update(table: Any, key: dict[str, Any], fields: dict[str, Any], *, condition: str,
                       values: dict[str, Any], names: dict[str, str] | None = None,
                       keep: dict[str, Any] | None = None, add: dict[str, Any] | None = None,
                       remove: tuple[str, ...] = ()) -> None:
    """The one conditional update under every lease, transition-free field change and counter of every table:
    SET `fields` (and `keep` where absent), ADD `add`, REMOVE `remove`, all only if `condition` holds; a lost
    condition is ConditionFailed. Names in `fields`, `keep` and `add` are escaped; `#state` in the condition is."""
    attr_names = {f"#f{i}": k for i, k in enumerate(fields)}
    attr_names.update({f"#k{i}": k for i, k in enumerate(keep or {})})
    attr_names.update({f"#a{i}": k for i, k in enumerate(add or {})})
    attr_names.update(names or {})
    if "#state" in condition:
        attr_names["#state"] = "state"
    vals = {f":f{i}": v for i, v in enumerate(fields.values())}
    vals.update({f":k{i}": v for i, v in enumerate((keep or {}).values())})
    vals.update({f":a{i}": v for i, v in enumerate((add or {}).values())})
    vals.update(values)
    sets = [f"#f{i} = :f{i}" for i in range(len(fields))]
    sets += [f"#k{i} = if_not_exists(#k{i}, :k{i})" for i in range(len(keep or {}))]
    expression = "SET " + ", ".join(sets) if sets else ""
    if add:
        expression += " ADD " + ", ".join(f"#a{i} :a{i}" for i in range(len(add)))
    if remove:
        expression += " REMOVE " + ", ".join(remove)
    request: dict[str, Any] = {"Key": key, "UpdateExpression": expression.strip(), "ConditionExpression": condition}
    if vals:
        request["ExpressionAttributeValues"] = vals
    if attr_names:
        request["ExpressionAttributeNames"] = attr_names
    try:
        table.update_item(**request)
    except condition_failed_class(table) as exc:
        raise ConditionFailed(f"{key}") from exc


def lease_free(lease: Lease | None) -> tuple[str, dict[str, Any]]:
    """The condition (and its values) that nobody holds a lease of this kind: none, or one already expired."""
    if lease is None:
        return "", {}
    until = lease.fields.until
    return f"attribute_not_exists({until}) OR {until} < :lease_now", {":lease_now": lease.now}


def lease_owned(lease: Lease | None) -> tuple[str, dict[str, Any]]:
    """The condition (and its values) that the lease is still this worker's."""
    if lease is None:
        return "", {}
    return f"{lease.fields.owner} = :lease", {":lease": lease.token}
