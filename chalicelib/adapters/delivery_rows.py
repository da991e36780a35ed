"""The delivery rows of a document (`DOC#<id>` / `DELIVERY#<organ_id>`, one per recipient: its status on the
axis, the axis DocId, the hashes of every package that may have reached it), written by dispatch
(chalicelib.outbound.dispatch) before and after each send.

Apart from chalicelib.adapters.document_store (whose `DocumentStore` carries these methods) to keep each module
small; the rows live in the same table and partition as the record. Every write is conditional on the row's
status, so a redelivered dispatch finds a SENT row and changes nothing (at-least-once delivery).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from chalicelib.adapters.dynamo import ConditionFailed, plain
from chalicelib.core.clock import now_iso

__all__ = ["DeliveryRows", "doc_pk"]


def doc_pk(document_id: str) -> str:
    return f"DOC#{document_id}"


class DeliveryRows:
    """The delivery-row writes of `DocumentStore` (its table and its client's ConditionalCheckFailed class)."""

    _table: Any
    _condition_failed: type[Exception]
    #: DocumentStore.get_full (record, timeline, deliveries), which `forget_unconfirmed_sends` reads the rows with.
    get_full: Callable[[str], tuple[dict[str, Any] | None, list[dict], list[dict]]]

    # -- deliveries ------------------------------------------------------------------------------------------
    def put_delivery_intent(self, document_id: str, organ_id: str) -> dict[str, Any]:
        """Record the intent to send to `organ_id` before sending (so a crash after the send is visible).

        Returns the existing delivery when there is one (a retry), else the new `PENDING` one.
        """
        return self.open_delivery(document_id, organ_id)[0]

    def open_delivery(self, document_id: str, organ_id: str, package_sha256: str | None = None,
                      earlier: frozenset[str] = frozenset(), earlier_at: str = "") -> tuple[dict[str, Any], bool]:
        """`(row, created)`: the new `PENDING` row, or the existing one (a retry) with `created` False. With
        `package_sha256` a new row also records the first send attempt as `note_send_attempt` would: one PutItem, not
        a PutItem and an UpdateItem (issue 11); `earlier`: hashes an earlier attempt may have sent without a row (the
        first attempt's intents, kept on the record, made at `earlier_at`: the row's `first_attempt_at`, from which
        the axis's list of sends is read), for the caller to reconcile like any other. An existing row
        comes back with the lost condition itself (`ReturnValuesOnConditionCheckFailure`), not from a second read;
        its hashes are for the caller to reconcile."""
        at = now_iso()
        item: dict[str, Any] = {"pk": doc_pk(document_id), "sk": f"DELIVERY#{organ_id}", "organ_id": organ_id,
                                "status": "PENDING", "updated_at": at, "attempts": 1}
        hashes = set(earlier) | ({package_sha256} if package_sha256 else set())
        if hashes:
            item.update(package_hashes=hashes, first_attempt_at=(earlier_at if earlier else "") or at,
                        last_attempt_at=at)
        if package_sha256:
            item["send_attempts"] = 1
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

    def put_delivery_sent(self, document_id: str, organ_id: str, axis_doc_id: str, *, paper: bool,
                          package_sha256: str) -> None:
        """The row of a recipient served by a dispatch's first attempt, written once, `SENT` (issue 11: one write,
        not an intent and then SENT): that attempt's claim recorded the package's hash on the record before the
        send (`send_intents`), which is what a crash after the send is reconciled from. ConditionFailed when a row
        is there already."""
        at = now_iso()
        item = {"pk": doc_pk(document_id), "sk": f"DELIVERY#{organ_id}", "organ_id": organ_id, "status": "SENT",
                "updated_at": at, "attempts": 1, "package_hashes": {package_sha256}, "send_attempts": 1,
                "first_attempt_at": at, "last_attempt_at": at, "axis_doc_id": axis_doc_id, "sent_at": at,
                "paper": paper, "package_sha256": package_sha256, "reconciled": False,
                "history": [{"status": "SENT", "at": at}]}
        try:
            self._table.put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")
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
