"""DynamoDB access for documents: the record, its timeline events and its per-recipient deliveries.

One table, `edoc-<stage>-documents`, keyed `pk`/`sk`:
- `DOC#<id>` / `META`: the record (state, metadata, hashes, lease); GSI `by_organ` (`ORG#<organ>`, `<created>#<id>`)
  lists an agency's documents newest first, so tenant isolation is the key condition itself.
  Its `timeline` attribute is the list of its transitions (the document's timeline and audit trail), oldest first.
- `DOC#<id>` / `DELIVERY#<organ_id>`: one item per recipient (status on the axis, axis DocId).

Every state change is one conditional UpdateItem of `META` that also appends its event to `timeline`
(`list_append`), so a duplicate or stale handler run fails the condition and changes nothing (at-least-once
delivery everywhere), and the event lands exactly when the change does. Until issue 11 each event was an item of
its own (`EVENT#<at>#<nonce>`) written with the change in a TransactWriteItems: a transaction bills each item
twice and every event item was one more write, four of each per document; records written then keep their
event items, which `get_full` still reads and merges. The list stays small: a document has a handful of
transitions, and what could repeat without bound (refused foreign uploads, sweep retries) is capped by its
counter in the same condition, far below DynamoDB's 400 KB item limit. Each one also counts
the record's `version` up and keeps the sparse index `by_sweep` in step with the state (chalicelib.domain.sweep_rules:
`sweep_lane` and `sweep_from` set once on entering AWAITING_UPLOAD, UPLOADED or SIGNED and removed on leaving them,
the due time `sweep_due` rewritten at each such state).

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
import time
from functools import cache
from typing import Any

from chalicelib.adapters import aws, webhook_outbox
from chalicelib.adapters.delivery_rows import DeliveryRows, doc_pk
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
from chalicelib.adapters.record_body import BODY, META, join, records_page, split
from chalicelib.core.clock import now_iso
from chalicelib.core.errors import ValidationFailed
from chalicelib.core.settings import get_settings
from chalicelib.domain import states, sweep_rules
from chalicelib.domain.leases import Lease
from chalicelib.domain.report_months import CREATED_PREFIX, DONE_PREFIX, month_of

#: The month indexes (module docstring) and the transitions the second one records.
MONTH_INDEX = "by_month"
DONE_INDEX = "by_done_month"
DONE_STATES = frozenset({states.DISPATCHED, states.REJECTED, states.FAILED})
#: What `by_done_month` projects besides its keys: what the monthly report reads of a record (chalicelib.admin.
#: reports._fact), none of which changes once the record is done but its state (REVOKED), so the index is written
#: about once per record (infra/resources.yaml spells the same list).
DONE_INDEX_ATTRIBUTES = ("document_id", "organ_id", "state", "dispatched_at", "uploaded_at", "created_at",
                         "signed_sha256", "pades_level")


def _done_fields(document_id: str, target: str, at: str) -> tuple[dict[str, str], tuple[str, ...]]:
    """What a transition to `target` writes in (or removes from) the `by_done_month` index."""
    if target in DONE_STATES:
        return {"gsi3pk": f"{DONE_PREFIX}{month_of(at)}", "gsi3sk": f"{at}#{document_id}"}, ()
    if target in (states.UPLOADED, states.SIGNED):  # a FAILED record retried: no longer the month's failure
        return {}, ("gsi3pk", "gsi3sk")
    return {}, ()


class DocumentStore(DeliveryRows):
    """Records, timelines and deliveries of documents (the delivery rows' writes: chalicelib.adapters.delivery_rows)."""

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
        due, keys, _ = sweep_rules.index_fields(record["state"], int(time.time()))
        indexed = {**due, **keys}
        hot, body = split(record)  # chalicelib.adapters.record_body: the body first, then the state item
        item = {
            "pk": doc_pk(record["document_id"]), "sk": META,
            "gsi1pk": f"ORG#{record['organ_id']}", "gsi1sk": f"{at}#{record['document_id']}",
            "gsi2pk": f"{CREATED_PREFIX}{month_of(at)}", "gsi2sk": f"{at}#{record['document_id']}",
            **hot, **indexed, sweep_rules.VERSION_FIELD: 1, TIMELINE: [_event(record["state"], at, {})],
        }
        try:
            if body:
                self._table.put_item(Item={"pk": item["pk"], "sk": BODY, **body},
                                     ConditionExpression="attribute_not_exists(pk)")
            self._table.put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")
        except self._condition_failed as exc:
            raise ConditionFailed(record["document_id"]) from exc

    def get(self, document_id: str) -> dict[str, Any] | None:
        """The record, strongly consistent (handlers decide on it): its state item and its body in one Query."""
        from boto3.dynamodb.conditions import Key  # lazy: boto3 costs ~150 ms at cold start

        resp = self._table.query(KeyConditionExpression=Key("pk").eq(doc_pk(document_id)) & Key("sk").begins_with(META),
                                 ConsistentRead=True)
        record = join([plain(i) for i in resp.get("Items", [])])
        return as_record(record) if record else None

    def get_full(self, document_id: str) -> tuple[dict[str, Any] | None, list[dict], list[dict]]:
        """Record, timeline (oldest first: the record's own `timeline`, and the event items of records written
        before it) and deliveries in one query."""
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
        record = join(items)
        events = list(record.get(TIMELINE) or []) if record else []
        legacy = [{k: v for k, v in i.items() if k not in ("pk", "sk")} for i in items if i["sk"].startswith("EVENT#")]
        if legacy:
            events = sorted(legacy + events, key=lambda e: str(e.get("at", "")))  # stable: the list's own order
        deliveries = [i for i in items if i["sk"].startswith("DELIVERY#")]
        return (as_record(record) if record else None), events, deliveries

    def list_for_organ(self, organ_id: str, *, limit: int = 50, cursor: str | None = None,
                       state: str | None = None) -> tuple[list[dict], str | None]:
        """An agency's records, newest first. The cursor is opaque; one from another agency fails the query."""
        from boto3.dynamodb.conditions import Key  # lazy: boto3 costs ~150 ms at cold start

        kwargs: dict[str, Any] = {
            "IndexName": "by_organ", "KeyConditionExpression": Key("gsi1pk").eq(f"ORG#{organ_id}"),
            "ScanIndexForward": False, "Limit": limit,
        }
        if cursor:
            start = decode_cursor(cursor)
            if start.get("gsi1pk") != f"ORG#{organ_id}":
                raise ValidationFailed("Con trỏ phân trang không hợp lệ.", code="invalid_cursor")
            kwargs["ExclusiveStartKey"] = start
        page, nxt = records_page(self._table, **kwargs)  # by_organ holds keys only (infra/resources.yaml)
        found = [as_record(i) for i in page]
        if state:  # filtered after the read, as DynamoDB's FilterExpression did: the page may come back short
            found = [r for r in found if r.get("state") == state]
        return found, encode_cursor(nxt) if nxt else None

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
        indexed, keyed, unindexed = sweep_rules.index_fields(target, int(time.time()))
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
        for i, (key, value) in enumerate(keyed.items()):  # by_sweep's keys: set once, kept while swept
            names[f"#k{i}"] = key
            values[f":k{i}"] = value
            sets.append(f"#k{i} = if_not_exists(#k{i}, :k{i})")
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
        event_detail = dict(detail or {})
        if fields and "reason" in fields:
            event_detail.setdefault("reason", fields["reason"])
        sets.append(append_event(names, values, _event(target, at, event_detail)))
        expression = "SET " + ", ".join(sets) + " ADD #version :one"
        if removed:
            expression += " REMOVE " + ", ".join(removed)
        # The webhook event before the write it announces (chalicelib.domain.webhook_events: nothing lost, and one
        # whose write loses its condition is never confirmed, so never sent; it is marked cancelled beside the
        # record, best effort, so the document's later events need not wait out the confirmation window).
        event = webhook_outbox.publish_transition(document_id, target, at)
        try:
            self._update_item(document_id, expression, condition, names, values)
        except ConditionFailed:
            if event is not None:
                webhook_outbox.mark_cancelled(self._table, document_id, event)
            raise

    def update_fields(self, document_id: str, fields: dict[str, Any], *, condition: str,
                      values: dict[str, Any]) -> None:
        """A conditional update that does not change the state (counters, markers)."""
        self._update(doc_pk(document_id), META, fields, condition=condition, values=values)

    # -- the sweep (chalicelib.outbound.sweep) and the upload binding ------------------------------------------
    def due_for_sweep(self, now: int, limit: int) -> list[str]:
        """Ids of records in flight whose `sweep_from` is at or before `now` (those that may be overdue), earliest
        first, at most `limit` (the sparse index: no scan; eventually consistent, so the sweep reads each again)."""
        from boto3.dynamodb.conditions import Key  # lazy: boto3 costs ~150 ms at cold start

        kwargs: dict[str, Any] = {
            "IndexName": sweep_rules.INDEX,
            "KeyConditionExpression": Key(sweep_rules.LANE_FIELD).eq(sweep_rules.LANE)
            & Key(sweep_rules.FROM_FIELD).lte(now),
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

    def retime_sweep(self, document_id: str, due: int) -> None:
        """A record the sweep found not yet due: its `sweep_from` moves up to `due` (never back), so the sweep
        reads it again only when it may be due. Nothing when it left the index meanwhile."""
        names = {"#lane": sweep_rules.LANE_FIELD, "#from": sweep_rules.FROM_FIELD}
        with contextlib.suppress(ConditionFailed):
            self._update_item(document_id, "SET #from = :due", "attribute_exists(#lane) AND #from < :due", names,
                              {":due": due})

    def record_sweep_retry(self, document_id: str, *, state: str, version: int, due: int, free: Lease,
                           detail: dict[str, Any]) -> None:
        """The sweep retries a stuck record: count it (`sweep_retries_<state>`), push its due time to `due`, bump
        the version and append an event, only if the record is still in `state` at `version` and nobody holds a
        lease of `free`'s kind. ConditionFailed otherwise (the pipeline or another sweep moved first)."""
        counter = sweep_rules.RETRY_FIELDS[state]
        version_cond, version_values = _version_condition(version)
        free_cond, free_values = _free_condition(free)
        at = now_iso()
        names = {"#state": "state", "#due": sweep_rules.DUE_FIELD, "#from": sweep_rules.FROM_FIELD,
                 "#counter": counter, "#version": sweep_rules.VERSION_FIELD}
        values = {":state": state, ":due": due, ":at": at, ":one": 1, **version_values, **free_values}
        event = append_event(names, values, _event(state, at, detail))
        self._update_item(document_id, f"SET #due = :due, #from = :due, updated_at = :at, {event} "
                                        "ADD #counter :one, #version :one",
                          f"#state = :state AND ({version_cond}) AND ({free_cond})", names, values)

    def record_foreign_upload(self, document_id: str, *, state: str, detail: dict[str, Any], limit: int) -> bool:
        """A refused foreign upload on the record's timeline (an event in its current `state`, which is unchanged)
        and counted (`foreign_uploads`), while fewer than `limit` were recorded: a flood of writes to one key cannot
        grow the timeline without bound. Returns False when the limit was reached (or the record is gone)."""
        names: dict[str, str] = {}
        values: dict[str, Any] = {":one": 1, ":limit": limit}
        event = append_event(names, values, _event(state, at=now_iso(), detail=detail))
        try:
            self._update_item(document_id, f"SET {event} ADD foreign_uploads :one",
                              "attribute_exists(pk) AND (attribute_not_exists(foreign_uploads)"
                              " OR foreign_uploads < :limit)", names, values)
        except ConditionFailed:
            return False
        return True

    # -- leases ------------------------------------------------------------------------------------------------
    # One primitive for every writer (chalicelib.domain.leases): the signing handler claims within a transition,
    # dispatch and the amendments' sending claim here; all finish through `transition` / `finish`.
    def claim(self, document_id: str, lease: Lease, *, in_state: str | None = None, item: str = META,
              condition: str = "", values: dict[str, Any] | None = None, fields: dict[str, Any] | None = None,
              names: dict[str, str] | None = None, keep: dict[str, Any] | None = None,
              add: dict[str, Any] | None = None, remove: tuple[str, ...] = (), absent: tuple[str, ...] = ()
              ) -> Lease:
        """Take `lease` on the item (the record, or `item` = another sort key of the document) if nobody holds one of
        its kind, the record is `in_state` (when given), has none of the fields `absent` and `condition` holds,
        writing `fields` with it (`keep`: written only where absent; `add`: counters added to; `remove`: fields
        dropped). Raises ConditionFailed otherwise."""
        if absent:
            names = {**(names or {}), **{f"#absent{i}": name for i, name in enumerate(absent)}}
            unset = " AND ".join(f"attribute_not_exists(#absent{i})" for i in range(len(absent)))
            condition = f"({condition}) AND {unset}" if condition else unset
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

    # -- internals -------------------------------------------------------------------------------------------
    def _update_item(self, document_id: str, expression: str, condition: str, names: dict[str, str],
                     values: dict[str, Any]) -> None:
        """One conditional UpdateItem of the record; a lost condition is ConditionFailed."""
        request: dict[str, Any] = {"Key": {"pk": doc_pk(document_id), "sk": META}, "UpdateExpression": expression,
                                   "ConditionExpression": condition, "ExpressionAttributeValues": values}
        if names:
            request["ExpressionAttributeNames"] = names
        try:
            self._table.update_item(**request)
        except self._condition_failed as exc:
            raise ConditionFailed(document_id) from exc

    def _transact(self, operations: list[dict[str, Any]]) -> None:
        transact(self._client, self.table_name, operations)


#: The record's attribute that holds its timeline (module docstring).
TIMELINE = "timeline"


def _event(state: str, at: str, detail: dict[str, Any]) -> dict[str, Any]:
    """One entry of a record's timeline."""
    return {"state": state, "at": at, **({"detail": detail} if detail else {})}


def append_event(names: dict[str, str], values: dict[str, Any], event: dict[str, Any]) -> str:
    """The SET clause that appends `event` to the record's timeline, its names and values added to the request's."""
    names["#timeline"] = TIMELINE
    values[":no_events"] = []
    values[":event"] = [event]
    return "#timeline = list_append(if_not_exists(#timeline, :no_events), :event)"


def as_record(item: dict[str, Any]) -> dict[str, Any]:
    """The record without its timeline (`get_full` returns that apart; the handlers decide on the rest)."""
    item.pop(TIMELINE, None)
    return item


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


__all__ = ["DONE_INDEX", "DONE_INDEX_ATTRIBUTES", "DONE_STATES", "META", "MONTH_INDEX", "ConditionFailed",
           "DocumentStore", "append_event", "as_record", "decode_cursor", "doc_pk", "encode_cursor",
           "get_document_store", "now_iso", "use_document_store"]
