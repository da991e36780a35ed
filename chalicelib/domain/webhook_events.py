"""Webhook events (issue 14): their types, ids, bodies and the rules of their delivery, pure.

Where an event comes from (docs/contract.md#webhooks, "Where events come from"): the code that records a change
publishes the event just BEFORE its conditional write (chalicelib.adapters.webhook_outbox), naming what the write
will leave behind (`confirm`: the document's timeline entry, the delivery row's history entry, the inbox item). The
webhooks function delivers an event only once it finds that trace in the table, and drops it when the trace never
appears (the write lost its condition: nothing happened). So a change is never recorded without its event having
been queued first (nothing lost, even if the process dies right after the write), and no event is sent for a change
that did not happen. Why not DynamoDB Streams: moto server cannot serve them (docs/traps.md), and the embedded
stack must take the same path as AWS.

Order (acceptance 1: uploaded → signed → dispatched → the recipients' statuses): one FIFO queue; an event's message
group is its document (or inbox item), so the fan-out takes a document's events one at a time in the order they
were published, which is the order of their writes (each step publishes before it writes and hands on to the
next step only after); each delivery's group is the subscription and the document, so a receiver that fails
holds back only that document's later events for itself, never another subscription's or another document's.

Ids: `evt_<24 hex>` from what the event is about (the document, the state and the timeline entry's time...), so a
publish retried by SQS or by the handler that made it deduplicates in the FIFO queue (5 minutes) and in the
deliveries table (always), and the receiver sees the same `webhook-id` on every retry.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from chalicelib.domain import states

__all__ = ["ALL_EVENTS", "DELIVERY_STATUS", "INBOX_RECEIVED", "INBOX_REVOKED", "STATE_EVENTS", "TEST_EVENT", "WILDCARD",
           "backoff_seconds", "body_bytes", "delivery_group", "event_body", "event_id", "should_disable",
           "subscribed"]

#: A document's state changes that are events (chalicelib.domain.states), by the state reached.
STATE_EVENTS: dict[str, str] = {
    states.UPLOADED: "document.uploaded",
    states.SIGNED: "document.signed",
    states.REJECTED: "document.rejected",
    states.DISPATCHED: "document.dispatched",
    states.FAILED: "document.failed",
    states.REVOKED: "document.revoked",
}
DELIVERY_STATUS = "delivery.status"
INBOX_RECEIVED = "inbox.received"
INBOX_REVOKED = "inbox.revoked"
#: What `POST /v1/webhooks/{id}/test` sends; every subscription gets it, whatever its `events`.
TEST_EVENT = "webhook.test"
ALL_EVENTS: tuple[str, ...] = (*STATE_EVENTS.values(), DELIVERY_STATUS, INBOX_RECEIVED, INBOX_REVOKED)
#: `events: ["*"]` subscribes to every type, those added later too.
WILDCARD = "*"


def event_id(*parts: str) -> str:
    """A stable id from what the event is about (module docstring)."""
    return "evt_" + hashlib.sha256("|".join(parts).encode("utf-8")).hexdigest()[:24]


def subscribed(events: list[str], event_type: str) -> bool:
    """Whether a subscription with these `events` gets `event_type`."""
    return event_type == TEST_EVENT or WILDCARD in events or event_type in events


def delivery_group(subscription_id: str, subject: str) -> str:
    """The FIFO message group of one subscription's deliveries about one document or inbox item (module docstring)."""
    return f"{subscription_id}#{subject}"[:128]


def event_body(*, event_id: str, event_type: str, occurred_at: str, organ_id: str, data: dict[str, Any]
               ) -> dict[str, Any]:
    """The body every receiver gets (docs/contract.md#webhooks): `{"id", "type", "occurred_at", "organ_id",
    "data"}`; `organ_id` is the subscribing agency, `data` the API's own shapes."""
    return {"id": event_id, "type": event_type, "occurred_at": occurred_at, "organ_id": organ_id, "data": data}


def body_bytes(body: dict[str, Any]) -> bytes:
    """The exact bytes sent and signed (UTF-8, Vietnamese as it is, compact): built once per event and stored, so a
    retry sends the very bytes its signature covers."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")


def backoff_seconds(attempt: int, base: int, cap: int) -> int:
    """Wait after failed attempt `attempt` (1-based): base·2^(n-1) capped, no jitter (the FIFO group waits anyway;
    one receiver's deliveries are in one group per document). The defaults (base 30 s, cap 4 h, 15 attempts) spread
    the attempts over about a day: 30 s, 1, 2, 4, 8, 16, 32 min, 1 h 4 min, 2 h 8 min, then every 4 h."""
    return max(1, min(cap, base * 2 ** max(0, attempt - 1), 43200))


def should_disable(consecutive_failures: int, threshold: int) -> bool:
    """A subscription whose receiver failed this many attempts in a row (across its events) is disabled: each
    event is retried for about a day, so a threshold of several events' worth means days of silence."""
    return threshold > 0 and consecutive_failures >= threshold
