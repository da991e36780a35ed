"""Each function process's own account of its cold start and its work, in one JSON file (issue 11, "Shared file
format"): `<state_dir>/functions/metrics/<function>-<pid>.json`, read by `make bench`, `make bench-load` and the lead.

Why in the function's process: only the process knows when it started, when `app` was loaded, which invocation first
did the function's work, and its own CPU and peak RSS; a Lambda would report the same in its REPORT lines (init
duration, duration, billed duration, max memory used).

Fields (times in ms; "since start" = since `FunctionMetrics` was made, first thing in the worker's `main()`, before
`import app`; CPU is the process's utime + stime):
- `import_app`: start → app loaded (`mark_app_loaded`);
- `first_work`: null until an invocation did the function's work, then start → the end of that invocation
  (`cpu_ms`, `wall_ms`), the invocation's own CPU and wall time (`invocation_cpu_ms`: the process's CPU over the
  invocation, so threads it starts count; another invocation running at the same moment would count too), and
  `what` it did. Work is: for `sign_document` a signed document, for `dispatch_document` a package sent to the axis
  (seen as the gateway's own "document signed" / "package sent" log lines, at INFO, the stage's level), for the API a
  2xx answer to a request with a bearer token, for a scheduled function any finished run;
- `invocations`, `records` (SQS messages; one per API request or scheduled run), `duration_ms` (sum of invocation
  wall times), `billed_ms` (sum of each invocation's duration rounded up to the ms, as Lambda bills), `cpu_ms` and
  `peak_rss_mb` (VmHWM) of the process at the last write.

Written atomically (tmp + replace) on the first work at once, otherwise at most once a second after invocations
(a background flusher), and at exit (`close`).
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devstack import proc_stats

__all__ = ["WORK_LOG_LINES", "FunctionMetrics", "Invocation", "metrics_path", "peak_rss_mb", "process_cpu_ms"]

#: The gateway's log lines (chalicelib.core.log, logger "edoc-gateway") that mean a function did its work.
WORK_LOG_LINES = {"sign_document": "document signed", "dispatch_document": "package sent"}
_GATEWAY_LOGGER = "edoc-gateway"
_FLUSH_SECONDS = 1.0


def metrics_path(directory: Path, function: str, pid: int | None = None) -> Path:
    """Where a function process writes its metrics: `<directory>/<function>-<pid>.json`."""
    return Path(directory) / f"{function}-{os.getpid() if pid is None else pid}.json"


def process_cpu_ms() -> float:
    """This process's CPU time so far (user + system), all threads."""
    t = os.times()
    return (t.user + t.system) * 1000


def peak_rss_mb() -> float:
    """VmHWM, the process's peak resident set (what Lambda reports as max memory used)."""
    peak = proc_stats.peak_rss_mb(os.getpid())
    if peak is not None:
        return peak
    import resource  # lazy: only where /proc is missing

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class Invocation:
    """One invocation under way: `did_work(what)` marks it as the function's work."""

    records: int
    cpu0: float = field(default_factory=process_cpu_ms)
    wall0: float = field(default_factory=time.monotonic)
    work: str | None = None

    def did_work(self, what: str) -> None:
        self.work = self.work or what


class _WorkLog(logging.Handler):
    """Counts the gateway's work log lines, per message (`WORK_LOG_LINES`)."""

    def __init__(self, message: str) -> None:
        super().__init__(level=logging.INFO)
        self.message = message
        self.count = 0
        self._lock_count = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg == self.message:
            with self._lock_count:
                self.count += 1


class FunctionMetrics:
    """The metrics of this function process (module docstring). Thread-safe: pollers and the API's request threads
    share it."""

    def __init__(self, directory: Path, function: str, instance: int = 0) -> None:
        self._cpu0, self._wall0 = process_cpu_ms(), time.monotonic()
        self.path = metrics_path(directory, function)
        self.function, self.instance = function, int(instance)
        self._lock = threading.Lock()
        self._import_app: dict[str, float] | None = None
        self._first_work: dict[str, Any] | None = None
        self._invocations = self._records = self._billed = 0
        self._duration = 0.0
        self._dirty = False
        self._closed = threading.Event()
        self._last_write = 0.0
        #: Attached at the first invocation, once the app has set up its logger (powertools configures it).
        self._work_log = _WorkLog(WORK_LOG_LINES[function]) if function in WORK_LOG_LINES else None
        self._work_log_attached = False
        self._flusher = threading.Thread(target=self._flush_loop, name="metrics-flush", daemon=True)
        self._flusher.start()

    def mark_app_loaded(self) -> None:
        with self._lock:
            self._import_app = self._since_start()
        self.write()

    @contextmanager
    def invocation(self, records: int) -> Iterator[Invocation]:
        """Account for one invocation; the body marks `did_work`, or the gateway's work log line does."""
        if self._work_log is not None and not self._work_log_attached:
            with self._lock:
                if not self._work_log_attached:
                    logging.getLogger(_GATEWAY_LOGGER).addHandler(self._work_log)
                    self._work_log_attached = True
        before = self._work_log.count if self._work_log is not None else 0
        inv = Invocation(records)
        try:
            yield inv
        finally:
            if self._work_log is not None and self._work_log.count > before:
                inv.did_work(self._work_log.message)
            self._finish(inv)

    def _since_start(self) -> dict[str, float]:
        return {"cpu_ms": round(process_cpu_ms() - self._cpu0, 1),
                "wall_ms": round((time.monotonic() - self._wall0) * 1000, 1)}

    def _finish(self, inv: Invocation) -> None:
        wall_ms = (time.monotonic() - inv.wall0) * 1000
        cpu_ms = process_cpu_ms() - inv.cpu0
        first = False
        with self._lock:
            self._invocations += 1
            self._records += inv.records
            self._duration += wall_ms
            self._billed += max(1, math.ceil(wall_ms))
            if inv.work is not None and self._first_work is None:
                self._first_work = {**self._since_start(), "invocation_cpu_ms": round(cpu_ms, 1),
                                    "invocation_wall_ms": round(wall_ms, 1), "what": inv.work}
                first = True
            self._dirty = True
        if first:
            self.write()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"function": self.function, "pid": os.getpid(), "instance": self.instance,
                    "import_app": self._import_app, "first_work": self._first_work,
                    "invocations": self._invocations, "records": self._records,
                    "duration_ms": round(self._duration, 1), "billed_ms": self._billed,
                    "cpu_ms": round(process_cpu_ms(), 1), "peak_rss_mb": round(peak_rss_mb(), 1)}

    def write(self) -> None:
        """Rewrite the file now (tmp + replace: a reader never sees half a file)."""
        body = json.dumps(self.snapshot(), sort_keys=True)
        with self._lock:
            self._dirty = False
            self._last_write = time.monotonic()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{threading.get_ident()}.tmp")
        tmp.write_text(body, encoding="utf-8")
        tmp.replace(self.path)

    def _flush_loop(self) -> None:
        while not self._closed.wait(_FLUSH_SECONDS):
            if self._dirty and time.monotonic() - self._last_write >= _FLUSH_SECONDS:
                with suppress(OSError):  # the state directory gone (stack torn down): the next write tries again
                    self.write()

    def close(self) -> None:
        """The last write, at exit."""
        self._closed.set()
        if self._work_log is not None:
            logging.getLogger(_GATEWAY_LOGGER).removeHandler(self._work_log)
        with suppress(OSError):
            self.write()
