"""Look-alikes of what Lambda hands a handler: the context object, the SQS event, the scheduled event, and how
Lambda reads a `batchItemFailures` answer.

Why they are built by hand rather than with `chalice.test`'s generators: `generate_sqs_event` gives every record
the same `messageId` (docs/traps.md#chalice-sqs-test-events-share-a-messageid), and the pump must turn a real
ReceiveMessage answer into the exact event Lambda's poller builds, receipt handles and attributes included, so
partial-batch failures and redrive behave as on AWS. The integration tests use the same builders, so they and the stack
cannot drift apart.
"""

from __future__ import annotations

import base64
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from devstack.config import MOTO_ACCOUNT

__all__ = ["LambdaContext", "failed_message_ids", "scheduled_event", "sqs_event_record"]


class LambdaContext:
    """The attributes of Lambda's context object that handlers and powertools read."""

    def __init__(self, function_name: str, memory_limit_in_mb: int, timeout_seconds: int, region: str) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{MOTO_ACCOUNT}:function:{function_name}"
        self.memory_limit_in_mb = memory_limit_in_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"
        self.identity = None
        self.client_context = None
        self.timeout_seconds = timeout_seconds
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def sqs_event_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """One record of a Lambda SQS event, built from a ReceiveMessage answer the way Lambda's poller builds it."""
    attributes = {}
    for name, value in message.get("MessageAttributes", {}).items():
        entry: dict[str, Any] = {"stringListValues": [], "binaryListValues": [], "dataType": value["DataType"]}
        if "StringValue" in value:
            entry["stringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            entry["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode("ascii")
        attributes[name] = entry
    record = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": attributes,
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    if message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def scheduled_event(rule_name: str, region: str) -> dict[str, Any]:
    """The EventBridge "Scheduled Event" a rate/cron rule delivers."""
    return {
        "version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
        "account": MOTO_ACCOUNT, "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region, "resources": [f"arn:aws:events:{region}:{MOTO_ACCOUNT}:rule/{rule_name}"], "detail": {},
    }


def failed_message_ids(result: Any, message_ids: list[str]) -> set[str]:
    """Which records Lambda would leave on the queue, given the handler's return value (ReportBatchItemFailures).

    Empty/None answers and empty lists mean success; an identifier that is empty or not in the batch, or an
    answer that is not an object, makes Lambda treat the whole batch as failed.
    """
    if result is None:
        return set()
    if not isinstance(result, dict):
        return set(message_ids)
    failures = result.get("batchItemFailures")
    if not failures:
        return set()
    failed: set[str] = set()
    for entry in failures:
        ident = entry.get("itemIdentifier") if isinstance(entry, dict) else None
        if not ident or ident not in message_ids:
            return set(message_ids)
        failed.add(ident)
    return failed
