"""The per-container TTL cache (chalicelib.core.ttl_cache): never answers after its TTL, bounded, forgets on demand.

The clock is a list the test moves: no test waits for time to pass.
"""

from __future__ import annotations

import pytest

from chalicelib.core.ttl_cache import TtlCache


def _cache(ttl: float = 60, size: int = 8) -> tuple[TtlCache[str, int], list[float]]:
    now = [1000.0]
    return TtlCache(ttl, size, clock=lambda: now[0]), now


def test_answers_within_ttl_and_never_after() -> None:
    cache, now = _cache(ttl=60)
    cache.put("a", 1)
    now[0] += 59.9
    assert cache.get("a") == 1
    now[0] += 0.1
    assert cache.get("a") is None
    assert len(cache) == 0  # an expired entry is dropped, not kept


def test_put_again_restarts_the_ttl() -> None:
    cache, now = _cache(ttl=10)
    cache.put("a", 1)
    now[0] += 8
    cache.put("a", 2)
    now[0] += 8
    assert cache.get("a") == 2


def test_bounded_oldest_first() -> None:
    cache, _ = _cache(size=2)
    cache.put("a", 1)
    cache.put("b", 2)
    cache.put("c", 3)
    assert len(cache) == 2
    assert cache.get("a") is None
    assert (cache.get("b"), cache.get("c")) == (2, 3)


def test_get_many_loads_only_the_missing_and_does_not_remember_absent_keys() -> None:
    cache, now = _cache(ttl=30)
    calls: list[list[str]] = []

    def load(keys: list[str]) -> dict[str, int]:
        calls.append(keys)
        return {k: ord(k) for k in keys if k != "zz"}

    assert cache.get_many(["a", "b", "a"], load) == {"a": 97, "b": 98}
    assert calls == [["a", "b"]]
    assert cache.get_many(["a", "b"], load) == {"a": 97, "b": 98}
    assert calls == [["a", "b"]]  # warm: no load at all
    assert cache.get_many(["a", "zz"], load) == {"a": 97}
    assert calls[-1] == ["zz"]
    cache.get_many(["zz"], load)
    assert calls[-1] == ["zz"]  # an absent key is asked for again (a new registration is seen at once)
    now[0] += 30
    cache.get_many(["a"], load)
    assert calls[-1] == ["a"]  # expired: loaded again


def test_forget_one_or_all() -> None:
    cache, _ = _cache()
    cache.put("a", 1)
    cache.put("b", 2)
    cache.forget("a")
    assert cache.get("a") is None and cache.get("b") == 2
    cache.forget()
    assert len(cache) == 0


@pytest.mark.parametrize(("ttl", "size"), [(-1, 4), (10, 0)])
def test_refuses_nonsense_bounds(ttl: float, size: int) -> None:
    with pytest.raises(ValueError):
        TtlCache(ttl, size)
