"""The load run (`make bench-load`, tests/bench/bench_load.py): a burst of N documents through a stack of its own,
measured (issue 11, acceptance 1).

What it does: N documents from the five served demo agencies (`demo_data.SERVED`, each through its clerk), two
external recipients each, created through the API and uploaded through their presigned POSTs by outside clients,
all at once; then it waits for the axis to hold every package and checks there that each recipient holds exactly
one package per document (`devstack.drive.check_axis`, the chaos run's check), and that nothing is lost, doubled
or dead-lettered. What it measures: documents/s from the first create to the last DISPATCHED (the documents'
timelines, the stack's clock: the same machine's as the clients'), upload→DISPATCHED percentiles, CPU and peak RSS
of every process of the stack (/proc, `devstack.proc_stats`), the functions' AWS calls by operation (the call log,
the poller's apart), the bytes stored in S3, and the function metrics files when the worker writes them.
Development only: chalicelib never imports devstack.
"""

from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from devstack import proc_stats, write_meter
from devstack.chaos_run import RECIPIENTS
from devstack.client import GatewayClient, operator_client
from devstack.drive import axis_failures, check_axis, held, patiently, send_ids, submit_all, wait_all

__all__ = ["LoadPlan", "LoadReport", "run", "start_load_stack"]


def _served() -> tuple[str, ...]:
    from devstack.demo_data import SERVED

    return tuple(a.organ_id for a in SERVED)


@dataclass(frozen=True)
class LoadPlan:
    """`documents` from the served agencies, `recipients_per_document` of `RECIPIENTS` each, uploaded by
    `upload_workers` clients at once; the stack runs `sqs_processes` containers per SQS function with
    `sqs_concurrency` pollers each."""

    documents: int = 1000
    recipients_per_document: int = 2
    upload_workers: int = 8
    sqs_processes: int = 2
    sqs_concurrency: int = 2
    sqs_wait_seconds: int = 5
    seed: int = 11
    settle_seconds: float = 1800.0


@dataclass
class LoadReport:
    plan: LoadPlan
    started_at: float = 0.0  # time.time() before the first create
    elapsed: float = 0.0  # first create → last DISPATCHED
    uploads_done: float = 0.0  # first create → last upload finished
    latencies: list[float] = field(default_factory=list)  # upload finished → DISPATCHED, seconds
    states: dict[str, int] = field(default_factory=dict)
    packages: dict[str, tuple[int, int]] = field(default_factory=dict)
    doubled: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)
    dead_letters: int = 0
    client_retries: int = 0
    #: process label → {"cpu_ms", "peak_rss_mb", "pids"}; labels: function names, moto, axis_pki, stack, clients.
    processes: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: (function, "function" | "poller", "service:Operation") → calls during the run.
    calls: dict[tuple[str, str, str], int] = field(default_factory=dict)
    s3_bytes: int = 0
    s3_objects: int = 0
    metrics: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    #: The functions' invocations and billed ms between the first create and the last package (not the read-back).
    window_metrics: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    transact_items: int = 0
    #: DynamoDB write units in the window as the embedded moto metered them (devstack.write_meter).
    write_units: dict[str, int] = field(default_factory=dict)
    #: table name → (items, bytes) at the end (bytes: each item's attributes as DynamoDB counts them, approximately).
    tables: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: queue name → the most messages it held at once (visible + in flight): the burst waiting, backpressure.
    peak_backlog: dict[str, int] = field(default_factory=dict)
    naive_docs_per_s: float | None = None

    @property
    def throughput(self) -> float:
        return self.plan.documents / self.elapsed if self.elapsed > 0 else 0.0

    def percentile(self, q: float) -> float | None:
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]

    @property
    def failures(self) -> list[str]:
        """Each check that did not hold, in words; empty when the run passed."""
        out = axis_failures(self, self.states, self.plan.documents, self.dead_letters)
        if self.naive_docs_per_s is not None and self.throughput < self.naive_docs_per_s:
            out.append(f"throughput {self.throughput:.2f}/s below naive signing {self.naive_docs_per_s:.2f}/s")
        return out


def start_load_stack(state_dir: Path, plan: LoadPlan, *, profile_dir: Path | None = None) -> Any:
    """A stack of its own, with `plan`'s processes and pollers per SQS function (`profile_dir`: sampling profiles
    of moto and the simulator written there at stop, `devstack.sampler`)."""
    import os

    from devstack.sampler import PROFILE_DIR_ENV
    from devstack.stack import start_stack  # lazy: the run can also drive a stack started elsewhere

    if profile_dir is not None:
        os.environ[PROFILE_DIR_ENV] = str(profile_dir)
    try:
        return start_stack(state_dir, ports=0, sqs_processes=plan.sqs_processes, sqs_concurrency=plan.sqs_concurrency,
                           sqs_wait_seconds=plan.sqs_wait_seconds)
    finally:
        os.environ.pop(PROFILE_DIR_ENV, None)


def _stack_pids(state_dir: Path) -> dict[str, list[int]]:
    """label → pids of the stack's processes now (stack.json)."""
    info = json.loads((state_dir / "stack.json").read_text(encoding="utf-8"))
    out = {name: list(f.get("pids") or [f["pid"]]) for name, f in info["functions"].items()}
    out.update({name: [pid] for name, pid in info.get("processes", {}).items() if pid})
    return out


def _cpu(pids: dict[str, list[int]]) -> dict[int, float]:
    return {pid: proc_stats.cpu_ms(pid) or 0.0 for group in pids.values() for pid in group}


def _dispatched_at(view: dict[str, Any]) -> float | None:
    for entry in view.get("timeline") or []:
        if entry["state"] == "DISPATCHED":
            return datetime.fromisoformat(entry["at"].replace("Z", "+00:00")).timestamp()
    return None


def _s3_usage(info: dict[str, Any]) -> tuple[int, int]:
    """(bytes, objects) stored in every bucket, listed with the operator's credentials."""
    s3 = operator_client(info, "s3")
    total = count = 0
    for bucket in s3.list_buckets()["Buckets"]:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket["Name"]):
            for obj in page.get("Contents", []):
                total += obj["Size"]
                count += 1
    return total, count


def _metrics(state_dir: Path, functions: list[str]) -> dict[str, dict[str, Any] | None]:
    """Per function, the sum over its processes' metrics files (`<state>/functions/metrics/<function>-<pid>.json`,
    written by the worker); None for a function with no file."""
    out: dict[str, dict[str, Any] | None] = {}
    directory = state_dir / "functions" / "metrics"
    for function in functions:
        files = [p for p in directory.glob(f"{function}-*.json") if p.stem.rsplit("-", 1)[-1].isdigit()]
        total: dict[str, Any] | None = None
        for path in files:
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            total = total or {"invocations": 0, "records": 0, "billed_ms": 0, "duration_ms": 0.0, "processes": 0}
            for key in ("invocations", "records", "billed_ms", "duration_ms"):
                total[key] += data.get(key) or 0
            total["processes"] += 1
        out[function] = total
    return out


def _minus(after: dict[str, dict[str, Any] | None],
           before: dict[str, dict[str, Any] | None]) -> dict[str, dict[str, Any] | None]:
    out: dict[str, dict[str, Any] | None] = {}
    for name, now in after.items():
        then = before.get(name) or {}
        out[name] = None if now is None else {k: now[k] - then.get(k, 0) for k in
                                              ("invocations", "records", "billed_ms", "duration_ms")}
    return out


def _item_bytes(item: dict[str, Any]) -> int:
    """An item's size as DynamoDB counts it, near enough for the bill: names plus values (low-level JSON)."""
    return sum(len(name) + len(json.dumps(value, separators=(",", ":"))) for name, value in item.items())


def _table_usage(info: dict[str, Any]) -> dict[str, tuple[int, int]]:
    dynamodb = operator_client(info, "dynamodb")
    out = {}
    for name in dynamodb.list_tables()["TableNames"]:
        items = size = 0
        for page in dynamodb.get_paginator("scan").paginate(TableName=name):
            for item in page.get("Items", []):
                items += 1
                size += _item_bytes(item)
        out[name] = (items, size)
    return out


class _BacklogWatch:
    """Samples the upload and dispatch queues' depth (visible + in flight) every second, keeping the peak."""

    def __init__(self, info: dict[str, Any]) -> None:
        from chalicelib.core import settings  # lazy: the queue names the app declares

        self._sqs = operator_client(info, "sqs")
        self._urls = {q: self._sqs.get_queue_url(QueueName=q)["QueueUrl"]
                      for q in (settings.UPLOAD_QUEUE, settings.DISPATCH_QUEUE)}
        self.peak = dict.fromkeys(self._urls, 0)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="backlog", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        while not self._done.wait(1.0):
            for queue, url in self._urls.items():
                try:
                    attrs = self._sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
                except Exception:  # noqa: S112 - a sample lost to a busy moto: the next one counts
                    continue
                self.peak[queue] = max(self.peak[queue], sum(int(attrs.get(n, 0)) for n in names))

    def stop(self) -> dict[str, int]:
        self._done.set()
        self._thread.join(timeout=5)
        return dict(self.peak)


def run(info: dict[str, Any], state_dir: Path, pdf: bytes, plan: LoadPlan = LoadPlan(), *,
        on_progress: Any = None) -> LoadReport:
    """Drive `plan` through the running stack described by `info` (its stack.json in `state_dir`) and measure."""
    import os

    report = LoadReport(plan)
    senders = _served()
    client = GatewayClient(info)
    tokens = {s: client.login(client.user_for(s)) for s in senders}
    admin = client.login(client.user_for("000.00.01.H62", admin=True))
    rng = random.Random(plan.seed)  # noqa: S311 - a test plan, not a secret
    wanted = [(senders[i % len(senders)], rng.sample(RECIPIENTS, plan.recipients_per_document))
              for i in range(plan.documents)]
    before = send_ids(info, RECIPIENTS)  # a stack that ran documents before: its packages are not this run's
    already = held(info, senders)
    expected = already + sum(len(r) for _, r in wanted)
    retries = [0]
    calls_dir = Path(info["aws_calls_dir"])
    marks = proc_stats.call_log_marks(calls_dir)
    meter = state_dir / "services" / write_meter.FILE_NAME
    time.sleep(0.6)  # the meter rewrites its file at most twice a second
    meter_before = write_meter.read_totals(meter)
    pids = _stack_pids(state_dir)
    cpu_before, me_before = _cpu(pids), proc_stats.cpu_ms(os.getpid()) or 0.0
    functions = [k for k in pids if k in info["functions"]]
    metrics_before = _metrics(state_dir, functions)
    backlog = _BacklogWatch(info)

    started = time.monotonic()
    report.started_at = time.time()
    docs = submit_all(info, tokens, wanted, pdf, retries, workers=plan.upload_workers)
    report.uploads_done = time.time() - report.started_at
    deadline = started + plan.settle_seconds
    while time.monotonic() < deadline and (n := held(info, senders)) < expected:
        if on_progress is not None:
            on_progress(n - already, expected - already, time.monotonic() - started)
        time.sleep(1.0)
    # CPU and calls now: what follows (reading every document back) is the check's cost, not the pipeline's.
    cpu_after, me_after = _cpu(pids), proc_stats.cpu_ms(os.getpid()) or 0.0
    report.calls = dict(proc_stats.call_counts(calls_dir, marks))
    report.transact_items = proc_stats.transact_items(calls_dir, marks)
    time.sleep(0.6)
    after_meter = write_meter.read_totals(meter)
    report.write_units = {k: v - meter_before.get(k, 0) for k, v in after_meter.items() if k != "version"}
    report.peak_backlog = backlog.stop()
    time.sleep(1.5)  # the workers rewrite their metrics files at most once a second
    report.window_metrics = _minus(_metrics(state_dir, functions), metrics_before)
    now_pids = _stack_pids(state_dir)
    for label, group in pids.items():
        gone = [p for p in group if p not in now_pids.get(label, [])]
        report.processes[label] = {
            "pids": group, "restarted": gone,
            "cpu_ms": sum(cpu_after.get(p, 0.0) - cpu_before.get(p, 0.0) for p in group),
            "peak_rss_mb": max((proc_stats.peak_rss_mb(p) or 0.0 for p in group), default=0.0)}
    report.processes["clients"] = {"pids": [os.getpid()], "restarted": [], "cpu_ms": me_after - me_before,
                                   "peak_rss_mb": proc_stats.peak_rss_mb(os.getpid()) or 0.0}

    views = wait_all(info, client, tokens, docs, deadline, retries, already=already)
    states: dict[str, int] = {}
    last = report.started_at
    for document_id, view in views.items():
        states[view["state"]] = states.get(view["state"], 0) + 1
        at = _dispatched_at(view)
        if at is not None:
            last = max(last, at)
            report.latencies.append(at - docs[document_id]["uploaded_at"])
    report.states = states
    report.elapsed = last - report.started_at
    report.client_retries = retries[0]
    check_axis(info, views, docs, RECIPIENTS, report, before=before)
    report.dead_letters = len(patiently(lambda: client.call("GET", "/v1/admin/dead-letters", admin),
                                        retries)["items"])
    report.s3_bytes, report.s3_objects = _s3_usage(info)
    report.tables = _table_usage(info)
    report.metrics = _metrics(state_dir, functions)
    return report


def as_json(report: LoadReport) -> dict[str, Any]:
    """The measurements for the bill calculator (build/bench-load.json)."""
    n = report.plan.documents
    by_op: dict[str, dict[str, float]] = {}
    for (_function, by, op), count in sorted(report.calls.items()):
        entry = by_op.setdefault(op, {"function": 0.0, "poller": 0.0})
        entry[by] = entry.get(by, 0.0) + count / n
    per_function: dict[str, dict[str, float]] = {}
    for (function, by, op), count in sorted(report.calls.items()):
        per_function.setdefault(function, {})[f"{by}:{op}"] = count / n
    return {
        "N": n, "elapsed_s": report.elapsed, "documents_per_s": report.throughput,
        "plan": report.plan.__dict__,
        "naive_docs_per_s": report.naive_docs_per_s,
        "ratio_to_naive": report.throughput / report.naive_docs_per_s if report.naive_docs_per_s else None,
        "latency_s": {"p50": report.percentile(50), "p95": report.percentile(95), "p99": report.percentile(99)},
        "processes": {k: {"cpu_ms_per_document": v["cpu_ms"] / n, "peak_rss_mb": v["peak_rss_mb"],
                          "processes": len(v["pids"])} for k, v in report.processes.items()},
        "calls_per_document": by_op,
        "calls_per_document_by_function": per_function,
        "functions": {name: ({"invocations": m["invocations"], "billed_ms": m["billed_ms"], "records": m["records"]}
                             if m else {"invocations": None, "billed_ms": None, "records": None})
                      for name, m in report.metrics.items()},
        "window_functions": report.window_metrics,
        "s3": {"bytes_per_document": report.s3_bytes / n, "objects_per_document": report.s3_objects / n,
               "bytes": report.s3_bytes},
        "transact_items": report.transact_items,
        "write_units": report.write_units,
        "calls": {f"{function}|{by}|{op}": count for (function, by, op), count in sorted(report.calls.items())},
        "tables": {name: {"items": items, "bytes": size} for name, (items, size) in report.tables.items()},
        "peak_backlog": report.peak_backlog,
        "states": report.states, "packages": {k: list(v) for k, v in report.packages.items()},
        "doubled": len(report.doubled), "mismatched": len(report.mismatched), "dead_letters": report.dead_letters,
        "failures": report.failures,
    }
