"""The document state machine: every legal transition in one table, used by every writer.

Why one table: at-least-once delivery means any handler may run twice or late; each state change is a
conditional write whose condition comes from here, so a stale or duplicate run changes nothing.
"""

from __future__ import annotations

__all__ = ["ALLOWED_FROM", "ALL_STATES", "AWAITING_UPLOAD", "DISPATCHED", "EXPIRED", "FAILED", "REJECTED", "REVOKED",
    "SIGNED", "TERMINAL", "UPLOADED", "can_transition", "sources"]

AWAITING_UPLOAD = "AWAITING_UPLOAD"
UPLOADED = "UPLOADED"
SIGNED = "SIGNED"
DISPATCHED = "DISPATCHED"
REJECTED = "REJECTED"
FAILED = "FAILED"
REVOKED = "REVOKED"
EXPIRED = "EXPIRED"

#: target state → the states it may be entered from.
ALLOWED_FROM: dict[str, frozenset[str]] = {
    UPLOADED: frozenset({AWAITING_UPLOAD, FAILED}),
    SIGNED: frozenset({UPLOADED, FAILED}),
    DISPATCHED: frozenset({SIGNED, FAILED}),
    REJECTED: frozenset({AWAITING_UPLOAD, UPLOADED}),
    FAILED: frozenset({UPLOADED, SIGNED}),
    REVOKED: frozenset({DISPATCHED}),
    EXPIRED: frozenset({AWAITING_UPLOAD}),
}

TERMINAL = frozenset({REJECTED, REVOKED, EXPIRED})
ALL_STATES = frozenset(ALLOWED_FROM) | {AWAITING_UPLOAD}


def can_transition(current: str, target: str) -> bool:
    """True when `current → target` is legal."""
    return current in ALLOWED_FROM.get(target, frozenset())


def sources(target: str) -> frozenset[str]:
    """States from which `target` may be entered (the condition of the conditional write)."""
    return ALLOWED_FROM[target]
