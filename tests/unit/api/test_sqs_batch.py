"""The queue edge (`chalicelib.api.events.sqs_batch`): failures reported one by one, and a message that met another
worker's lease held back until that lease ends, not spent against maxReceiveCount (chalicelib.domain.retry)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.adapters import queues
from chalicelib.api.events import sqs_batch
from chalicelib.domain.retry import RetryLater, lease_wait_seconds
from tests.fakes import FakeQueues


class _Event:
    """What chalice hands an `on_sqs_message` handler: the Lambda event and no context (as in chalice.local)."""

    context = None

    def __init__(self, *bodies: str) -> None:
        self._records = [{"messageId": f"m{i}", "receiptHandle": f"r{i}", "body": body,
                          "attributes": {"ApproximateReceiveCount": "2"}, "messageAttributes": {},
                          "eventSource": "aws:sqs",
                          "eventSourceARN": "arn:aws:sqs:ap-southeast-1:1:edoc-local-dispatch"}
                         for i, body in enumerate(bodies)]

    def to_dict(self) -> dict[str, Any]:
        return {"Records": self._records}


@pytest.fixture
def fake_queues() -> Iterator[FakeQueues]:
    fake = FakeQueues()
    queues.use_queues(fake)
    try:
        yield fake
    finally:
        queues.use_queues(None)


def test_a_message_that_meets_a_held_lease_comes_back_when_the_lease_ends(fake_queues: FakeQueues) -> None:
    until = int(time.time()) + 80
    failures: list[tuple[str, int]] = []

    def handle(body: str, count: int) -> None:
        if body == "leased":
            raise RetryLater("d1", until=until)

    before = time.time()
    answer = sqs_batch(_Event("ok", "leased"), handle, on_failure=lambda rec, n: failures.append((rec["body"], n)))
    after = time.time()

    assert answer == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    ((queue, receipt, seconds),) = fake_queues.delays
    assert (queue, receipt) == ("edoc-local-dispatch", "r1")
    # one second past the lease (counted from when the handler ran, on a loaded machine too), not the backoff
    assert until - after <= seconds <= until - before + 2, "one second past the lease, not the dispatch backoff"
    assert failures == [], "the backoff is for failures; meeting a lease is not one"


def test_other_failures_keep_their_own_backoff(fake_queues: FakeQueues) -> None:
    failures: list[tuple[str, int]] = []

    def handle(body: str, count: int) -> None:
        raise RetryLater("d1") if body == "out-of-time" else RuntimeError("boom")

    answer = sqs_batch(_Event("boom", "out-of-time"), handle,
                       on_failure=lambda rec, n: failures.append((rec["body"], n)))

    assert answer == {"batchItemFailures": [{"itemIdentifier": "m0"}, {"itemIdentifier": "m1"}]}
    assert failures == [("boom", 2), ("out-of-time", 2)] and fake_queues.delays == []


@pytest.mark.parametrize(("until", "now", "seconds"), [(100, 40.5, 60), (100, 100, 1), (100, 500, 1),
                                                       (10**9, 0, 43200)])
def test_the_wait_is_whole_seconds_past_the_lease_within_sqs_bounds(until: int, now: float, seconds: int) -> None:
    assert lease_wait_seconds(until, now) == seconds
