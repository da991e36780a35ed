"""What one call costs, measured in a forked child so nothing else the test process did counts: CPU seconds (its own
and its children's, so the bounded parse's grandchild counts too), wall seconds, the peak resident memory above the
child's own at the start (its own peak or its children's, from `getrusage`), and the peak of Python allocations in
the calling process (`tracemalloc`). Tests print it (issue 8: "refused within a bounded time and memory that the test
prints") and assert generous caps only.
"""

from __future__ import annotations

import json
import os
import resource
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Cost", "measured"]


@dataclass(frozen=True)
class Cost:
    outcome: str  # repr of the return value, or "ExceptionType: code"
    cpu_s: float
    wall_s: float
    peak_rss_mb: float
    py_peak_mb: float

    def __str__(self) -> str:
        return (f"cpu {self.cpu_s:.3f} s, wall {self.wall_s:.3f} s, peak RSS +{self.peak_rss_mb:.1f} MB, "
                f"Python allocations peak {self.py_peak_mb:.2f} MB -> {self.outcome[:160]}")


def _rss_kb() -> int:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _describe(value: Any) -> str:
    return repr(value)


def measured(fn: Callable[..., Any], *args: Any, timeout: float = 120.0) -> Cost:
    """Run `fn(*args)` in a forked child and return its `Cost`; an exception is the outcome, not raised."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(read_fd)
            start_rss = _rss_kb()
            tracemalloc.start()
            wall = time.perf_counter()
            try:
                outcome = _describe(fn(*args))
            except Exception as exc:  # noqa: BLE001 - the outcome is what the test looks at
                outcome = f"{type(exc).__name__}: {getattr(exc, 'code', '')} {getattr(exc, 'details', '')}"
            wall = time.perf_counter() - wall
            _, py_peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            me = resource.getrusage(resource.RUSAGE_SELF)
            kids = resource.getrusage(resource.RUSAGE_CHILDREN)
            peak_kb = max(me.ru_maxrss, kids.ru_maxrss)
            data = json.dumps({"outcome": outcome, "wall": wall, "py": py_peak / 2**20,
                               "cpu": me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime,
                               "rss": max(0, peak_kb - start_rss) / 1024}).encode()
            os.write(write_fd, data)
        finally:
            os._exit(0)
    os.close(write_fd)
    chunks = []
    deadline = time.monotonic() + timeout
    while chunk := os.read(read_fd, 65536):
        chunks.append(chunk)
        if time.monotonic() > deadline:
            break
    os.close(read_fd)
    os.waitpid(pid, 0)
    got = json.loads(b"".join(chunks))
    return Cost(got["outcome"], got["cpu"], got["wall"], got["rss"], got["py"])
