"""The event pump: what AWS runs around the functions, for the handlers registered on a Chalice app.

It stands in for Lambda's SQS pollers (long-poll, build the exact Lambda SQS event, invoke with a Lambda-like
context, delete only the records not reported in `batchItemFailures`, leave the rest for SQS to redeliver and,
after maxReceiveCount, redrive to the DLQ) and for EventBridge schedules. Why this is not a shortcut: the gateway's
retry, backoff and dead-letter behaviour lives in SQS's visibility timeouts and redrive, so the pump must leave
those to SQS (moto) exactly as Lambda does, and never retry or delete on its own judgement.

With `retry_after` (a visibility timeout of a few seconds, so that tests see retries in seconds, not minutes) the
pump keeps what AWS guarantees by configuration: a message is not delivered again while its own invocation runs
(the deployable queues' 120 s visibility timeout outlasts every function's timeout, infra/resources.yaml). It renews
the visibility of each message of a running batch every `retry_after / 2` seconds (`_Heartbeat`), except for the
messages the handler itself has set a visibility for (dispatch's backoff, a lease's wait: `_VisibilityLedger`), and
stops when the invocation ends: a failed message comes back `retry_after` later or when its handler said, and the
messages of a killed process come back `retry_after` after its last renewal, as those of a timed-out Lambda would
after the visibility timeout. Without it, a message whose invocation outlasts `retry_after` is handled twice at
once and its second delivery meets its own lease (found by tests/e2e/test_dispatch_faults_e2e.py under load).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from devstack import schedules
from devstack.config import STAGE
from devstack.lambda_events import LambdaContext, failed_message_ids, scheduled_event, sqs_event_record

__all__ = ["EventPump", "PumpOptions"]

pump_log = logging.getLogger("edoc.local.pump")


@dataclass(frozen=True)
class PumpOptions:
    """How the pump runs, for speed in tests and demos; the defaults are AWS's behaviour.

    `retry_after`: the pumped queues' visibility timeout in seconds (failed messages come back sooner);
    `schedule_seconds`: run scheduled handlers at this interval instead of their rate/cron;
    `sqs_concurrency`: invocations per SQS source at once, as Lambda runs several pollers per event source mapping;
    `wait_seconds`: the long-poll wait of one ReceiveMessage.
    """

    retry_after: int | None = None
    schedule_seconds: float | None = None
    sqs_concurrency: int = 1
    wait_seconds: int = 1


@dataclass
class _SqsSource:
    name: str
    queue: str
    queue_url: str
    queue_arn: str
    batch_size: int
    window_seconds: int


@dataclass
class _Schedule:
    name: str
    expression: str
    trigger: threading.Event


class _VisibilityLedger:
    """The receipt handles this process's handlers have called ChangeMessageVisibility for (botocore's
    `_make_api_call`, patched once per process so clients made before the pump are seen too). The lock also orders
    a renewal and a handler's own change: the later one is the handler's, as it must be."""

    lock = threading.RLock()
    changed: set[str] = set()
    _mine = threading.local()
    _installed = False

    @classmethod
    def install(cls) -> None:
        from botocore.client import BaseClient  # lazy: as the app's own clients

        with cls.lock:
            if cls._installed:
                return
            cls._installed = True
            original = BaseClient._make_api_call

            def make_api_call(client: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
                if operation_name != "ChangeMessageVisibility" or getattr(cls._mine, "renewing", False):
                    return original(client, operation_name, api_params)
                with cls.lock:
                    cls.changed.add(str(api_params.get("ReceiptHandle")))
                    return original(client, operation_name, api_params)

            BaseClient._make_api_call = make_api_call  # type: ignore[method-assign]

    @classmethod
    def renew(cls, sqs: Any, queue_url: str, messages: list[dict[str, Any]], seconds: int) -> None:
        with cls.lock:
            cls._mine.renewing = True
            try:
                for m in messages:
                    if m["ReceiptHandle"] not in cls.changed:
                        sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"],
                                                      VisibilityTimeout=seconds)
            finally:
                cls._mine.renewing = False

    @classmethod
    def forget(cls, messages: list[dict[str, Any]]) -> None:
        with cls.lock:
            cls.changed.difference_update(m["ReceiptHandle"] for m in messages)


class _Heartbeat:
    """Keeps a running batch's messages invisible (module docstring) until `stop()`."""

    def __init__(self, sqs: Any, source: _SqsSource, messages: list[dict[str, Any]], seconds: int) -> None:
        self._sqs, self._source, self._messages, self._seconds = sqs, source, messages, seconds
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{source.name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._done.wait(max(0.5, self._seconds / 2)):
            try:
                _VisibilityLedger.renew(self._sqs, self._source.queue_url, self._messages, self._seconds)
            except Exception as exc:  # a receipt gone stale or moto busy: the next beat tries again
                pump_log.debug("%s: visibility renewal failed: %s", self._source.name, type(exc).__name__)

    def stop(self) -> None:
        with _VisibilityLedger.lock:  # no renewal after this returns
            self._done.set()
        self._thread.join(timeout=5)
        _VisibilityLedger.forget(self._messages)


def _document_ids(body: str) -> list[str]:
    """Document ids a message refers to, for logging (never the body itself), read by the gateway's own parser."""
    # lazy: chalicelib is imported only once the stack has set the Lambda environment (Stack._load_app)
    from chalicelib.outbound.dead_letters import document_ids

    # S3's first notification to a queue (docs/traps.md#moto-s3-sqs-test-event-and-url-encoded-keys)
    if '"s3:TestEvent"' in body:
        return ["s3:TestEvent"]
    return document_ids("dispatch", body) or document_ids("upload", body)


class EventPump:
    """Lambda's SQS pollers and EventBridge schedules for the handlers registered on a Chalice app.

    Handlers are discovered from `app.event_sources` (the same list `chalice package` turns into event source
    mappings and rules) and invoked through `app.handler_map`, so a new `@app.on_sqs_message` or `@app.schedule`
    is pumped without changes here.
    """

    def __init__(self, app: Any, *, sqs: Any, region: str, function_settings: Callable[[str], tuple[int, int]],
                 options: PumpOptions = PumpOptions(),
                 state_of: Callable[[str], str | None] | None = None,
                 functions: set[str] | None = None, metrics: Any = None) -> None:
        """`functions`: pump only these handlers (a function's own process pumps its own event sources, under
        its own role, as Lambda's pollers do); None: all of them. `metrics`: the process's
        `devstack.function_metrics.FunctionMetrics`, told about every invocation (issue 11 cold starts)."""
        from chalice.app import ScheduledEventConfig, SQSEventConfig  # lazy: chalice is loaded with the app

        self._app = app
        self._sqs = sqs
        self._region = region
        self._function_settings = function_settings
        self._options = options
        self._state_of = state_of
        self._metrics = metrics
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.sqs_sources: list[_SqsSource] = []
        self.schedules: list[_Schedule] = []
        for source in app.event_sources:
            if functions is not None and source.name not in functions:
                continue
            if isinstance(source, SQSEventConfig):
                queue = source.queue or (source.queue_arn or "").rsplit(":", 1)[-1]
                url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
                arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
                self.sqs_sources.append(_SqsSource(source.name, queue, url, arn, int(source.batch_size),
                                                   int(source.maximum_batching_window_in_seconds or 0)))
            elif isinstance(source, ScheduledEventConfig):
                self.schedules.append(_Schedule(source.name, schedules.expression(source.schedule_expression),
                                                threading.Event()))
            else:
                pump_log.warning("%s: %s event sources are not pumped locally", source.name, type(source).__name__)

    def function_name(self, handler: str) -> str:
        """The deployed function name Chalice gives a handler: <app>-<stage>-<handler>."""
        return f"{self._app.app_name}-{STAGE}-{handler}"

    def start(self) -> None:
        options = self._options
        if options.retry_after is not None:
            _VisibilityLedger.install()
        if options.retry_after is not None:
            # A shorter visibility timeout on the queues themselves, not a per-message change after each failure:
            # that way a handler's own ChangeMessageVisibility (dispatch backoff) is honoured exactly as SQS does.
            for source in self.sqs_sources:
                self._sqs.set_queue_attributes(QueueUrl=source.queue_url,
                                               Attributes={"VisibilityTimeout": str(options.retry_after)})
        for source in self.sqs_sources:
            for n in range(max(1, int(options.sqs_concurrency))):
                self._spawn(f"pump-{source.name}" + (f"-{n}" if n else ""), self._poll_loop, source)
        for schedule in self.schedules:
            self._spawn(f"schedule-{schedule.name}", self._schedule_loop, schedule)
        handlers = [f"{s.name} ← {s.queue}" for s in self.sqs_sources]
        handlers += [f"{s.name} @ {options.schedule_seconds or s.expression}" for s in self.schedules]
        pump_log.info("event pump: %s", ", ".join(handlers) or "no event handlers")

    def stop(self) -> None:
        """Stop polling; a batch being handled finishes first (as Lambda lets an invocation finish)."""
        self._stop.set()
        for schedule in self.schedules:
            schedule.trigger.set()
        for thread in self._threads:
            thread.join(timeout=max(self._options.wait_seconds * 2, 5) + 60)

    def trigger_schedules(self) -> None:
        """Run every scheduled handler now (SIGUSR1), e.g. poll the axis without waiting for the minute."""
        for schedule in self.schedules:
            schedule.trigger.set()

    def _spawn(self, name: str, target: Callable[..., None], arg: Any) -> None:
        thread = threading.Thread(target=target, args=(arg,), name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    # SQS ----------------------------------------------------------------------------------------------------
    def _receive(self, source: _SqsSource) -> list[dict[str, Any]]:
        """One batch: what a long poll returns or, with a batching window, what arrives until it is full."""
        messages: list[dict[str, Any]] = []
        deadline = time.monotonic() + source.window_seconds
        wait = self._options.wait_seconds
        while not self._stop.is_set():
            resp = self._sqs.receive_message(
                QueueUrl=source.queue_url, MaxNumberOfMessages=min(10, source.batch_size - len(messages)),
                WaitTimeSeconds=wait, MessageSystemAttributeNames=["All"], MessageAttributeNames=["All"],
            )
            messages.extend(resp.get("Messages", []))
            remaining = deadline - time.monotonic()
            if not messages or len(messages) >= source.batch_size or remaining <= 0:
                break
            wait = max(0, min(self._options.wait_seconds, int(remaining)))
        return messages

    def _poll_loop(self, source: _SqsSource) -> None:
        while not self._stop.is_set():
            try:
                messages = self._receive(source)
            except Exception as exc:  # moto restarting, connection reset: retry like the poller does
                if self._stop.is_set():
                    return
                pump_log.warning("%s: receive from %s failed: %s", source.name, source.queue, type(exc).__name__)
                self._stop.wait(1)
                continue
            if messages:
                self.invoke_sqs(source, messages)

    def invoke_sqs(self, source: _SqsSource, messages: list[dict[str, Any]]) -> set[str]:
        """Invoke the handler with one batch, then delete what succeeded; returns the failed message ids."""
        handler = self._app.handler_map[source.name]
        memory, timeout = self._function_settings(source.name)
        context = LambdaContext(self.function_name(source.name), memory, timeout, self._region)
        event = {"Records": [sqs_event_record(m, source.queue_arn, self._region) for m in messages]}
        ids = [m["MessageId"] for m in messages]
        started = time.monotonic()
        error: BaseException | None = None
        heartbeat = (_Heartbeat(self._sqs, source, messages, self._options.retry_after)
                     if self._options.retry_after else None)
        try:
            with self._invocation(len(messages)):
                result = handler(event, context)
        except Exception as exc:  # Lambda: an invocation error fails the whole batch
            error, result = exc, None
            pump_log.exception("%s: handler raised %s", source.name, type(exc).__name__)
        finally:
            if heartbeat is not None:
                heartbeat.stop()
        elapsed = time.monotonic() - started
        failed = set(ids) if error else failed_message_ids(result, ids)
        if elapsed > timeout:
            pump_log.warning("%s: ran %.1f s, over its %d s timeout: Lambda would have killed it",
                             source.name, elapsed, timeout)
            failed = set(ids)
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            chunk = done[start:start + 10]
            resp = self._sqs.delete_message_batch(QueueUrl=source.queue_url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)])
            for failure in resp.get("Failed", []):
                pump_log.warning("%s: delete failed (%s)", source.name, failure.get("Code"))
        # Failed messages are left alone, as Lambda leaves them: they come back when their visibility timeout
        # ends, the queue's (shortened by `retry_after`, see start()) or whatever the handler set (backoff).
        self._log_batch(source, messages, failed, elapsed)
        return failed

    def _invocation(self, records: int) -> Any:
        """The metrics' context for one invocation, or a no-op one without metrics."""
        return self._metrics.invocation(records) if self._metrics is not None else contextlib.nullcontext()

    def _log_batch(self, source: _SqsSource, messages: list[dict[str, Any]], failed: set[str],
                   elapsed: float) -> None:
        parts = []
        for m in messages:
            receive = m.get("Attributes", {}).get("ApproximateReceiveCount", "?")
            docs = _document_ids(m["Body"]) or [f"msg {m['MessageId'][:8]}"]
            outcome = "FAILED" if m["MessageId"] in failed else "ok"
            parts.append(f"{'/'.join(docs)} #{receive} {outcome}{self._states(docs)}")
        pump_log.info("%s: %s (%d ms)", source.name, "; ".join(parts), elapsed * 1000)

    def _states(self, document_ids: list[str]) -> str:
        """` → SIGNED`: the records' states after the handler ran (best effort, for the log only): one GetItem per
        document, so only with debug logging (at INFO it doubled a batch's reads, issue 11)."""
        if self._state_of is None or not pump_log.isEnabledFor(logging.DEBUG):
            return ""
        try:
            states = [self._state_of(d) for d in document_ids if d != "s3:TestEvent"]
        except Exception:
            return ""
        states = [s for s in states if s]
        return f" → {'/'.join(states)}" if states else ""

    # schedules ----------------------------------------------------------------------------------------------
    def _schedule_loop(self, schedule: _Schedule) -> None:
        interval = self._options.schedule_seconds or schedules.rate_seconds(schedule.expression)
        next_run = time.monotonic() + interval if interval else None
        while not self._stop.is_set():
            if next_run is not None:
                triggered = schedule.trigger.wait(max(0.0, next_run - time.monotonic()))
                next_run = time.monotonic() + interval if interval else None
            else:  # cron: wake at each minute boundary and check the expression
                now = datetime.now(UTC)
                boundary = (now + timedelta(minutes=1)).replace(second=0, microsecond=0)
                triggered = schedule.trigger.wait((boundary - now).total_seconds())
                if not triggered and not schedules.cron_matches(schedule.expression, datetime.now(UTC)):
                    continue
            schedule.trigger.clear()
            if self._stop.is_set():
                return
            self.invoke_scheduled(schedule, manual=triggered)

    def invoke_scheduled(self, schedule: _Schedule, *, manual: bool = False) -> None:
        handler = self._app.handler_map[schedule.name]
        memory, timeout = self._function_settings(schedule.name)
        function = self.function_name(schedule.name)
        context = LambdaContext(function, memory, timeout, self._region)
        started = time.monotonic()
        try:
            with self._invocation(1) as invocation:
                handler(scheduled_event(f"{function}-event", self._region), context)
                if invocation is not None:
                    invocation.did_work("scheduled run")
        except Exception as exc:
            pump_log.exception("%s: scheduled run raised %s", schedule.name, type(exc).__name__)
            return
        level = logging.INFO if manual else logging.DEBUG
        pump_log.log(level, "%s: ran%s (%d ms)", schedule.name, " (triggered)" if manual else "",
                     (time.monotonic() - started) * 1000)
