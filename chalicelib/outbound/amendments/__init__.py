"""Revocation (thu hồi), update of the recipients (cập nhật nơi nhận) and replacement (thay thế) of a document this
gateway already sent: the sender's side (edXML `BussinessDocType` 1, 2 and 3; docs/edxml.md#business-types).

- `POST /v1/documents/{id}/revoke` {"reason"}: the record goes `DISPATCHED → REVOKED` at once (the sender's decision
  is final, NĐ 30/2020: the recipients must destroy a revoked document and tell the sender), and a revocation package
  (type 1, `ResponseFor` and `Bussiness/DocumentId` naming the document, the reason in `BussinessDocReason`) goes to
  every agency that was sent the document. Each recipient's 15 (agrees) or 16 (refuses) lands on its delivery row,
  field `revocation` (REQUESTED → AGREED/REFUSED; `axis_statuses.amendment_answer`, applied by poll_axis).
- `POST /v1/documents/{id}/update` {"recipients_added"?, "recipients_removed"?, "reason"}: the record keeps
  `DISPATCHED`, its `metadata.recipients` becomes the new list, the earlier recipients get an update package (type 2,
  `BussinessDocumentInfo` with DocumentInfo=0, DocumentReceiver=1 and the ReceiverList), their delivery rows track
  the answer in field `update` (removed ones are marked `removed`), and new recipients get the document itself
  with the new list of recipients, tracked like any delivery.
- `POST /v1/documents` with `"replaces": "<document_id>"` (an own, DISPATCHED document): the new document's packages
  carry `BussinessDocType` 3 with `ReplacementInfoList` naming the old edXML DocumentId and its recipients
  (`new_document_business`, called by dispatch); the old record notes `replaced_by` when the replacement is
  registered, so a document is replaced once (a claim by a replacement that never got sent, EXPIRED or REJECTED,
  may be taken over).

Where the sending runs, and why: the API records the intent (an amendment item, `DOC#<id>`/`AMENDMENT#<aid>`, in the
same transaction as the record's change) and queues `{"type": "amendment", "document_id", "amendment_id"}` on the
dispatch queue, whose handler hands such messages here. So amendments get dispatch's at-least-once machinery as it
is: retries with backoff, partial batch failures, the DLQ and admin redrive. Exactly one package per recipient:
each send has its own PENDING → SENT row (partition `DOC#<id>#AMENDMENT#<aid>`, the shape of a delivery row) and
goes through `dispatch.deliver` (intent, package hash, reconcile with the axis before any resend). A message lost
between the API's write and the queue is requeued by poll_axis (`requeue_stale`, amendments still PENDING after
STALE_SECONDS are listed in the GSI partition `AMENDMENT_OPEN`). Packages are rebuilt byte for byte on retry: their
trace time is the amendment's `created_at` and the lists they carry are the amendment's own.

Where each part lives: the pure rules in chalicelib.domain.amendment_rules (ReceiverList codes, plans, items), the
packages in chalicelib.outbound.packages, the storage in chalicelib.adapters.amendment_store; here the API's
requests (`requests`), the replacement claim (`replacement`) and the sending (`worker`, reached through
chalicelib.outbound.dispatch_queue). This package re-exports the public surface the API and poll_axis use.

Logs carry ids and codes only, never reasons or document contents.
"""

from __future__ import annotations

from chalicelib.adapters.amendment_store import AmendmentStore
from chalicelib.domain.amendment_rules import (
    DELIVERY_FIELD,
    DOC_TYPES,
    FAILED,
    LEASE_SECONDS,
    MAX_CHANGES,
    MAX_REASON_CHARS,
    MESSAGE_TYPE,
    OPEN_KEY,
    PENDING,
    RECEIVER_ADDED,
    RECEIVER_KEPT,
    RECEIVER_REMOVED,
    REVOKE,
    SENT,
    STALE_SECONDS,
    UPDATE,
    UpdatePlan,
    amendment_item,
    delivery_request,
    is_amendment_message,
    message_body,
    plan_update,
    replacement_claim_stale,
    revocation_id,
    sends_partition,
    update_receivers,
    validate_reason,
)
from chalicelib.outbound.amendments.replacement import prepare_replacement
from chalicelib.outbound.amendments.requests import list_for_document, requeue_stale, revoke, update_recipients
from chalicelib.outbound.packages import amendment_trace_time, new_document_business, write_amendment_package
from chalicelib.outbound.presenters import present_amendment

__all__ = [
    "DELIVERY_FIELD", "DOC_TYPES", "FAILED", "LEASE_SECONDS", "MAX_CHANGES", "MAX_REASON_CHARS", "MESSAGE_TYPE",
    "OPEN_KEY", "PENDING", "RECEIVER_ADDED", "RECEIVER_KEPT", "RECEIVER_REMOVED", "REVOKE", "SENT", "STALE_SECONDS",
    "UPDATE", "AmendmentStore", "UpdatePlan", "amendment_item", "amendment_trace_time", "delivery_request",
    "is_amendment_message",
    "list_for_document", "message_body", "new_document_business", "plan_update", "prepare_replacement",
    "present_amendment", "replacement_claim_stale", "requeue_stale", "revocation_id", "revoke", "sends_partition",
    "update_receivers", "update_recipients", "validate_reason", "write_amendment_package",
]
