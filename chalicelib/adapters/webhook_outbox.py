"""Publish a webhook event onto the webhooks FIFO queue, just before the write that records its change (issue 14;
chalicelib.domain.webhook_events says why before, and how the delivery side confirms the write).

Called from the one conditional write of each change: a document's transition (chalicelib.adapters.document_store),
a recipient's status (chalicelib.adapters.inbound_store.apply_delivery_status), an inbox item filed or revoked. A
publish that fails raises, so the write does not happen and the handler's message is retried as for any other
AWS fault: the gateway never records a change whose event was not queued. The message names the document or inbox
item, the event's type and id, and what to look for in the table (`confirm`); never a document's content.

The queue is the stage's `edoc-<stage>-webhooks.fifo`: message group = the document or inbox item (its events in
order), deduplication id = the event id (a retried publish is dropped by SQS for 5 minutes, and by the deliveries'
conditional writes after that).
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from chalicelib.adapters import aws
from chalicelib.core.log import logger
from chalicelib.core.settings import get_settings
from chalicelib.domain.webhook_events import DELIVERY_STATUS, INBOX_RECEIVED, INBOX_REVOKED, STATE_EVENTS, event_id

__all__ = ["CANCELLED_SK", "EVENT_MESSAGE", "SUBSCRIBERS_KEY", "forget_subscribers", "is_cancelled", "mark_cancelled",
           "publish", "publish_delivery_status", "publish_inbox", "publish_transition", "subscribing_organs"]

#: `kind` of a message that is an event to fan out (deliveries are `delivery`, chalicelib.webhooks.delivery).
EVENT_MESSAGE = "event"


#: The item naming the agencies that ever subscribed (a string set, only ever added to: a stale entry costs a
#: publish, a missing one would lose events), in the documents table.
SUBSCRIBERS_KEY = {"pk": "WEBHOOKS", "sk": "ORGANS"}
_subscribers: dict[str, tuple[float, frozenset[str]]] = {}  # table → (valid until, organs)
_subscribers_lock = threading.Lock()


def subscribing_organs() -> frozenset[str] | None:
    """The agencies that subscribe, as this container last read them (at most `webhook_subscribers_cache_seconds`
    old); None when they cannot be read (then every event is published: cost, never a loss)."""
    settings = get_settings()
    table = settings.documents_table
    with _subscribers_lock:
        cached = _subscribers.get(table)
        if cached is not None and time.monotonic() < cached[0]:
            return cached[1]
    try:
        item = aws.table(table).get_item(Key=SUBSCRIBERS_KEY, ConsistentRead=True)
    except Exception as exc:
        logger.warning("webhook subscribers unknown: publishing", extra={"error": type(exc).__name__})
        return None
    organs = frozenset((item.get("Item") or {}).get("organs") or ())
    with _subscribers_lock:
        _subscribers[table] = (time.monotonic() + settings.webhook_subscribers_cache_seconds, organs)
    return organs


def forget_subscribers() -> None:
    """Read the subscribing agencies again at the next publish (this container just added one)."""
    with _subscribers_lock:
        _subscribers.clear()


def _wanted(organ_id: str | None) -> bool:
    """Whether an event of `organ_id` (None: not known here) may have a subscriber: no publish, no fan-out, no
    cost while no agency (or not this one) subscribes (issue 11's bill)."""
    organs = subscribing_organs()
    if organs is None:
        return True
    return bool(organs) if organ_id is None else organ_id in organs


def publish(message: dict[str, Any], group: str, organ_id: str | None = None) -> None:
    """Send one event message (FIFO: `group` orders it, its id deduplicates it), unless no agency that could get it
    subscribes (`_wanted`)."""
    queue = get_settings().webhooks_queue
    if not queue or not _wanted(organ_id):
        return
    aws.client("sqs").send_message(QueueUrl=aws.queue_url(queue), MessageBody=json.dumps(message),
                                   MessageGroupId=group[:128], MessageDeduplicationId=message["id"])


def publish_transition(document_id: str, target: str, at: str) -> str | None:
    """A document reaching `target` at `at` (the timeline entry the transition is about to append); its event id,
    or None for a state that is not an event (AWAITING_UPLOAD, EXPIRED) or when nobody subscribes."""
    event_type = STATE_EVENTS.get(target)
    if event_type is None or not _wanted(None):
        return None
    eid = event_id(document_id, target, at)
    publish({"kind": EVENT_MESSAGE, "id": eid, "type": event_type, "occurred_at": at, "document_id": document_id,
             "confirm": {"timeline": {"state": target, "at": at}}}, f"doc#{document_id}")
    return eid


#: The item, in the document's partition beside its record, naming the events of transitions that lost their
#: condition (chalicelib.webhooks.delivery drops them at once instead of waiting out the confirmation window, which
#: holds the document's later events back). Not on the record itself: a lost write must leave the record as it was.
CANCELLED_SK = "WEBHOOKS#CANCELLED"
_CANCELLED_TTL_SECONDS = 7 * 24 * 3600


def mark_cancelled(table: Any, document_id: str, event_id: str) -> None:
    """Name a lost transition's event (an UpdateItem that makes the item if needed); never raises: without the mark
    the event is dropped after the confirmation window anyway."""
    try:
        table.update_item(Key={"pk": f"DOC#{document_id}", "sk": CANCELLED_SK},
                          UpdateExpression="ADD events :e SET expires_at = if_not_exists(expires_at, :ttl)",
                          ExpressionAttributeValues={":e": {event_id},
                                                     ":ttl": int(time.time()) + _CANCELLED_TTL_SECONDS})
    except Exception as exc:  # a lost mark costs only latency
        logger.info("webhook event not marked cancelled", extra={"error": type(exc).__name__})


def is_cancelled(document_id: str, event_id: str) -> bool:
    """Whether the writer of `event_id` marked it lost (a consistent GetItem, only for events not confirmed yet)."""
    item = aws.table(get_settings().documents_table).get_item(
        Key={"pk": f"DOC#{document_id}", "sk": CANCELLED_SK}, ConsistentRead=True).get("Item") or {}
    return event_id in set(item.get("events") or ())


def publish_delivery_status(document_id: str, organ_id: str, entry: dict[str, Any]) -> None:
    """A recipient's status report about to be appended to its delivery row's history (`entry`, with its `at`)."""
    at = str(entry.get("at", ""))
    publish({"kind": EVENT_MESSAGE, "id": event_id(document_id, organ_id, "status", at, str(entry.get("code", ""))),
             "type": DELIVERY_STATUS, "occurred_at": at, "document_id": document_id,
             "confirm": {"delivery": {"organ_id": organ_id, "at": at}}}, f"doc#{document_id}")


def publish_inbox(inbox_id: str, *, revoked: bool, at: str, organ_id: str | None = None) -> None:
    """An inbox item about to be filed (`revoked` False) or marked revoked (for `organ_id`, when known)."""
    event_type = INBOX_REVOKED if revoked else INBOX_RECEIVED
    publish({"kind": EVENT_MESSAGE, "id": event_id(inbox_id, event_type), "type": event_type, "occurred_at": at,
             "inbox_id": inbox_id, "confirm": {"inbox": {"revoked": revoked}}}, f"inbox#{inbox_id}", organ_id)


#: `kind` of a message that is one delivery of one event to one subscription.
DELIVERY_MESSAGE = "delivery"


def enqueue_delivery(subscription_id: str, delivery_sk: str, event_id: str, group: str, *,
                     round_: str = "", dead: bool = False) -> None:
    """One delivery message (fan-out, test, admin redelivery: `round_` makes a redelivery's deduplication id new),
    or, with `dead`, its copy on the webhooks DLQ (the bound was reached: an admin redelivers it)."""
    settings = get_settings()
    queue = settings.webhooks_queue
    if dead:
        queue = queue.removesuffix(".fifo") + "-dlq.fifo"
    message = {"kind": DELIVERY_MESSAGE, "subscription_id": subscription_id, "delivery": delivery_sk,
               "id": event_id}
    dedup = f"{event_id}#{subscription_id}" + (f"#{round_}" if round_ else "")
    aws.client("sqs").send_message(QueueUrl=aws.queue_url(queue), MessageBody=json.dumps(message),
                                   MessageGroupId=group[:128], MessageDeduplicationId=dedup[:128])


__all__ += ["DELIVERY_MESSAGE", "enqueue_delivery"]
