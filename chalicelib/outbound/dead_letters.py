"""Dead letters and retries: what the gateway gave up on, for an administrator to see and send back.

`/v1/admin/dead-letters` (list), `/v1/admin/dead-letters/redrive` and `/v1/admin/documents/{id}/retry`; admin
group only. Two dead-letter queues, named here by their source: `dispatch` (edoc-dispatch-dlq) and `upload`
(edoc-upload-events-dlq). A message gets there by SQS redrive after maxReceiveCount failed receives, or because a
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

Pure logic apart from SQS and DynamoDB calls made through chalicelib.adapters.aws; nothing happens at import time.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from functools import cache
from typing import Any
from urllib.parse import unquote_plus

from chalicelib.adapters import aws
from chalicelib.adapters.document_store import DocumentStore
from chalicelib.adapters.dynamo import ConditionFailed
from chalicelib.core.clock import now_iso
from chalicelib.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from chalicelib.core.log import logger
from chalicelib.core.settings import get_settings
from chalicelib.domain import states

QUEUES = ("dispatch", "upload")
#: At most this many messages per queue are looked at by one listing or redrive (API Gateway's 29 s answer limit).
MAX_MESSAGES = 500
#: Seconds a listed message stays hidden if the listing dies before making it visible again.
_PEEK_VISIBILITY = 30
#: Seconds a message being redriven stays hidden (moved or, if not selected or failed, made visible again).
_REDRIVE_VISIBILITY = 60
_MAX_DOCUMENT_IDS = 100
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_UPLOAD_KEY = re.compile(r"^incoming/(?P<organ>[^/]+)/(?P<doc>[0-9a-f-]{36})(?:/att-[1-9][0-9]?)?\.pdf$")  # phụ lục too
#: Fields describing the failure, removed when a record is sent back (the timeline keeps them).
_FAILURE_FIELDS = ("reason", "reason_message", "axis_error_code", "axis_error", "last_error", "unconfirmed_recipient",
                   "dispatch_attempts")


# -- queues ------------------------------------------------------------------------------------------------------


def _source_queue(kind: str) -> str:
    settings = get_settings()
    return settings.dispatch_queue if kind == "dispatch" else settings.upload_queue


@cache
def _dlq_name(source_queue: str) -> str:
    """The name of a queue's dead-letter queue, from its RedrivePolicy (a name, not a URL, is cached: the same in
    every environment, while `aws.queue_url` follows the endpoint and is reset with the clients)."""
    attributes = aws.client("sqs").get_queue_attributes(QueueUrl=aws.queue_url(source_queue),
                                                        AttributeNames=["RedrivePolicy"])["Attributes"]
    return str(json.loads(attributes["RedrivePolicy"])["deadLetterTargetArn"]).rsplit(":", 1)[-1]


def dlq_url(kind: str) -> str:
    """The URL of the dead-letter queue of `kind`'s source queue."""
    return aws.queue_url(_dlq_name(_source_queue(kind)))


def dead_letter(kind: str, body: str, attributes: dict[str, str] | None = None) -> None:
    """Put a message on `kind`'s DLQ directly (a permanent failure: retrying cannot help, a person decides)."""
    aws.client("sqs").send_message(
        QueueUrl=dlq_url(kind), MessageBody=body,
        MessageAttributes={k: {"DataType": "String", "StringValue": str(v)} for k, v in (attributes or {}).items()})


def _receive_all(url: str, visibility: int) -> tuple[list[dict[str, Any]], bool]:
    """Every message of the queue (up to MAX_MESSAGES), each hidden for `visibility` seconds. Long polling (1 s)
    so SQS asks all its servers: a short poll samples some and may answer empty while messages remain."""
    sqs = aws.client("sqs")
    seen: dict[str, dict[str, Any]] = {}
    while len(seen) < MAX_MESSAGES:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=visibility,
                                    WaitTimeSeconds=1, MessageSystemAttributeNames=["All"],
                                    MessageAttributeNames=["All"]).get("Messages", [])
        fresh = [m for m in batch if m["MessageId"] not in seen]
        if not fresh:
            break
        seen.update((m["MessageId"], m) for m in fresh)
    return list(seen.values()), len(seen) >= MAX_MESSAGES


def _release(url: str, messages: list[dict[str, Any]]) -> None:
    """Make messages visible again now (the end of a peek)."""
    sqs = aws.client("sqs")
    for start in range(0, len(messages), 10):
        chunk = messages[start:start + 10]
        try:
            sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                for i, m in enumerate(chunk)])
        except Exception as exc:  # they come back after the short visibility timeout anyway
            logger.warning("could not release dead letters", extra={"error": type(exc).__name__})


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
        match = _UPLOAD_KEY.match(key)
        if match:
            ids.append(match["doc"])
    return ids


# -- use cases ---------------------------------------------------------------------------------------------------


def _require_admin(caller: Any) -> None:
    if not getattr(caller, "is_admin", False):
        raise Forbidden("Chỉ quản trị viên được thao tác với hàng đợi lỗi.", code="forbidden")


def _queue_kind(value: Any) -> str:
    if value not in QUEUES:
        raise ValidationFailed("Hàng đợi phải là \"dispatch\" hoặc \"upload\".", code="invalid_queue",
                               details={"queue": value, "allowed": list(QUEUES)})
    return str(value)


def list_dead_letters(caller: Any, queue: str | None = None) -> dict[str, Any]:
    """`GET /v1/admin/dead-letters[?queue=dispatch|upload]`: the messages in the DLQs, with their documents."""
    _require_admin(caller)
    kinds = [_queue_kind(queue)] if queue else list(QUEUES)
    store = DocumentStore()
    items: list[dict[str, Any]] = []
    truncated = False
    for kind in kinds:
        url = dlq_url(kind)
        messages, more = _receive_all(url, _PEEK_VISIBILITY)
        truncated = truncated or more
        try:
            for message in messages:
                items.extend(_describe(kind, message, store))
        finally:
            _release(url, messages)
    items.sort(key=lambda i: i["dead_lettered_at"])
    return {"items": items, "truncated": truncated}


def _describe(kind: str, message: dict[str, Any], store: DocumentStore) -> list[dict[str, Any]]:
    attributes = message.get("Attributes", {})
    sent = int(attributes.get("SentTimestamp", "0")) / 1000
    base = {
        "queue": kind, "message_id": message["MessageId"],
        "receive_count": max(0, int(attributes.get("ApproximateReceiveCount", "1")) - 1),
        "dead_lettered_at": datetime.fromtimestamp(sent, UTC).isoformat(timespec="seconds"),
        **{f"message_{k}": v["StringValue"] for k, v in message.get("MessageAttributes", {}).items()
           if "StringValue" in v},
    }
    ids = document_ids(kind, message["Body"])
    base.update(_message_kind(message["Body"]))
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


def reopen(store: DocumentStore, document_id: str, caller: Any, action: str) -> str | None:
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


def _move(kind: str, url: str, message: dict[str, Any]) -> None:
    """Copy to the source queue, then delete from the DLQ (this order: a crash leaves a duplicate, not a loss)."""
    sqs = aws.client("sqs")
    sqs.send_message(QueueUrl=aws.queue_url(_source_queue(kind)), MessageBody=message["Body"])
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def _redrive(kind: str, wanted: set[str] | None, caller: Any, action: str) -> dict[str, Any]:
    url = dlq_url(kind)
    store = DocumentStore()
    messages, truncated = _receive_all(url, _REDRIVE_VISIBILITY)
    kept: list[dict[str, Any]] = []
    moved: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    found: set[str] = set()
    try:
        for message in messages:
            ids = document_ids(kind, message["Body"])
            if wanted is not None and not wanted & set(ids):
                kept.append(message)
                continue
            found.update(ids)
            try:
                after = {d: reopen(store, d, caller, action) for d in ids}
                _move(kind, url, message)
            except Exception as exc:
                logger.warning("redrive of a message failed", extra={"queue": kind, "error": type(exc).__name__})
                kept.append(message)
                failed.append({"message_id": message["MessageId"], "document_ids": ids,
                               "error": type(exc).__name__})
                continue
            moved.append({"message_id": message["MessageId"],
                          "documents": [{"document_id": d, "state": s} for d, s in after.items()]})
    finally:
        _release(url, kept)
    logger.info("dead letters redriven", extra={"queue": kind, "moved": len(moved), "failed": len(failed)})
    return {"queue": kind, "redriven": moved, "failed": failed, "truncated": truncated,
            "not_found": sorted(wanted - found) if wanted is not None else []}


def redrive(caller: Any, body: Any) -> dict[str, Any]:
    """`POST /v1/admin/dead-letters/redrive` {"queue": "dispatch"|"upload", "document_ids"?}: move the queue's
    dead letters (all, or those about these documents) back to its source queue, reopening FAILED records."""
    _require_admin(caller)
    if not isinstance(body, dict):
        raise ValidationFailed("Nội dung yêu cầu phải là một đối tượng JSON.")
    return _redrive(_queue_kind(body.get("queue")), _document_ids_param(body.get("document_ids")), caller,
                    "redrive")


def retry_document(caller: Any, document_id: str, body: Any) -> dict[str, Any]:
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
    store = DocumentStore()
    record = store.get(document_id)
    if record is None:
        raise NotFound("Không tìm thấy văn bản.", code="document_not_found")
    if record["state"] not in (states.FAILED, states.SIGNED, states.UPLOADED):
        raise Conflict("Chỉ văn bản ở trạng thái FAILED mới gửi lại được.", code="not_retryable",
                       details={"state": record["state"]})
    if record["state"] != states.FAILED and (record.get("dispatch_lease_until", 0) > _now()
                                             or record.get("lease_until", 0) > _now()):
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
        from chalicelib.outbound.documents import incoming_key

        body = {"Records": [{"eventSource": "edoc-gateway:retry", "eventName": "ObjectCreated:Retry",
                             "s3": {"bucket": {"name": get_settings().documents_bucket},
                                    "object": {"key": incoming_key(record["organ_id"], record["document_id"])}}}]}
    aws.client("sqs").send_message(QueueUrl=aws.queue_url(_source_queue(kind)), MessageBody=json.dumps(body))
