"""The webhooks function (`deliver_webhooks`, issue 14): fan an event out to its subscriptions, then deliver each
delivery, signed, retried with backoff, dead-lettered after the bound.

One FIFO queue carries two kinds of message (chalicelib.adapters.webhook_outbox):
- `event` (group: the document or inbox item). First the write it announces is confirmed in the table
  (chalicelib.domain.webhook_events: published before the write): not there yet → back in 2 s; still not there
  after `webhook_confirm_seconds` → the write never happened, dropped. Then one delivery item per active
  subscription of the agency that wants the type (its exact body built once and stored, so every retry sends the
  same bytes under the same `webhook-id`), and one `delivery` message each;
- `delivery` (group: subscription + document). Skipped when already delivered (SQS delivers at least once), when
  the subscription is gone or disabled; else the URL is checked again after DNS resolution and the request goes to
  the checked address (chalicelib.adapters.webhook_http). A 2xx ends it; anything else is an attempt recorded
  (status code, duration, time) and retried after `backoff_seconds` (ChangeMessageVisibility, as dispatch backs
  off), until `webhook_max_attempts`: then the message is copied to the webhooks DLQ and the delivery is `dead`,
  listed for admins (`GET /v1/admin/dead-letters?queue=webhooks`), redelivered by them. A long run of failed
  attempts disables the subscription, with an audit entry in its agency's chain.

FIFO batches (Lambda: once a message of a group fails, the later ones of that group in the batch must fail too,
or the order breaks): a failed group's later records are reported failed without being touched.
"""

from __future__ import annotations

import json
import time
from typing import Any

from chalicelib.adapters import inbound_store as inbound_adapter
from chalicelib.adapters.document_store import get_document_store
from chalicelib.adapters.dynamo import ConditionFailed
from chalicelib.adapters.queues import get_queues
from chalicelib.adapters.webhook_http import BLOCKED_ADDRESS, post
from chalicelib.adapters.webhook_outbox import DELIVERY_MESSAGE, EVENT_MESSAGE, enqueue_delivery, is_cancelled
from chalicelib.adapters.webhook_store import get_webhook_store
from chalicelib.admin import audit
from chalicelib.core.clock import now_iso
from chalicelib.core.log import logger
from chalicelib.core.settings import get_settings
from chalicelib.domain.audit import entry_fields
from chalicelib.domain.webhook_events import (
    backoff_seconds,
    body_bytes,
    delivery_group,
    event_body,
    should_disable,
    subscribed,
)
from chalicelib.domain.webhook_urls import UrlRefused, parse_target
from chalicelib.inbound.inbox import present as present_inbox
from chalicelib.outbound.presenters import present as present_document
from chalicelib.standards.standard_webhooks import headers
from chalicelib.webhooks.subscriptions import signing_secrets

__all__ = ["handle_batch", "handle_delivery", "handle_event"]

#: An unconfirmed event is looked at again after 1, 2, 4 ... seconds (at most this): a handful of receives
#: cover `webhook_confirm_seconds`, far below the queue's maxReceiveCount.
_CONFIRM_RETRY_CAP_SECONDS = 30


class _Later(Exception):
    """Not now: SQS brings the message back after `seconds`."""

    def __init__(self, seconds: int) -> None:
        super().__init__(seconds)
        self.seconds = seconds


def handle_batch(event: Any) -> dict[str, Any]:
    """One SQS batch of the webhooks queue (app.py's `deliver_webhooks`); failures in `batchItemFailures`."""
    raw = event.to_dict() if hasattr(event, "to_dict") else event
    failed: list[dict[str, str]] = []
    held: dict[str, int] = {}  # failed group → its backoff
    queue = get_settings().webhooks_queue
    for record in raw.get("Records", []):
        attributes = record.get("attributes") or {}
        group = str(attributes.get("MessageGroupId", ""))
        if group in held:
            _delay(queue, record, held[group])
            failed.append({"itemIdentifier": record["messageId"]})
            continue
        try:
            _handle(record["body"], int(attributes.get("ApproximateReceiveCount") or 1),
                    int(attributes.get("SentTimestamp") or 0) / 1000)
        except _Later as later:
            held[group] = later.seconds
            _delay(queue, record, later.seconds)
            failed.append({"itemIdentifier": record["messageId"]})
        except Exception as exc:  # an AWS fault: SQS redelivers after the visibility timeout
            logger.exception("webhook message failed", extra={"error": type(exc).__name__})
            held[group] = 0
            failed.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failed}


def _delay(queue: str, record: dict[str, Any], seconds: int) -> None:
    if seconds <= 0:
        return
    try:
        get_queues().delay(queue, record["receiptHandle"], seconds)
    except Exception as exc:  # the queue's own visibility timeout applies
        logger.warning("could not delay a webhook message", extra={"error": type(exc).__name__})


def _handle(body: str, receive_count: int, sent_at: float) -> None:
    message = json.loads(body)
    if message.get("kind") == EVENT_MESSAGE:
        handle_event(message, sent_at=sent_at, receive_count=receive_count)
    elif message.get("kind") == DELIVERY_MESSAGE:
        handle_delivery(message, receive_count)
    else:
        logger.warning("unknown webhook message dropped")


# -- fan-out -----------------------------------------------------------------------------------------------------
#: What `_confirmed` answers for an event whose write lost its condition (marked on the record).
_CANCELLED = ("", "", {})


def _confirmed(message: dict[str, Any]) -> tuple[str, str, dict[str, Any]] | None:
    """(organ_id, subject, data) once the write the event announces is in the table; None before; `_CANCELLED`
    when the writer marked it lost (chalicelib.adapters.webhook_outbox.mark_cancelled)."""
    confirm = message.get("confirm") or {}
    if "inbox" in confirm:
        item = inbound_adapter.inbound_store().get_inbox_item(message["inbox_id"])
        if item is None or (confirm["inbox"].get("revoked") and not item.get("revoked")):
            return None
        return str(item["organ_id"]), f"inbox#{item['inbox_id']}", present_inbox(item)
    record, timeline, deliveries = get_document_store().get_full(message["document_id"])
    if record is None:
        return None
    subject = f"doc#{record['document_id']}"
    if "timeline" in confirm:
        wanted = confirm["timeline"]
        entry = next((e for e in timeline if e.get("state") == wanted["state"] and e.get("at") == wanted["at"]), None)
        if entry is None:
            return _CANCELLED if is_cancelled(record["document_id"], str(message.get("id"))) else None
        # The record as `GET /v1/documents/{id}` shows it (read now), with the state and time of THIS event and
        # its timeline entry's details (a reason...): a later change may already be on the record.
        data = present_document(record)
        data["metadata"] = {k: record["metadata"].get(k) for k in ("number", "notation", "type", "subject",
                                                                    "issued_on", "recipients")}
        data.update({"state": wanted["state"], "at": wanted["at"], **(entry.get("detail") or {})})
        return str(record["organ_id"]), subject, data
    wanted = confirm.get("delivery") or {}
    for row in deliveries:
        if row.get("organ_id") != wanted.get("organ_id"):
            continue
        entry = next((h for h in row.get("history", []) if h.get("at") == wanted.get("at")), None)
        if entry is None:
            return None
        data = {"document_id": record["document_id"], "organ_id": row["organ_id"], **entry}
        for name in ("status", "status_code", "status_meaning"):
            data.setdefault(name, row.get(name))
        return str(record["organ_id"]), subject, data
    return None


def handle_event(message: dict[str, Any], *, sent_at: float, receive_count: int = 1) -> None:
    """Fan one event out (module docstring)."""
    found = _confirmed(message)
    if found is _CANCELLED:
        logger.info("webhook event of a lost write dropped", extra={"event_id": message.get("id")})
        return
    if found is None:
        if time.time() - sent_at > get_settings().webhook_confirm_seconds:
            logger.info("webhook event never confirmed, dropped", extra={"event_id": message.get("id")})
            return
        raise _Later(min(_CONFIRM_RETRY_CAP_SECONDS, 2 ** max(0, receive_count - 1)))
    organ_id, subject, data = found
    store = get_webhook_store()
    for sub in store.list(organ_id):
        if not sub.get("active") or not subscribed(sub.get("events") or [], message["type"]):
            continue
        fan_out(sub["subscription_id"], event_body(event_id=message["id"], event_type=message["type"],
                                                    occurred_at=message["occurred_at"], organ_id=organ_id,
                                                    data=data), subject)


def fan_out(subscription_id: str, body: dict[str, Any], subject: str, *, round_: str = "") -> str:
    """One delivery item (if new) and its message; returns the delivery's id (`<occurred_at>#<event_id>`)."""
    delivery_id = f"{body['occurred_at']}#{body['id']}"
    sk = f"DLV#{delivery_id}"
    get_webhook_store().put_delivery(subscription_id, {
        "delivery_id_sk": sk, "delivery_id": delivery_id, "subscription_id": subscription_id, "event_id": body["id"],
        "type": body["type"], "subject": subject, "status": "pending", "body": body_bytes(body).decode("utf-8"),
        "created_at": now_iso(), "attempt_count": 0})
    enqueue_delivery(subscription_id, sk, body["id"], delivery_group(subscription_id, subject), round_=round_)
    return delivery_id


# -- delivery ----------------------------------------------------------------------------------------------------
def handle_delivery(message: dict[str, Any], receive_count: int) -> None:
    """One attempt of one delivery (module docstring)."""
    settings = get_settings()
    store = get_webhook_store()
    sid, sk = message["subscription_id"], message["delivery"]
    delivery = store.get_delivery(sid, sk)
    if delivery is None or delivery.get("status") in ("delivered", "skipped"):
        return
    sub = store.get(sid)
    if sub is None or not sub.get("active"):
        store.set_delivery_status(sid, sk, "skipped", now_iso(), unless="delivered")
        return
    at = now_iso()
    body = str(delivery["body"]).encode("utf-8")
    try:
        target = parse_target(sub["url"], local_receivers=settings.webhook_local_receivers)
    except UrlRefused:
        target = None
    if target is None:
        outcome = {"status_code": None, "duration_ms": 0, "error": BLOCKED_ADDRESS}
    else:
        signed = headers(signing_secrets(sub, at), delivery["event_id"], int(time.time()), body)
        result = post(target, body, signed, timeout=settings.webhook_timeout_seconds,
                      local_receivers=settings.webhook_local_receivers)
        outcome = {"status_code": result.status_code, "duration_ms": result.duration_ms, "error": result.error}
    attempt = {"at": at, "attempt": receive_count, **{k: v for k, v in outcome.items() if v is not None}}
    ok = outcome["status_code"] is not None and 200 <= int(outcome["status_code"]) < 300
    last = receive_count >= settings.webhook_max_attempts
    status = "delivered" if ok else ("dead" if last else "retrying")
    try:
        store.record_attempt(sid, sk, attempt, status)
    except ConditionFailed:
        return  # delivered meanwhile (a duplicate message)
    logger.info("webhook attempt", extra={"subscription_id": sid, "event_id": delivery["event_id"],
                                          "status_code": outcome["status_code"], "error": outcome["error"],
                                          "attempt": receive_count, "outcome": status})
    if ok:
        if int(sub.get("consecutive_failures") or 0):
            store.note_outcome(sid, ok=True)
        return
    run = store.note_outcome(sid, ok=False)
    if should_disable(run, settings.webhook_disable_after_failures):
        _disable(sub, run)
    if last:
        enqueue_delivery(sid, sk, delivery["event_id"], delivery_group(sid, str(delivery.get("subject", ""))),
                         round_=f"dead{receive_count}", dead=True)
        return
    raise _Later(backoff_seconds(receive_count, settings.webhook_backoff_base_seconds,
                                 settings.webhook_backoff_cap_seconds))


def _disable(sub: dict[str, Any], run: int) -> None:
    """Switch the subscription off and tell its agency by an audit entry (its chain; issue 14)."""
    at = now_iso()
    if not get_webhook_store().disable(sub["subscription_id"], "too_many_failures", at):
        return
    logger.warning("webhook subscription disabled", extra={"subscription_id": sub["subscription_id"],
                                                            "consecutive_failures": run})
    audit.record(entry_fields(at=at, username="edoc-gateway:webhooks", organ_id=str(sub["organ_id"]), admin=False,
                              action="webhook_disabled", resource_type="webhook",
                              resource_id=sub["subscription_id"], result="too_many_failures", source_ip=""))
