"""Dead letters and retries: what the gateway gave up on, for an administrator to see and send back.

`/v1/admin/dead-letters` (list), `/v1/admin/dead-letters/redrive` and `/v1/admin/documents/{id}/retry`; admin
group only. Two dead-letter queues, named here by their source: `dispatch` (edoc-<stage>-dispatch-dlq) and `upload`
(edoc-<stage>-upload-events-dlq). A message gets there by SQS redrive after maxReceiveCount failed receives, or
because a
handler put it there itself for a permanent failure (dispatch: the axis refused the package, or cannot confirm a
send; see chalicelib.outbound.dispatch). In both cases the record is `FAILED` with a reason, so the document's own state
says what happened and the DLQ says which messages wait for a decision.

Sending back is a legal transition first, then the message: `FAILED → SIGNED` when the signed PDF exists (the
dispatch failed), else `FAILED → UPLOADED` (signing failed; the handler re-checks and signs the upload). The
record moves before the message so the handler never meets a FAILED record for a message that was redriven on
purpose; a message is deleted from the DLQ only after its copy is on the source queue (a crash in between leaves
a duplicate, which the idempotent handlers absorb, never a loss).

SQS has no "peek": listing receives the DLQ's messages with a short visibility timeout and makes them visible
again at once. Consequences, by design: a listing shows at most MAX_MESSAGES per queue (`truncated` says when
there may be more); two admins listing or redriving at the same moment may each see only part of a queue for a
few seconds; and each listing adds one to the messages' ApproximateReceiveCount, which is why `receive_count`
below is SQS's count minus this listing's own receive (earlier listings still count), and why the number of
handler attempts is taken from the record (`attempts`, written with FAILED). The queues' redrive
target is read from the source queue's RedrivePolicy, so the DLQ names live in one place (infra/ and
provisioning) and cannot drift from here.

The use cases talk to ports (chalicelib.domain.ports): the queues through chalicelib.adapters.queues, the records
through the document store; nothing happens at import time.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

from chalicelib.adapters.document_store import DocumentStore, get_document_store
from chalicelib.adapters.dynamo import ConditionFailed
from chalicelib.adapters.queues import get_queues
from chalicelib.core.clock import now_iso
from chalicelib.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from chalicelib.core.log import logger
from chalicelib.core.settings import get_settings
from chalicelib.domain import states
from chalicelib.domain.caller import Caller
from chalicelib.domain.leases import DISPATCH, UPLOAD, lease_until
from chalicelib.domain.object_keys import incoming_key, parse_incoming_key
from chalicelib.domain.ports import QueueMessage

__all__ = ["MAX_MESSAGES", "QUEUES", "document_ids", "dlq_name", "list_dead_letters", "redrive", "reopen",
           "retry_document"]

QUEUES = ("dispatch", "upload")
#: At most this many messages per queue are looked at by one listing or redrive (API Gateway's 29 s answer limit).
MAX_MESSAGES = 500
#: Seconds a listed message stays hidden if the listing dies before making it visible again.
_PEEK_VISIBILITY = 30
#: Seconds a message being redriven stays hidden (moved or, if not selected or failed, made visible again).
_REDRIVE_VISIBILITY = 60
_MAX_DOCUMENT_IDS = 100
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
#: Fields describing the failure, removed when a record is sent back (the timeline keeps them).
_FAILURE_FIELDS = ("reason", "reason_message", "axis_error_code", "axis_error", "last_error", "unconfirmed_recipient",
                   "dispatch_attempts")


# -- queues ------------------------------------------------------------------------------------------------------


def _source_queue(kind: str) -> str:
    settings = get_settings()
    return settings.dispatch_queue if kind == "dispatch" else settings.upload_queue


def dlq_name(kind: str) -> str:
    """The name of the dead-letter queue of `kind`'s source queue (from its RedrivePolicy)."""
    return get_queues().dlq_of(_source_queue(kind))


def document_ids(kind: str, body: str) -> list[str]:
    """The documents a message is about: `{"document_id"}` on dispatch, the S3 notification's keys on upload."""
    try:
        data = json.loads(body)
    except ValueError:
        return []
    if not isinstance(data, dict):
        return []
    if kind == "dispatch":
        value = data.get("document_id")
        return [value] if isinstance(value, str) else []
    ids = []
    for record in data.get("Records") or []:
        key = unquote_plus(((record.get("s3") or {}).get("object") or {}).get("key", ""))
        parsed = parse_incoming_key(key)  # the document or one of its phụ lục
        if parsed:
            ids.append(parsed[1])
    return ids


# -- use cases ---------------------------------------------------------------------------------------------------


def _require_admin(caller: Caller) -> None:
    if not getattr(caller, "is_admin", False):
        raise Forbidden("Chỉ quản trị viên được thao tác với hàng đợi lỗi.", code="forbidden")


def _queue_kind(value: Any) -> str:
    if value not in QUEUES:
        raise ValidationFailed("Hàng đợi phải là \"dispatch\" hoặc \"upload\".", code="invalid_queue",
                               details={"queue": value, "allowed": list(QUEUES)})
    return str(value)


def list_dead_letters(caller: Caller, queue: str | None = None) -> dict[str, Any]:
    """`GET /v1/admin/dead-letters[?queue=dispatch|upload]`: the messages in the DLQs, with their documents."""
    _require_admin(caller)
    kinds = [_queue_kind(queue)] if queue else list(QUEUES)
    store = get_document_store()
    queues = get_queues()
    items: list[dict[str, Any]] = []
    truncated = False
    for kind in kinds:
        dlq = dlq_name(kind)
        messages, more = queues.receive_all(dlq, _PEEK_VISIBILITY, MAX_MESSAGES)
        truncated = truncated or more
        try:
            for message in messages:
                items.extend(_describe(kind, message, store))
        finally:
            queues.make_visible(dlq, messages)
    items.sort(key=lambda i: i["dead_lettered_at"])
    return {"items": items, "truncated": truncated}


def _describe(kind: str, message: QueueMessage, store: DocumentStore) -> list[dict[str, Any]]:
    attributes = message.attributes
    sent = int(attributes.get("SentTimestamp", "0")) / 1000
    base = {
        "queue": kind, "message_id": message.message_id,
        "receive_count": max(0, int(attributes.get("ApproximateReceiveCount", "1")) - 1),
        "dead_lettered_at": datetime.fromtimestamp(sent, UTC).isoformat(timespec="seconds"),
        **{f"message_{k}": v for k, v in message.message_attributes.items()},
    }
    ids = document_ids(kind, message.body)
    base.update(_message_kind(message.body))
    if not ids:
        return [{**base, "document_id": None}]
    out = []
    for document_id in ids:
        record = store.get(document_id) or {}
        out.append({**base, "document_id": document_id, "organ_id": record.get("organ_id"),
                    "state": record.get("state"),
                    **({"attempts": record["dispatch_attempts"]} if record.get("dispatch_attempts") else {}),
                    **{k: record[k] for k in ("reason", "reason_message", "axis_error_code") if record.get(k)}})
    return out


def _message_kind(body: str) -> dict[str, str]:
    """What else the body says about the work: e.g. `{"type": "amendment", "amendment_id"}` (outbound.amendments
    shares the dispatch queue for revocations and recipient updates of sent documents)."""
    try:
        data = json.loads(body)
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {f"message_{k}": v for k, v in data.items() if k in ("type", "amendment_id") and isinstance(v, str)}


def _document_ids_param(value: Any) -> set[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value or len(value) > _MAX_DOCUMENT_IDS \
            or not all(isinstance(v, str) and _UUID.match(v) for v in value):
        raise ValidationFailed("document_ids phải là danh sách mã văn bản (UUID), tối đa 100.",
                               code="invalid_document_ids")
    return set(value)


def reopen(store: DocumentStore, document_id: str, caller: Caller, action: str) -> str | None:
    """A FAILED record back to the state its handler retries from; returns the record's state afterwards (None when
    there is no record). Any other state is left as it is: the handler decides what a message for it means."""
    record = store.get(document_id)
    if record is None:
        return None
    if record["state"] != states.FAILED:
        return str(record["state"])
    target = states.SIGNED if record.get("signed_key") else states.UPLOADED
    try:
        store.transition(document_id, target, from_states=frozenset({states.FAILED}), remove=_FAILURE_FIELDS,
                         fields={"retried_at": now_iso(), "retried_by": getattr(caller, "username", "")},
                         detail={"action": action, "by": getattr(caller, "username", ""),
                                 "previous_reason": record.get("reason", "")})
    except ConditionFailed:  # someone else moved it meanwhile
        return str((store.get(document_id) or {}).get("state"))
    logger.info("failed document reopened", extra={"document_id": document_id, "state": target, "action": action})
    return target


def _move(kind: str, message: QueueMessage) -> None:
    """Copy to the source queue, then delete from the DLQ (this order: a crash leaves a duplicate, not a loss)."""
    queues = get_queues()
    queues.send(_source_queue(kind), message.body)
    queues.delete(dlq_name(kind), message)


def _redrive(kind: str, wanted: set[str] | None, caller: Caller, action: str) -> dict[str, Any]:
    dlq = dlq_name(kind)
    store = get_document_store()
    queues = get_queues()
    messages, truncated = queues.receive_all(dlq, _REDRIVE_VISIBILITY, MAX_MESSAGES)
    kept: list[QueueMessage] = []
    moved: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    found: set[str] = set()
    try:
        for message in messages:
            ids = document_ids(kind, message.body)
            if wanted is not None and not wanted & set(ids):
                kept.append(message)
                continue
            found.update(ids)
            try:
                after = {d: reopen(store, d, caller, action) for d in ids}
                _move(kind, message)
            except Exception as exc:
                logger.warning("redrive of a message failed", extra={"queue": kind, "error": type(exc).__name__})
                kept.append(message)
                failed.append({"message_id": message.message_id, "document_ids": ids,
                               "error": type(exc).__name__})
                continue
            moved.append({"message_id": message.message_id,
                          "documents": [{"document_id": d, "state": s} for d, s in after.items()]})
    finally:
        queues.make_visible(dlq, kept)
    logger.info("dead letters redriven", extra={"queue": kind, "moved": len(moved), "failed": len(failed)})
    return {"queue": kind, "redriven": moved, "failed": failed, "truncated": truncated,
            "not_found": sorted(wanted - found) if wanted is not None else []}


def redrive(caller: Caller, body: Any) -> dict[str, Any]:
    """`POST /v1/admin/dead-letters/redrive` {"queue": "dispatch"|"upload", "document_ids"?}: move the queue's
    dead letters (all, or those about these documents) back to its source queue, reopening FAILED records."""
    _require_admin(caller)
    if not isinstance(body, dict):
        raise ValidationFailed("Nội dung yêu cầu phải là một đối tượng JSON.")
    return _redrive(_queue_kind(body.get("queue")), _document_ids_param(body.get("document_ids")), caller,
                    "redrive")


def retry_document(caller: Caller, document_id: str, body: Any) -> dict[str, Any]:
    """`POST /v1/admin/documents/{id}/retry` {"resend_unconfirmed"?: bool}: a FAILED document back to work.

    Its dead letters, if any, are moved back (so none is left behind to be redriven later); otherwise a new
    message is queued: `{"document_id"}` for dispatch, for signing the S3 notification shape the signing handler
    reads (the upload itself is unchanged in S3). A document already back in SIGNED/UPLOADED (an earlier retry
    whose enqueue failed) is queued again: duplicates are harmless, a document left without a message is not.
    `resend_unconfirmed`: the administrator has checked that the packages of an `axis_send_unconfirmed` failure
    are NOT on the axis; the next dispatch sends them without trying to reconcile."""
    _require_admin(caller)
    if body is None:
        body = {}
    if not isinstance(body, dict) or not isinstance(body.get("resend_unconfirmed", False), bool):
        raise ValidationFailed("resend_unconfirmed phải là true hoặc false.", code="invalid_request")
    if not _UUID.match(document_id or ""):
        raise NotFound("Không tìm thấy văn bản.", code="document_not_found")
    store = get_document_store()
    record = store.get(document_id)
    if record is None:
        raise NotFound("Không tìm thấy văn bản.", code="document_not_found")
    if record["state"] not in (states.FAILED, states.SIGNED, states.UPLOADED):
        raise Conflict("Chỉ văn bản ở trạng thái FAILED mới gửi lại được.", code="not_retryable",
                       details={"state": record["state"]})
    if record["state"] != states.FAILED and (lease_until(record, DISPATCH) > _now()
                                             or lease_until(record, UPLOAD) > _now()):
        raise Conflict("Văn bản đang được xử lý.", code="not_retryable", details={"state": record["state"]})
    cleared = store.forget_unconfirmed_sends(document_id) if body.get("resend_unconfirmed") else []
    state = reopen(store, document_id, caller, "retry")
    kind = "dispatch" if state == states.SIGNED else "upload"
    moved = _redrive(kind, {document_id}, caller, "retry")["redriven"]
    if not moved:
        _enqueue(kind, record)
    return {"document_id": document_id, "state": state, "queue": kind, "from_dead_letters": len(moved),
            **({"resend_unconfirmed": cleared} if body.get("resend_unconfirmed") else {})}


def _now() -> int:
    return int(datetime.now(UTC).timestamp())


def _enqueue(kind: str, record: dict[str, Any]) -> None:
    if kind == "dispatch":
        body = {"document_id": record["document_id"]}
    else:
        body = {"Records": [{"eventSource": "edoc-gateway:retry", "eventName": "ObjectCreated:Retry",
                             "s3": {"bucket": {"name": get_settings().documents_bucket},
                                    "object": {"key": incoming_key(record["organ_id"], record["document_id"])}}}]}
    get_queues().send(_source_queue(kind), json.dumps(body))
