"""A document record in two items: `DOC#<id>` / `META` (the state, leases, timeline and results, rewritten by every
transition) and `DOC#<id>` / `META#BODY` (what the record was created with and keeps: the NĐ 30 metadata, the
folded trích yếu, the upload key and binding, who created it).

Why two (issue 11, the bill): DynamoDB bills each write of an item by the item's whole size, one unit per KB
rounded up, before or after the write, whichever is larger. A record of 1.7–2.0 KB written five times (created,
UPLOADED, SIGNED, dispatch's claim, DISPATCHED) costs ten units; with the 0.6–0.9 KB the metadata takes apart and
written once, the state item is under 1 KB for its first three writes, and the five writes and the body's one cost
about eight. The body is written before the state item at creation, so any record that exists has its body (a
crash in between leaves a body nobody reads). Readers take both in the same request: `get` is one Query on the
record's partition for sort keys beginning with `META`, lists add the body keys to their BatchGetItem
(`records_page`), `get_full` already reads the whole partition; `join` puts them back into one record. A record
written before the split (everything on `META`) joins to itself.

Only what no transition writes is in the body (the number issued at signing is the state item's `register`,
`with_issued_number`); the one later change of it, an update amendment's new recipient
list (chalicelib.adapters.amendment_store), writes the body in the same transaction as the state item's condition.
"""

from __future__ import annotations

from typing import Any

from chalicelib.adapters.dynamo import batch_get, plain
from chalicelib.domain import upload_binding

__all__ = ["BODY", "BODY_FIELDS", "META", "join", "records_page", "split", "with_issued_number"]

META = "META"
BODY = "META#BODY"
#: What a record is created with and never changes by a transition (the body item's attributes).
BODY_FIELDS = ("metadata", "subject_folded", "original_key", upload_binding.RECORD_FIELD, "created_by", "stamp_box",
               "replaces")


def split(record: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the state item's fields, the body's fields) of a new record."""
    body = {k: record[k] for k in BODY_FIELDS if k in record}
    return {k: v for k, v in record.items() if k not in body}, body


def join(items: list[dict[str, Any]]) -> dict[str, Any] | None:
    """One record from a partition's items (plain values): the state item over its body; None without the state
    item. Other items of the partition (delivery rows, events) are ignored."""
    meta = next((i for i in items if i.get("sk") == META), None)
    if meta is None:
        return None
    body = next((i for i in items if i.get("sk") == BODY), None)
    record = {**{k: v for k, v in (body or {}).items() if k not in ("pk", "sk")}, **meta}
    return with_issued_number(record)


def with_issued_number(record: dict[str, Any]) -> dict[str, Any]:
    """The record with the number issued at signing in its metadata: the number lives on the state item
    (`register`, written by the SIGNED, REJECTED or FAILED transition, chalicelib.outbound.numbering), the body is
    written once; every reader sees `metadata.number` as if it had been given."""
    issued = (record.get("register") or {}).get("number")
    metadata = record.get("metadata")
    if issued and isinstance(metadata, dict) and not metadata.get("number"):
        record["metadata"] = {**metadata, "number": issued}
    return record


def records_page(table: Any, **kwargs: Any) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """One Query page on a keys-only index of records and the records it names, each joined with its body, in the
    page's order, with its LastEvaluatedKey: the state items and the bodies in the same BatchGetItem (100 keys a
    call: a page of 50 records is one call). Index entries that are not records (sk other than `META`) come back
    as they are stored."""
    resp = table.query(**kwargs)
    keys = [{"pk": k["pk"], "sk": k["sk"]} for k in resp.get("Items", [])]
    if not keys:
        return [], resp.get("LastEvaluatedKey")
    wanted = keys + [{"pk": k["pk"], "sk": BODY} for k in keys if k["sk"] == META]
    found = [plain(i) for i in batch_get(table, wanted)]
    bodies = {i["pk"]: i for i in found if i["sk"] == BODY}
    out = []
    for item in found:
        if item["sk"] == BODY:
            continue
        if item["sk"] == META:
            item = join([item, *([bodies[item["pk"]]] if item["pk"] in bodies else [])]) or item
        out.append(item)
    return out, resp.get("LastEvaluatedKey")
