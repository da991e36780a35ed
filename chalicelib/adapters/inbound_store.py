"""DynamoDB access for what the axis brings in: envelope records, inbox items, the status outbox, and the status
columns of our own documents' delivery rows. Same table as `store.py` (`edoc-<stage>-documents`), other key spaces:

- `EDXML#<DocumentId>` / `DOC#<document_id>`: written at dispatch; finds our document from a status package's
  `ResponseFor/DocumentId`. One item per document, not per DocumentId: a document without a number yet has
  "<issuer>,<date>,/<ký hiệu>", which two documents can share, so a report is matched to the one that was sent to
  the reporting agency.
- `ENVELOPE#<axis docId>` / `TO#<organ_id>`: one per envelope the gateway took from the axis: what it was, what was
  done with it (`outcome`), the raw package's S3 key, and the transport acknowledgement. It is the idempotency key
  (an envelope listed twice, or again after a crash before `updateStatus`, is recognised without downloading it)
  and the audit trail. Envelopes that need an administrator (`inbound_rules.ISSUE_OUTCOMES`: `unparseable`,
  `not_served`, `orphan_status`, `forged_sender`, `unprocessable`, ...) also carry `gsi1pk = AXIS_ISSUE`, so
  `GET /v1/admin/inbound-issues` lists them newest first. Details come from untrusted input: a record over a
  quarter of the item budget has them cut (`inbound_rules.bounded`), so it always fits DynamoDB.
- `ENVELOPE#<axis docId>` / `ATTEMPT#<organ_id>`: beside the envelope record, the count of attempts at it (taken
  with a conditional write BEFORE each download, so a run killed by a timeout or out of memory counts too), and what
  the attempts noted (the raw package's key, the last error). After `MAX_ATTEMPTS` the poller gives up on the
  envelope: acknowledged `fail`, listed (issue 8: nothing poisons the poller).
- `INBOX#<inbox_id>` / `META`: an inbound document filed for a served agency; GSI `by_organ` on
  `INBOX#<organ_id>` / `<received_at>#<inbox_id>` lists an agency's inbox (tenant isolation is the key condition).
- `OUTBOX#<organ_id>` / `STATUS#<inbox_id>#<code>`: a status package to send back to a sender (01 on receipt, the
  clerk's 02–06). Written in the same transaction as the change it reports, deleted in the same transaction that
  records the axis DocId, so a status is never lost when the axis is down and is retried by every poll.
- `DOC#<document_id>` / `DELIVERY#<organ_id>`: `store.py` creates these; here only the status columns change, with
  an optimistic `status_version` and a set `applied_envelopes` of axis docIds and package hashes already applied.

Inbound amendments (revocations, updates, replacements; `chalicelib.inbound.amendments`) change inbox items through
`apply_amendment`, `link_replaced` and `drop_unfinished_envelope`: the keys are built here and nowhere else.
`inbound_store()` is the per-container factory the use cases take their repository from.
"""

from __future__ import annotations

import contextlib
from functools import cache
from typing import Any

from chalicelib.adapters import webhook_outbox
from chalicelib.adapters.document_store import META, DocumentStore
from chalicelib.adapters.dynamo import (
    ConditionFailed,
    all_index_pages,
    conditional_update,
    decode_cursor,
    encode_cursor,
    index_page,
    lease_free,
    lease_owned,
    plain,
)
from chalicelib.adapters.register_store import RegisterStore
from chalicelib.core.clock import now_iso
from chalicelib.core.errors import ValidationFailed
from chalicelib.core.log import logger
from chalicelib.core.settings import get_settings
from chalicelib.domain.axis_statuses import DeliveryUpdate
from chalicelib.domain.inbound_rules import ITEM_BYTES_BUDGET, bounded, record_bytes
from chalicelib.domain.leases import OUTBOX, Lease
from chalicelib.domain.registers import INCOMING

__all__ = ["ISSUES_KEY", "OUTBOX_LEASE_SECONDS", "InboundStore", "inbound_store", "outbox_key",
           "remember_sent_document"]

ISSUES_KEY = "AXIS_ISSUE"
OUTBOX_LEASE_SECONDS = 90


def _envelope_key(axis_doc_id: str, organ_id: str) -> dict[str, str]:
    return {"pk": f"ENVELOPE#{axis_doc_id}", "sk": f"TO#{organ_id}"}


def _attempt_key(axis_doc_id: str, organ_id: str) -> dict[str, str]:
    return {"pk": f"ENVELOPE#{axis_doc_id}", "sk": f"ATTEMPT#{organ_id}"}


def _inbox_key(inbox_id: str) -> dict[str, str]:
    return {"pk": f"INBOX#{inbox_id}", "sk": META}


def outbox_key(organ_id: str, inbox_id: str, code: str) -> dict[str, str]:
    return {"pk": f"OUTBOX#{organ_id}", "sk": f"STATUS#{inbox_id}#{code}"}


def remember_sent_document(edxml_document_id: str, document_id: str, organ_id: str) -> None:
    """Called by dispatch before the first send: lets a status package find the document it reports on."""
    inbound_store().remember_edxml_id(edxml_document_id, document_id, organ_id)


def inbound_store() -> InboundStore:
    """The repository of the configured documents table, built once per container (and per table name, so tests
    and the embedded stack that switch tables get their own)."""
    return _store_for(get_settings().documents_table)


@cache
def _store_for(table_name: str) -> InboundStore:
    return InboundStore(table_name)



def _owned(token: str) -> tuple[str, dict[str, Any]]:
    """The condition that the outbox item's lease is still the one taken with `token`."""
    return lease_owned(Lease(fields=OUTBOX, token=token, now=0, until=0))

class InboundStore(DocumentStore):
    """The inbound key spaces of the documents table (see the module docstring)."""

    # -- số đến (issue 12) ----------------------------------------------------------------------------------------
    def issue_arrival_number(self, organ_id: str, year: int, inbox_id: str, entry: dict[str, Any]) -> dict[str, Any]:
        """The next number of the agency's register of incoming documents for `inbox_id`, or the one it holds
        (chalicelib.adapters.register_store, in this same table)."""
        return RegisterStore(self.table_name).issue(organ_id, INCOMING, year, inbox_id, entry=entry)

    # -- edXML DocumentId → our documents -----------------------------------------------------------------------
    def remember_edxml_id(self, edxml_document_id: str, document_id: str, organ_id: str) -> None:
        """Idempotent: a retried dispatch finds the item there and leaves it."""
        item = {"pk": f"EDXML#{edxml_document_id}", "sk": f"DOC#{document_id}", "document_id": document_id,
                "organ_id": organ_id, "created_at": now_iso()}
        with contextlib.suppress(self._condition_failed):
            self._table.put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")

    def documents_for_edxml_id(self, edxml_document_id: str) -> list[dict[str, Any]]:
        """Our documents sent under this DocumentId, newest first."""
        from boto3.dynamodb.conditions import Key  # lazy: boto3 costs ~150 ms at cold start

        resp = self._table.query(KeyConditionExpression=Key("pk").eq(f"EDXML#{edxml_document_id}"),
                                 ConsistentRead=True, Limit=100)
        return sorted((plain(i) for i in resp.get("Items", [])), key=lambda i: i.get("created_at", ""),
                      reverse=True)

    # -- delivery rows -------------------------------------------------------------------------------------------
    def get_delivery(self, document_id: str, organ_id: str) -> dict[str, Any] | None:
        resp = self._table.get_item(Key={"pk": f"DOC#{document_id}", "sk": f"DELIVERY#{organ_id}"},
                                    ConsistentRead=True)
        item = resp.get("Item")
        return plain(item) if item else None

    def apply_delivery_status(self, document_id: str, organ_id: str, current: dict[str, Any],
                              update: DeliveryUpdate, applied_ids: list[str]) -> bool:
        """Append the history entry (and move the status when `update.moves_status`) if the row is still the
        version `current` was read at and none of `applied_ids` was applied yet. False when another writer got
        there first: the caller re-reads and decides again."""
        version = int(current.get("status_version") or 0)
        names = {"#h": "history", "#v": "status_version", "#a": "applied_envelopes", "#u": "updated_at"}
        values: dict[str, Any] = {":h": [update.entry], ":empty": [], ":next": version + 1, ":ids": set(applied_ids),
                                  ":at": update.entry["at"]}
        sets = ["#h = list_append(if_not_exists(#h, :empty), :h)", "#v = :next", "#u = :at"]
        for i, (key, value) in enumerate(update.fields.items()):
            names[f"#f{i}"] = key
            values[f":f{i}"] = value
            sets.append(f"#f{i} = :f{i}")
        conditions = ["attribute_exists(pk)"]
        if version:
            values[":v"] = version
            conditions.append("#v = :v")
        else:
            conditions.append("attribute_not_exists(#v)")
        for i, ident in enumerate(applied_ids):
            values[f":id{i}"] = ident
            conditions.append(f"NOT contains(#a, :id{i})")
        webhook_outbox.publish_delivery_status(document_id, organ_id, update.entry)  # before its write (issue 14)
        try:
            self._table.update_item(
                Key={"pk": f"DOC#{document_id}", "sk": f"DELIVERY#{organ_id}"},
                UpdateExpression="SET " + ", ".join(sets) + " ADD #a :ids",
                ConditionExpression=" AND ".join(conditions), ExpressionAttributeNames=names,
                ExpressionAttributeValues=values)
            return True
        except self._condition_failed:
            return False

    # -- envelopes -----------------------------------------------------------------------------------------------
    def get_envelope(self, axis_doc_id: str, organ_id: str) -> dict[str, Any] | None:
        item = self._table.get_item(Key=_envelope_key(axis_doc_id, organ_id), ConsistentRead=True).get("Item")
        return plain(item) if item else None

    def envelope_item(self, record: dict[str, Any], *, issue: bool) -> dict[str, Any]:
        """The item for an envelope record (`axis_doc_id`, `organ_id`, `outcome`, …); issues join the admin list."""
        item = {**_envelope_key(record["axis_doc_id"], record["organ_id"]), **record}
        if record_bytes(item) > ITEM_BYTES_BUDGET // 4:  # details come from untrusted input: a record always fits
            item["details"] = {**bounded(item.get("details") or {}), "cut": True}
            if record_bytes(item) > ITEM_BYTES_BUDGET // 4:
                item["details"] = {"cut": True}
        if issue:
            item["gsi1pk"] = ISSUES_KEY
            item["gsi1sk"] = f"{record['received_at']}#{record['axis_doc_id']}"
        return item

    def put_envelope(self, record: dict[str, Any], *, issue: bool = False) -> bool:
        """Record what was done with an envelope; False when it was already recorded (a concurrent run)."""
        try:
            self._table.put_item(Item=self.envelope_item(record, issue=issue),
                                 ConditionExpression="attribute_not_exists(pk)")
            return True
        except self._condition_failed:
            return False

    def mark_envelope_acked(self, axis_doc_id: str, organ_id: str, ack: str) -> None:
        self._table.update_item(Key=_envelope_key(axis_doc_id, organ_id),
                                UpdateExpression="SET acked_at = :at, ack = :ack",
                                ConditionExpression="attribute_exists(pk)",
                                ExpressionAttributeValues={":at": now_iso(), ":ack": ack})

    def list_issues(self, *, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        return self._page(ISSUES_KEY, limit=limit, cursor=cursor)

    # -- attempts at an envelope ---------------------------------------------------------------------------------
    def begin_attempt(self, axis_doc_id: str, organ_id: str, max_attempts: int) -> dict[str, Any]:
        """Count one more attempt at the envelope, unless `max_attempts` were made: the attempt record after the
        count (`attempts`, and what earlier attempts noted), with `exhausted: True` when no attempt is left."""
        try:
            resp = self._table.update_item(
                Key=_attempt_key(axis_doc_id, organ_id), UpdateExpression="ADD attempts :one SET attempted_at = :at",
                ConditionExpression="attribute_not_exists(attempts) OR attempts < :max",
                ExpressionAttributeValues={":one": 1, ":max": max_attempts, ":at": now_iso()},
                ReturnValues="ALL_NEW")
            return plain(resp["Attributes"])
        except self._condition_failed:
            item = self._table.get_item(Key=_attempt_key(axis_doc_id, organ_id), ConsistentRead=True).get("Item")
            return {**(plain(item) if item else {}), "exhausted": True}

    def note_attempt(self, axis_doc_id: str, organ_id: str, facts: dict[str, Any]) -> None:
        """Keep `facts` (the raw key, the last error) on the attempt record for the attempt that gives up."""
        names = {f"#n{i}": k for i, k in enumerate(facts)}
        values = {f":v{i}": v for i, v in enumerate(facts.values())}
        self._table.update_item(Key=_attempt_key(axis_doc_id, organ_id),
                                UpdateExpression="SET " + ", ".join(f"#n{i} = :v{i}" for i in range(len(facts))),
                                ExpressionAttributeNames=names, ExpressionAttributeValues=values)

    def clear_attempts(self, axis_doc_id: str, organ_id: str) -> None:
        """The envelope was handled (or is waiting on purpose): its next visit starts counting afresh."""
        self._table.delete_item(Key=_attempt_key(axis_doc_id, organ_id))

    # -- inbox -----------------------------------------------------------------------------------------------------
    def file_inbox_item(self, item: dict[str, Any], outbox: dict[str, Any], envelope: dict[str, Any]) -> bool:
        """Inbox item + its 01 in the outbox + the envelope record, all or nothing. False when the item (a copy of
        the same document in another envelope) or the envelope record already exists."""
        webhook_outbox.publish_inbox(item["inbox_id"], revoked=False, at=str(item["received_at"]),  # issue 14
                                     organ_id=item.get("organ_id"))
        try:
            self._transact([
                {"Put": {"Item": {**_inbox_key(item["inbox_id"]), "gsi1pk": f"INBOX#{item['organ_id']}",
                                  "gsi1sk": f"{item['received_at']}#{item['inbox_id']}", **item},
                         "ConditionExpression": "attribute_not_exists(pk)"}},
                {"Put": {"Item": outbox, "ConditionExpression": "attribute_not_exists(pk)"}},
                {"Put": {"Item": self.envelope_item(envelope, issue=False),
                         "ConditionExpression": "attribute_not_exists(pk)"}},
            ])
            return True
        except ConditionFailed:
            return False

    def get_inbox_item(self, inbox_id: str) -> dict[str, Any] | None:
        item = self._table.get_item(Key=_inbox_key(inbox_id), ConsistentRead=True).get("Item")
        return plain(item) if item else None

    def list_inbox(self, organ_id: str, *, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        return self._page(f"INBOX#{organ_id}", limit=limit, cursor=cursor)

    def record_clerk_status(self, item: dict[str, Any], entry: dict[str, Any], outbox: dict[str, Any]) -> None:
        """The clerk's report on an inbox item and its status package in the outbox, conditional on the item still
        being at the status the decision was made on. Raises ConditionFailed otherwise."""
        code = entry["code"]
        self._transact([
            {"Update": {"Key": _inbox_key(item["inbox_id"]),
                        "UpdateExpression": "SET #s = :name, status_code = :code, updated_at = :at, "
                                            "status_history = list_append(status_history, :h)",
                        "ConditionExpression": "status_code = :current",
                        "ExpressionAttributeNames": {"#s": "status"},
                        "ExpressionAttributeValues": {":name": entry["status"], ":code": code, ":at": entry["at"],
                                                      ":h": [entry], ":current": item["status_code"]}}},
            {"Put": {"Item": outbox, "ConditionExpression": "attribute_not_exists(pk)"}},
        ])

    # -- outbox ----------------------------------------------------------------------------------------------------
    def pending_outbox(self, organ_id: str) -> list[dict[str, Any]]:
        """Status packages still to send for `organ_id` (not given up on), oldest first."""
        from boto3.dynamodb.conditions import Key  # lazy: boto3 costs ~150 ms at cold start

        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"KeyConditionExpression": Key("pk").eq(f"OUTBOX#{organ_id}"),
                                  "ConsistentRead": True}
        while True:
            resp = self._table.query(**kwargs)
            items.extend(plain(i) for i in resp.get("Items", []) if not i.get("failed_at"))
            if "LastEvaluatedKey" not in resp:
                break
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
        return sorted(items, key=lambda i: i.get("created_at", ""))

    def lease_outbox(self, item: dict[str, Any]) -> str | None:
        """Take the item for one send attempt (concurrent polls and the API must not send it twice at once)."""
        lease = Lease.new(OUTBOX, OUTBOX_LEASE_SECONDS)
        free, values = lease_free(lease)
        try:
            conditional_update(self._table, {"pk": item["pk"], "sk": item["sk"]}, lease.values(), add={"attempts": 1},
                               condition=f"attribute_exists(pk) AND attribute_not_exists(failed_at) AND ({free})",
                               values=values)
            return lease.token
        except ConditionFailed:
            return None

    def release_outbox(self, item: dict[str, Any], token: str, error: str) -> None:
        """A transient failure: free the item for the next poll."""
        owned, values = _owned(token)
        with contextlib.suppress(ConditionFailed):
            conditional_update(self._table, {"pk": item["pk"], "sk": item["sk"]}, {"last_error": error},
                               condition=owned, values=values, remove=(OUTBOX.owner, OUTBOX.until))

    def fail_outbox(self, item: dict[str, Any], token: str, error_code: str) -> None:
        """The axis refused the package for good: stop retrying and list it for an administrator."""
        at = now_iso()
        owned, values = _owned(token)
        with contextlib.suppress(ConditionFailed):
            conditional_update(self._table, {"pk": item["pk"], "sk": item["sk"]},
                               {"failed_at": at, "last_error": error_code, "gsi1pk": ISSUES_KEY,
                                "gsi1sk": f"{at}#{item['sk']}", "outcome": "status_send_refused"},
                               condition=owned, values=values, remove=(OUTBOX.owner, OUTBOX.until))

    def complete_outbox(self, item: dict[str, Any], token: str, axis_doc_id: str) -> bool:
        """Sent: drop it from the outbox and note the axis DocId on the inbox item, in one transaction."""
        sent = {"axis_doc_id": axis_doc_id, "sent_at": now_iso()}
        try:
            self._transact([
                {"Delete": {"Key": {"pk": item["pk"], "sk": item["sk"]}, "ConditionExpression": _owned(token)[0],
                            "ExpressionAttributeValues": _owned(token)[1]}},
                {"Update": {"Key": _inbox_key(item["inbox_id"]), "UpdateExpression": "SET sent_statuses.#c = :v",
                            "ConditionExpression": "attribute_exists(pk)",
                            "ExpressionAttributeNames": {"#c": item["code"]},
                            "ExpressionAttributeValues": {":v": sent}}},
            ])
            return True
        except ConditionFailed:
            return False

    # -- inbound amendments ----------------------------------------------------------------------------------------
    def apply_amendment(self, inbox_id: str, *, sets: dict[str, Any], appends: dict[str, list[Any]], at: str,
                        outbox: dict[str, Any], envelope: dict[str, Any], package_sha256: str,
                        only_if_not_revoked: bool = False) -> None:
        """The item's change (applied once per package hash), the answer in the outbox and the envelope record, all
        or nothing. Raises ConditionFailed when any of them is already there or the item changed meanwhile."""
        names: dict[str, str] = {"#applied": "applied_packages", "#u": "updated_at"}
        values: dict[str, Any] = {":at": at, ":sha": f"sha256:{package_sha256}",
                                  ":shas": {f"sha256:{package_sha256}"}, ":empty": []}
        clauses = ["#u = :at"]
        for i, (name, value) in enumerate(sets.items()):
            names[f"#s{i}"] = name
            values[f":s{i}"] = value
            clauses.append(f"#s{i} = :s{i}")
        for i, (name, value) in enumerate(appends.items()):
            names[f"#a{i}"] = name
            values[f":a{i}"] = value
            clauses.append(f"#a{i} = list_append(if_not_exists(#a{i}, :empty), :a{i})")
        condition = "attribute_exists(pk) AND NOT contains(#applied, :sha)"
        if only_if_not_revoked:
            names["#r"] = "revoked"
            values[":true"] = True
            condition += " AND (attribute_not_exists(#r) OR #r <> :true)"
        if sets.get("revoked") is True:  # issue 14: inbox.revoked, before its write
            webhook_outbox.publish_inbox(inbox_id, revoked=True, at=at)
        self._transact([
            {"Update": {"Key": _inbox_key(inbox_id), "ConditionExpression": condition,
                        "UpdateExpression": "SET " + ", ".join(clauses) + " ADD #applied :shas",
                        "ExpressionAttributeNames": names, "ExpressionAttributeValues": values}},
            {"Put": {"Item": outbox, "ConditionExpression": "attribute_not_exists(pk)"}},
            {"Put": {"Item": self.envelope_item(envelope, issue=False),
                     "ConditionExpression": "attribute_not_exists(pk)"}},
        ])

    def drop_unfinished_envelope(self, record: dict[str, Any]) -> None:
        """Delete a `deferred` or `waiting` envelope record before its envelope is processed again (the outcome
        records that follow are written only if none exists)."""
        with contextlib.suppress(self._condition_failed):
            self._table.delete_item(
                Key=_envelope_key(record["axis_doc_id"], record["organ_id"]),
                ConditionExpression="outcome = :outcome", ExpressionAttributeValues={":outcome": record["outcome"]})

    def link_replaced(self, old_inbox_id: str, new_inbox_id: str, at: str) -> None:
        """`replaced_by` on the old item (the first replacement wins; a repeat of the same link changes nothing)."""
        try:
            self._table.update_item(
                Key=_inbox_key(old_inbox_id), UpdateExpression="SET replaced_by = :new, replaced_at = :at",
                ConditionExpression="attribute_exists(pk) AND (attribute_not_exists(replaced_by) OR "
                                    "replaced_by = :new)",
                ExpressionAttributeValues={":new": new_inbox_id, ":at": at})
        except self._condition_failed:
            logger.info("replaced item already linked elsewhere", extra={"inbox_id": old_inbox_id})

    def inbox_between(self, organ_id: str, lo: str, hi: str) -> list[dict[str, Any]]:
        """An agency's inbox items filed in [lo, hi) (record times), every page: the monthly report's `received`
        and `answered` (one Query per agency and 1 MB; the key condition keeps it in the agency's partition)."""
        from boto3.dynamodb.conditions import Key  # lazy: boto3 costs ~150 ms at cold start

        kwargs: dict[str, Any] = {"IndexName": "by_organ",
                                  "KeyConditionExpression": Key("gsi1pk").eq(f"INBOX#{organ_id}")
                                  & Key("gsi1sk").between(lo, hi)}
        return all_index_pages(self._table, **kwargs)  # by_organ holds keys only: the items are read by key

    # -- internals -------------------------------------------------------------------------------------------------
    def _page(self, partition: str, *, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """One page of a `by_organ` partition, newest first; a cursor from another partition is refused."""
        from boto3.dynamodb.conditions import Key  # lazy: boto3 costs ~150 ms at cold start

        kwargs: dict[str, Any] = {"IndexName": "by_organ", "KeyConditionExpression": Key("gsi1pk").eq(partition),
                                  "ScanIndexForward": False, "Limit": limit}
        if cursor:
            start = decode_cursor(cursor)
            if start.get("gsi1pk") != partition:
                raise ValidationFailed("Con trỏ phân trang không hợp lệ.", code="invalid_cursor")
            kwargs["ExclusiveStartKey"] = start
        items, nxt = index_page(self._table, **kwargs)  # by_organ holds keys only: the items are read by key
        return items, encode_cursor(nxt) if nxt else None
