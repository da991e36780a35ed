"""The Lambda edge of the queue handlers: an SQS batch processed record by record, failures reported.

Why here and not in app.py: app.py stays the table of contents; this is the one place that knows how Lambda hands
an SQS batch over and how a partial failure is answered (`ReportBatchItemFailures`, which the merge template turns
on for each event source: docs/traps.md#chalice-functionresponsetypes).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from chalicelib.adapters.queues import get_queues
from chalicelib.core.log import logger
from chalicelib.domain.retry import RetryLater, lease_wait_seconds

__all__ = ["sqs_batch"]


def sqs_batch(event: Any, handle: Callable[[str, int], None],
              on_failure: Callable[[dict, int], None] | None = None) -> dict:
    """Process an SQS batch record by record; failed records are reported (ReportBatchItemFailures).
    `on_failure(raw record, receive count)` runs before a record is reported failed (e.g. to delay its retry)."""
    # lazy: the batch utilities load only in the SQS handlers
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    def record_handler(record: Any) -> None:
        count = int(record.attributes.approximate_receive_count or 1)
        try:
            handle(record.body, count)
        except RetryLater as exc:
            if exc.until:
                _wait_for_lease(record.raw_event, exc.until)
            elif on_failure is not None:
                on_failure(record.raw_event, count)
            raise
        except Exception:
            if on_failure is not None:
                on_failure(record.raw_event, count)
            raise

    # raise_on_entire_batch_failure=False: a batch whose every record failed is reported in batchItemFailures
    # like any other, not turned into an invocation error (Lambda Errors metric, concurrency backoff;
    # docs/traps.md#powertools-raise-on-entire-batch-failure).
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    return process_partial_response(event=event.to_dict(), record_handler=record_handler, processor=processor,
                                    context=event.context)


def _wait_for_lease(record: dict, until: int) -> None:
    """Hold a message that met another worker's lease back until that lease ends (`RetryLater`'s docstring): one
    ChangeMessageVisibility with the record's receipt handle. Best effort: if it fails, the queue's own visibility
    timeout (longer than any lease, infra/resources.yaml) applies."""
    seconds = lease_wait_seconds(until, time.time())
    try:
        get_queues().delay(str(record["eventSourceARN"]).rsplit(":", 1)[-1], record["receiptHandle"], seconds)
    except Exception as exc:
        logger.warning("could not hold the message back", extra={"error": type(exc).__name__})
        return
    logger.info("message held back until the lease ends", extra={"delay_seconds": seconds})
