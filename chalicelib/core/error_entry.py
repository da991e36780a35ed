"""One entry of the error catalogue (chalicelib.core.error_codes), in a module of its own so that the catalogue's
parts (chalicelib.core.error_codes_wire) build their entries without importing the catalogue itself."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["NA", "ErrorCode"]

#: No HTTP status: not an API answer, only recorded or logged.
NA: tuple[int, ...] = ()


@dataclass(frozen=True)
class ErrorCode:
    """One stable code. `statuses`: the HTTP statuses of the API answers that carry it, the usual one first."""

    code: str
    statuses: tuple[int, ...]
    message: str
    meaning: str
    recorded: bool = False  # also written on a record as its reason (document, amendment, inbound envelope)
