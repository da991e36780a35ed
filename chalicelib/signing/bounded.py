"""Run one parse of an untrusted PDF in a forked child with CPU and memory limits (issue 8), so a PDF that slips
past the pre-scan (`chalicelib.signing.pdf_limits`) costs the child, never the Lambda: a refusal with a reason is
recorded instead of a killed function with no record left.

Why `os.fork` and a pipe: Lambda allows child processes but has no /dev/shm, so `multiprocessing` queues and pools
fail there; and a fork after the caller has imported pyHanko starts in about a millisecond (no interpreter start,
no second import), which keeps the fast path fast (DESIGN.md quality bars). The child sets `RLIMIT_CPU` (seconds of
CPU: SIGXCPU past it), `RLIMIT_AS` (its current address space plus `memory_bytes`: allocations past it raise
`MemoryError`) and no core dumps, runs the function, writes its JSON answer to the pipe and leaves with `os._exit`
(no atexit handlers, no flushing of the parent's buffers). The parent reads at most `max_answer_bytes`, kills the
child after `wall_seconds`, and turns every way the child can end into a value or an exception:

- the function's JSON-serialisable return value → returned;
- `PdfTooComplex` in the child, `MemoryError` (`memory`), `RecursionError` (`nesting_too_deep`), SIGXCPU or the
  wall clock (`cpu_time`), a crash (`parser_crashed`), an answer too long (`answer_too_large`) → `PdfTooComplex`;
- any other exception → `ChildFailed(type_name, detail)`: the caller decides what it means (for untrusted input, a
  malformed file).

With `isolate=False` (or no `os.fork`) the function runs in-process with the same mapping of exceptions.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import select
import signal
import time
from collections.abc import Callable
from typing import Any

from chalicelib.signing.pdf_limits import DEFAULT_LIMITS, ParseLimits, PdfTooComplex

__all__ = ["ChildFailed", "run_bounded"]

_EXIT_OK = 0
_EXIT_BROKEN = 70


class ChildFailed(Exception):
    """The bounded function raised something other than a bound: `kind` is the exception's type name."""

    def __init__(self, kind: str, detail: str = "") -> None:
        self.kind = kind
        self.detail = detail
        super().__init__(f"{kind}: {detail}")


def run_bounded(fn: Callable[..., Any], *args: Any, limits: ParseLimits = DEFAULT_LIMITS) -> Any:
    """`fn(*args)` under `limits` (see the module docstring); its return value must be JSON-serialisable."""
    if not limits.isolate or not hasattr(os, "fork"):
        return _decode(_call(fn, args))
    read_fd, write_fd = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(read_fd)
        os.close(write_fd)
        return _decode(_call(fn, args))  # no process to spare: the pre-scan's bounds still hold
    if pid == 0:  # pragma: no cover - runs in the child (its coverage is not collected)
        _child(fn, args, limits, read_fd, write_fd)
    os.close(write_fd)
    try:
        answer, killed = _read_answer(read_fd, pid, limits)
    finally:
        os.close(read_fd)
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:  # SIGCHLD ignored by the host process: the kernel reaped it, the answer still counts
        status = 0
    if killed:
        raise PdfTooComplex("cpu_time", wall_seconds=limits.wall_seconds)
    if answer is None:
        raise PdfTooComplex("answer_too_large", max_bytes=limits.max_answer_bytes)
    if os.WIFSIGNALED(status):
        signum = os.WTERMSIG(status)
        if signum in (signal.SIGXCPU, signal.SIGKILL):
            raise PdfTooComplex("cpu_time", cpu_seconds=limits.cpu_seconds)
        raise PdfTooComplex("parser_crashed", signal=signal.Signals(signum).name)
    if not answer:
        # Died without an answer: out of memory while answering, or an interpreter failure.
        raise PdfTooComplex("memory" if os.WEXITSTATUS(status) == _EXIT_BROKEN else "parser_crashed")
    return _decode(json.loads(answer))


def _child(fn: Callable[..., Any], args: tuple[Any, ...], limits: ParseLimits, read_fd: int,
           write_fd: int) -> None:  # pragma: no cover - runs in the child
    code = _EXIT_BROKEN
    try:
        os.close(read_fd)
        _limit_self(limits)
        data = json.dumps(_call(fn, args), ensure_ascii=False).encode("utf-8")
        view = memoryview(data)
        while view:
            view = view[os.write(write_fd, view):]
        code = _EXIT_OK
    except BaseException:  # noqa: BLE001, S110 - the parent reads the missing answer as the failure
        pass
    finally:
        os._exit(code)


def _limit_self(limits: ParseLimits) -> None:  # pragma: no cover - runs in the child
    """The child's own rlimits. One the platform refuses is skipped: the wall clock still bounds the child."""
    _try_limit(resource.RLIMIT_CORE, 0, 0)
    _try_limit(resource.RLIMIT_CPU, limits.cpu_seconds, limits.cpu_seconds + 1)
    current = _address_space()
    if current:
        cap = current + limits.memory_bytes
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            cap = min(cap, hard)
        _try_limit(resource.RLIMIT_AS, cap, cap)


def _try_limit(which: int, soft: int, hard: int) -> None:  # pragma: no cover - runs in the child
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(which, (soft, hard))


def _address_space() -> int:
    """This process's virtual size in bytes (/proc/self/statm), or 0 where there is no /proc."""
    try:
        with open("/proc/self/statm", "rb") as fh:
            return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _call(fn: Callable[..., Any], args: tuple[Any, ...]) -> dict[str, Any]:
    """`fn(*args)` as the child's answer: `{"ok": value}`, `{"too_complex": ...}` or `{"failed": ...}`."""
    try:
        return {"ok": fn(*args)}
    except PdfTooComplex as exc:
        return {"too_complex": exc.reason, "details": exc.details}
    except MemoryError:
        return {"too_complex": "memory"}
    except RecursionError:
        return {"too_complex": "nesting_too_deep"}
    except Exception as exc:  # untrusted input: the caller maps it
        return {"failed": type(exc).__name__, "detail": str(exc)[:200]}


def _decode(answer: dict[str, Any]) -> Any:
    if "ok" in answer:
        return answer["ok"]
    if "too_complex" in answer:
        details = {k: v for k, v in (answer.get("details") or {}).items() if k != "reason"}
        raise PdfTooComplex(str(answer["too_complex"]), **details)
    raise ChildFailed(str(answer.get("failed", "unknown")), str(answer.get("detail", "")))


def _read_answer(fd: int, pid: int, limits: ParseLimits) -> tuple[bytes | None, bool]:
    """The child's answer (None when longer than allowed) and whether the wall clock had to kill it."""
    deadline = time.monotonic() + limits.wall_seconds
    chunks: list[bytes] = []
    total = 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            return b"", True
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            return b"".join(chunks), False
        total += len(chunk)
        if total > limits.max_answer_bytes:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            return None, False
        chunks.append(chunk)
