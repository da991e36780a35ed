"""Helpers shared by the end-to-end tests that wait on the asynchronous side of the stack (the pump, poll_axis)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from devstack.client import ApiError


def eventually(stack_handle: Any, check: Callable[[], Any], timeout: float = 90.0, what: str = "") -> Any:
    """Run the schedules (poll_axis) and retry `check` until it returns something truthy without failing."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        stack_handle.run_schedules()
        for _ in range(10):
            try:
                result = check()
                if result:
                    return result
            except (AssertionError, ApiError, StopIteration, KeyError) as exc:
                last = exc
            time.sleep(0.3)
    raise AssertionError(f"not reached within {timeout:.0f} s: {what} (last: {last!r})")
