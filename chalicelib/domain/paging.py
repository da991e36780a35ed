"""The `limit` query parameter of every list (docs/contract.md#lists), read one way: absent means 50, anything is
clamped to 1..200, and text that is not an integer is `invalid_limit`. One place, so the lists cannot drift apart."""

from __future__ import annotations

from chalicelib.core.errors import ValidationFailed

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "page_limit"]

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def page_limit(value: str | None) -> int:
    """The page size a list is asked for (module docstring)."""
    try:
        return max(1, min(int(value or DEFAULT_LIMIT), MAX_LIMIT))
    except ValueError as exc:
        raise ValidationFailed("Tham số limit phải là số nguyên.", code="invalid_limit") from exc
