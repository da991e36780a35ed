"""The stack's service processes (moto, the axis simulator with the local PKI): start one from a spec, wait for its
ready file, stop it; and, inside the child, the loop that serves until told to stop or orphaned.

Why processes, not threads of the stack: moto answers every AWS call of every function (tens per document) and
evaluates IAM for each; in the stack's process it shared one GIL with the simulator, the PKI and the supervisor,
so a two-core machine ran the whole gateway on about one core (issue 11: "the embedded stack uses the cores").
A child is told what to do by a JSON spec file (0600: moto's ready file carries the operator's credentials) and
says it is ready by writing a JSON ready file, as the function processes do (`devstack.workers`).
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
from pathlib import Path
from typing import Any

from devstack.config import REPO_ROOT

__all__ = ["ServiceProcess", "serve_until_stopped", "write_ready"]


def write_ready(path: Path, info: dict[str, Any]) -> None:
    """Atomically, and readable by its owner only (it may hold credentials)."""
    tmp = Path(path).with_suffix(".tmp")
    tmp.write_text(json.dumps(info), encoding="utf-8")
    os.chmod(tmp, 0o600)
    tmp.replace(path)


def serve_until_stopped(name: str) -> None:
    """Block until SIGTERM/SIGINT, or until the stack's process is gone (SIGKILLed: nobody would stop us)."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    parent = os.getppid()
    while not stop.wait(0.5):
        if os.getppid() != parent:
            print(f"{name}: the stack's process is gone; stopping", file=sys.stderr, flush=True)
            return


class ServiceProcess:
    """`python -m <module> <spec.json>` under `directory`; `start()` returns once its ready file exists."""

    def __init__(self, name: str, module: str, directory: Path, spec: dict[str, Any],
                 env: dict[str, str] | None = None) -> None:
        self.name, self.module, self.directory = name, module, Path(directory)
        self.spec = spec
        self.env = env
        self.process: subprocess.Popen | None = None
        self.info: dict[str, Any] = {}

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def start(self, timeout: float = 90.0) -> dict[str, Any]:
        self.directory.mkdir(parents=True, exist_ok=True)
        spec_file = self.directory / f"{self.name}.spec.json"
        ready_file = self.directory / f"{self.name}.ready.json"
        ready_file.unlink(missing_ok=True)
        spec_file.write_text(json.dumps({**self.spec, "ready_file": str(ready_file)}), encoding="utf-8")
        os.chmod(spec_file, 0o600)
        # Never AWS credentials or endpoints from the caller: moto and the simulator need none.
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update({"PYTHONUNBUFFERED": "1", **(self.env or {})})
        self.process = subprocess.Popen([sys.executable, "-m", self.module, str(spec_file)], cwd=REPO_ROOT, env=env)
        deadline = time.monotonic() + timeout
        while not ready_file.exists():
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.process.returncode}) at start")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} not ready after {timeout:.0f} s")
            time.sleep(0.05)
        self.info = json.loads(ready_file.read_text(encoding="utf-8"))
        return self.info

    def stop(self, timeout: float = 15.0) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
