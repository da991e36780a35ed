"""In-memory twins of the audit store and the trust bundle (chalicelib.adapters.audit_store, .trust_store).

`FakeAuditStore` keeps the adapter's items and its one condition (a put on a taken sort key loses) under a lock,
so concurrent writers race exactly as they do on DynamoDB; `slow_reads` widens the window between reading the
last entry and putting the next, so a test sees the races happen.
"""

from __future__ import annotations

import copy
import threading
import time
from typing import Any

from chalicelib.adapters.audit_store import FILTER_PATHS
from chalicelib.adapters.dynamo import ConditionFailed

__all__ = ["FakeAuditStore", "FakeTrustBundle"]


def _at(item: dict[str, Any], path: str) -> Any:
    value: Any = item
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


class FakeAuditStore:
    def __init__(self, slow_reads: float = 0.0) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {}
        self.lost_races = 0
        self.slow_reads = slow_reads
        self._lock = threading.Lock()

    def _day(self, day: str) -> list[dict[str, Any]]:
        pk = f"DAY#{day}"
        with self._lock:
            return [copy.deepcopy(v) for k, v in sorted(self.items.items()) if k[0] == pk]

    def latest(self, day: str) -> dict[str, Any] | None:
        items = self._day(day)
        if self.slow_reads:
            time.sleep(self.slow_reads)
        return items[-1] if items else None

    def put_new(self, item: dict[str, Any]) -> bool:
        with self._lock:
            key = (item["pk"], item["sk"])
            if key in self.items:
                self.lost_races += 1
                return False
            self.items[key] = copy.deepcopy(item)
            return True

    def day_items(self, day: str) -> list[dict[str, Any]]:
        return self._day(day)

    def search_day(self, day: str, filters: dict[str, str], *, before_sk: str | None, limit: int
                   ) -> tuple[list[dict[str, Any]], str | None]:
        items = [i for i in reversed(self._day(day)) if before_sk is None or i["sk"] < before_sk]
        page, rest = items[:limit], items[limit:]
        found = [i for i in page if all(_at(i, FILTER_PATHS[k]) == v for k, v in filters.items())]
        return found, (page[-1]["sk"] if rest else None)


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
