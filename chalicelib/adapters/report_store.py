"""DynamoDB reads for the administrators' search and reports (issue 9), on the documents table's month indexes.

`by_month` and `by_done_month` are written by chalicelib.adapters.document_store (at creation, and in the
conditional write of each DISPATCHED/REJECTED/FAILED transition); this module only reads them, plus the delivery
rows of a document and the `CONFIG#<name>` / `META` items that hold admin settings (the report targets), which sit
outside every index. Kept apart from the document store so the pipeline's handlers do not carry the admin's queries.
"""

from __future__ import annotations

import json
from decimal import Decimal
from functools import cache
from typing import Any

from chalicelib.adapters import aws
from chalicelib.adapters.document_store import DONE_INDEX, META, MONTH_INDEX, as_record, doc_pk
from chalicelib.adapters.dynamo import all_pages, plain
from chalicelib.adapters.record_body import records_page
from chalicelib.core.clock import now_iso
from chalicelib.core.settings import get_settings
from chalicelib.domain.report_months import CREATED_PREFIX, DONE_PREFIX

__all__ = ["ReportStore", "get_report_store"]


class ReportStore:
    """The admin search's pages, the month's terminal records, deliveries and admin settings."""

    def __init__(self, table_name: str | None = None) -> None:
        self.table_name = table_name or get_settings().documents_table

    @property
    def _table(self) -> Any:
        return aws.table(self.table_name)

    def search_page(self, *, organ_id: str | None, month: str | None, lo: str, hi: str,
                    filters: dict[str, Any], limit: int,
                    start: dict[str, Any] | None = None) -> tuple[list[dict], dict[str, Any] | None]:
        """One Query, newest first: an agency's records (`by_organ`) or one creation month's (`by_month`), created
        in [lo, hi), evaluating at most `limit` items, filtered by `filters` (`state`, `recipient`, `number`,
        `notation`, `words`: folded words the folded subject must all contain). Returns the matches and the
        LastEvaluatedKey (None when the partition's range is exhausted).

        Both indexes hold keys only (infra/resources.yaml): the page's records (and their bodies,
        chalicelib.adapters.record_body) come by key in one BatchGetItem and
        the filters apply to them here, as DynamoDB's FilterExpression would after the same `limit`."""
        from boto3.dynamodb.conditions import Key  # lazy: boto3 costs ~150 ms at cold start

        if organ_id is not None:
            index, pk_name, sk_name, partition = "by_organ", "gsi1pk", "gsi1sk", f"ORG#{organ_id}"
        else:
            index, pk_name, sk_name, partition = MONTH_INDEX, "gsi2pk", "gsi2sk", f"{CREATED_PREFIX}{month}"
        kwargs: dict[str, Any] = {
            "IndexName": index, "ScanIndexForward": False, "Limit": limit,
            "KeyConditionExpression": Key(pk_name).eq(partition) & Key(sk_name).between(lo, hi)}
        if start:
            kwargs["ExclusiveStartKey"] = start
        page, last = records_page(self._table, **kwargs)  # each record with its body (the metadata filtered on)
        return [as_record(r) for r in page if r.get("sk") == META and matches(r, filters)], last

    def done_in_month(self, month: str) -> list[dict[str, Any]]:
        """Every record whose DISPATCHED, REJECTED or FAILED transition fell in `month` (the sparse
        `by_done_month` index, all pages: one Query per 1 MB of records)."""
        from boto3.dynamodb.conditions import Key  # lazy: boto3 costs ~150 ms at cold start

        kwargs: dict[str, Any] = {"IndexName": DONE_INDEX,
                                  "KeyConditionExpression": Key("gsi3pk").eq(f"{DONE_PREFIX}{month}")}
        return all_pages(self._table.query, **kwargs)

    def deliveries(self, document_id: str) -> list[dict[str, Any]]:
        """A document's delivery rows (one Query on its partition, from `DELIVERY#`)."""
        from boto3.dynamodb.conditions import Key  # lazy: boto3 costs ~150 ms at cold start

        kwargs: dict[str, Any] = {"KeyConditionExpression": Key("pk").eq(doc_pk(document_id))
                                  & Key("sk").begins_with("DELIVERY#")}
        return all_pages(self._table.query, **kwargs)

    def get_config(self, name: str) -> dict[str, Any] | None:
        """An admin setting stored as `CONFIG#<name>` (its `value`), or None when never set."""
        item = self._table.get_item(Key={"pk": f"CONFIG#{name}", "sk": META}, ConsistentRead=True).get("Item")
        return plain(item) if item else None

    def put_config(self, name: str, value: dict[str, Any], *, by: str) -> None:
        """Store an admin setting (numbers as Decimal: DynamoDB takes no floats)."""
        stored = json.loads(json.dumps(value), parse_float=Decimal)
        self._table.put_item(Item={"pk": f"CONFIG#{name}", "sk": META, "value": stored, "updated_at": now_iso(),
                                   "updated_by": by})


def matches(record: dict[str, Any], filters: dict[str, Any]) -> bool:
    """Whether a record passes the admin search's filters, as DynamoDB's FilterExpression spelled them: `state`,
    `number` and `notation` equal; `recipient` an element of `metadata.recipients`; each of `words` a substring of
    the folded subject (chalicelib.domain.text_search.fold folded both)."""
    metadata = record.get("metadata") or {}
    if filters.get("state") and record.get("state") != filters["state"]:
        return False
    if filters.get("recipient") and filters["recipient"] not in (metadata.get("recipients") or ()):
        return False
    for name in ("number", "notation"):
        if filters.get(name) and metadata.get(name) != filters[name]:
            return False
    folded = str(record.get("subject_folded") or "")
    return all(word in folded for word in filters.get("words", ()))


@cache
def _for_table(table_name: str) -> ReportStore:
    return ReportStore(table_name)


def get_report_store() -> ReportStore:
    """Built once per container per table (the table follows the settings)."""
    return _for_table(get_settings().documents_table)
