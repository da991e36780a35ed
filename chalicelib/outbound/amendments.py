"""Revocation (thu hồi), update of the recipients (cập nhật nơi nhận) and replacement (thay thế) of a document this
gateway already sent: the sender's side (edXML `BussinessDocType` 1, 2 and 3; domain/edxml.md).

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

ReceiverList's `ReceiverType` code table is not public (like DocumentType's): this gateway writes every recipient
concerned, 0 kept, 1 added, 2 removed, so a reader can rebuild both the change and the new list; kept in one place
(`RECEIVER_*`) so it can follow the real table when one is published.

Where the sending runs, and why: the API records the intent (an amendment item, `DOC#<id>`/`AMENDMENT#<aid>`, in the
same transaction as the record's change) and queues `{"type": "amendment", "document_id", "amendment_id"}` on the
dispatch queue, whose handler hands such messages here. So amendments get dispatch's at-least-once machinery as it
is: retries with backoff, partial batch failures, the DLQ and admin redrive. Exactly one package per recipient:
each send has its own PENDING → SENT row (partition `DOC#<id>#AMENDMENT#<aid>`, the shape of a delivery row) and
goes through `dispatch._deliver` (intent, package hash, reconcile with the axis before any resend). A message lost
between the API's write and the queue is requeued by poll_axis (`requeue_stale`, amendments still PENDING after
STALE_SECONDS are listed in the GSI partition `AMENDMENT_OPEN`). Packages are rebuilt byte for byte on retry: their
trace time is the amendment's `created_at` and the lists they carry are the amendment's own.

Logs carry ids and codes only, never reasons or document contents.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chalicelib.adapters import aws
from chalicelib.adapters.axis.credentials import axis_client_for
from chalicelib.adapters.document_store import META, DocumentStore
from chalicelib.adapters.dynamo import ConditionFailed, plain
from chalicelib.core.clock import now_iso
from chalicelib.core.errors import Conflict, NotFound, UnknownRecipient, ValidationFailed
from chalicelib.core.log import logger
from chalicelib.core.settings import get_settings
from chalicelib.domain import states
from chalicelib.standards.identifiers import is_strict

REVOKE, UPDATE = "revoke", "update"
#: `BussinessDocType` of each kind of amendment package.
DOC_TYPES = {REVOKE: 1, UPDATE: 2}
#: The delivery-row field in which a recipient's answer (15/16) to each kind is tracked.
DELIVERY_FIELD = {REVOKE: "revocation", UPDATE: "update"}
#: `ReceiverType` in an update's ReceiverList (see the module docstring: the real code table is not public).
RECEIVER_KEPT, RECEIVER_ADDED, RECEIVER_REMOVED = 0, 1, 2
#: Value of `type` in a dispatch-queue message that this module handles.
MESSAGE_TYPE = "amendment"
PENDING, SENT, FAILED = "PENDING", "SENT", "FAILED"
#: GSI partition listing amendments whose packages are not all sent (see `requeue_stale`).
OPEN_KEY = "AMENDMENT_OPEN"
#: An amendment still PENDING this long after it was queued is queued again by poll_axis.
STALE_SECONDS = 300
LEASE_SECONDS = 90
MAX_REASON_CHARS = 1000
#: Recipients one update may add or remove (each costs one axis call).
MAX_CHANGES = 100
_REVOCATION_NAMESPACE = uuid.UUID("0b6f8a52-7d0e-5c1b-8f57-3a9d4e2c6b18")
#: Fields describing a failed sending run, removed when a redriven message takes the amendment up again (its
#: `reason` is the sender's own, kept).
_FAILURE_FIELDS = ("reason_code", "reason_message", "axis_error_code", "axis_error", "failed_at", "last_error",
                   "attempts_failed")


# -- pure logic ---------------------------------------------------------------------------------------------------


def validate_reason(body: Any) -> str:
    """The request's `reason` (required: the recipients' clerks read it), trimmed and cut to MAX_REASON_CHARS."""
    if not isinstance(body, dict):
        raise ValidationFailed("Nội dung yêu cầu phải là một đối tượng JSON.")
    reason = body.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationFailed("Phải nêu lý do.", code="reason_required")
    return reason.strip()[:MAX_REASON_CHARS]


def _codes(body: dict[str, Any], name: str) -> list[str]:
    value = body.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value) or len(value) > MAX_CHANGES:
        raise ValidationFailed(f"{name} phải là danh sách mã định danh (tối đa {MAX_CHANGES}).",
                               code="invalid_recipients", details={"field": name})
    codes = [v.strip() for v in value]
    bad = [c for c in codes if not is_strict(c)]
    if bad:
        raise ValidationFailed("Mã định danh không hợp lệ.", code="invalid_recipients",
                               details={"field": name, "recipients": bad[:10]})
    if len(set(codes)) != len(codes):
        raise ValidationFailed("Mã định danh bị trùng.", code="invalid_recipients", details={"field": name})
    return codes


@dataclass(frozen=True)
class UpdatePlan:
    """What an update of recipients changes. `targets` get the update package (every earlier recipient, and an
    added one that already holds the document because an earlier update removed it); `document_to` get the document
    itself; `recipients` is the new list, earlier order kept, additions last."""

    kept: list[str]
    added: list[str]
    removed: list[str]
    reason: str
    document_to: list[str]

    @property
    def recipients(self) -> list[str]:
        return [*self.kept, *self.added]

    @property
    def targets(self) -> list[str]:
        current = [*self.kept, *self.removed]
        return [*current, *(c for c in self.added if c not in self.document_to)]


def plan_update(current: list[str], body: Any, *, sender: str, delivered: set[str] | frozenset[str] = frozenset()
                ) -> UpdatePlan:
    """Validate `{"recipients_added"?, "recipients_removed"?, "reason"}` against the current recipients (pure).

    `delivered`: agencies that already hold the document (a delivery row exists), so re-adding one sends it the
    update, not a second copy of the document."""
    reason = validate_reason(body)
    added = _codes(body, "recipients_added")
    removed = _codes(body, "recipients_removed")
    if not added and not removed:
        raise ValidationFailed("Phải thêm hoặc bớt ít nhất một nơi nhận.", code="no_recipient_change")
    problems: dict[str, list[str]] = {}
    if already := [c for c in added if c in current]:
        problems["already_recipients"] = already
    if missing := [c for c in removed if c not in current]:
        problems["not_recipients"] = missing
    if sender in added:
        problems["sender"] = [sender]
    if problems:
        raise ValidationFailed("Danh sách nơi nhận thay đổi không hợp lệ.", code="invalid_recipient_change",
                               details=problems)
    kept = [c for c in current if c not in removed]
    if not kept and not added:
        raise ValidationFailed("Văn bản phải còn ít nhất một nơi nhận.", code="no_recipient_left")
    return UpdatePlan(kept=kept, added=added, removed=removed, reason=reason,
                      document_to=[c for c in added if c not in delivered])


def update_receivers(amendment: dict[str, Any]) -> list[tuple[str, int]]:
    """An update's ReceiverList as (OrganId, ReceiverType): the new recipients (kept 0, added 1), then the removed
    ones (2), so a reader sees both the change and the new list (pure)."""
    removed, added = list(amendment.get("removed") or []), set(amendment.get("added") or [])
    out = [(c, RECEIVER_ADDED if c in added else RECEIVER_KEPT) for c in amendment.get("recipients") or []
           if c not in removed]
    return out + [(c, RECEIVER_REMOVED) for c in removed]


def revocation_id(document_id: str) -> str:
    """A document is revoked once (REVOKED is final): its revocation's id is derived, so a retried request finds it."""
    return str(uuid.uuid5(_REVOCATION_NAMESPACE, f"revoke|{document_id}"))


def message_body(document_id: str, amendment_id: str) -> str:
    """The dispatch-queue message that makes the dispatch handler send an amendment's packages."""
    return json.dumps({"type": MESSAGE_TYPE, "document_id": document_id, "amendment_id": amendment_id})


def is_amendment_message(data: Any) -> bool:
    return isinstance(data, dict) and data.get("type") == MESSAGE_TYPE and isinstance(data.get("amendment_id"), str)


def new_document_business(record: dict[str, Any], paper: bool) -> Any:
    """The `Bussiness` block of a document package: type 0, or type 3 with its `ReplacementInfoList` when the record
    replaces an earlier document (set by `prepare_replacement`)."""
    from chalicelib.standards.edxml import DOC_TYPE_NEW, DOC_TYPE_REPLACE, Business, ReplacementInfo

    replaces = record.get("replaces")
    if not replaces:
        return Business(doc_type=DOC_TYPE_NEW, paper=int(paper))
    return Business(doc_type=DOC_TYPE_REPLACE, paper=int(paper), replacements=[
        ReplacementInfo(replaces["edxml_document_id"], list(replaces.get("recipients") or []))])


def replacement_claim_stale(claimant: dict[str, Any] | None) -> bool:
    """Whether an earlier `replaced_by` claim may be taken over: its document never came to be, or ended before
    anything was sent (EXPIRED, REJECTED). A FAILED one is retryable, so it keeps its claim."""
    return claimant is None or claimant.get("state") in (states.EXPIRED, states.REJECTED)


def amendment_item(document_id: str, amendment_id: str, kind: str, *, reason: str, by: str, at: str,
                   targets: Sequence[str], added: Sequence[str] = (), removed: Sequence[str] = (),
                   document_to: Sequence[str] = (), recipients: Sequence[str] = ()) -> dict[str, Any]:
    """The amendment item as written with the record's change (pure)."""
    return {"pk": f"DOC#{document_id}", "sk": f"AMENDMENT#{amendment_id}", "document_id": document_id,
            "amendment_id": amendment_id, "kind": kind, "reason": reason, "status": PENDING, "created_at": at,
            "created_by": by, "targets": list(targets), "added": list(added), "removed": list(removed),
            "document_to": list(document_to), "recipients": list(recipients), "attempts": 0,
            "gsi1pk": OPEN_KEY, "gsi1sk": f"{at}#{document_id}#{amendment_id}", "enqueued_at": at}


def present_amendment(item: dict[str, Any]) -> dict[str, Any]:
    """The wire shape of an amendment (in `GET /v1/documents/{id}` and the revoke/update answers)."""
    out = {k: item.get(k) for k in ("amendment_id", "kind", "reason", "status", "created_at", "created_by",
                                    "targets")}
    if item.get("kind") == UPDATE:
        out.update({k: item.get(k, []) for k in ("added", "removed", "recipients", "document_to")})
    for name in ("sent_at", "sent", "failed_at", "reason_code", "reason_message", "axis_error_code"):
        if item.get(name):
            out[name] = item[name]
    return out


def delivery_request(amendment: dict[str, Any], organ_id: str) -> dict[str, Any]:
    """What a delivery row shows about an amendment asked of its recipient until the recipient answers (pure);
    for an update, also how it changed this recipient (`kept`, `removed`, `added`)."""
    out = {"amendment_id": amendment["amendment_id"], "status": "REQUESTED",
           "requested_at": amendment["created_at"], "reason": amendment["reason"]}
    if amendment["kind"] == UPDATE:
        out["change"] = ("removed" if organ_id in amendment.get("removed", [])
                         else "added" if organ_id in amendment.get("added", []) else "kept")
    return out


# -- use cases (API) -----------------------------------------------------------------------------------------------


def _own(caller: Any, document_id: str, store: DocumentStore, *, code: str = "document_not_found") -> dict[str, Any]:
    """The caller's agency's record (another agency's answers 404, never 403: ids cannot be probed). Admins read
    any record but never act for an agency, so they get 404 here too unless it is their agency's."""
    try:
        uuid.UUID(str(document_id))
    except ValueError as exc:
        raise NotFound("Không tìm thấy văn bản.", code=code) from exc
    record = store.get(document_id)
    if record is None or record["organ_id"] != caller.organ_id:
        raise NotFound("Không tìm thấy văn bản.", code=code)
    return record


def _ordered_targets(record: dict[str, Any], deliveries: list[dict[str, Any]]) -> list[str]:
    """Every agency that was sent the document: the recipients' order first, then those an update removed."""
    have = {d["organ_id"] for d in deliveries}
    first = [c for c in record["metadata"]["recipients"] if c in have]
    return first + sorted(have - set(first))


def revoke(caller: Any, document_id: str, body: Any) -> dict[str, Any]:
    """`POST /v1/documents/{id}/revoke` {"reason"}: REVOKED now, revocation packages queued (202).

    A repeated request on a document already revoked answers the same revocation (and queues it again while its
    packages are not all sent), so a client that lost the answer can simply retry."""
    reason = validate_reason(body)
    store = AmendmentStore()
    record = _own(caller, document_id, store)
    amendment_id = revocation_id(document_id)
    if record["state"] == states.REVOKED:
        existing = store.get_amendment(document_id, amendment_id)
        if existing is None:  # revoked before amendments existed, or by another path: nothing to send
            raise Conflict("Văn bản đã bị thu hồi.", code="already_revoked")
        if existing["status"] == PENDING:
            _enqueue(existing)
        return _answer(store, document_id, existing)
    if record["state"] != states.DISPATCHED:
        raise Conflict("Chỉ thu hồi được văn bản đã gửi đi.", code="not_dispatched",
                       details={"state": record["state"]})
    _, _, deliveries = store.get_full(document_id)
    item = amendment_item(document_id, amendment_id, REVOKE, reason=reason, by=caller.username, at=now_iso(),
                          targets=_ordered_targets(record, deliveries))
    try:
        store.create_revocation(item)
    except ConditionFailed:
        current = store.get(document_id) or {}
        if current.get("state") == states.REVOKED:  # a concurrent request revoked it first
            return revoke(caller, document_id, body)
        raise Conflict("Trạng thái văn bản vừa thay đổi, vui lòng tải lại.", code="state_changed",
                       details={"state": current.get("state")}) from None
    logger.info("document revoked", extra={"document_id": document_id, "amendment_id": amendment_id,
                                           "recipients": len(item["targets"])})
    _enqueue(item)
    return _answer(store, document_id, item)


def update_recipients(caller: Any, document_id: str, body: Any) -> dict[str, Any]:
    """`POST /v1/documents/{id}/update` {"recipients_added"?, "recipients_removed"?, "reason"} (202)."""
    from chalicelib.adapters.agency_registry import AgencyRegistry

    store = AmendmentStore()
    record = _own(caller, document_id, store)
    if record["state"] != states.DISPATCHED:
        raise Conflict("Chỉ cập nhật được văn bản đã gửi đi và chưa bị thu hồi.", code="not_dispatched",
                       details={"state": record["state"]})
    _, _, deliveries = store.get_full(document_id)
    plan = plan_update(list(record["metadata"]["recipients"]), body, sender=record["organ_id"],
                       delivered={d["organ_id"] for d in deliveries})
    if plan.added:
        agencies = AgencyRegistry().get_many(plan.added)
        bad = [c for c in plan.added if c not in agencies or not agencies[c].active]
        if bad:
            raise UnknownRecipient(details={"recipients": bad})
    amendment_id = str(uuid.uuid4())
    item = amendment_item(document_id, amendment_id, UPDATE, reason=plan.reason, by=caller.username, at=now_iso(),
                          targets=plan.targets, added=plan.added, removed=plan.removed, document_to=plan.document_to,
                          recipients=plan.recipients)
    try:
        store.create_update(record, item)
    except ConditionFailed:
        raise Conflict("Văn bản vừa thay đổi, vui lòng tải lại rồi thử lại.", code="state_changed") from None
    logger.info("document recipients updated", extra={"document_id": document_id, "amendment_id": amendment_id,
                                                      "added": len(plan.added), "removed": len(plan.removed)})
    _enqueue(item)
    return _answer(store, document_id, item)


def prepare_replacement(caller: Any, metadata: Any, new_document_id: str) -> dict[str, Any]:
    """Check `metadata.replaces` (an own DISPATCHED document, not replaced yet, under another edXML DocumentId) and
    claim it: the old record notes `replaced_by`. Returns the block the new record keeps as `replaces`, from which
    dispatch builds the ReplacementInfoList."""
    from chalicelib.outbound.dispatch import package_header
    from chalicelib.standards.edxml import document_id as edxml_document_id

    store = AmendmentStore()
    old = _own(caller, metadata.replaces, store, code="replaced_document_not_found")
    if old["state"] != states.DISPATCHED:
        raise Conflict("Chỉ thay thế được văn bản đã gửi đi và chưa bị thu hồi.", code="replaced_not_dispatched",
                       details={"state": old["state"]})
    old_edxml = package_header(old, []).document_id
    new_edxml = edxml_document_id(caller.organ_id, metadata.issued_on, metadata.number, metadata.notation)
    if new_edxml == old_edxml:
        raise ValidationFailed("Văn bản thay thế phải có số, ký hiệu hoặc ngày ban hành khác văn bản bị thay thế.",
                               code="replacement_same_document_id", details={"document_id": old_edxml})
    stale = None
    if old.get("replaced_by"):
        if not replacement_claim_stale(store.get(old["replaced_by"])):
            raise Conflict("Văn bản đã được thay thế bởi văn bản khác.", code="already_replaced",
                           details={"replaced_by": old["replaced_by"]})
        stale = old["replaced_by"]
    try:
        store.claim_replacement(old["document_id"], caller.organ_id, new_document_id, stale)
    except ConditionFailed:
        raise Conflict("Văn bản bị thay thế vừa thay đổi, vui lòng thử lại.", code="state_changed") from None
    return {"document_id": old["document_id"], "edxml_document_id": old_edxml,
            "recipients": list(old["metadata"]["recipients"])}


def list_for_document(document_id: str) -> list[dict[str, Any]]:
    """The document's amendments, oldest first, in their wire shape (for `GET /v1/documents/{id}`)."""
    return [present_amendment(i) for i in AmendmentStore().list_amendments(document_id)]


def _answer(store: AmendmentStore, document_id: str, amendment: dict[str, Any]) -> dict[str, Any]:
    from chalicelib.outbound.documents import present

    record, _, deliveries = store.get_full(document_id)
    return {**present(record or {}, None, deliveries), "amendment": present_amendment(amendment)}


def _enqueue(item: dict[str, Any]) -> None:
    aws.client("sqs").send_message(QueueUrl=aws.queue_url(get_settings().dispatch_queue),
                                   MessageBody=message_body(item["document_id"], item["amendment_id"]))


def requeue_stale(now: float | None = None) -> int:
    """Queue again the amendments still PENDING STALE_SECONDS after they were last queued (the API's message was
    lost, or the handler died holding it). Called by every poll_axis run; duplicates are harmless."""
    store = AmendmentStore()
    moment = time.time() if now is None else now
    cutoff = datetime.fromtimestamp(moment - STALE_SECONDS, UTC).isoformat(timespec="microseconds")
    count = 0
    for item in store.open_amendments(cutoff.replace("+00:00", "Z")):
        if item.get("lease_until", 0) >= int(moment):
            continue
        at = now_iso()
        if store.touch_enqueued(item, at):
            _enqueue(item)
            count += 1
            logger.info("amendment queued again", extra={"document_id": item["document_id"],
                                                         "amendment_id": item["amendment_id"]})
    return count


# -- sending (the dispatch queue's handler, for messages of type "amendment") ---------------------------------------


def handle_message(data: dict[str, Any], receive_count: int = 1, *, remaining_ms: Any = None) -> None:
    process_amendment(str(data["document_id"]), str(data["amendment_id"]), receive_count=receive_count,
                      remaining_ms=remaining_ms)


def process_amendment(document_id: str, amendment_id: str, *, receive_count: int = 1,
                      remaining_ms: Any = None) -> None:
    """Send an amendment's packages to every recipient not yet served; record SENT (or FAILED, as dispatch does:
    permanent axis refusals and unconfirmable sends are dead-lettered at once, transient failures retried by SQS
    until MAX_RECEIVES)."""
    from chalicelib.adapters.axis.errors import AxisBusinessError
    from chalicelib.outbound import dispatch

    store = AmendmentStore()
    amendment = store.get_amendment(document_id, amendment_id)
    record = store.get(document_id)
    if amendment is None or record is None or amendment["status"] == SENT:
        logger.info("amendment skipped", extra={"document_id": document_id, "amendment_id": amendment_id,
                                                "status": amendment and amendment["status"]})
        return
    deadline = dispatch._Deadline(remaining_ms)
    if receive_count < dispatch.MAX_RECEIVES and not deadline.allows(dispatch._call_seconds()):
        raise dispatch.OutOfTime(document_id)
    lease = store.claim_amendment(amendment)
    if lease is None:
        raise dispatch.RetryLater(document_id)
    try:
        with tempfile.TemporaryDirectory(prefix="amendment-") as tmp:
            _send_all(store, record, amendment, tmp, deadline)
    except AxisBusinessError as exc:
        logger.warning("axis refused an amendment package", extra={
            "document_id": document_id, "amendment_id": amendment_id, "error_code": exc.error_code})
        _fail_permanently(store, amendment, lease, receive_count, {
            "reason_code": "axis_rejected", "reason_message": "Trục liên thông từ chối gói tin.",
            "axis_error_code": exc.error_code, "axis_error": exc.error_desc[:500]})
        return
    except dispatch.SendUnconfirmed as exc:
        logger.warning("amendment send unconfirmed", extra={"document_id": document_id, "to": exc.organ_id,
                                                            "amendment_id": amendment_id})
        _fail_permanently(store, amendment, lease, receive_count, {
            "reason_code": "axis_send_unconfirmed",
            "reason_message": "Không xác định được gói tin đã lên Trục hay chưa; cần kiểm tra trước khi gửi lại.",
            "axis_error": exc.detail[:500]})
        return
    except Exception as exc:  # transient (5xx, timeouts), but also AWS errors and bugs: retried by SQS
        logger.warning("amendment sending failed", extra={"document_id": document_id, "amendment_id": amendment_id,
                                                          "error": type(exc).__name__, "receive_count": receive_count})
        if receive_count >= dispatch.MAX_RECEIVES:
            store.finish_amendment(amendment, lease, FAILED, {
                "reason_code": "axis_unavailable", "reason_message": "Không gửi được lên Trục sau nhiều lần thử.",
                "last_error": type(exc).__name__, "failed_at": now_iso()})
        else:
            store.release_amendment(amendment, lease)
        raise
    sent = store.sent_summary(amendment)
    store.finish_amendment(amendment, lease, SENT, {"sent_at": now_iso(), "sent": sent})
    logger.info("amendment sent", extra={"document_id": document_id, "amendment_id": amendment_id,
                                         "kind": amendment["kind"], "recipients": len(sent)})


def _fail_permanently(store: AmendmentStore, amendment: dict[str, Any], lease: str, receive_count: int,
                      fields: dict[str, Any]) -> None:
    """Dead-letter the message, then record FAILED (the order dispatch uses, for the same reason)."""
    from chalicelib.outbound.dead_letters import dead_letter

    dead_letter("dispatch", message_body(amendment["document_id"], amendment["amendment_id"]),
                {"reason": fields["reason_code"], "amendment_id": amendment["amendment_id"],
                 **({"axis_error_code": fields["axis_error_code"]} if fields.get("axis_error_code") else {})})
    store.finish_amendment(amendment, lease, FAILED, {**fields, "failed_at": now_iso(), "attempts_failed":
                                                      receive_count})


def sends_partition(document_id: str, amendment_id: str) -> str:
    """The pseudo document id whose delivery rows track an amendment's own sends (`DOC#<id>#AMENDMENT#<aid>`)."""
    return f"{document_id}#AMENDMENT#{amendment_id}"


def _send_all(store: AmendmentStore, record: dict[str, Any], amendment: dict[str, Any], tmp: str,
              deadline: Any) -> None:
    from chalicelib.adapters.agency_registry import AgencyRegistry
    from chalicelib.outbound import dispatch
    from chalicelib.standards.axis_protocol import sha256_file

    document_id, kind = record["document_id"], amendment["kind"]
    targets = list(amendment["targets"])
    document_to = list(amendment.get("document_to") or [])
    agencies = AgencyRegistry().get_many([record["organ_id"], *targets, *document_to])
    sender = agencies[record["organ_id"]]
    client = axis_client_for(sender.organ_id)
    trace = _trace_time(amendment)

    def agency(code: str) -> Any:
        return agencies.get(code) or dispatch._unknown(code)

    packages: dict[bool, tuple[str, str]] = {}
    rows = sends_partition(document_id, amendment["amendment_id"])
    for organ_id in targets:
        request = delivery_request(amendment, organ_id)
        change = request.get("change")
        store.mark_asked(document_id, organ_id, DELIVERY_FIELD[kind], request,
                         removed=True if change == "removed" else False if change == "added" else None)
        delivery = store.put_delivery_intent(rows, organ_id)
        if delivery["status"] != "PENDING":
            continue
        paper = bool(agency(organ_id).paper)
        if paper not in packages:
            path = os.path.join(tmp, f"{kind}-{int(paper)}.edxml")
            _write_amendment_package(path, record, amendment, sender, [agency(c) for c in targets], paper, trace)
            packages[paper] = (path, sha256_file(path))
        dispatch._deliver(store, client, rows, delivery, packages[paper], paper, deadline)
    if not document_to:
        return
    signed_pdf = os.path.join(tmp, "signed.pdf")
    documents: dict[bool, tuple[str, str]] = {}
    for organ_id in document_to:
        delivery = store.put_delivery_intent(document_id, organ_id)
        store.note_added(document_id, organ_id, amendment["amendment_id"])
        if delivery["status"] != "PENDING":
            continue
        if not os.path.exists(signed_pdf):
            aws.client("s3").download_file(get_settings().documents_bucket, record["signed_key"], signed_pdf)
        paper = bool(agency(organ_id).paper)
        if paper not in documents:
            path = os.path.join(tmp, f"document-{int(paper)}.edxml")
            _write_document_package(path, record, sender, [agency(c) for c in amendment["recipients"]], signed_pdf,
                                    paper, trace)
            documents[paper] = (path, sha256_file(path))
        dispatch._deliver(store, client, document_id, delivery, documents[paper], paper, deadline)


def _trace_time(amendment: dict[str, Any]) -> datetime:
    from chalicelib.core.clock import VN_TZ

    return datetime.fromisoformat(str(amendment["created_at"]).replace("Z", "+00:00")).astimezone(VN_TZ)


def _organ(agency: Any) -> Any:
    from chalicelib.standards.edxml import Organ

    return Organ(organ_id=agency.organ_id, name=agency.name, address=agency.address, email=agency.email,
                 telephone=agency.telephone)


def _write_amendment_package(path: str, record: dict[str, Any], amendment: dict[str, Any], sender: Any,
                             to: list[Any], paper: bool, trace: datetime) -> None:
    """A revocation (type 1) or update (type 2) package: the document's header with `ResponseFor` naming it,
    `Bussiness/DocumentId` the same, the reason, and for an update the ReceiverList; no attachment."""
    from chalicelib.outbound.dispatch import package_header
    from chalicelib.standards.edxml import (
        Business,
        DocumentInfoUpdate,
        Receiver,
        ResponseFor,
        write_new_document_package,
    )

    header = package_header(record, to)
    header = dataclasses.replace(header, response_for=[ResponseFor(
        organ_id=record["organ_id"], code=f"{header.code_number}/{header.code_notation}",
        document_id=header.document_id, promulgation_date=header.promulgation_date)])
    info = None
    if amendment["kind"] == UPDATE:
        info = DocumentInfoUpdate(document_info=0, document_receiver=1,
                                  receivers=[Receiver(c, t) for c, t in update_receivers(amendment)])
    business = Business(doc_type=DOC_TYPES[amendment["kind"]], reason=amendment["reason"], paper=int(paper),
                        document_id=header.document_id, document_info=info)
    with open(path, "wb") as out:
        write_new_document_package(out, sender=_organ(sender), recipients=[_organ(a) for a in to], header=header,
                                   business=business, attachments=[], trace_timestamp=trace)


def _write_document_package(path: str, record: dict[str, Any], sender: Any, to: list[Any], signed_pdf: str,
                            paper: bool, trace: datetime) -> None:
    """The document itself for recipients an update added, addressed to the new list of recipients."""
    from chalicelib.outbound.dispatch import package_header
    from chalicelib.standards.edxml import AttachmentSource, write_new_document_package

    md = record["metadata"]
    name = f"{md.get('number') or 'so'}-{md['notation']}.pdf".replace("/", "-")
    with open(path, "wb") as out:
        write_new_document_package(
            out, sender=_organ(sender), recipients=[_organ(a) for a in to], header=package_header(record, to),
            business=new_document_business(record, paper),
            attachments=[AttachmentSource(name=name, content_type="application/pdf", path=signed_pdf,
                                          description=md["subject"][:200])],
            trace_timestamp=trace)


# -- storage --------------------------------------------------------------------------------------------------------


class AmendmentStore(DocumentStore):
    """Amendment items (`DOC#<id>` / `AMENDMENT#<aid>`), the record changes that create them, and the delivery-row
    fields they set. Every write is conditional, as everywhere in the documents table."""

    @staticmethod
    def _key(document_id: str, amendment_id: str) -> dict[str, str]:
        return {"pk": f"DOC#{document_id}", "sk": f"AMENDMENT#{amendment_id}"}

    def create_revocation(self, item: dict[str, Any]) -> None:
        """DISPATCHED → REVOKED, its timeline event and the amendment, all or nothing."""
        document_id, at = item["document_id"], item["created_at"]
        allowed = sorted(states.sources(states.REVOKED))
        values: dict[str, Any] = {":revoked": states.REVOKED, ":at": at, ":reason": item["reason"],
                                  ":by": item["created_by"], ":aid": item["amendment_id"], ":one": 1,
                                  **{f":s{i}": s for i, s in enumerate(allowed)}}
        self._transact([
            {"Update": {"Key": {"pk": f"DOC#{document_id}", "sk": META},
                        "UpdateExpression": "SET #state = :revoked, updated_at = :at, revoked_at = :at, "
                                            "revocation_reason = :reason, revoked_by = :by, "
                                            "revocation_amendment_id = :aid ADD amendments_count :one",
                        "ConditionExpression": f"#state IN ({', '.join(f':s{i}' for i in range(len(allowed)))})",
                        "ExpressionAttributeNames": {"#state": "state"}, "ExpressionAttributeValues": values}},
            {"Put": {"Item": self._event_item(document_id, states.REVOKED, at, {
                "revocation_reason": item["reason"], "by": item["created_by"],
                "amendment_id": item["amendment_id"]})}},
            {"Put": {"Item": item, "ConditionExpression": "attribute_not_exists(pk)"}},
        ])

    def create_update(self, record: dict[str, Any], item: dict[str, Any]) -> None:
        """The new recipient list on the record (if it is still DISPATCHED and unchanged since read) and the
        amendment, all or nothing."""
        self._transact([
            {"Update": {"Key": {"pk": f"DOC#{record['document_id']}", "sk": META},
                        "UpdateExpression": "SET #md.#r = :new, updated_at = :at ADD amendments_count :one",
                        "ConditionExpression": "#state = :dispatched AND updated_at = :read",
                        "ExpressionAttributeNames": {"#state": "state", "#md": "metadata", "#r": "recipients"},
                        "ExpressionAttributeValues": {":new": item["recipients"], ":at": item["created_at"],
                                                      ":one": 1, ":dispatched": states.DISPATCHED,
                                                      ":read": record["updated_at"]}}},
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
        from boto3.dynamodb.conditions import Key

        resp = self._table.query(KeyConditionExpression=Key("pk").eq(f"DOC#{document_id}")
                                 & Key("sk").begins_with("AMENDMENT#"), ConsistentRead=True)
        return sorted((plain(i) for i in resp.get("Items", [])), key=lambda i: i.get("created_at", ""))

    def claim_amendment(self, amendment: dict[str, Any]) -> str | None:
        """Take the amendment for one sending run (a lease), back to PENDING if an earlier run failed it (a
        redriven message). None when it is SENT or another run holds it."""
        token = uuid.uuid4().hex
        now = int(time.time())
        try:
            self._table.update_item(
                Key=self._key(amendment["document_id"], amendment["amendment_id"]),
                UpdateExpression="SET lease = :t, lease_until = :until, #s = :pending, gsi1pk = :open, "
                                 "gsi1sk = if_not_exists(gsi1sk, :sk) ADD attempts :one REMOVE "
                                 + ", ".join(_FAILURE_FIELDS),
                ConditionExpression="attribute_exists(pk) AND #s <> :sent AND "
                                    "(attribute_not_exists(lease_until) OR lease_until < :now)",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":t": token, ":until": now + LEASE_SECONDS, ":pending": PENDING,
                                           ":open": OPEN_KEY, ":sk": f"{now_iso()}#{amendment['document_id']}#"
                                                                     f"{amendment['amendment_id']}",
                                           ":one": 1, ":sent": SENT, ":now": now})
        except self._condition_failed:
            return None
        return token

    def release_amendment(self, amendment: dict[str, Any], lease: str) -> None:
        """A transient failure: let the redelivered message take it at once."""
        with contextlib.suppress(self._condition_failed):
            self._table.update_item(Key=self._key(amendment["document_id"], amendment["amendment_id"]),
                                    UpdateExpression="SET lease_until = :zero", ConditionExpression="lease = :t",
                                    ExpressionAttributeValues={":zero": 0, ":t": lease})

    def finish_amendment(self, amendment: dict[str, Any], lease: str, status: str, fields: dict[str, Any]) -> None:
        """SENT or FAILED: the lease and the open-list entry go (a FAILED one is redriven from the DLQ)."""
        names = {"#s": "status", **{f"#f{i}": k for i, k in enumerate(fields)}}
        values = {":status": status, ":t": lease, **{f":f{i}": v for i, v in enumerate(fields.values())}}
        sets = ["#s = :status", *(f"#f{i} = :f{i}" for i in range(len(fields)))]
        self._table.update_item(Key=self._key(amendment["document_id"], amendment["amendment_id"]),
                                UpdateExpression="SET " + ", ".join(sets)
                                                 + " REMOVE lease, lease_until, gsi1pk, gsi1sk",
                                ConditionExpression="lease = :t", ExpressionAttributeNames=names,
                                ExpressionAttributeValues=values)

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
        from boto3.dynamodb.conditions import Key

        resp = self._table.query(IndexName="by_organ", Limit=100,
                                 KeyConditionExpression=Key("gsi1pk").eq(OPEN_KEY) & Key("gsi1sk").lt(before))
        return [plain(i) for i in resp.get("Items", [])]

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
