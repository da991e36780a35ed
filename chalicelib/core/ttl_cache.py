"""A small per-container cache whose entries expire, for data a warm Lambda container may remember for a while.

Why (issue 11, "fewer AWS calls per document": remove what a warm container can remember): a container serves many
documents; reading the same agency items for each one is latency and money. What may be cached, and for how long, is
the caller's decision, written where it uses this (each TTL is a promise: "a change takes effect within TTL");
this module only keeps the promise mechanically: an entry is never answered after its TTL, the cache never holds
more than `max_entries` (the oldest entry goes first), and `forget` drops an entry at once (the container that made
a change sees it immediately).

Pure (no AWS, no I/O): the clock is injectable, so the tests move time instead of waiting for it. Thread-safe: one
lock around a dict (a Lambda container runs one invocation at a time, the embedded stack's API several threads).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from typing import Generic, TypeVar

__all__ = ["TtlCache"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    """Values by key, each answered for at most `ttl_seconds` after it was put; at most `max_entries` kept."""

    def __init__(self, ttl_seconds: float, max_entries: int = 1024, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if ttl_seconds < 0 or max_entries < 1:
            raise ValueError("ttl_seconds must be >= 0 and max_entries >= 1")
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self._clock = clock
        self._items: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        """The value put under `key` less than `ttl_seconds` ago, else None (an expired entry is dropped)."""
        now = self._clock()
        with self._lock:
            entry = self._items.get(key)
            if entry is None:
                return None
            if now - entry[0] >= self.ttl_seconds:
                del self._items[key]
                return None
            return entry[1]

    def put(self, key: K, value: V) -> None:
        """Remember `value` from now on; the oldest entries go when the cache is full."""
        now = self._clock()
        with self._lock:
            self._items.pop(key, None)
            self._items[key] = (now, value)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)

    def get_many(self, keys: Iterable[K], load: Callable[[list[K]], dict[K, V]]) -> dict[K, V]:
        """The values of `keys`: the fresh ones from the cache, the rest from one `load(missing)` call, whose answers
        are remembered. A key `load` does not answer is absent from the result and not remembered (a code that is
        not there yet is looked up again next time, so a newly registered one is seen at once)."""
        found: dict[K, V] = {}
        missing: list[K] = []
        for key in dict.fromkeys(keys):
            value = self.get(key)
            if value is None:
                missing.append(key)
            else:
                found[key] = value
        if missing:
            loaded = load(missing)
            for key in missing:
                if key in loaded:
                    self.put(key, loaded[key])
                    found[key] = loaded[key]
        return found

    def forget(self, key: K | None = None) -> None:
        """Drop `key` (or everything, with None) now."""
        with self._lock:
            if key is None:
                self._items.clear()
            else:
                self._items.pop(key, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
