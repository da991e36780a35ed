"""The audit table (`edoc-<stage>-audit`): one partition per agency's chain (`pk = CHAIN#<organ_id>`), its entries
numbered per day
(`sk = DAY#YYYY-MM-DD#SEQ#…`), and the `by_day` index (`day_pk = DAY#…`, `day_sk = <at>#<organ>#<seq>`).

Why this shape (issue 11, chalicelib.domain.audit): issue 9's one partition per day made every audited call of
every agency race for the same next number; a chain per agency makes writers of different agencies independent,
and the next number of one agency's day is still taken by a conditional put (`attribute_not_exists(sk)`), so two
writers racing for it cannot both win. A chain's entries are one partition in order, so the chain's previous entry
is one Query (sort key below the day, newest first, Limit 1). The search and the list of a day's chains read the
index (eventually consistent, projection ALL); the chain check reads the table, consistently.

The store only puts and queries: no UpdateItem, no DeleteItem, and the roles that use it are granted only PutItem
and Query on it, Query on its index (infra/resources.yaml, docs/iam.md#audit-trail).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from chalicelib.adapters import aws
from chalicelib.adapters.dynamo import condition_failed_class, plain
from chalicelib.core.settings import get_settings
from chalicelib.domain.audit import DAY_INDEX, DAY_INDEX_PK, chain_key, chain_of, day_key, day_prefix

__all__ = ["AuditStore", "FILTER_PATHS", "get_audit_store", "use_audit_store"]

#: The filters the search takes, and the attribute path each compares (equality).
FILTER_PATHS = {"actor": "actor.username", "organ_id": "actor.organ_id", "resource_id": "resource.id"}


class AuditStore:
    """Append-only audit entries in DynamoDB."""

    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    @property
    def _table(self) -> Any:
        return aws.table(self.table_name)

    def _all(self, request: dict[str, Any]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        while True:
            page = self._table.query(**request)
            items.extend(plain(i) for i in page.get("Items", []))
            if not page.get("LastEvaluatedKey"):
                return items
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def last_before(self, organ_id: str, bound: str) -> dict[str, Any] | None:
        """The chain's last entry whose sort key is below `bound` (strongly consistent: the next number and the
        link are taken from it)."""
        items = self._table.query(KeyConditionExpression="pk = :pk AND sk < :bound", ScanIndexForward=False,
                                  ExpressionAttributeValues={":pk": chain_key(organ_id), ":bound": bound},
                                  Limit=1, ConsistentRead=True).get("Items", [])
        return plain(items[0]) if items else None

    def put_new(self, item: dict[str, Any]) -> tuple[bool, dict[str, Any] | None]:
        """Write `item` if its number is still free: (True, None); when another writer took it first, (False, the
        entry that holds the number), returned by the failed put itself (`ReturnValuesOnConditionCheckFailure`, no
        read and no extra charge), or None if the answer lacks it."""
        table = self._table
        try:
            table.put_item(Item=item, ConditionExpression="attribute_not_exists(sk)",
                           ReturnValuesOnConditionCheckFailure="ALL_OLD")
        except condition_failed_class(table) as exc:
            from boto3.dynamodb.types import TypeDeserializer  # lazy: with boto3, loaded already by the put

            raw = getattr(exc, "response", {}).get("Item")  # the low-level shape: {"S": ...}
            return False, (plain({k: TypeDeserializer().deserialize(v) for k, v in raw.items()}) if raw else None)
        return True, None

    def chain_day(self, organ_id: str, day: str) -> list[dict[str, Any]]:
        """The chain's entries of the day, in order, from the table itself (for the chain check)."""
        return self._all({"KeyConditionExpression": "pk = :pk AND begins_with(sk, :day)", "ConsistentRead": True,
                          "ExpressionAttributeValues": {":pk": chain_key(organ_id), ":day": day_prefix(day)}})

    def day_chains(self, day: str) -> list[str]:
        """The agencies whose chains have entries that day (from the index: only the chain key is read back)."""
        items = self._all({"IndexName": DAY_INDEX, "KeyConditionExpression": f"{DAY_INDEX_PK} = :day",
                           "ExpressionAttributeValues": {":day": day_key(day)}, "ProjectionExpression": "pk"})
        return sorted({organ for organ in (chain_of(i.get("pk", "")) for i in items) if organ is not None})

    def search_day(self, day: str, filters: dict[str, str], *, start: dict[str, str] | None, limit: int
                   ) -> tuple[list[dict[str, Any]], dict[str, str] | None]:
        """One page of the day's entries across agencies, newest first, matching every filter; and the index key
        to go on from (None when the day is done). DynamoDB counts `limit` before the filter, so a page may hold
        fewer."""
        from boto3.dynamodb.conditions import Attr, Key  # lazy: boto3 on first use

        request: dict[str, Any] = {"IndexName": DAY_INDEX, "KeyConditionExpression": Key(DAY_INDEX_PK).eq(day_key(day)),
                                   "ScanIndexForward": False, "Limit": limit}
        condition = None
        for name, value in filters.items():
            part = Attr(FILTER_PATHS[name]).eq(value)
            condition = part if condition is None else condition & part
        if condition is not None:
            request["FilterExpression"] = condition
        if start:
            request["ExclusiveStartKey"] = start
        page = self._table.query(**request)
        last = page.get("LastEvaluatedKey")
        return [plain(i) for i in page.get("Items", [])], (plain(last) if last else None)


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
