"""The `edoc-audit` table: one partition per day (`pk = DAY#YYYY-MM-DD`), entries numbered in it (`sk = SEQ#…`).

Why this shape (issue 9, chalicelib.domain.audit): the day is the unit the chain is checked by, so a day's entries
are one Query, in order; the next number is taken by a conditional put (`attribute_not_exists(sk)`), so two
writers racing for the same number cannot both win. The store only puts and queries: no UpdateItem, no DeleteItem,
and the roles that use it are granted only PutItem and Query on it (infra/resources.yaml, docs/iam.md).

The search (`GET /v1/admin/audit`) walks the day partitions its `from`/`to` bound, newest first, with the actor,
agency and resource filters as a FilterExpression: no index, because every search is bounded by days and a day's
entries number in the thousands, not millions; an index by resource would be added when a province's volume asks
for it (it would hold copies of entries, not change them).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from chalicelib.adapters import aws
from chalicelib.adapters.dynamo import condition_failed_class, plain
from chalicelib.core.settings import get_settings
from chalicelib.domain.audit import day_key

__all__ = ["AuditStore", "get_audit_store", "use_audit_store"]

#: The filters the search takes, and the attribute path each compares (equality).
FILTER_PATHS = {"actor": "actor.username", "organ_id": "actor.organ_id", "resource_id": "resource.id"}


class AuditStore:
    """Append-only audit entries in DynamoDB."""

    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    @property
    def _table(self) -> Any:
        return aws.table(self.table_name)

    def latest(self, day: str) -> dict[str, Any] | None:
        """The day's last entry (strongly consistent: the next number is taken from it)."""
        items = self._table.query(KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": day_key(day)},
                                  ScanIndexForward=False, Limit=1, ConsistentRead=True).get("Items", [])
        return plain(items[0]) if items else None

    def put_new(self, item: dict[str, Any]) -> bool:
        """Write `item` if its number is still free; False when another writer took it first."""
        table = self._table
        try:
            table.put_item(Item=item, ConditionExpression="attribute_not_exists(sk)")
        except condition_failed_class(table):
            return False
        return True

    def day_items(self, day: str) -> list[dict[str, Any]]:
        """Every entry of the day, in order (for the chain check)."""
        items: list[dict[str, Any]] = []
        request: dict[str, Any] = {"KeyConditionExpression": "pk = :pk", "ConsistentRead": True,
                                   "ExpressionAttributeValues": {":pk": day_key(day)}}
        while True:
            page = self._table.query(**request)
            items.extend(plain(i) for i in page.get("Items", []))
            if not page.get("LastEvaluatedKey"):
                return items
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def search_day(self, day: str, filters: dict[str, str], *, before_sk: str | None, limit: int
                   ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of the day's entries, newest first, matching every filter; and the sort key to go on from
        (None when the day is done). DynamoDB counts `limit` before the filter, so a page may hold fewer."""
        from boto3.dynamodb.conditions import Attr, Key  # lazy: boto3 on first use

        request: dict[str, Any] = {"KeyConditionExpression": Key("pk").eq(day_key(day)), "ScanIndexForward": False,
                                   "Limit": limit}
        condition = None
        for name, value in filters.items():
            part = Attr(FILTER_PATHS[name]).eq(value)
            condition = part if condition is None else condition & part
        if condition is not None:
            request["FilterExpression"] = condition
        if before_sk:
            request["ExclusiveStartKey"] = {"pk": day_key(day), "sk": before_sk}
        page = self._table.query(**request)
        last = page.get("LastEvaluatedKey")
        return [plain(i) for i in page.get("Items", [])], (last["sk"] if last else None)


@cache
def _for_table(table_name: str) -> AuditStore:
    return AuditStore(table_name)


_override: Any = None


def get_audit_store() -> Any:
    """The audit store of this container (the `AuditRepository` port), built once per table."""
    return _override if _override is not None else _for_table(get_settings().audit_table)


def use_audit_store(store: Any) -> None:
    """Point the audit use cases at `store` (tests/fakes/audit.py), or back at DynamoDB with None."""
    global _override
    _override = store
