"""SQS queues behind the `Queues` port (chalicelib.domain.ports): the handlers' work queues and their dead-letter
queues.

Why an adapter: dispatch, the signing handler, the amendments and the admin's dead-letter tools send, peek and move
messages; SQS's shapes (URLs, receipt handles, batch entries, RedrivePolicy) stay here. A queue's DLQ is read from
its RedrivePolicy, so the DLQ names live in one place (infra/ and provisioning) and cannot drift from the code.
`get_queues()` builds the adapter once per container; `use_queues()` points the use cases at another (tests/fakes).
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from chalicelib.adapters import aws
from chalicelib.core.log import logger
from chalicelib.domain.ports import QueueMessage, Queues

__all__ = ["SqsQueues", "get_queues", "use_queues"]


@cache
def _dlq_name(source_queue: str) -> str:
    """The name of a queue's dead-letter queue, from its RedrivePolicy (a name, not a URL, is cached: the same in
    every environment, while `aws.queue_url` follows the endpoint and is reset with the clients)."""
    attributes = aws.client("sqs").get_queue_attributes(QueueUrl=aws.queue_url(source_queue),
                                                        AttributeNames=["RedrivePolicy"])["Attributes"]
    return str(json.loads(attributes["RedrivePolicy"])["deadLetterTargetArn"]).rsplit(":", 1)[-1]


def _message(raw: dict[str, Any]) -> QueueMessage:
    return QueueMessage(
        message_id=raw["MessageId"], body=raw["Body"], receipt_handle=raw["ReceiptHandle"],
        attributes=dict(raw.get("Attributes", {})),
        message_attributes={k: v["StringValue"] for k, v in raw.get("MessageAttributes", {}).items()
                            if "StringValue" in v})


class SqsQueues:
    """Queues by name."""

    def send(self, queue: str, body: str, attributes: dict[str, str] | None = None) -> None:
        extra = {} if attributes is None else {"MessageAttributes": {
            k: {"DataType": "String", "StringValue": str(v)} for k, v in attributes.items()}}
        aws.client("sqs").send_message(QueueUrl=aws.queue_url(queue), MessageBody=body, **extra)

    def dlq_of(self, source_queue: str) -> str:
        return _dlq_name(source_queue)

    def dead_letter(self, source_queue: str, body: str, attributes: dict[str, str] | None = None) -> None:
        """Put a message on the source queue's DLQ directly (a permanent failure: retrying cannot help, a person
        decides)."""
        self.send(self.dlq_of(source_queue), body, attributes or {})

    def receive_all(self, queue: str, visibility: int, limit: int) -> tuple[list[QueueMessage], bool]:
        """Every message of the queue (up to `limit`), each hidden for `visibility` seconds, and whether there may
        be more. Long polling (1 s) so SQS asks all its servers: a short poll samples some and may answer empty
        while messages remain."""
        sqs = aws.client("sqs")
        url = aws.queue_url(queue)
        seen: dict[str, QueueMessage] = {}
        while len(seen) < limit:
            batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=visibility,
                                        WaitTimeSeconds=1, MessageSystemAttributeNames=["All"],
                                        MessageAttributeNames=["All"]).get("Messages", [])
            fresh = [_message(m) for m in batch if m["MessageId"] not in seen]
            if not fresh:
                break
            seen.update((m.message_id, m) for m in fresh)
        return list(seen.values()), len(seen) >= limit

    def make_visible(self, queue: str, messages: list[QueueMessage]) -> None:
        """Make messages visible again now (the end of a peek). Best effort: they come back after their short
        visibility timeout anyway."""
        sqs = aws.client("sqs")
        url = aws.queue_url(queue)
        for start in range(0, len(messages), 10):
            chunk = messages[start:start + 10]
            try:
                sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
                    {"Id": str(i), "ReceiptHandle": m.receipt_handle, "VisibilityTimeout": 0}
                    for i, m in enumerate(chunk)])
            except Exception as exc:  # they come back after the short visibility timeout anyway
                logger.warning("could not release dead letters", extra={"error": type(exc).__name__})

    def delete(self, queue: str, message: QueueMessage) -> None:
        aws.client("sqs").delete_message(QueueUrl=aws.queue_url(queue), ReceiptHandle=message.receipt_handle)

    def delay(self, queue: str, receipt_handle: str, seconds: int) -> None:
        """ChangeMessageVisibility of a message being handled (its redelivery backoff)."""
        aws.client("sqs").change_message_visibility(QueueUrl=aws.queue_url(queue), ReceiptHandle=receipt_handle,
                                                    VisibilityTimeout=seconds)


_override: Queues | None = None


@cache
def _sqs() -> SqsQueues:
    return SqsQueues()


def get_queues() -> Queues:
    """The queues, built once per container."""
    return _override if _override is not None else _sqs()


def use_queues(queues: Queues | None) -> None:
    """Point every use case at `queues` (an in-memory fake), or back at SQS with None."""
    global _override
    _override = queues
