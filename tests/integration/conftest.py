"""Fixtures for integration tests that invoke the Lambda handlers in this process, against moto and the axis
simulator, exactly as Lambda would (`app.<handler>(event, context)` with a real SQS event).

`handler_env` (module scope) starts moto as a ThreadedMotoServer and the axis simulator on free ports, provisions
them with `devstack.provision` (the embedded stack's own provisioning, so the same resources as infra/),
sets the Lambda environment variables BEFORE `app` is imported, and imports `app`. Afterwards it restores
os.environ and forgets every cached client, settings object, JWKS client, signer and axis secret, so tests that
run later in the session (moto-mocked unit tests in particular) see nothing of it.

`LambdaQueue` plays Lambda's SQS poller for one queue: it receives real messages from moto, builds the Lambda SQS
event with `devstack.stack.sqs_event_record` (the pump's own builder), invokes the handler and applies
ReportBatchItemFailures the way Lambda does (an invocation error fails the whole batch).
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import logging
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REGION = "ap-southeast-1"
#: Variables that could point boto3 at a real account or another endpoint: never inherited by these tests.
_FOREIGN_AWS_VARIABLES = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
                          "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")


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
        from chalicelib.core import settings

        self.upload = LambdaQueue(self, settings.UPLOAD_QUEUE, "sign_document")
        self.dispatch = LambdaQueue(self, settings.DISPATCH_QUEUE, "dispatch_document")
        self.upload_dlq = LambdaQueue(self, settings.UPLOAD_DLQ, "")
        self.dispatch_dlq = LambdaQueue(self, settings.DISPATCH_DLQ, "")


def _forget_caches() -> None:
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


@pytest.fixture(scope="module")
def handler_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HandlerEnv]:
    """moto + axis simulator + provisioning + the Lambda environment, then `import app` (in that order)."""
    import boto3
    from botocore.config import Config
    from moto.server import ThreadedMotoServer

    from devstack import moto_fixes
    from devstack.axis_simulator import AxisSimulator
    from devstack.provision import axis_directory, load_or_create_axis_systems, provision

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    # Isolated transactions, as on DynamoDB: moto's own restore a whole-table copy when one fails, undoing a
    # concurrent worker's lease claim (two signatures in test_concurrent_duplicate_notifications_sign_once).
    moto_fixes.apply()
    saved_environ = os.environ.copy()
    state_dir = tmp_path_factory.mktemp("handlers")
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    simulator = None
    try:
        host, port = moto.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        systems = load_or_create_axis_systems(state_dir)
        simulator = AxisSimulator({**systems["served"], **systems["external"]}, axis_directory()).start()
        prov = provision(endpoint, REGION, axis_url=simulator.url, state_dir=state_dir)

        for name in _FOREIGN_AWS_VARIABLES:
            os.environ.pop(name, None)
        for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL_")]:
            os.environ.pop(name)
        os.environ.update(prov.env)  # as Lambda sets them: before the module is loaded
        _forget_caches()
        app = importlib.import_module("app")

        session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                        region_name=REGION)
        env = HandlerEnv(
            app=app, endpoint_url=endpoint, provisioned=prov, simulator=simulator, state_dir=state_dir,
            sqs=session.client("sqs", endpoint_url=endpoint),
            s3=session.client("s3", endpoint_url=endpoint, config=Config(signature_version="s3v4")),
            queue_urls=dict(prov.queue_urls), bucket=prov.bucket,
        )
        yield env
    finally:
        os.environ.clear()
        os.environ.update(saved_environ)
        with contextlib.suppress(Exception):
            _forget_caches()
        if simulator is not None:
            simulator.stop()
        moto.stop()
