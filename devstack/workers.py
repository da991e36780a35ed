"""The stack's function processes (`python -m devstack.worker`), each under its function's role: one per function,
or several for an SQS function (`instance` 0…K-1: Lambda runs several containers per event source mapping, each
with its own pollers, and one process per core is how the embedded stack uses the cores, issue 11).

Why a module of its own: the stack starts them after provisioning (they need the role sessions), waits until each
says it is ready (the API's ready file carries its URL), forwards SIGUSR1 to the ones that own schedules, and
stops them before moto; that lifecycle is the same for `make run` and for tests.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devstack.config import REPO_ROOT

__all__ = ["FunctionProcesses", "WorkerSpec"]


@dataclass
class WorkerSpec:
    function: str
    env: dict[str, str]
    region: str
    host: str
    api_port: int = 0
    pump_options: dict[str, Any] = field(default_factory=dict)
    record_dir: str | None = None
    verbose: bool = False
    #: Which of the function's containers this is (0 for the first; only SQS functions have more than one).
    instance: int = 0

    @property
    def key(self) -> str:
        """The container's name: the function's, with `-<instance>` after the first."""
        return self.function if self.instance == 0 else f"{self.function}-{self.instance}"


@dataclass
class _Worker:
    function: str
    instance: int
    process: subprocess.Popen
    ready_file: Path
    info: dict[str, Any] = field(default_factory=dict)


class FunctionProcesses:
    """Start, wait for, signal, restart and stop the function processes; their specs and ready files live in
    `directory` (0600: a spec holds its role session's credentials).

    A function process that dies while the stack runs (killed, out of memory) is started again by `supervise()`,
    as Lambda starts a new container: its messages come back after their visibility timeout, as on AWS.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self._workers: dict[str, _Worker] = {}
        self._specs: dict[str, WorkerSpec] = {}
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        #: function → how many times it was started again after dying.
        self.restarts: dict[str, int] = {}

    def _spawn(self, spec: WorkerSpec) -> _Worker:
        spec_file = self.directory / f"{spec.key}.spec.json"
        ready_file = self.directory / f"{spec.key}.ready.json"
        ready_file.unlink(missing_ok=True)
        body = {**spec.__dict__, "instance": spec.instance, "ready_file": str(ready_file)}
        spec_file.write_text(json.dumps(body), encoding="utf-8")
        os.chmod(spec_file, 0o600)
        # The worker's environment is its spec's (set before `app` is imported); only the interpreter's
        # own variables are inherited, never AWS credentials or endpoints from the caller.
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env["PYTHONUNBUFFERED"] = "1"
        process = subprocess.Popen([sys.executable, "-m", "devstack.worker", str(spec_file)], cwd=REPO_ROOT,
                                   env=env)
        return _Worker(spec.function, spec.instance, process, ready_file)

    def start(self, specs: list[WorkerSpec]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        for spec in specs:
            self._specs[spec.key] = spec
            self._workers[spec.key] = self._spawn(spec)

    def supervise(self, on_restart: Any = None) -> list[str]:
        """Start again every function process that died (not stopped by `stop`); returns their functions' names."""
        restarted = []
        with self._lock:
            if self._stopping.is_set():
                return []
            for name, worker in list(self._workers.items()):
                if worker.process.poll() is None:
                    continue
                spec = self._specs[name]
                if worker.info.get("url"):  # the API comes back on the port it had: clients keep its URL
                    spec.api_port = int(str(worker.info["url"]).rsplit(":", 1)[-1])
                fresh = self._spawn(spec)
                self._workers[name] = fresh
                self._wait(fresh, 120.0)
                self.restarts[spec.function] = self.restarts.get(spec.function, 0) + 1
                restarted.append(spec.function)
        if restarted and on_restart is not None:
            on_restart(list(dict.fromkeys(restarted)))
        return restarted

    def _wait(self, worker: _Worker, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not worker.ready_file.exists():
            if worker.process.poll() is not None:
                raise RuntimeError(f"function {worker.function} exited ({worker.process.returncode}) at start")
            if time.monotonic() > deadline:
                raise RuntimeError(f"function {worker.function} not ready after {timeout:.0f} s")
            time.sleep(0.05)
        worker.info = json.loads(worker.ready_file.read_text(encoding="utf-8"))

    def wait_ready(self, timeout: float = 120.0) -> dict[str, dict[str, Any]]:
        deadline = time.monotonic() + timeout
        for worker in self._workers.values():
            self._wait(worker, max(0.1, deadline - time.monotonic()))
        return {name: w.info for name, w in self._workers.items()}

    def info(self, function: str) -> dict[str, Any]:
        """The first container's ready info (the API's has its URL)."""
        return self._workers[function].info

    def trigger_schedules(self) -> None:
        """SIGUSR1 to every function that owns a schedule: it runs them now."""
        for worker in self._workers.values():
            if worker.info.get("schedules") and worker.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    worker.process.send_signal(signal.SIGUSR1)

    def pids(self) -> dict[str, int]:
        """function → the pid of its first container."""
        return {w.function: w.process.pid for w in self._workers.values() if w.instance == 0}

    def all_pids(self) -> dict[str, list[int]]:
        """function → the pids of all its containers, first first."""
        out: dict[str, list[int]] = {}
        for worker in sorted(self._workers.values(), key=lambda w: (w.function, w.instance)):
            out.setdefault(worker.function, []).append(worker.process.pid)
        return out

    def stop(self, timeout: float = 75.0) -> None:
        """SIGTERM to all, then wait (an invocation under way finishes, as Lambda lets it); SIGKILL after."""
        self._stopping.set()
        with self._lock:
            workers, self._workers = list(self._workers.values()), {}
        for worker in workers:
            if worker.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    worker.process.terminate()
        deadline = time.monotonic() + timeout
        for worker in workers:
            try:
                worker.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait()
