"""Retry policy shared by the queue handlers (signing, dispatch, amendments): when to give up on this delivery,
how long SQS waits before the next, and whether this invocation still has time for an axis call.

Pure: the handlers decide what to retry; this says how (exponential backoff with equal jitter, AWS Architecture
Blog "Exponential Backoff And Jitter"; SQS visibility timeouts are whole seconds, at most 12 hours).
"""

from __future__ import annotations

import random
from collections.abc import Callable

__all__ = ["DEADLINE_MARGIN", "Deadline", "OutOfTime", "RetryLater", "backoff_seconds", "lease_wait_seconds"]

#: Never start an axis call unless the invocation has this much time left beyond the call's own timeouts.
DEADLINE_MARGIN = 5.0
#: SQS's longest visibility timeout (seconds).
_SQS_MAX_VISIBILITY = 43200


class RetryLater(Exception):
    """Another worker holds the record's lease: let SQS deliver the message again later.

    `until` is when that lease ends (epoch seconds), when known: the queue edge (`chalicelib.api.events`) then holds
    the message back until just after it (`lease_wait_seconds`). Why: the holder may be a container that died
    mid-work (timeout, out of memory, a chaos run's SIGKILL); its lease outlives it by design, and a message that
    came back every few seconds (a short visibility timeout, or dispatch's backoff) would spend its whole
    maxReceiveCount against that lease and be dead-lettered although nothing failed."""

    def __init__(self, document_id: str, until: int | None = None) -> None:
        super().__init__(document_id)
        self.document_id = document_id
        self.until = until


class OutOfTime(RetryLater):
    """Too little of this invocation is left for one axis call: nothing was tried, SQS delivers it again."""


def backoff_seconds(receive_count: int, base: int, cap: int, rng: Callable[[float, float], float] = random.uniform
                    ) -> int:
    """Delay before delivery `receive_count + 1`: min(base * 2^(n-1), cap), with "equal jitter" (uniform in the
    upper half) so documents that failed together do not all come back at the same second. SQS takes whole
    seconds, at most 12 hours."""
    ceiling = min(cap, base * 2 ** max(0, receive_count - 1), _SQS_MAX_VISIBILITY)
    return max(1, int(rng(ceiling / 2, ceiling)))


def lease_wait_seconds(until: int, now: float) -> int:
    """Visibility timeout that brings a message back one second after a lease ending at `until` (epoch seconds):
    at least 1 (SQS takes whole seconds; 0 would redeliver at once), at most SQS's 12 hours."""
    return max(1, min(int(until - now) + 1, _SQS_MAX_VISIBILITY))


class Deadline:
    """The invocation's remaining time (Lambda context's `get_remaining_time_in_millis`), if known."""

    def __init__(self, remaining_ms: Callable[[], int] | None) -> None:
        self._remaining_ms = remaining_ms

    def allows(self, seconds: float) -> bool:
        """Whether `seconds` of work (plus DEADLINE_MARGIN) fit in what is left; always, when unknown."""
        return self._remaining_ms is None or self._remaining_ms() / 1000.0 >= seconds + DEADLINE_MARGIN
