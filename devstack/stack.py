"""The embedded stack: moto as AWS, the axis simulator, provisioning, the Chalice API and the event pump.

One process, everything on 127.0.0.1. The API is served in-process by chalice.local's LocalDevServer rather than
a `chalice local` subprocess because (1) the pump must call the very same `app` object's event handlers, which
it discovers from `app.event_sources`, (2) environment variables are set once, before `app` is imported, exactly
as Lambda sets them before loading the module, (3) port 0 works (the bound port is read back), and (4) one
process means one lifecycle: Ctrl-C or SIGTERM stops everything.

The event pump stands in for what AWS runs around the functions: Lambda's SQS pollers (long-poll, build the
exact Lambda SQS event, invoke with a Lambda-like context, delete only the records not reported in
`batchItemFailures`, leave the rest for SQS to redeliver and, after maxReceiveCount, redrive to the DLQ) and
EventBridge schedules. Nothing here is a shortcut the AWS path does not take.

For pytest and `make demo`, `start_stack()` runs the stack in a child process (`python -m devstack run`)
so its environment variables and imported `app` never leak into the caller, and returns a `StackHandle`.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import importlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

from devstack import demo_data
from devstack.provision import Provisioned, axis_directory, load_or_create_axis_systems, provision

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_STATE_DIR = REPO_ROOT / ".local"
DEFAULT_REGION = "ap-southeast-1"
DEFAULT_HOST = "127.0.0.1"
STAGE = "local"
STACK_FILE = "stack.json"
#: Comma-separated served demo agencies to put on PKCS#11 (a SoftHSM2 token under the state dir) instead of KMS,
#: read from the stack's `app_env` (`start_stack(..., app_env={...})`, `--env`) or its own environment.
PKCS11_AGENCIES_ENV = "EDOC_LOCAL_PKCS11_AGENCIES"
#: The account moto reports; only used to build ARNs in events and contexts.
MOTO_ACCOUNT = "123456789012"

log = logging.getLogger("edoc.local")
pump_log = logging.getLogger("edoc.local.pump")


@dataclass(frozen=True)
class Ports:
    """Listening ports; 0 = any free port (tests, parallel stacks)."""

    moto: int = 4566
    api: int = 8000
    axis: int = 8100

    @classmethod
    def from_base(cls, base: int) -> Ports:
        """0 → all free ports; otherwise moto=base, api=base+1, axis=base+2."""
        return cls(0, 0, 0) if base == 0 else cls(base, base + 1, base + 2)


# -- Lambda look-alikes ---------------------------------------------------------------------------------------


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


# -- schedules ------------------------------------------------------------------------------------------------

_MONTHS = {m: i for i, m in enumerate(["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT",
                                        "NOV", "DEC"], start=1)}
_WEEKDAYS = {d: i for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], start=1)}
_RATE_UNITS = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}


def _expression(schedule: Any) -> str:
    return schedule if isinstance(schedule, str) else schedule.to_string()


def rate_seconds(expression: str) -> float | None:
    """`rate(5 minutes)` → 300; None for a cron expression."""
    if not expression.startswith("rate("):
        return None
    value, unit = expression[5:-1].split()
    return int(value) * _RATE_UNITS[unit.lower()]


def _cron_field(field: str, value: int, lo: int, hi: int, names: dict[str, int]) -> bool:
    if field in ("*", "?"):
        return True
    for part in field.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/")
            step = int(step_text)
        if part in ("*", ""):
            start, end = lo, hi
        elif "-" in part:
            a, b = part.split("-")
            start, end = names.get(a.upper()) or int(a), names.get(b.upper()) or int(b)
        else:
            start = names.get(part.upper()) or int(part)
            end = hi if step > 1 else start
        if start <= value <= end and (value - start) % step == 0:
            return True
    return False


def cron_matches(expression: str, when: datetime) -> bool:
    """Whether EventBridge's `cron(min hour dom month dow year)` fires at `when` (UTC minute).

    The common forms (`*`, `?`, lists, ranges, steps, names); `L`, `W` and `#` are not supported locally.
    """
    minute, hour, dom, month, dow, year = expression[5:-1].split()
    weekday = (when.weekday() + 1) % 7 + 1  # EventBridge: 1 = SUN … 7 = SAT
    return (_cron_field(minute, when.minute, 0, 59, {}) and _cron_field(hour, when.hour, 0, 23, {})
            and _cron_field(dom, when.day, 1, 31, {}) and _cron_field(month, when.month, 1, 12, _MONTHS)
            and _cron_field(dow, weekday, 1, 7, _WEEKDAYS) and _cron_field(year, when.year, 1970, 2199, {}))


# -- the event pump -------------------------------------------------------------------------------------------


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


def _document_ids(body: str) -> list[str]:
    """Document ids a message refers to, for logging (never the body itself)."""
    try:
        data = json.loads(body)
    except ValueError:
        return []
    if not isinstance(data, dict):
        return []
    if data.get("Event") == "s3:TestEvent":
        return ["s3:TestEvent"]
    if isinstance(data.get("document_id"), str):
        return [data["document_id"]]
    ids = []
    for record in data.get("Records") or []:
        key = unquote_plus(((record.get("s3") or {}).get("object") or {}).get("key", ""))
        if key:
            ids.append(Path(key).stem)
    return ids


class EventPump:
    """Lambda's SQS pollers and EventBridge schedules for the handlers registered on a Chalice app.

    Handlers are discovered from `app.event_sources` (the same list `chalice package` turns into event source
    mappings and rules) and invoked through `app.handler_map`, so a new `@app.on_sqs_message` or `@app.schedule`
    is pumped without changes here.
    """

    def __init__(self, app: Any, *, sqs: Any, region: str, app_name: str,
                 function_settings: Callable[[str], tuple[int, int]], wait_seconds: int = 1,
                 retry_after: int | None = None, schedule_seconds: float | None = None,
                 state_of: Callable[[str], str | None] | None = None, sqs_concurrency: int = 1) -> None:
        from chalice.app import ScheduledEventConfig, SQSEventConfig

        self._app = app
        self._sqs = sqs
        self._region = region
        self._app_name = app_name
        self._function_settings = function_settings
        self._wait_seconds = wait_seconds
        self._retry_after = retry_after
        #: Concurrent invocations per SQS source, as Lambda runs several pollers per event source mapping.
        self._sqs_concurrency = max(1, int(sqs_concurrency))
        self._schedule_seconds = schedule_seconds
        self._state_of = state_of
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.sqs_sources: list[_SqsSource] = []
        self.schedules: list[_Schedule] = []
        for source in app.event_sources:
            if isinstance(source, SQSEventConfig):
                queue = source.queue or (source.queue_arn or "").rsplit(":", 1)[-1]
                url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
                arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
                self.sqs_sources.append(_SqsSource(source.name, queue, url, arn, int(source.batch_size),
                                                   int(source.maximum_batching_window_in_seconds or 0)))
            elif isinstance(source, ScheduledEventConfig):
                self.schedules.append(_Schedule(source.name, _expression(source.schedule_expression),
                                                threading.Event()))
            else:
                pump_log.warning("%s: %s event sources are not pumped locally", source.name, type(source).__name__)

    def function_name(self, handler: str) -> str:
        """The deployed function name Chalice gives a handler: <app>-<stage>-<handler>."""
        return f"{self._app_name}-{STAGE}-{handler}"

    def start(self) -> None:
        if self._retry_after is not None:
            # A shorter visibility timeout on the queues themselves, not a per-message change after each failure:
            # that way a handler's own ChangeMessageVisibility (dispatch backoff) is honoured exactly as SQS does.
            for source in self.sqs_sources:
                self._sqs.set_queue_attributes(QueueUrl=source.queue_url,
                                               Attributes={"VisibilityTimeout": str(self._retry_after)})
        for source in self.sqs_sources:
            for n in range(self._sqs_concurrency):
                self._spawn(f"pump-{source.name}" + (f"-{n}" if n else ""), self._poll_loop, source)
        for schedule in self.schedules:
            self._spawn(f"schedule-{schedule.name}", self._schedule_loop, schedule)
        handlers = [f"{s.name} ← {s.queue}" for s in self.sqs_sources]
        handlers += [f"{s.name} @ {self._schedule_seconds or s.expression}" for s in self.schedules]
        pump_log.info("event pump: %s", ", ".join(handlers) or "no event handlers")

    def stop(self) -> None:
        """Stop polling; a batch being handled finishes first (as Lambda lets an invocation finish)."""
        self._stop.set()
        for schedule in self.schedules:
            schedule.trigger.set()
        for thread in self._threads:
            thread.join(timeout=max(self._wait_seconds * 2, 5) + 60)

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
        wait = self._wait_seconds
        while not self._stop.is_set():
            resp = self._sqs.receive_message(
                QueueUrl=source.queue_url, MaxNumberOfMessages=min(10, source.batch_size - len(messages)),
                WaitTimeSeconds=wait, MessageSystemAttributeNames=["All"], MessageAttributeNames=["All"],
            )
            messages.extend(resp.get("Messages", []))
            remaining = deadline - time.monotonic()
            if not messages or len(messages) >= source.batch_size or remaining <= 0:
                break
            wait = max(0, min(self._wait_seconds, int(remaining)))
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
        try:
            result = handler(event, context)
        except Exception as exc:  # Lambda: an invocation error fails the whole batch
            error, result = exc, None
            pump_log.exception("%s: handler raised %s", source.name, type(exc).__name__)
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
        """` → SIGNED`: the records' states after the handler ran (best effort, for the log only)."""
        if self._state_of is None:
            return ""
        try:
            states = [self._state_of(d) for d in document_ids if d != "s3:TestEvent"]
        except Exception:
            return ""
        states = [s for s in states if s]
        return f" → {'/'.join(states)}" if states else ""

    # schedules ----------------------------------------------------------------------------------------------
    def _schedule_loop(self, schedule: _Schedule) -> None:
        interval = self._schedule_seconds or rate_seconds(schedule.expression)
        next_run = time.monotonic() + interval if interval else None
        while not self._stop.is_set():
            if next_run is not None:
                triggered = schedule.trigger.wait(max(0.0, next_run - time.monotonic()))
                next_run = time.monotonic() + interval if interval else None
            else:  # cron: wake at each minute boundary and check the expression
                now = datetime.now(UTC)
                boundary = (now + timedelta(minutes=1)).replace(second=0, microsecond=0)
                triggered = schedule.trigger.wait((boundary - now).total_seconds())
                if not triggered and not cron_matches(schedule.expression, datetime.now(UTC)):
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
            handler(scheduled_event(f"{function}-event", self._region), context)
        except Exception as exc:
            pump_log.exception("%s: scheduled run raised %s", schedule.name, type(exc).__name__)
            return
        level = logging.INFO if manual else logging.DEBUG
        pump_log.log(level, "%s: ran%s (%d ms)", schedule.name, " (triggered)" if manual else "",
                     (time.monotonic() - started) * 1000)


# -- the stack ------------------------------------------------------------------------------------------------


def _check_port_free(host: str, port: int, what: str) -> None:
    """Fail fast with a clear message: ThreadedMotoServer.start() would otherwise wait forever on a busy port."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise RuntimeError(f"{what} port {port} on {host} is in use: pass --port-{what} 0 for any free port, "
                               f"or stop what holds it") from exc


def _wait_http(url: str, *, expect_status: int | None, timeout: float, what: str) -> bytes:
    """GET `url` until it answers (with `expect_status`, if given); raises after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 (our own http://127.0.0.1 URLs)
                if expect_status is None or resp.status == expect_status:
                    return resp.read()
                last = f"HTTP {resp.status}"
        except urllib.error.HTTPError as exc:
            if expect_status is None:
                return b""
            last = f"HTTP {exc.code}"
        except OSError as exc:
            last = type(exc).__name__
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not answer at {url} within {timeout:.0f} s ({last})")


class Stack:
    """Everything in this process. `start()` returns once all parts answer and stack.json is written."""

    def __init__(self, state_dir: Path = DEFAULT_STATE_DIR, *, host: str = DEFAULT_HOST, ports: Ports = Ports(),
                 region: str = DEFAULT_REGION, retry_after: int | None = None,
                 schedule_seconds: float | None = None, app_env: dict[str, str] | None = None,
                 sqs_concurrency: int = 1) -> None:
        self.state_dir = Path(state_dir)
        self.host = host
        self.ports = ports
        self.region = region
        self.retry_after = retry_after
        self.sqs_concurrency = sqs_concurrency
        self.schedule_seconds = schedule_seconds
        #: Overrides of the app's environment (e.g. a small MAX_UPLOAD_BYTES for tests); applied last.
        self.app_env = dict(app_env or {})
        self.info: dict[str, Any] = {}
        self.provisioned: Provisioned | None = None
        self.pump: EventPump | None = None
        self._moto: Any = None
        self._axis: Any = None
        self._pki: Any = None
        self._api: Any = None
        self._api_thread: threading.Thread | None = None
        self._owns_stack_file = False

    @property
    def stack_file(self) -> Path:
        return self.state_dir / STACK_FILE

    def start(self) -> dict[str, Any]:
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> dict[str, Any]:
        # Ports first: a second `run` on busy ports must fail before it touches the running stack's files.
        for what, port in (("moto", self.ports.moto), ("api", self.ports.api), ("axis", self.ports.axis)):
            _check_port_free(self.host, port, what)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.stack_file.unlink(missing_ok=True)  # a stale file must never point clients at a dead stack
        self._owns_stack_file = True

        endpoint = self._start_moto()
        systems = load_or_create_axis_systems(self.state_dir)
        axis_url = self._start_axis({**systems["served"], **systems["external"]})
        pki = self._start_pki()
        hsm_agencies = (self.app_env.get(PKCS11_AGENCIES_ENV) or os.environ.get(PKCS11_AGENCIES_ENV) or "").split(",")
        prov = provision(endpoint, self.region, axis_url=axis_url, state_dir=self.state_dir,
                         pkcs11_agencies=[a.strip() for a in hsm_agencies if a.strip()], pki=pki)
        self.provisioned = prov

        app, disk_config = self._load_app(prov.env)
        api_url = self._start_api(app, disk_config)
        self.pump = EventPump(app, sqs=self._sqs_client(prov), region=self.region, app_name=app.app_name,
                              function_settings=lambda name: _function_settings(disk_config, name),
                              retry_after=self.retry_after, schedule_seconds=self.schedule_seconds,
                              state_of=_document_state, sqs_concurrency=self.sqs_concurrency)
        self.pump.start()

        _wait_http(prov.jwks_url, expect_status=200, timeout=30, what="moto (Cognito JWKS)")
        _wait_http(axis_url, expect_status=None, timeout=30, what="axis simulator")
        _wait_http(f"{api_url}/v1/health", expect_status=200, timeout=30, what="API")

        self.info = {
            "api_url": api_url,
            "aws_endpoint_url": endpoint,
            "region": self.region,
            "cognito": {"user_pool_id": prov.user_pool_id, "client_id": prov.client_id},
            "users": [{"username": u["username"], "password": u["password"], "organ_id": u["organ_id"],
                       "admin": u["admin"]} for u in prov.users],
            "pki": {**pki, "root_pem": prov.ca_root_pem},
            "axis": {"url": axis_url, "systems": [{"system_id": k, "secret": v}
                                                  for k, v in prov.axis_systems_external.items()]},
        }
        tmp = self.stack_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.info, indent=2, ensure_ascii=False), encoding="utf-8")
        os.chmod(tmp, 0o600)
        tmp.replace(self.stack_file)
        return self.info

    def _start_moto(self) -> str:
        from moto.server import ThreadedMotoServer

        from devstack import moto_fixes

        moto_fixes.apply()  # TransactWriteItems: isolated and O(items), as on DynamoDB (see the module)
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per AWS call otherwise
        self._moto = ThreadedMotoServer(ip_address=self.host, port=self.ports.moto, verbose=False)
        self._moto.start()
        host, port = self._moto.get_host_and_port()
        return f"http://{host}:{port}"

    def _start_pki(self) -> dict[str, str]:
        """The local PKI (pki_server.LocalPki: OCSP responder, CRL, RFC 3161 TSA) over the demo CA, on a free port.

        Started before provisioning: the agency certificates issued there name its OCSP and CRL URLs, and the app
        gets its TSA URL, so documents are signed at PAdES B-LT end to end. A free port every start is fine:
        certificates are issued anew at every start, and signed documents carry their validation data.
        """
        from devstack.pki import DemoCA
        from devstack.pki_server import LocalPki

        self._pki = LocalPki(DemoCA.load_or_create(self.state_dir / "pki"), host=self.host).start()
        return self._pki.urls

    def _start_axis(self, systems: dict[str, str]) -> str:
        from devstack.axis_simulator import AxisSimulator

        self._axis = AxisSimulator(systems, axis_directory(), host=self.host, port=self.ports.axis)
        self._axis.start()
        return str(self._axis.url).rstrip("/")

    def _load_app(self, provisioned_env: dict[str, str]) -> tuple[Any, dict[str, Any]]:
        """Set the Lambda environment (config.json's stage variables, then provisioning's), then import app."""
        disk_config = json.loads((REPO_ROOT / ".chalice" / "config.json").read_text(encoding="utf-8"))
        stage_env = _chalice_config(disk_config, "api_handler").environment_variables
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
            os.environ.pop(name, None)  # only moto, with fake credentials, from here on
        os.environ.update({**stage_env, **provisioned_env, **self.app_env})
        if str(REPO_ROOT) not in sys.path:
            sys.path.insert(0, str(REPO_ROOT))
        from chalicelib.adapters import aws

        aws.reset()  # settings and clients created before the environment was set must not survive
        module = importlib.import_module("app")
        return module.app, disk_config

    def _start_api(self, app: Any, disk_config: dict[str, Any]) -> str:
        from chalice.local import create_local_server

        config = _chalice_config(disk_config, "api_handler", chalice_app=app)
        self._api = create_local_server(app, config, self.host, self.ports.api)
        port = self._api.server.server_address[1]
        self._api_thread = threading.Thread(target=self._api.server.serve_forever, name="api", daemon=True)
        self._api_thread.start()
        return f"http://{self.host}:{port}"

    def _sqs_client(self, prov: Provisioned) -> Any:
        import boto3

        return boto3.session.Session().client(
            "sqs", endpoint_url=prov.endpoint_url, region_name=self.region,
            aws_access_key_id=prov.env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=prov.env["AWS_SECRET_ACCESS_KEY"])

    def stop(self) -> None:
        """Stop in reverse order; safe to call twice and after a failed start."""
        if self._owns_stack_file:
            self.stack_file.unlink(missing_ok=True)
            self._owns_stack_file = False
        if self.pump is not None:
            self.pump.stop()
            self.pump = None
        if self._api is not None:
            self._api.server.shutdown()
            self._api.server.server_close()
            self._api = None
        if self._axis is not None:
            with contextlib.suppress(Exception):
                self._axis.stop()
            self._axis = None
        if self._pki is not None:
            with contextlib.suppress(Exception):
                self._pki.stop()
            self._pki = None
        if self._moto is not None:
            with contextlib.suppress(Exception):
                self._moto.stop()
            self._moto = None

    def banner(self) -> str:
        """URLs, users and how to get a token: what a developer needs on screen."""
        info = self.info
        user = next(u for u in info["users"] if not u["admin"])
        endpoint, region, client = info["aws_endpoint_url"], info["region"], info["cognito"]["client_id"]
        users = "\n".join(f"    {u['username']:<18} {u['organ_id']}{'  (admin)' if u['admin'] else ''}"
                          for u in info["users"])
        return f"""
edoc-gateway embedded stack is up (stage {STAGE})
  API          {info['api_url']}/v1        (GET {info['api_url']}/v1/health)
  AWS (moto)   {endpoint}    region {region}
  Axis         {info['axis']['url']}    external systems: {', '.join(s['system_id'] for s in info['axis']['systems'])}
  PKI          {info['pki']['url']}    (TSA /tsa, OCSP /ocsp, CRL /crl/root.crl: documents are signed PAdES B-LT)
  stack.json   {self.stack_file}   (users, passwords, axis credentials)

Demo users (password {demo_data.DEMO_PASSWORD}):
{users}

Get an ID token and call the API:
  TOKEN=$(AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x aws --endpoint-url {endpoint} --region {region} \\
      cognito-idp initiate-auth --client-id {client} --auth-flow USER_PASSWORD_AUTH \\
      --auth-parameters USERNAME={user['username']},PASSWORD='{user['password']}' \\
      --query AuthenticationResult.IdToken --output text)
  curl -H "Authorization: Bearer $TOKEN" {info['api_url']}/v1/documents
  (no aws CLI: .venv/bin/python -c "import json; from devstack.client import GatewayClient; \\
      print(GatewayClient(json.load(open('{self.stack_file}'))).login('{user['username']}'))")

Scheduled handlers run at their rate; `kill -USR1 {os.getpid()}` runs them now. Ctrl-C stops everything.
"""


def _chalice_config(disk_config: dict[str, Any], function_name: str, **user_params: Any) -> Any:
    from chalice.config import Config

    return Config(chalice_stage=STAGE, function_name=function_name, user_provided_params=user_params,
                  config_from_disk=disk_config,
                  default_params={"project_dir": str(REPO_ROOT), "api_gateway_stage": "api", "autogen_policy": False})


def _document_state(document_id: str) -> str | None:
    """A document's state, read with the app's own store (the stack's environment points it at moto)."""
    from chalicelib.adapters.document_store import DocumentStore

    return (DocumentStore().get(document_id) or {}).get("state")


def _function_settings(disk_config: dict[str, Any], function_name: str) -> tuple[int, int]:
    """(memory MB, timeout s) from .chalice/config.json, with Chalice's defaults (128 MB, 60 s)."""
    config = _chalice_config(disk_config, function_name)
    return int(config.lambda_memory_size or 128), int(config.lambda_timeout or 60)


# -- handles for tests and tools ------------------------------------------------------------------------------


class StackHandle:
    """A running stack: `.info` is its stack.json; `.stop()` ends it. Also a context manager."""

    def __init__(self, info: dict[str, Any], state_dir: Path, *, process: subprocess.Popen | None = None,
                 stack: Stack | None = None, log_path: Path | None = None) -> None:
        self.info = info
        self.state_dir = state_dir
        self.log_path = log_path
        self._process = process
        self._stack = stack

    def run_schedules(self) -> None:
        """Run every scheduled handler (e.g. poll_axis) now instead of at its next tick; returns at once."""
        if self._stack is not None and self._stack.pump is not None:
            self._stack.pump.trigger_schedules()
        elif self._process is not None:
            self._process.send_signal(signal.SIGUSR1)

    def stop(self) -> None:
        if self._stack is not None:
            self._stack.stop()
            self._stack = None
        if self._process is not None:
            if self._process.poll() is None:
                self._process.terminate()
                try:
                    self._process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    self._process.kill()
                    self._process.wait()
            self._process = None

    def __enter__(self) -> StackHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_stack(tmp_dir: Path, ports: int | Ports = 0, *, region: str = DEFAULT_REGION, in_process: bool = False,
                retry_after: int | None = None, schedule_seconds: float | None = None,
                app_env: dict[str, str] | None = None, timeout: float = 180.0,
                sqs_concurrency: int = 1) -> StackHandle:
    """Start a stack whose state (stack.json, CA, axis credentials, log) lives in `tmp_dir`.

    By default in a child process, so the caller's environment and modules stay untouched (a pytest session
    also runs moto-mocked unit tests that must not see AWS_ENDPOINT_URL). `in_process=True` runs it in this
    process (it sets os.environ and imports `app` here). `ports=0` picks free ports. `app_env` overrides the
    app's environment variables (e.g. `{"MAX_UPLOAD_BYTES": "2097152"}`); `retry_after` and
    `schedule_seconds` speed up retries and schedules, `sqs_concurrency` runs that many invocations of each SQS
    handler at once (see `run --help`).
    """
    tmp_dir = Path(tmp_dir)
    tmp_dir.mkdir(parents=True, exist_ok=True)
    port_set = ports if isinstance(ports, Ports) else Ports.from_base(ports)
    if in_process:
        stack = Stack(tmp_dir, ports=port_set, region=region, retry_after=retry_after,
                      schedule_seconds=schedule_seconds, app_env=app_env, sqs_concurrency=sqs_concurrency)
        return StackHandle(stack.start(), tmp_dir, stack=stack)

    stack_file = tmp_dir / STACK_FILE
    stack_file.unlink(missing_ok=True)
    log_path = tmp_dir / "stack.log"
    cmd = [sys.executable, "-m", "devstack", "run", "--state-dir", str(tmp_dir), "--region", region,
           "--port-moto", str(port_set.moto), "--port-api", str(port_set.api), "--port-axis", str(port_set.axis)]
    if retry_after is not None:
        cmd += ["--retry-after", str(retry_after)]
    if schedule_seconds is not None:
        cmd += ["--schedule-seconds", str(schedule_seconds)]
    if sqs_concurrency != 1:
        cmd += ["--sqs-concurrency", str(sqs_concurrency)]
    for name, value in (app_env or {}).items():
        cmd += ["--env", f"{name}={value}"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with open(log_path, "ab") as log_file:
        process = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    handle = StackHandle({}, tmp_dir, process=process, log_path=log_path)
    deadline = time.monotonic() + timeout
    while not stack_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            handle.stop()
            tail = log_path.read_text(encoding="utf-8", errors="replace")[-4000:]
            raise RuntimeError(f"embedded stack did not start (exit {process.returncode}); log {log_path}:\n{tail}")
        time.sleep(0.1)
    handle.info = json.loads(stack_file.read_text(encoding="utf-8"))
    return handle


# -- command line ---------------------------------------------------------------------------------------------


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = Ports()
    parser.add_argument("--host", default=DEFAULT_HOST, help="address to listen on (default %(default)s)")
    parser.add_argument("--port-moto", type=int, default=defaults.moto, help="moto (AWS) port; 0 = any free")
    parser.add_argument("--port-api", type=int, default=defaults.api, help="API port; 0 = any free")
    parser.add_argument("--port-axis", type=int, default=defaults.axis, help="axis simulator port; 0 = any free")
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR,
                        help="where stack.json, the demo CA and axis credentials live (default .local/)")
    parser.add_argument("--region", default=DEFAULT_REGION)
    parser.add_argument("--retry-after", type=int, default=None, metavar="SECONDS",
                        help="set the pumped queues' visibility timeout to SECONDS, so failed SQS messages come "
                             "back sooner unless their handler delayed them itself (faster local retries; AWS "
                             "keeps infra/'s timeout)")
    parser.add_argument("--sqs-concurrency", type=int, default=1, metavar="N",
                        help="invocations of each SQS handler running at once (Lambda runs several pollers per "
                             "queue; default 1, one at a time)")
    parser.add_argument("--schedule-seconds", type=float, default=None, metavar="SECONDS",
                        help="run scheduled handlers every SECONDS instead of their rate/cron")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="override one of the app's environment variables (repeatable), "
                             "e.g. --env MAX_UPLOAD_BYTES=2097152")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")


def _parse_env(pairs: list[str]) -> dict[str, str]:
    env = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise SystemExit(f"--env wants NAME=VALUE, got {pair!r}")
        env[name] = value
    return env


def run(args: argparse.Namespace) -> int:
    """Start the stack, print how to use it, and serve until Ctrl-C or SIGTERM."""
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
    for noisy in ("botocore", "boto3", "urllib3", "werkzeug", "fontTools"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    stop = threading.Event()
    stack = Stack(args.state_dir, host=args.host, ports=Ports(args.port_moto, args.port_api, args.port_axis),
                  region=args.region, retry_after=args.retry_after, schedule_seconds=args.schedule_seconds,
                  app_env=_parse_env(args.env), sqs_concurrency=args.sqs_concurrency)
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGUSR1, lambda *_: stack.pump.trigger_schedules() if stack.pump else None)
    try:
        stack.start()
    except Exception as exc:
        log.error("embedded stack failed to start: %s", exc, exc_info=args.verbose)
        return 1
    print(stack.banner(), flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        log.info("stopping …")
        stack.stop()
    return 0
