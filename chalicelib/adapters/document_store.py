"""DynamoDB access for documents: the record, its timeline events and its per-recipient deliveries.

One table, `edoc-documents`, keyed `pk`/`sk`:
- `DOC#<id>` / `META`: the record (state, metadata, hashes, lease); GSI `by_organ` (`ORG#<organ>`, `<created>#<id>`)
  lists an agency's documents newest first, so tenant isolation is the key condition itself.
- `DOC#<id>` / `EVENT#<at>#<nonce>`: one item per transition (the timeline and the audit trail).
- `DOC#<id>` / `DELIVERY#<organ_id>`: one item per recipient (status on the axis, axis DocId).

Every state change is a transaction of a conditional update of `META` plus the event put, so a duplicate or
stale handler run fails the condition and changes nothing (at-least-once delivery everywhere). Each one also counts
the record's `version` up and keeps the sparse index `by_sweep` (`sweep_state`, `sweep_due`) in step with the state
(chalicelib.domain.sweep_rules): only records in AWAITING_UPLOAD, UPLOADED or SIGNED are in it, due when overdue.

Two month indexes serve the administrators (issue 9; chalicelib.domain.report_months, months in Vietnam time):
- `by_month` (`gsi2pk` = `MONTH#YYYY-MM` of creation, `gsi2sk` = `<created_at>#<id>`): every record, written at
  creation, so the admin search across agencies reads only the months of its `from`/`to` range (one Query per
  month and page) and filters the rest (state, recipient, number, notation, folded subject words).
- `by_done_month` (`gsi3pk` = `DONE#YYYY-MM`, `gsi3sk` = `<at>#<id>`): sparse, set in the same conditional write
  that records DISPATCHED, REJECTED or FAILED, and removed when a FAILED record is retried, so the monthly report
  reads exactly the month's terminal transitions without a scan (a revoked document keeps its dispatch month).
Their queries, and the `CONFIG#<name>` items of admin settings, are in chalicelib.adapters.report_store.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from functools import cache
from typing import Any

from chalicelib.adapters import aws
from chalicelib.adapters.dynamo import (
    ConditionFailed,
    condition_failed_class,
    conditional_update,
    decode_cursor,
    encode_cursor,
    lease_free,
    lease_owned,
    plain,
    transact,
)
from chalicelib.core.clock import now_iso
from chalicelib.core.errors import ValidationFailed
from chalicelib.core.settings import get_settings
from chalicelib.domain import states, sweep_rules
from chalicelib.domain.leases import Lease
from chalicelib.domain.report_months import CREATED_PREFIX, DONE_PREFIX, month_of

META = "META"
#: The month indexes (module docstring) and the transitions the second one records.
MONTH_INDEX = "by_month"
DONE_INDEX = "by_done_month"
DONE_STATES = frozenset({states.DISPATCHED, states.REJECTED, states.FAILED})


def _done_fields(document_id: str, target: str, at: str) -> tuple[dict[str, str], tuple[str, ...]]:
    """What a transition to `target` writes in (or removes from) the `by_done_month` index."""
    if target in DONE_STATES:
        return {"gsi3pk": f"{DONE_PREFIX}{month_of(at)}", "gsi3sk": f"{at}#{document_id}"}, ()
    if target in (states.UPLOADED, states.SIGNED):  # a FAILED record retried: no longer the month's failure
        return {}, ("gsi3pk", "gsi3sk")
    return {}, ()


def doc_pk(document_id: str) -> str:
    return f"DOC#{document_id}"


class DocumentStore:
    """Records, timelines and deliveries of documents."""

    def __init__(self, table_name: str | None = None) -> None:
        self.table_name = table_name or get_settings().documents_table

    @property
    def _table(self) -> Any:
        return aws.table(self.table_name)

    @property
    def _client(self) -> Any:
        return aws.client("dynamodb")

    @property
    def _condition_failed(self) -> type[Exception]:
        """The exception class of the Table's own client (see `dynamo.condition_failed_class`)."""
        return condition_failed_class(self._table)

    # -- records -------------------------------------------------------------------------------------------
    def create(self, record: dict[str, Any]) -> None:
        """Write a new record in `AWAITING_UPLOAD` with its first event; fails if the id exists."""
        at = record["created_at"]
        indexed, _ = sweep_rules.index_fields(record["state"], int(time.time()))
        item = {
            "pk": doc_pk(record["document_id"]), "sk": META,
            "gsi1pk": f"ORG#{record['organ_id']}", "gsi1sk": f"{at}#{record['document_id']}",
            "gsi2pk": f"{CREATED_PREFIX}{month_of(at)}", "gsi2sk": f"{at}#{record['document_id']}",
            **record, **indexed, sweep_rules.VERSION_FIELD: 1,
        }
        self._transact([
            {"Put": {"Item": item, "ConditionExpression": "attribute_not_exists(pk)"}},
            {"Put": {"Item": self._event_item(record["document_id"], record["state"], at, {})}},
        ])

    def get(self, document_id: str) -> dict[str, Any] | None:
        """The record, strongly consistent (handlers decide on it)."""
        resp = self._table.get_item(Key={"pk": doc_pk(document_id), "sk": META}, ConsistentRead=True)
        item = resp.get("Item")
        return plain(item) if item else None

    def get_full(self, document_id: str) -> tuple[dict[str, Any] | None, list[dict], list[dict]]:
        """Record, timeline (oldest first) and deliveries in one query."""
        from boto3.dynamodb.conditions import Key  # lazy: boto3 costs ~150 ms at cold start

        items: list[dict] = []
        kwargs: dict[str, Any] = {"KeyConditionExpression": Key("pk").eq(doc_pk(document_id)),
                                  "ConsistentRead": True}
        while True:
            resp = self._table.query(**kwargs)
            items.extend(plain(i) for i in resp.get("Items", []))
            if "LastEvaluatedKey" not in resp:
                break
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
        record = next((i for i in items if i["sk"] == META), None)
        events = [i for i in items if i["sk"].startswith("EVENT#")]
        deliveries = [i for i in items if i["sk"].startswith("DELIVERY#")]
        return record, events, deliveries

    def list_for_organ(self, organ_id: str, *, limit: int = 50, cursor: str | None = None,
                       state: str | None = None) -> tuple[list[dict], str | None]:
        """An agency's records, newest first. The cursor is opaque; one from another agency fails the query."""
        from boto3.dynamodb.conditions import Attr, Key  # lazy: boto3 costs ~150 ms at cold start

        kwargs: dict[str, Any] = {
            "IndexName": "by_organ", "KeyConditionExpression": Key("gsi1pk").eq(f"ORG#{organ_id}"),
            "ScanIndexForward": False, "Limit": limit,
        }
        if state:
            kwargs["FilterExpression"] = Attr("state").eq(state)
        if cursor:
            start = decode_cursor(cursor)
            if start.get("gsi1pk") != f"ORG#{organ_id}":
                raise ValidationFailed("Con trỏ phân trang không hợp lệ.", code="invalid_cursor")
            kwargs["ExclusiveStartKey"] = start
        resp = self._table.query(**kwargs)
        nxt = resp.get("LastEvaluatedKey")
        return [plain(i) for i in resp.get("Items", [])], encode_cursor(nxt) if nxt else None

    # -- transitions -----------------------------------------------------------------------------------------
    def transition(self, document_id: str, target: str, *, fields: dict[str, Any] | None = None,
                   remove: tuple[str, ...] = (), detail: dict[str, Any] | None = None,
                   from_states: frozenset[str] | None = None, claim: Lease | None = None,
                   lease: Lease | None = None, expect_version: int | None = None,
                   free: Lease | None = None) -> None:
        """Move the record to `target` if its state allows it (states.ALLOWED_FROM), appending an event.

        `claim`: take this lease in the same write (only if nobody holds one of its kind); `lease`: only while
        this lease is still ours, and give it up (its fields go); `expect_version`: only if the record is still at
        this version (0: one written before versions); `free`: only if nobody holds a lease of this kind (a probe,
        nothing of it is written). Raises ConditionFailed when another run got there first or the state forbids
        the change.
        """
        allowed = sorted(from_states if from_states is not None else states.sources(target))
        at = now_iso()
        indexed, unindexed = sweep_rules.index_fields(target, int(time.time()))
        done, undone = _done_fields(document_id, target, at)
        indexed, unindexed = {**indexed, **done}, (*unindexed, *undone)
        values: dict[str, Any] = {":target": target, ":at": at, ":one": 1}
        names = {"#state": "state", "#version": sweep_rules.VERSION_FIELD}
        sets = ["#state = :target", "updated_at = :at"]
        for i, (key, value) in enumerate({**(fields or {}), **(claim.values() if claim else {}),
                                          **indexed}.items()):
            names[f"#f{i}"] = key
            values[f":f{i}"] = value
            sets.append(f"#f{i} = :f{i}")
        in_list = []
        for i, source in enumerate(allowed):
            values[f":s{i}"] = source
            in_list.append(f":s{i}")
        condition = f"#state IN ({', '.join(in_list)})"
        probe = _free_condition(free)
        for extra, extra_values in (lease_free(claim), lease_owned(lease), _version_condition(expect_version),
                                    probe):
            if extra:
                condition = f"({condition}) AND ({extra})"
                values.update(extra_values)
        removed = (*remove, *((lease.fields.owner, lease.fields.until) if lease else ()), *unindexed)
        expression = "SET " + ", ".join(sets) + " ADD #version :one"
        if removed:
            expression += " REMOVE " + ", ".join(removed)
        event_detail = dict(detail or {})
        if fields and "reason" in fields:
            event_detail.setdefault("reason", fields["reason"])
        self._transact([
            {"Update": {"Key": {"pk": doc_pk(document_id), "sk": META}, "UpdateExpression": expression,
                        "ConditionExpression": condition, "ExpressionAttributeNames": names,
                        "ExpressionAttributeValues": values}},
            {"Put": {"Item": self._event_item(document_id, target, at, event_detail)}},
        ])

    def update_fields(self, document_id: str, fields: dict[str, Any], *, condition: str,
                      values: dict[str, Any]) -> None:
        """A conditional update that does not change the state (counters, markers)."""
        self._update(doc_pk(document_id), META, fields, condition=condition, values=values)

    # -- the sweep (chalicelib.outbound.sweep) and the upload binding ------------------------------------------
    def due_for_sweep(self, state: str, now: int, limit: int) -> list[str]:
        """Ids of records in `state` whose `sweep_due` is at or before `now`, oldest due first, at most `limit`
        (the sparse index: no scan; eventually consistent, so the sweep reads each record again)."""
        from boto3.dynamodb.conditions import Key  # lazy: boto3 costs ~150 ms at cold start

        kwargs: dict[str, Any] = {
            "IndexName": sweep_rules.INDEX,
            "KeyConditionExpression": Key(sweep_rules.STATE_FIELD).eq(state) & Key(sweep_rules.DUE_FIELD).lte(now),
            "Limit": limit,
        }
        found: list[str] = []
        while len(found) < limit:
            resp = self._table.query(**kwargs)
            found.extend(str(i["pk"]).removeprefix("DOC#") for i in resp.get("Items", []))
            if "LastEvaluatedKey" not in resp:
                break
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
        return found[:limit]

    def record_sweep_retry(self, document_id: str, *, state: str, version: int, due: int, free: Lease,
                           detail: dict[str, Any]) -> None:
        """The sweep retries a stuck record: count it (`sweep_retries_<state>`), push its due time to `due`, bump
        the version and append an event, only if the record is still in `state` at `version` and nobody holds a
        lease of `free`'s kind. ConditionFailed otherwise (the pipeline or another sweep moved first)."""
        counter = sweep_rules.RETRY_FIELDS[state]
        version_cond, version_values = _version_condition(version)
        free_cond, free_values = _free_condition(free)
        at = now_iso()
        self._transact([
            {"Update": {"Key": {"pk": doc_pk(document_id), "sk": META},
                        "UpdateExpression": "SET #due = :due, updated_at = :at ADD #counter :one, #version :one",
                        "ConditionExpression": f"#state = :state AND ({version_cond}) AND ({free_cond})",
                        "ExpressionAttributeNames": {"#state": "state", "#due": sweep_rules.DUE_FIELD,
                                                     "#counter": counter, "#version": sweep_rules.VERSION_FIELD},
                        "ExpressionAttributeValues": {":state": state, ":due": due, ":at": at, ":one": 1,
                                                      **version_values, **free_values}}},
            {"Put": {"Item": self._event_item(document_id, state, at, detail)}},
        ])

    def record_foreign_upload(self, document_id: str, *, state: str, detail: dict[str, Any], limit: int) -> bool:
        """A refused foreign upload on the record's timeline (an event in its current `state`, which is unchanged)
        and counted (`foreign_uploads`), while fewer than `limit` were recorded: a flood of writes to one key cannot
        grow the timeline without bound. Returns False when the limit was reached (or the record is gone)."""
        at = now_iso()
        try:
            self._transact([
                {"Update": {"Key": {"pk": doc_pk(document_id), "sk": META},
                            "UpdateExpression": "ADD foreign_uploads :one",
                            "ConditionExpression": "attribute_exists(pk) AND (attribute_not_exists(foreign_uploads)"
                                                   " OR foreign_uploads < :limit)",
                            "ExpressionAttributeValues": {":one": 1, ":limit": limit}}},
                {"Put": {"Item": self._event_item(document_id, state, at, detail)}},
            ])
        except ConditionFailed:
            return False
        return True

    # -- leases ------------------------------------------------------------------------------------------------
    # One primitive for every writer (chalicelib.domain.leases): the signing handler claims within a transition,
    # dispatch and the amendments' sending claim here; all finish through `transition` / `finish`.
    def claim(self, document_id: str, lease: Lease, *, in_state: str | None = None, item: str = META,
              condition: str = "", values: dict[str, Any] | None = None, fields: dict[str, Any] | None = None,
              names: dict[str, str] | None = None, keep: dict[str, Any] | None = None,
              add: dict[str, Any] | None = None, remove: tuple[str, ...] = ()) -> Lease:
        """Take `lease` on the item (the record, or `item` = another sort key of the document) if nobody holds one of
        its kind, the record is `in_state` (when given) and `condition` holds, writing `fields` with it (`keep`:
        written only where absent; `add`: counters added to; `remove`: fields dropped). Raises ConditionFailed
        otherwise."""
        if in_state is not None:
            condition = f"({condition}) AND #state = :in_state" if condition else "#state = :in_state"
            values = {**(values or {}), ":in_state": in_state}
        free, free_values = lease_free(lease)
        both = f"({condition}) AND ({free})" if condition else free
        self._update(doc_pk(document_id), item, {**(fields or {}), **lease.values()}, condition=both,
                     values={**(values or {}), **free_values}, names=names, keep=keep, add=add, remove=remove)
        return lease

    def release(self, document_id: str, lease: Lease, *, item: str = META) -> None:
        """A transient failure: let the redelivered message take the item at once (expiry 0), if still ours."""
        owned, owned_values = lease_owned(lease)
        with contextlib.suppress(ConditionFailed):
            self._update(doc_pk(document_id), item, {lease.fields.until: 0}, condition=owned, values=owned_values)

    def finish(self, document_id: str, lease: Lease, *, item: str = META, fields: dict[str, Any] | None = None,
               names: dict[str, str] | None = None, remove: tuple[str, ...] = ()) -> None:
        """The run is done: write `fields` and give the lease up, only while it is still ours (ConditionFailed)."""
        owned, owned_values = lease_owned(lease)
        self._update(doc_pk(document_id), item, dict(fields or {}), condition=owned, values=owned_values,
                     names=names, remove=(*remove, lease.fields.owner, lease.fields.until))

    def _update(self, pk: str, sk: str, fields: dict[str, Any], *, condition: str, values: dict[str, Any],
                names: dict[str, str] | None = None, keep: dict[str, Any] | None = None,
                add: dict[str, Any] | None = None, remove: tuple[str, ...] = ()) -> None:
        conditional_update(self._table, {"pk": pk, "sk": sk}, fields, condition=condition, values=values,
                           names=names, keep=keep, add=add, remove=remove)

    # -- deliveries ------------------------------------------------------------------------------------------
    def put_delivery_intent(self, document_id: str, organ_id: str) -> dict[str, Any]:
        """Record the intent to send to `organ_id` before sending (so a crash after the send is visible).

        Returns the existing delivery when there is one (a retry), else the new `PENDING` one.
        """
        return self.open_delivery(document_id, organ_id)[0]

    def open_delivery(self, document_id: str, organ_id: str, package_sha256: str | None = None
                      ) -> tuple[dict[str, Any], bool]:
        """`(row, created)`: the new `PENDING` row, or the existing one (a retry) with `created` False. With
        `package_sha256` a new row also records the first send attempt as `note_send_attempt` would: one PutItem, not
        a PutItem and an UpdateItem (issue 11). An existing row comes back with the lost condition itself
        (`ReturnValuesOnConditionCheckFailure`), not from a second read; its hashes are for the caller to reconcile."""
        at = now_iso()
        item: dict[str, Any] = {"pk": doc_pk(document_id), "sk": f"DELIVERY#{organ_id}", "organ_id": organ_id,
                                "status": "PENDING", "updated_at": at, "attempts": 1}
        if package_sha256:
            item.update(package_hashes={package_sha256}, send_attempts=1, first_attempt_at=at, last_attempt_at=at)
        try:
            self._table.put_item(Item=item, ConditionExpression="attribute_not_exists(pk)",
                                 ReturnValuesOnConditionCheckFailure="ALL_OLD")
            return item, True
        except self._condition_failed as exc:
            from boto3.dynamodb.types import TypeDeserializer  # lazy: with boto3, loaded already by the put

            raw = exc.response.get("Item")  # type: ignore[attr-defined]  # low-level shape: {"S": ...}
            if raw:
                return plain({k: TypeDeserializer().deserialize(v) for k, v in raw.items()}), False
        old = self._table.get_item(Key={"pk": item["pk"], "sk": item["sk"]}, ConsistentRead=True)["Item"]
        return plain(old), False

    def mark_delivery_sent(self, document_id: str, organ_id: str, axis_doc_id: str, *, paper: bool,
                           package_sha256: str = "", reconciled: bool = False) -> None:
        """PENDING → SENT with the axis DocId; a second run finds it SENT and changes nothing.

        `reconciled`: the DocId was found on the axis's list of our sends, not in a sendEdoc answer (the answer of
        an earlier attempt was lost), kept on the row and in its history so such cases can be audited."""
        at = now_iso()
        entry: dict[str, Any] = {"status": "SENT", "at": at, **({"reconciled": True} if reconciled else {})}
        try:
            self._table.update_item(
                Key={"pk": doc_pk(document_id), "sk": f"DELIVERY#{organ_id}"},
                UpdateExpression="SET #s = :sent, axis_doc_id = :doc, updated_at = :at, sent_at = :at, paper = :p, "
                                 "package_sha256 = :sha, reconciled = :r, "
                                 "history = list_append(if_not_exists(history, :empty), :h)",
                ConditionExpression="#s = :pending",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":sent": "SENT", ":pending": "PENDING", ":doc": axis_doc_id, ":at": at,
                                           ":p": paper, ":sha": package_sha256, ":r": reconciled, ":empty": [],
                                           ":h": [entry]})
        except self._condition_failed as exc:
            raise ConditionFailed(f"{document_id}/{organ_id}") from exc

    def note_send_attempt(self, document_id: str, organ_id: str, package_sha256: str) -> dict[str, Any]:
        """Before each sendEdoc: add the package's hash to the PENDING row's `package_hashes` (a set: every
        package that may have reached the axis for this recipient) and count the attempt. A later attempt that
        finds hashes here reconciles with the axis before sending again. Returns the row as updated."""
        try:
            resp = self._table.update_item(
                Key={"pk": doc_pk(document_id), "sk": f"DELIVERY#{organ_id}"},
                UpdateExpression="SET updated_at = :at, last_attempt_at = :at, "
                                 "first_attempt_at = if_not_exists(first_attempt_at, :at) "
                                 "ADD package_hashes :h, send_attempts :one",
                ConditionExpression="#s = :pending", ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":at": now_iso(), ":h": {package_sha256}, ":one": 1,
                                           ":pending": "PENDING"},
                ReturnValues="ALL_NEW")
        except self._condition_failed as exc:
            raise ConditionFailed(f"{document_id}/{organ_id}") from exc
        return plain(resp["Attributes"])

    def forget_send_attempt(self, document_id: str, organ_id: str, package_sha256: str) -> None:
        """The axis answered that it did not take the package (an HTTP error status it sent itself): the hash
        need not be reconciled any more."""
        with contextlib.suppress(self._condition_failed):
            self._table.update_item(
                Key={"pk": doc_pk(document_id), "sk": f"DELIVERY#{organ_id}"},
                UpdateExpression="DELETE package_hashes :h", ConditionExpression="#s = :pending",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":h": {package_sha256}, ":pending": "PENDING"})

    def forget_unconfirmed_sends(self, document_id: str) -> list[str]:
        """An administrator confirmed that nothing reached the axis: PENDING rows drop their hashes, so the next
        dispatch sends without reconciling. Returns the recipients concerned."""
        _, _, deliveries = self.get_full(document_id)
        cleared = []
        for delivery in deliveries:
            if delivery.get("status") != "PENDING" or not delivery.get("package_hashes"):
                continue
            with contextlib.suppress(self._condition_failed):
                self._table.update_item(
                    Key={"pk": doc_pk(document_id), "sk": delivery["sk"]},
                    UpdateExpression="REMOVE package_hashes SET updated_at = :at",
                    ConditionExpression="#s = :pending", ExpressionAttributeNames={"#s": "status"},
                    ExpressionAttributeValues={":at": now_iso(), ":pending": "PENDING"})
                cleared.append(delivery["organ_id"])
        return cleared

    # -- internals -------------------------------------------------------------------------------------------
    def _event_item(self, document_id: str, state: str, at: str, detail: dict[str, Any]) -> dict[str, Any]:
        return {"pk": doc_pk(document_id), "sk": f"EVENT#{at}#{secrets.token_hex(3)}", "state": state, "at": at,
                **({"detail": detail} if detail else {})}

    def _transact(self, operations: list[dict[str, Any]]) -> None:
        transact(self._client, self.table_name, operations)


def _version_condition(version: int | None) -> tuple[str, dict[str, Any]]:
    """The condition that the record is still at `version` (0: written before records had one); `#version` names
    `sweep_rules.VERSION_FIELD` in every expression that uses it."""
    if version is None:
        return "", {}
    if not version:
        return "attribute_not_exists(#version)", {}
    return "#version = :expected_version", {":expected_version": version}


def _free_condition(probe: Lease | None) -> tuple[str, dict[str, Any]]:
    """`lease_free` under its own value name, so a probe and a claim can sit in one condition."""
    cond, values = lease_free(probe)
    return cond.replace(":lease_now", ":probe_now"), {k.replace(":lease_now", ":probe_now"): v
                                                      for k, v in values.items()}


@cache
def _for_table(table_name: str) -> DocumentStore:
    return DocumentStore(table_name)


_override: DocumentStore | None = None


def get_document_store() -> DocumentStore:
    """The documents table's repository, built once per container per table (the table follows the settings, which
    tests and the embedded stack switch with `aws.reset()`)."""
    return _override if _override is not None else _for_table(get_settings().documents_table)


def use_document_store(store: Any) -> None:
    """Point every use case at `store` (tests/fakes' in-memory twin), or back at DynamoDB with None."""
    global _override
    _override = store


__all__ = ["DONE_INDEX", "DONE_STATES", "META", "MONTH_INDEX", "ConditionFailed", "DocumentStore", "decode_cursor",
           "doc_pk", "encode_cursor", "get_document_store", "now_iso", "use_document_store"]
