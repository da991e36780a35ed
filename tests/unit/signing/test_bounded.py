"""chalicelib.signing.bounded: the forked child's limits hold (CPU, memory, wall clock, answer size, crashes), each
ending as a `PdfTooComplex` with its reason, and the parent process is unharmed."""

from __future__ import annotations

import os
import signal
import time

import pytest

from chalicelib.signing.bounded import ChildFailed, run_bounded
from chalicelib.signing.pdf_limits import ParseLimits, PdfTooComplex

FAST = ParseLimits(cpu_seconds=1, memory_bytes=64 * 1024 * 1024, wall_seconds=5.0, max_answer_bytes=64 * 1024)


def _spin() -> None:
    while True:
        pass


def _hog() -> int:
    blocks = []
    while True:
        blocks.append(bytearray(8 * 1024 * 1024))


def _sleep() -> None:
    time.sleep(60)


def _crash() -> None:
    import faulthandler

    faulthandler.disable()  # pytest's own handler would print the child's stack: noise, not the outcome
    os.kill(os.getpid(), signal.SIGSEGV)


def _refuse() -> None:
    raise PdfTooComplex("page_tree_loop", object="2 0 R")


def _recurse(n: int = 0) -> int:
    return _recurse(n + 1)


def _fail() -> None:
    raise KeyError("/Root")


@pytest.mark.parametrize(("fn", "reason"), [
    (_spin, "cpu_time"), (_hog, "memory"), (_crash, "parser_crashed"), (_refuse, "page_tree_loop"),
    (_recurse, "nesting_too_deep"), (lambda: "x" * 200_000, "answer_too_large"),
])
def test_every_way_past_a_bound_is_pdf_too_complex_with_its_reason(fn, reason):
    started = time.monotonic()
    with pytest.raises(PdfTooComplex) as info:
        run_bounded(fn, limits=FAST)
    print(f"\n{getattr(fn, '__name__', 'answer')}: {info.value.details} after {time.monotonic() - started:.2f} s")
    assert info.value.reason == reason and info.value.details["reason"] == reason


def test_the_wall_clock_kills_a_child_that_waits():
    started = time.monotonic()
    with pytest.raises(PdfTooComplex) as info:
        run_bounded(_sleep, limits=ParseLimits(wall_seconds=0.5))
    assert info.value.reason == "cpu_time" and time.monotonic() - started < 5


def test_a_value_comes_back_and_other_exceptions_are_named():
    assert run_bounded(lambda a, b: {"sum": a + b, "text": "Đà Nẵng"}, 2, 3) == {"sum": 5, "text": "Đà Nẵng"}
    with pytest.raises(ChildFailed) as info:
        run_bounded(_fail)
    assert info.value.kind == "KeyError" and "/Root" in info.value.detail


def test_in_process_mode_maps_the_same_exceptions():
    inline = ParseLimits(isolate=False)
    assert run_bounded(lambda: [1, 2], limits=inline) == [1, 2]
    with pytest.raises(PdfTooComplex) as info:
        run_bounded(_recurse, limits=inline)
    assert info.value.reason == "nesting_too_deep"
    with pytest.raises(ChildFailed):
        run_bounded(_fail, limits=inline)
