"""A sampling profiler for one of the stack's processes (py-spy is not installed here): every few milliseconds it
reads every thread's stack (`sys._current_frames`) and counts, per function, the samples where it ran (self) and
where it was on the stack (total); at stop it writes the top functions to a text file.

Why sampling and not cProfile: cProfile sees only the thread that enabled it, and moto serves each request on a
thread of its own; a sampler sees all of them at no cost to the threads it watches beyond the GIL it takes.
Idle threads (blocked in `select`, `accept`, `wait`) are left out, so the counts are where the CPU went.
Turned on by the environment variable `EDOC_PROFILE_DIR` (the stack's child processes: moto, the simulator).
"""

from __future__ import annotations

import os
import sys
import threading
from collections import Counter
from pathlib import Path

__all__ = ["PROFILE_DIR_ENV", "Sampler", "start_from_env"]

PROFILE_DIR_ENV = "EDOC_PROFILE_DIR"
_IDLE = frozenset({"select", "poll", "accept", "wait", "_wait_for_tstate_lock", "readinto", "recv_into", "sleep",
                   "serve_forever", "get", "_serve", "readline"})


class Sampler:
    """Samples all threads but its own every `interval` seconds until `stop()`, then writes `path`."""

    def __init__(self, path: Path, interval: float = 0.002) -> None:
        self.path, self.interval = Path(path), interval
        self.self_counts: Counter[str] = Counter()
        self.total_counts: Counter[str] = Counter()
        self.samples = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sampler", daemon=True)

    def start(self) -> Sampler:
        self._thread.start()
        return self

    def _run(self) -> None:
        me = threading.get_ident()
        while not self._done.wait(self.interval):
            for ident, frame in sys._current_frames().items():
                if ident == me or frame.f_code.co_name in _IDLE:
                    continue
                self.samples += 1
                self.self_counts[_name(frame)] += 1
                seen = set()
                f = frame
                while f is not None:
                    seen.add(_name(f))
                    f = f.f_back
                self.total_counts.update(seen)

    def stop(self, top: int = 60) -> None:
        self._done.set()
        self._thread.join(timeout=2)
        n = max(1, self.samples)
        lines = [f"{self.samples} busy samples every {self.interval * 1000:.0f} ms, pid {os.getpid()}", "", "self:"]
        lines += [f"{c / n:6.1%}  {name}" for name, c in self.self_counts.most_common(top)]
        lines += ["", "total:"]
        lines += [f"{c / n:6.1%}  {name}" for name, c in self.total_counts.most_common(top)]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _name(frame: object) -> str:
    code = frame.f_code  # type: ignore[attr-defined]
    return f"{code.co_name} ({Path(code.co_filename).name}:{code.co_firstlineno})"


def start_from_env(name: str) -> Sampler | None:
    """A running sampler writing `<EDOC_PROFILE_DIR>/<name>-<pid>.txt` at stop, or None when not asked for."""
    directory = os.environ.get(PROFILE_DIR_ENV)
    if not directory:
        return None
    return Sampler(Path(directory) / f"{name}-{os.getpid()}.txt").start()
