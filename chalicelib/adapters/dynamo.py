"""DynamoDB plumbing shared by every repository: plain values, opaque cursors, transactions, lost conditions.

Why here: each table's repository (documents, inbound, keys) needs the same four things, and a copy per repository
had drifted (one raised `ConditionFailed`, one a 409). The repositories decide what a lost condition means.
"""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from typing import Any

from chalicelib.core.errors import ValidationFailed

__all__ = ["ConditionFailed", "condition_failed_class", "decode_cursor", "encode_cursor", "plain", "transact"]


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


def encode_cursor(key: dict[str, Any]) -> str:
    """A LastEvaluatedKey as an opaque, URL-safe cursor."""
    return base64.urlsafe_b64encode(json.dumps(plain(key), separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> dict[str, Any]:
    """The key behind a cursor; anything else is the client's error (`invalid_cursor`), never a 500."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(value, dict):
            raise ValueError
        return value
    except ValueError as exc:
        raise ValidationFailed("Con trỏ phân trang không hợp lệ.", code="invalid_cursor") from exc


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
