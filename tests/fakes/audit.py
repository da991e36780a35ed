"""In-memory twins of the audit store and the trust bundle (chalicelib.adapters.audit_store, .trust_store).

`FakeAuditStore` keeps the adapter's items (chains `CHAIN#<organ>` / `DAY#<day>#SEQ#…`, with the `by_day` index's
keys) and its one condition (a put on a taken key loses) under a lock, so concurrent writers race exactly as they do
on DynamoDB; `slow_reads` widens the window between reading a chain's end and putting the next entry, so a test sees
the races happen, and `racing_readers` makes them certain: the first that many reads all read before any returns
(a barrier), so they find the same chain end and all but one lose. `reads` and `puts` count calls per chain,
so a test can show agencies do not contend.
"""

from __future__ import annotations

import collections
import copy
import threading
import time
from typing import Any

from chalicelib.adapters.audit_store import FILTER_PATHS
from chalicelib.adapters.dynamo import ConditionFailed
from chalicelib.domain.audit import DAY_INDEX_PK, DAY_INDEX_SK, chain_key, chain_of, day_key, day_prefix

__all__ = ["FakeAuditStore", "FakeTrustBundle"]


def _at(item: dict[str, Any], path: str) -> Any:
    value: Any = item
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _index_key(item: dict[str, Any]) -> dict[str, str]:
    return {k: item[k] for k in ("pk", "sk", DAY_INDEX_PK, DAY_INDEX_SK)}


class FakeAuditStore:
    def __init__(self, slow_reads: float = 0.0, racing_readers: int = 0) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {}
        self.lost_races = 0
        self.lost_by_chain: collections.Counter[str] = collections.Counter()
        self.reads: collections.Counter[str] = collections.Counter()
        self.slow_reads = slow_reads
        self._barrier = threading.Barrier(racing_readers) if racing_readers > 1 else None
        self._barrier_left = racing_readers
        self._lock = threading.Lock()

    def _chain(self, organ_id: str) -> list[dict[str, Any]]:
        pk = chain_key(organ_id)
        with self._lock:
            return [copy.deepcopy(v) for k, v in sorted(self.items.items()) if k[0] == pk]

    def _day_index(self, day: str) -> list[dict[str, Any]]:
        """The `by_day` index: the day's items (those that carry its keys) by `day_sk`, as DynamoDB orders them."""
        with self._lock:
            found = [copy.deepcopy(v) for v in self.items.values() if v.get(DAY_INDEX_PK) == day_key(day)]
        return sorted(found, key=lambda i: str(i.get(DAY_INDEX_SK)))

    def last_before(self, organ_id: str, bound: str) -> dict[str, Any] | None:
        self.reads[organ_id] += 1
        items = [i for i in self._chain(organ_id) if i["sk"] < bound]
        with self._lock:
            barrier, self._barrier_left = (self._barrier if self._barrier_left > 0 else None), self._barrier_left - 1
        if barrier is not None:
            barrier.wait(timeout=10)
        if self.slow_reads:
            time.sleep(self.slow_reads)
        return items[-1] if items else None

    def put_new(self, item: dict[str, Any]) -> tuple[bool, dict[str, Any] | None]:
        with self._lock:
            key = (item["pk"], item["sk"])
            if key in self.items:
                self.lost_races += 1
                self.lost_by_chain[chain_of(item["pk"]) or ""] += 1
                return False, copy.deepcopy(self.items[key])
            self.items[key] = copy.deepcopy(item)
            return True, None

    def chain_day(self, organ_id: str, day: str) -> list[dict[str, Any]]:
        return [i for i in self._chain(organ_id) if i["sk"].startswith(day_prefix(day))]

    def day_chains(self, day: str) -> list[str]:
        return sorted({c for c in (chain_of(i["pk"]) for i in self._day_index(day)) if c is not None})

    def search_day(self, day: str, filters: dict[str, str], *, start: dict[str, str] | None, limit: int
                   ) -> tuple[list[dict[str, Any]], dict[str, str] | None]:
        items = [i for i in reversed(self._day_index(day)) if start is None or i[DAY_INDEX_SK] < start[DAY_INDEX_SK]]
        page, rest = items[:limit], items[limit:]
        found = [i for i in page if all(_at(i, FILTER_PATHS[k]) == v for k, v in filters.items())]
        return found, (_index_key(page[-1]) if rest else None)

    # -- for tests: the stored items as a tamperer would edit them -------------------------------------------------
    def chain_items(self, organ_id: str) -> list[dict[str, Any]]:
        return self._chain(organ_id)

    def replace(self, items: list[dict[str, Any]], organ_id: str) -> None:
        """Make `items` the chain's whole content (an operator with table access editing it)."""
        with self._lock:
            for key in [k for k in self.items if k[0] == chain_key(organ_id)]:
                del self.items[key]
            for item in items:
                self.items[(item["pk"], item["sk"])] = copy.deepcopy(item)


class FakeTrustBundle:
    """The admins' PEM bundle with an ETag that changes on every write; `interfere` writes once behind a reader."""

    def __init__(self, text: str = "") -> None:
        self.text, self.version = text, (1 if text else 0)
        self.interfere: str | None = None
        self.writes = 0

    def read(self) -> tuple[str, str | None]:
        return self.text, (f'"v{self.version}"' if self.version else None)

    def write(self, text: str, etag: str | None) -> None:
        if self.interfere is not None:
            self.text, self.version, self.interfere = self.interfere, self.version + 1, None
        current = f'"v{self.version}"' if self.version else None
        if etag != current:
            raise ConditionFailed(str(etag))
        self.text, self.version = text, self.version + 1
        self.writes += 1
