"""The Lambda side of the handler tests (tests/integration): the SQS poller played in this process.

`LambdaQueue` plays Lambda's SQS poller for one queue: it receives real messages from moto, builds the Lambda SQS
event with `devstack.stack.sqs_event_record` (the pump's own builder), invokes the handler and applies
ReportBatchItemFailures the way Lambda does (an invocation error fails the whole batch). `HandlerEnv` is what the
`handler_env` fixture (tests/integration/conftest.py) hands over; the checks below say what Lambda and SQS make of
an invocation. What the handlers wrote to S3 and DynamoDB is read back by tests/support/records.py.

The gateway's modules are imported inside the functions, as the tests do: only after `handler_env` has set the
Lambda environment and imported `app`.
"""

from __future__ import annotations

import contextlib
import copy
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.moto_tables import REGION
from tests.support.organs import G22, H03, K62

__all__ = ["RECIPIENTS", "HandlerEnv", "Invocation", "LambdaQueue", "assert_not_retried", "assert_reported_failed",
           "axis_packages", "describe", "forget_caches"]

#: Whom the handler tests' documents go to: two external agencies (K62 with paper in parallel) and one served.
RECIPIENTS = [G22, K62, H03]


@dataclass
class Invocation:
    """One handler invocation: what it returned or raised, and which messages SQS will deliver again."""

    message_ids: list[str]
    result: Any = None
    error: BaseException | None = None
    #: The message ids Lambda leaves on the queue (ReportBatchItemFailures; all of them on an invocation error).
    retried: set[str] = field(default_factory=set)

    @property
    def reported(self) -> set[str]:
        """The ids the handler itself returned in `batchItemFailures` (empty when it raised)."""
        if not isinstance(self.result, dict):
            return set()
        return {f["itemIdentifier"] for f in self.result.get("batchItemFailures", [])}


class LambdaQueue:
    """One SQS queue and the handler subscribed to it, driven the way Lambda's event source mapping drives it."""

    def __init__(self, env: HandlerEnv, queue: str, handler_name: str, timeout_seconds: int = 60) -> None:
        self.env = env
        self.queue = queue
        self.handler_name = handler_name
        self.url = env.queue_urls[queue]
        self.arn = env.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"]
        self.timeout_seconds = timeout_seconds
        #: Receipt handles of every message received here, so `drain` can delete those still in flight.
        self._received: list[str] = []

    # -- the queue ------------------------------------------------------------------------------------------
    def receive(self) -> list[dict[str, Any]]:
        """Every message visible now (each becomes in flight for the queue's visibility timeout)."""
        messages: list[dict[str, Any]] = []
        while True:
            resp = self.env.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                                MessageSystemAttributeNames=["All"], MessageAttributeNames=["All"])
            batch = resp.get("Messages", [])
            if not batch:
                return messages
            messages.extend(batch)
            self._received.extend(m["ReceiptHandle"] for m in batch)

    def drain(self) -> None:
        """Delete every message, visible or in flight (PurgeQueue is limited to one call a minute)."""
        self.receive()
        for handle in self._received:
            with contextlib.suppress(Exception):
                self.env.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=handle)
        self._received.clear()

    def make_visible(self, messages: list[dict[str, Any]]) -> None:
        """What the end of the visibility timeout does: the messages can be received again."""
        for m in messages:
            self.env.sqs.change_message_visibility(QueueUrl=self.url, ReceiptHandle=m["ReceiptHandle"],
                                                   VisibilityTimeout=0)

    # -- events ---------------------------------------------------------------------------------------------
    def record(self, message: dict[str, Any]) -> dict[str, Any]:
        """The Lambda SQS event record for a received message."""
        from devstack.lambda_events import sqs_event_record

        return sqs_event_record(message, self.arn, REGION)

    @staticmethod
    def duplicate(record: dict[str, Any]) -> dict[str, Any]:
        """The same body as another SQS message (S3 may notify twice; a producer may send twice)."""
        dup = copy.deepcopy(record)
        dup["messageId"] = str(uuid.uuid4())
        dup["receiptHandle"] = uuid.uuid4().hex
        dup["attributes"]["ApproximateReceiveCount"] = "1"
        return dup

    @staticmethod
    def redelivered(record: dict[str, Any], receive_count: int) -> dict[str, Any]:
        """The same SQS message delivered again: same messageId, new receipt handle, higher receive count."""
        again = copy.deepcopy(record)
        again["receiptHandle"] = uuid.uuid4().hex
        again["attributes"]["ApproximateReceiveCount"] = str(receive_count)
        return again

    def invoke_concurrently(self, records: list[dict[str, Any]], timeout: float = 120.0) -> list[Invocation]:
        """One invocation per record, all started at the same moment (two Lambda instances racing)."""
        import threading

        results: list[Invocation] = []
        barrier = threading.Barrier(len(records))

        def run(record: dict[str, Any]) -> None:
            barrier.wait()
            results.append(self.invoke([record]))

        threads = [threading.Thread(target=run, args=(r,)) for r in records]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=timeout)
        return results

    def invoke(self, records: list[dict[str, Any]]) -> Invocation:
        """Call `app.<handler>(event, context)` with these records, as one Lambda invocation."""
        from devstack.lambda_events import LambdaContext, failed_message_ids

        ids = [r["messageId"] for r in records]
        assert len(set(ids)) == len(ids), "Lambda never puts one messageId twice in a batch"
        context = LambdaContext(f"edoc-gateway-local-{self.handler_name}", 1024, self.timeout_seconds, REGION)
        handler = getattr(self.env.app, self.handler_name)
        inv = Invocation(message_ids=ids)
        try:
            inv.result = handler({"Records": records}, context)
        except Exception as exc:  # Lambda: an invocation error fails (and retries) the whole batch
            inv.error = exc
        inv.retried = set(ids) if inv.error else failed_message_ids(inv.result, ids)
        return inv

    def deliver(self, messages: list[dict[str, Any]]) -> Invocation:
        """One poller cycle: invoke with these received messages, delete what succeeded, make the rest visible
        again at once (as the visibility timeout would, later)."""
        inv = self.invoke([self.record(m) for m in messages])
        done = [m for m in messages if m["MessageId"] not in inv.retried]
        for m in done:
            self.env.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=m["ReceiptHandle"])
        self.make_visible([m for m in messages if m["MessageId"] in inv.retried])
        return inv


@dataclass
class HandlerEnv:
    app: Any
    endpoint_url: str
    provisioned: Any
    simulator: Any
    state_dir: Path
    sqs: Any
    s3: Any
    queue_urls: dict[str, str]
    bucket: str
    upload: LambdaQueue = field(init=False)
    dispatch: LambdaQueue = field(init=False)
    #: The dead-letter queues (their "handler" is an admin, never invoked here).
    upload_dlq: LambdaQueue = field(init=False)
    dispatch_dlq: LambdaQueue = field(init=False)

    def __post_init__(self) -> None:
        from chalicelib.core import settings  # as every gateway import here: only once handler_env has set the env

        self.upload = LambdaQueue(self, settings.UPLOAD_QUEUE, "sign_document")
        self.dispatch = LambdaQueue(self, settings.DISPATCH_QUEUE, "dispatch_document")
        self.upload_dlq = LambdaQueue(self, settings.UPLOAD_DLQ, "")
        self.dispatch_dlq = LambdaQueue(self, settings.DISPATCH_DLQ, "")

    def reset(self) -> None:
        """Empty queues, no faults, no packages on the axis: what each test starts from (the clean fixtures)."""
        for queue in (self.upload, self.dispatch, self.upload_dlq, self.dispatch_dlq):
            queue.drain()
        self.simulator.reset()


def forget_caches() -> None:
    """Everything the app caches per container (clients, settings, JWKS, signers, the axis secret)."""
    from chalicelib.adapters import aws
    from chalicelib.adapters.axis import credentials
    from chalicelib.api import auth
    from chalicelib.outbound import sign_upload
    from chalicelib.signing import pades

    aws.reset()
    auth.reset()
    credentials.clear_cache()
    sign_upload._identity.cache_clear()
    pades.clear_caches()


def axis_packages(env: HandlerEnv, **filters: str) -> list[dict[str, Any]]:
    return env.simulator.packages(**filters)["items"]


def describe(error: BaseException | None) -> str:
    """An invocation error with the per-record errors powertools wraps in BatchProcessingError."""
    children = getattr(error, "child_exceptions", None) or []
    return f"{error!r}" + "".join(f"\n  record error: {c[1]!r}" for c in children)


def assert_not_retried(inv: Invocation) -> None:
    assert inv.error is None, f"handler raised {describe(inv.error)}"
    assert inv.result == {"batchItemFailures": []}
    assert inv.retried == set()


def assert_reported_failed(inv: Invocation, message_ids: set[str]) -> None:
    """The handler returned these ids in batchItemFailures (not an invocation error, not more, not fewer)."""
    assert inv.retried == message_ids  # what SQS will deliver again
    assert inv.error is None, f"handler raised {describe(inv.error)} instead of reporting batchItemFailures"
    assert inv.reported == message_ids
