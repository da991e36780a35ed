"""What an agency and an admin see and do with deliveries (issue 14): the test event, the list of attempts, an
admin's redelivery, and the webhooks dead-letter queue beside dispatch's and upload's.

`GET /v1/webhooks/{id}/deliveries` lists the subscription's deliveries newest first, each with its attempts
(`at`, `status_code`, `duration_ms`, `error`); `POST /v1/webhooks/{id}/test` queues a `webhook.test` event to it
(202: the answer names the delivery to look for); `POST /v1/admin/webhooks/{id}/redeliver {"delivery_id"}` queues
a delivery again, whatever its status (the same body and `webhook-id`: receivers deduplicate).
`GET /v1/admin/dead-letters?queue=webhooks` peeks at the webhooks DLQ the way chalicelib.outbound.dead_letters
peeks at the others; its redrive sends each dead delivery again.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from chalicelib.adapters.dynamo import decode_cursor, encode_cursor
from chalicelib.adapters.queues import get_queues
from chalicelib.adapters.webhook_outbox import enqueue_delivery
from chalicelib.adapters.webhook_store import get_webhook_store
from chalicelib.core.clock import now_iso
from chalicelib.core.errors import Forbidden, NotFound, ValidationFailed
from chalicelib.core.settings import get_settings
from chalicelib.domain.caller import Caller
from chalicelib.domain.webhook_events import TEST_EVENT, delivery_group, event_body, event_id
from chalicelib.outbound import dead_letters as outbound_dead_letters
from chalicelib.webhooks.delivery import fan_out
from chalicelib.webhooks.subscriptions import owned

__all__ = ["list_deliveries", "list_dead_letters", "redeliver", "redrive", "send_test"]

WEBHOOKS_QUEUE_KIND = "webhooks"
_PEEK_VISIBILITY = 30
_MAX_MESSAGES = 500


def _present(item: dict[str, Any]) -> dict[str, Any]:
    return {"delivery_id": item["delivery_id"], "event_id": item["event_id"], "type": item["type"],
            "status": item["status"], "created_at": item.get("created_at"), "updated_at": item.get("updated_at"),
            "attempt_count": int(item.get("attempt_count") or 0), "attempts": item.get("attempts", [])}


def send_test(caller: Caller, subscription_id: str) -> dict[str, Any]:
    """`POST /v1/webhooks/{id}/test` → 202 `{"delivery_id", "event_id"}`."""
    sub = owned(caller, subscription_id)
    at = now_iso()
    eid = event_id(subscription_id, TEST_EVENT, at, uuid.uuid4().hex)
    body = event_body(event_id=eid, event_type=TEST_EVENT, occurred_at=at, organ_id=str(sub["organ_id"]),
                      data={"subscription_id": subscription_id, "message": "Kiểm tra webhook"})
    return {"subscription_id": subscription_id, "event_id": eid,
            "delivery_id": fan_out(subscription_id, body, f"test#{eid}")}


def list_deliveries(caller: Caller, subscription_id: str, *, limit: str | None, cursor: str | None
                    ) -> dict[str, Any]:
    """`GET /v1/webhooks/{id}/deliveries` (paged, newest first)."""
    owned(caller, subscription_id)
    try:
        size = max(1, min(200, int(limit or 50)))
    except ValueError:
        raise ValidationFailed("Tham số limit phải là số nguyên.", code="invalid_limit") from None
    start = decode_cursor(cursor, keys=frozenset({"pk", "sk"})) if cursor else None
    if start is not None and start["pk"] != f"WEBHOOK#{subscription_id}":  # another subscription's cursor
        raise ValidationFailed("Con trỏ phân trang không hợp lệ.", code="invalid_cursor")
    items, last = get_webhook_store().deliveries(subscription_id, limit=size, cursor=start)
    return {"items": [_present(i) for i in items], **({"next": encode_cursor(last)} if last else {})}


def redeliver(caller: Caller, subscription_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """`POST /v1/admin/webhooks/{id}/redeliver {"delivery_id"}` → 202 (admins only, audited at the edge)."""
    if not caller.is_admin:
        raise Forbidden(details={"required_group": "admins"})
    owned(caller, subscription_id)
    store = get_webhook_store()
    sk = f"DLV#{body.get('delivery_id')}"
    delivery = store.get_delivery(subscription_id, sk)
    if delivery is None:
        raise NotFound("Không tìm thấy lần gửi webhook.", code="webhook_delivery_not_found")
    store.set_delivery_status(subscription_id, sk, "pending", now_iso())
    enqueue_delivery(subscription_id, sk, delivery["event_id"],
                     delivery_group(subscription_id, str(delivery.get("subject", ""))), round_=uuid.uuid4().hex)
    return {"subscription_id": subscription_id, "delivery_id": delivery["delivery_id"], "status": "pending"}


# -- the webhooks DLQ beside the others --------------------------------------------------------------------------
def _dlq() -> str:
    return get_queues().dlq_of(get_settings().webhooks_queue)


def list_dead_letters(caller: Caller, queue: str | None) -> dict[str, Any]:
    """`GET /v1/admin/dead-letters[?queue=dispatch|upload|webhooks]`: dispatch's and upload's from
    chalicelib.outbound.dead_letters, the webhooks DLQ's here (each dead delivery with its subscription)."""
    if not caller.is_admin:
        raise Forbidden(details={"required_group": "admins"})
    if queue not in (None, WEBHOOKS_QUEUE_KIND):
        return outbound_dead_letters.list_dead_letters(caller, queue)
    items: list[dict[str, Any]] = []
    truncated = False
    if queue is None:
        found = outbound_dead_letters.list_dead_letters(caller, None)
        items, truncated = list(found["items"]), bool(found["truncated"])
    queues, dlq = get_queues(), _dlq()
    messages, more = queues.receive_all(dlq, _PEEK_VISIBILITY, _MAX_MESSAGES)
    try:
        for message in messages:
            items.append(_describe(message))
    finally:
        queues.make_visible(dlq, messages)
    items.sort(key=lambda i: i["dead_lettered_at"])
    return {"items": items, "truncated": truncated or more}


def _describe(message: Any) -> dict[str, Any]:
    data = json.loads(message.body)
    sent = int(message.attributes.get("SentTimestamp", "0")) / 1000
    sid, sk = data.get("subscription_id"), str(data.get("delivery", ""))
    delivery = get_webhook_store().get_delivery(sid, sk) if sid else None
    sub = get_webhook_store().get(sid) if sid else None
    return {"queue": WEBHOOKS_QUEUE_KIND, "message_id": message.message_id,
            "receive_count": max(0, int(message.attributes.get("ApproximateReceiveCount", "1")) - 1),
            "dead_lettered_at": datetime.fromtimestamp(sent, UTC).isoformat(timespec="seconds"),
            "document_id": None, "subscription_id": sid, "delivery_id": sk.removeprefix("DLV#"),
            "event_id": data.get("id"), "organ_id": (sub or {}).get("organ_id"),
            "type": (delivery or {}).get("type"), "attempt_count": int((delivery or {}).get("attempt_count") or 0)}


def redrive(caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    """`POST /v1/admin/dead-letters/redrive {"queue": "webhooks"}`: every dead delivery queued again (then
    deleted from the DLQ: a crash in between sends one twice, which receivers deduplicate by `webhook-id`)."""
    if body.get("queue") != WEBHOOKS_QUEUE_KIND:
        return outbound_dead_letters.redrive(caller, body)
    if not caller.is_admin:
        raise Forbidden(details={"required_group": "admins"})
    queues, dlq = get_queues(), _dlq()
    messages, truncated = queues.receive_all(dlq, 60, _MAX_MESSAGES)
    moved, failed = [], []
    for message in messages:
        data = json.loads(message.body)
        try:
            redeliver(caller, data["subscription_id"], {"delivery_id": str(data["delivery"]).removeprefix("DLV#")})
            queues.delete(dlq, message)
            moved.append({"message_id": message.message_id, "delivery_id": data["delivery"]})
        except Exception as exc:
            failed.append({"message_id": message.message_id, "error": type(exc).__name__})
    return {"queue": WEBHOOKS_QUEUE_KIND, "redriven": moved, "failed": failed, "truncated": truncated,
            "not_found": []}
