"""DynamoDB storage of the amendments of sent documents (chalicelib.outbound.amendments): the amendment items
(`DOC#<id>` / `AMENDMENT#<aid>`), the record changes that create them, and the delivery-row fields they set.

Every write is conditional, as everywhere in the documents table; a sending run's lease is the documents table's one
lease primitive (`DocumentStore.claim` / `release` / `finish`, chalicelib.domain.leases.AMENDMENT).
"""

from __future__ import annotations

import contextlib
from functools import cache
from typing import Any

from chalicelib.adapters.document_store import DocumentStore, append_event
from chalicelib.adapters.dynamo import ConditionFailed, index_page, plain
from chalicelib.adapters.record_body import BODY, META
from chalicelib.core.clock import now_iso
from chalicelib.core.settings import get_settings
from chalicelib.domain import states
from chalicelib.domain.amendment_rules import FAILURE_FIELDS, LEASE_SECONDS, OPEN_KEY, PENDING, SENT, sends_partition
from chalicelib.domain.leases import AMENDMENT, Lease

__all__ = ["AmendmentStore", "get_amendment_store"]


def _sk(amendment_id: str) -> str:
    return f"AMENDMENT#{amendment_id}"


class AmendmentStore(DocumentStore):
    """Amendment items (`DOC#<id>` / `AMENDMENT#<aid>`), the record changes that create them, and the delivery-row
    fields they set. Every write is conditional, as everywhere in the documents table."""

    @staticmethod
    def _key(document_id: str, amendment_id: str) -> dict[str, str]:
        return {"pk": f"DOC#{document_id}", "sk": _sk(amendment_id)}

    def create_revocation(self, item: dict[str, Any]) -> None:
        """DISPATCHED → REVOKED, its timeline event and the amendment, all or nothing."""
        document_id, at = item["document_id"], item["created_at"]
        allowed = sorted(states.sources(states.REVOKED))
        values: dict[str, Any] = {":revoked": states.REVOKED, ":at": at, ":reason": item["reason"],
                                  ":by": item["created_by"], ":aid": item["amendment_id"], ":one": 1,
                                  ":admin": bool(item.get("by_admin")),
                                  **{f":s{i}": s for i, s in enumerate(allowed)}}
        names = {"#state": "state"}
        event = append_event(names, values, {"state": states.REVOKED, "at": at, "detail": {
            "revocation_reason": item["reason"], "by": item["created_by"],
            "amendment_id": item["amendment_id"], **({"by_admin": True} if item.get("by_admin") else {})}})
        self._transact([
            {"Update": {"Key": {"pk": f"DOC#{document_id}", "sk": META},
                        "UpdateExpression": "SET #state = :revoked, updated_at = :at, revoked_at = :at, "
                                            "revocation_reason = :reason, revoked_by = :by, "
                                            f"revocation_amendment_id = :aid, revoked_by_admin = :admin, {event} "
                                            "ADD amendments_count :one",
                        "ConditionExpression": f"#state IN ({', '.join(f':s{i}' for i in range(len(allowed)))})",
                        "ExpressionAttributeNames": names, "ExpressionAttributeValues": values}},
            {"Put": {"Item": item, "ConditionExpression": "attribute_not_exists(pk)"}},
        ])

    def create_update(self, record: dict[str, Any], item: dict[str, Any]) -> None:
        """The new recipient list on the record (if it is still DISPATCHED and unchanged since read) and the
        amendment, all or nothing."""
        pk = f"DOC#{record['document_id']}"
        self._transact([
            {"Update": {"Key": {"pk": pk, "sk": META},
                        "UpdateExpression": "SET updated_at = :at ADD amendments_count :one",
                        "ConditionExpression": "#state = :dispatched AND updated_at = :read",
                        "ExpressionAttributeNames": {"#state": "state"},
                        "ExpressionAttributeValues": {":at": item["created_at"], ":one": 1,
                                                      ":dispatched": states.DISPATCHED,
                                                      ":read": record["updated_at"]}}},
            # the metadata lives in the record's body (chalicelib.adapters.record_body)
            {"Update": {"Key": {"pk": pk, "sk": BODY}, "UpdateExpression": "SET #md.#r = :new",
                        "ConditionExpression": "attribute_exists(#md)",
                        "ExpressionAttributeNames": {"#md": "metadata", "#r": "recipients"},
                        "ExpressionAttributeValues": {":new": item["recipients"]}}},
            {"Put": {"Item": item, "ConditionExpression": "attribute_not_exists(pk)"}},
        ])

    def claim_replacement(self, old_id: str, organ_id: str, new_id: str, stale: str | None) -> None:
        condition = "#state = :dispatched AND organ_id = :organ AND attribute_not_exists(replaced_by)"
        values: dict[str, Any] = {":new": new_id, ":at": now_iso(), ":dispatched": states.DISPATCHED,
                                  ":organ": organ_id}
        if stale:
            condition = ("#state = :dispatched AND organ_id = :organ AND "
                         "(attribute_not_exists(replaced_by) OR replaced_by = :stale)")
            values[":stale"] = stale
        try:
            self._table.update_item(Key={"pk": f"DOC#{old_id}", "sk": META},
                                    UpdateExpression="SET replaced_by = :new, replaced_at = :at",
                                    ConditionExpression=condition, ExpressionAttributeNames={"#state": "state"},
                                    ExpressionAttributeValues=values)
        except self._condition_failed as exc:
            raise ConditionFailed(old_id) from exc

    def get_amendment(self, document_id: str, amendment_id: str) -> dict[str, Any] | None:
        item = self._table.get_item(Key=self._key(document_id, amendment_id), ConsistentRead=True).get("Item")
        return plain(item) if item else None

    def list_amendments(self, document_id: str) -> list[dict[str, Any]]:
        from boto3.dynamodb.conditions import Key  # lazy: boto3 costs ~150 ms at cold start

        resp = self._table.query(KeyConditionExpression=Key("pk").eq(f"DOC#{document_id}")
                                 & Key("sk").begins_with("AMENDMENT#"), ConsistentRead=True)
        return sorted((plain(i) for i in resp.get("Items", [])), key=lambda i: i.get("created_at", ""))

    def claim_amendment(self, amendment: dict[str, Any]) -> Lease | None:
        """Take the amendment for one sending run (a lease), back to PENDING if an earlier run failed it (a
        redriven message). None when it is SENT or another run holds it."""
        document_id, amendment_id = amendment["document_id"], amendment["amendment_id"]
        lease = Lease.new(AMENDMENT, LEASE_SECONDS)
        try:
            self.claim(document_id, lease, item=_sk(amendment_id),
                       condition="attribute_exists(pk) AND #s <> :sent", names={"#s": "status"},
                       values={":sent": SENT}, fields={"status": PENDING, "gsi1pk": OPEN_KEY},
                       keep={"gsi1sk": f"{now_iso()}#{document_id}#{amendment_id}"}, add={"attempts": 1},
                       remove=FAILURE_FIELDS)
        except ConditionFailed:
            return None
        return lease

    def release_amendment(self, amendment: dict[str, Any], lease: Lease) -> None:
        """A transient failure: let the redelivered message take it at once."""
        self.release(amendment["document_id"], lease, item=_sk(amendment["amendment_id"]))

    def finish_amendment(self, amendment: dict[str, Any], lease: Lease, status: str, fields: dict[str, Any]) -> None:
        """SENT or FAILED: the lease and the open-list entry go (a FAILED one is redriven from the DLQ)."""
        self.finish(amendment["document_id"], lease, item=_sk(amendment["amendment_id"]),
                    fields={"status": status, **fields}, remove=("gsi1pk", "gsi1sk"))

    def mark_asked(self, document_id: str, organ_id: str, field: str, request: dict[str, Any], *,
                   removed: bool | None = None) -> None:
        """Before sending a recipient the amendment: its delivery row shows the request (once per amendment; a
        retry leaves an answer already recorded alone). `status_version` moves, so a status being applied from a
        row read before this write is re-read (chalicelib.inbound.poll._apply)."""
        sets = ["#f = :v", "updated_at = :at"]
        values: dict[str, Any] = {":v": request, ":at": now_iso(), ":aid": request["amendment_id"], ":one": 1}
        if removed is not None:
            sets.append("removed = :removed")
            values[":removed"] = removed
        # A retried run finds the request there (an answer may already be on it) and leaves it; a recipient with
        # no delivery row was never sent the document: nothing to track.
        with contextlib.suppress(self._condition_failed):
            self._table.update_item(
                Key={"pk": f"DOC#{document_id}", "sk": f"DELIVERY#{organ_id}"},
                UpdateExpression="SET " + ", ".join(sets) + " ADD status_version :one",
                ConditionExpression="attribute_exists(pk) AND (attribute_not_exists(#f) OR #f.amendment_id <> :aid)",
                ExpressionAttributeNames={"#f": field}, ExpressionAttributeValues=values)

    def note_added(self, document_id: str, organ_id: str, amendment_id: str) -> None:
        self._table.update_item(Key={"pk": f"DOC#{document_id}", "sk": f"DELIVERY#{organ_id}"},
                                UpdateExpression="SET added_by_amendment = :aid",
                                ExpressionAttributeValues={":aid": amendment_id})

    def sent_summary(self, amendment: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """Recipient → {"axis_doc_id", "package"} of every package the amendment sent."""
        document_id = amendment["document_id"]
        _, _, rows = self.get_full(sends_partition(document_id, amendment["amendment_id"]))
        out = {r["organ_id"]: {"axis_doc_id": r.get("axis_doc_id"), "package": amendment["kind"]}
               for r in rows if r.get("status") == "SENT"}
        if amendment.get("document_to"):
            _, _, deliveries = self.get_full(document_id)
            for d in deliveries:
                if d["organ_id"] in amendment["document_to"] and d.get("status") != "PENDING":
                    out[d["organ_id"]] = {"axis_doc_id": d.get("axis_doc_id"), "package": "document"}
        return out

    def open_amendments(self, before: str) -> list[dict[str, Any]]:
        from boto3.dynamodb.conditions import Key  # lazy: boto3 costs ~150 ms at cold start

        items, _ = index_page(self._table, IndexName="by_organ", Limit=100,  # keys only: read by key
                              KeyConditionExpression=Key("gsi1pk").eq(OPEN_KEY) & Key("gsi1sk").lt(before))
        return items

    def touch_enqueued(self, item: dict[str, Any], at: str) -> bool:
        """Move a stale open amendment to the end of the open list; False when another poll did it first."""
        try:
            self._table.update_item(
                Key=self._key(item["document_id"], item["amendment_id"]),
                UpdateExpression="SET gsi1sk = :new, enqueued_at = :at",
                ConditionExpression="gsi1sk = :old AND #s = :pending", ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":new": f"{at}#{item['document_id']}#{item['amendment_id']}",
                                           ":at": at, ":old": item["gsi1sk"], ":pending": PENDING})
            return True
        except self._condition_failed:
            return False


@cache
def _for_table(table_name: str) -> AmendmentStore:
    return AmendmentStore(table_name)


def get_amendment_store() -> AmendmentStore:
    """The amendments' repository (the documents table), built once per container per table."""
    return _for_table(get_settings().documents_table)
