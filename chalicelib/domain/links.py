"""Short-lived links handed to clients (presigned S3 uploads and downloads): when they stop working.

Why one home: every use case that hands out a link (the upload form of a new document, a signed PDF, an inbox
attachment) says on the wire when it expires, in the same form (ISO 8601, UTC, whole seconds); one function keeps
them from drifting apart. Pure apart from reading the clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

__all__ = ["expires_at"]


def expires_at(seconds: int) -> str:
    """The moment a link valid for `seconds` from now expires, e.g. `2026-11-25T03:04:05+00:00`."""
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat(timespec="seconds")
