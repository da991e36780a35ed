"""The agency registry's raw items in memory (`chalicelib.adapters.agency_registry.AgencyRegistry`'s admin side):
the same items, the same `version` condition and change-log items, for the registry and sync use cases."""

from __future__ import annotations

import copy
from typing import Any

from chalicelib.adapters.agency_registry import CHANGE_RECORD, VERSION_FIELD, Agency
from chalicelib.adapters.dynamo import ConditionFailed

__all__ = ["MemoryRegistry"]


class MemoryRegistry:
    def __init__(self, *items: dict[str, Any]) -> None:
        self.rows: dict[str, dict[str, Any]] = {i["organ_id"]: copy.deepcopy(i) for i in items}
        self.changes_log: list[dict[str, Any]] = []

    def item(self, organ_id: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.rows.get(organ_id))

    def items(self) -> list[dict[str, Any]]:
        return [copy.deepcopy(i) for i in self.rows.values()]

    def changes(self) -> list[dict[str, Any]]:
        return copy.deepcopy(self.changes_log)

    def create(self, item: dict[str, Any], *, change: dict[str, Any] | None = None) -> None:
        if item["organ_id"] in self.rows:
            raise ConditionFailed(item["organ_id"])
        self._log(change)
        self.rows[item["organ_id"]] = {**copy.deepcopy(item), VERSION_FIELD: 1}

    def update(self, organ_id: str, fields: dict[str, Any], *, version: int, remove: tuple[str, ...] = (),
               change: dict[str, Any] | None = None) -> None:
        row = self.rows.get(organ_id)
        if row is None or int(row.get(VERSION_FIELD, 0)) != version:
            raise ConditionFailed(organ_id)
        self._log(change)
        row.update(copy.deepcopy(fields))
        row[VERSION_FIELD] = version + 1
        for name in remove:
            row.pop(name, None)

    def _log(self, change: dict[str, Any] | None) -> None:
        """The change-log item written with its change (one transaction in DynamoDB); never overwritten."""
        if change is None:
            return
        if any(c["organ_id"] == change["organ_id"] for c in self.changes_log):
            raise ConditionFailed(change["organ_id"])
        self.changes_log.append({**copy.deepcopy(change), "record_type": CHANGE_RECORD})

    # -- the recipient checks' side (AgencyDirectory) -------------------------------------------------------
    def get(self, organ_id: str) -> Agency | None:
        row = self.rows.get(organ_id)
        return Agency.from_item(row) if row else None

    def get_many(self, organ_ids: list[str]) -> dict[str, Agency]:
        return {i: Agency.from_item(self.rows[i]) for i in organ_ids if i in self.rows}

    def cached_many(self, organ_ids: list[str]) -> dict[str, Agency]:
        """Fresh here: the adapter's per-container cache is tested on its own (tests/unit/core/test_ttl_cache.py)."""
        return self.get_many(organ_ids)
