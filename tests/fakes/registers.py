"""The registers' reading port (chalicelib.registers.ports.RegisterReader) in memory, paged as the adapter pages
(tests/integration/test_register_store_moto.py checks the adapter itself)."""

from __future__ import annotations

from typing import Any

from chalicelib.core.errors import ValidationFailed


class MemoryRegisters:
    def __init__(self) -> None:
        #: (organ_id, direction, year) → entries in number order
        self.entries: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
        self.states: dict[str, dict[str, Any]] = {}
        self.pages_read = 0

    def add(self, organ_id: str, direction: str, year: int, holder_id: str, **entry: Any) -> dict[str, Any]:
        held = self.entries.setdefault((organ_id, direction, year), [])
        n = len(held) + 1
        item = {"n": n, "number": f"{n:02d}", "holder_id": holder_id, "organ_id": organ_id, "direction": direction,
                "year": year, "issued_at": f"{year}-03-01T02:00:00.000000Z", **entry}
        held.append(item)
        return item

    def page(self, organ_id: str, direction: str, year: int, *, limit: int = 100,
             cursor: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
        self.pages_read += 1
        held = self.entries.get((organ_id, direction, year), [])
        if cursor is not None and not cursor.isdigit():
            raise ValidationFailed(code="invalid_cursor")
        start = int(cursor or 0)
        items = [dict(i) for i in held[start:start + limit]]
        return items, str(start + limit) if start + limit < len(held) else None

    def holders(self, direction: str, ids: list[str]) -> dict[str, dict[str, Any]]:
        return {i: dict(self.states[i]) for i in ids if i in self.states}
