"""The API's amendments of a sent document: revoke it, change its recipients, list its amendments, and queue again
what a lost message left behind (chalicelib.outbound.amendments explains the flow).

The request records the intent (an amendment item, in the same transaction as the record's change) and queues
`{"type": "amendment", ...}` on the dispatch queue; the packages go out from there (`amendments.worker`).
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

from chalicelib.adapters.agency_registry import get_agency_registry
from chalicelib.adapters.amendment_store import AmendmentStore, get_amendment_store
from chalicelib.adapters.dynamo import ConditionFailed
from chalicelib.adapters.queues import get_queues
from chalicelib.core.clock import now_iso
from chalicelib.core.errors import Conflict, NotFound
from chalicelib.core.log import logger
from chalicelib.core.settings import get_settings
from chalicelib.domain import states
from chalicelib.domain.amendment_rules import (
    PENDING,
    REVOKE,
    STALE_SECONDS,
    UPDATE,
    amendment_item,
    message_body,
    plan_update,
    revocation_id,
    validate_reason,
)
from chalicelib.domain.caller import Caller
from chalicelib.domain.leases import AMENDMENT, lease_until
from chalicelib.domain.recipients import refuse_bad_recipients
from chalicelib.domain.text import TextRule, body_text
from chalicelib.outbound.presenters import present, present_amendment

__all__ = ["enqueue", "list_for_document", "own_record", "requeue_stale", "revoke", "update_recipients"]

#: The sender's reason travels in every amendment package (edXML, XML 1.0): checked and put in NFC at the API
#: (chalicelib.domain.text); `validate_reason` then requires it and cuts it to MAX_REASON_CHARS.
_REASON_TEXT = {"reason": TextRule(multiline=True)}


def own_record(caller: Caller, document_id: str, store: AmendmentStore, *,
               code: str = "document_not_found") -> dict[str, Any]:
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


def revoke(caller: Caller, document_id: str, body: Any, *, by_admin: bool = False) -> dict[str, Any]:
    """`POST /v1/documents/{id}/revoke` {"reason"}: REVOKED now, revocation packages queued (202).

    A repeated request on a document already revoked answers the same revocation (and queues it again while its
    packages are not all sent), so a client that lost the answer can simply retry. `by_admin`: an administrator
    revokes on the agency's behalf (chalicelib.admin.search; `caller` then names the admin and the document's
    agency), recorded as such on the amendment, the record and its timeline event (issue 9)."""
    body = body_text(body, _REASON_TEXT)
    reason = validate_reason(body)
    store = get_amendment_store()
    record = own_record(caller, document_id, store)
    amendment_id = revocation_id(document_id)
    if record["state"] == states.REVOKED:
        existing = store.get_amendment(document_id, amendment_id)
        if existing is None:  # revoked before amendments existed, or by another path: nothing to send
            raise Conflict("Văn bản đã bị thu hồi.", code="already_revoked")
        if existing["status"] == PENDING:
            enqueue(existing)
        return _answer(store, document_id, existing)
    if record["state"] != states.DISPATCHED:
        raise Conflict("Chỉ thu hồi được văn bản đã gửi đi.", code="not_dispatched",
                       details={"state": record["state"]})
    _, _, deliveries = store.get_full(document_id)
    item = amendment_item(document_id, amendment_id, REVOKE, reason=reason, by=caller.username, at=now_iso(),
                          targets=_ordered_targets(record, deliveries))
    if by_admin:
        item["by_admin"] = True
    try:
        store.create_revocation(item)
    except ConditionFailed:
        current = store.get(document_id) or {}
        if current.get("state") == states.REVOKED:  # a concurrent request revoked it first
            return revoke(caller, document_id, body, by_admin=by_admin)
        raise Conflict("Trạng thái văn bản vừa thay đổi, vui lòng tải lại.", code="state_changed",
                       details={"state": current.get("state")}) from None
    logger.info("document revoked", extra={"document_id": document_id, "amendment_id": amendment_id,
                                           "recipients": len(item["targets"])})
    enqueue(item)
    return _answer(store, document_id, item)


def update_recipients(caller: Caller, document_id: str, body: Any) -> dict[str, Any]:
    """`POST /v1/documents/{id}/update` {"recipients_added"?, "recipients_removed"?, "reason"} (202)."""
    body = body_text(body, _REASON_TEXT)
    store = get_amendment_store()
    record = own_record(caller, document_id, store)
    if record["state"] != states.DISPATCHED:
        raise Conflict("Chỉ cập nhật được văn bản đã gửi đi và chưa bị thu hồi.", code="not_dispatched",
                       details={"state": record["state"]})
    _, _, deliveries = store.get_full(document_id)
    plan = plan_update(list(record["metadata"]["recipients"]), body, sender=record["organ_id"],
                       delivered={d["organ_id"] for d in deliveries})
    if plan.added:
        refuse_bad_recipients(plan.added, get_agency_registry().get_many(plan.added))
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
    enqueue(item)
    return _answer(store, document_id, item)


def list_for_document(document_id: str) -> list[dict[str, Any]]:
    """The document's amendments, oldest first, in their wire shape (for `GET /v1/documents/{id}`)."""
    return [present_amendment(i) for i in get_amendment_store().list_amendments(document_id)]


def _answer(store: AmendmentStore, document_id: str, amendment: dict[str, Any]) -> dict[str, Any]:
    record, _, deliveries = store.get_full(document_id)
    return {**present(record or {}, None, deliveries), "amendment": present_amendment(amendment)}


def enqueue(item: dict[str, Any]) -> None:
    """The dispatch-queue message that makes the dispatch handler send the amendment's packages."""
    get_queues().send(get_settings().dispatch_queue, message_body(item["document_id"], item["amendment_id"]))


def requeue_stale(now: float | None = None) -> int:
    """Queue again the amendments still PENDING STALE_SECONDS after they were last queued (the API's message was
    lost, or the handler died holding it). Called by every poll_axis run; duplicates are harmless."""
    store = get_amendment_store()
    moment = time.time() if now is None else now
    cutoff = datetime.fromtimestamp(moment - STALE_SECONDS, UTC).isoformat(timespec="microseconds")
    count = 0
    for item in store.open_amendments(cutoff.replace("+00:00", "Z")):
        if lease_until(item, AMENDMENT) >= int(moment):
            continue
        at = now_iso()
        if store.touch_enqueued(item, at):
            enqueue(item)
            count += 1
            logger.info("amendment queued again", extra={"document_id": item["document_id"],
                                                         "amendment_id": item["amendment_id"]})
    return count
