"""What a process has cost so far, read from /proc (Linux): CPU (utime + stime) and peak resident memory (VmHWM);
and the AWS calls the functions recorded (`devstack.call_log`) since a mark.

Why /proc and not `resource`: the load run measures other processes (each function's containers, moto, the axis
simulator with the PKI, the stack), and /proc/<pid>/stat is the one place that has their CPU without their help.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["call_counts", "call_log_marks", "cpu_ms", "peak_rss_mb", "transact_items"]

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_ms(pid: int) -> float | None:
    """utime + stime of `pid` in ms, or None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
    return (int(fields[11]) + int(fields[12])) * 1000.0 / _TICKS


def peak_rss_mb(pid: int) -> float | None:
    """VmHWM (the resident set's high-water mark) of `pid` in MB, or None when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def call_log_marks(directory: Path) -> dict[str, int]:
    """`{file name: size}` of each call log now: `call_counts` counts only what was written after."""
    return {p.name: p.stat().st_size for p in Path(directory).glob("*.jsonl")}


def _calls_after(directory: Path, marks: dict[str, int] | None) -> Iterator[tuple[str, dict[str, Any]]]:
    """(function, call) for each call recorded after `marks`, file by file (a line being written as we read is
    skipped)."""
    for path in sorted(Path(directory).glob("*.jsonl")):
        with open(path, "rb") as fh:
            fh.seek((marks or {}).get(path.name, 0))
            for line in fh.read().splitlines():
                try:
                    yield path.stem, json.loads(line)
                except ValueError:
                    continue


def call_counts(directory: Path, marks: dict[str, int] | None = None) -> Counter[tuple[str, str, str]]:
    """(function, "function" | "poller", "service:Operation") → calls recorded after `marks` (every call, repeats
    included: `call_log.read_calls` keeps distinct ones for the least-privilege check, this counts them all)."""
    counts: Counter[tuple[str, str, str]] = Counter()
    for function, call in _calls_after(directory, marks):
        counts[(function, call.get("by") or "function", f"{call['service']}:{call['operation']}")] += 1
    return counts


def transact_items(directory: Path, marks: dict[str, int] | None = None) -> int:
    """Items written inside the TransactWriteItems calls recorded after `marks` (DynamoDB bills two write units per
    item of a transaction: the bill, tests/bench/bill.py)."""
    return sum(len((call.get("params") or {}).get("TransactItems") or [])
               for _, call in _calls_after(directory, marks) if call.get("operation") == "TransactWriteItems")
