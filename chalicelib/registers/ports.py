"""What the registers' use case needs from storage (chalicelib.adapters.register_store provides both), so its tests
run on fakes (tests/fakes/registers.py)."""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["RegisterReader"]


class RegisterReader(Protocol):
    def page(self, organ_id: str, direction: str, year: int, *, limit: int = 100,
             cursor: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
        """One page of the register in number order and the next page's cursor."""

    def holders(self, direction: str, ids: list[str]) -> dict[str, dict[str, Any]]:
        """The current state of each numbered document (`{"state", "reason"}`) or inbox item (`{"status",
        "status_code", "revoked"}`), by id; an id no longer found is left out."""
