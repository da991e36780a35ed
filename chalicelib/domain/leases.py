"""Leases: how one worker at a time takes an item of the documents table (STYLE.md: one conditional-update
primitive for every lease and transition).

A lease is a pair of fields on the item, an owner token and an expiry (epoch seconds). A worker takes it when
nobody holds it (no expiry, or one already past), writes only while the token is still its own, and gives it up
(removes both) when done, or sets the expiry to 0 on a transient failure so the redelivered message takes over at
once. The field names differ per writer (the stored data and the tests rely on them), so each writer names its pair
here; the DynamoDB adapter (chalicelib.adapters.document_store) turns these into condition expressions.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

__all__ = ["AMENDMENT", "DISPATCH", "OUTBOX", "UPLOAD", "Lease", "LeaseFields", "lease_until"]


@dataclass(frozen=True)
class LeaseFields:
    """The item's field names for one kind of lease."""

    owner: str
    until: str


#: The signing handler's lease on a record (`UPLOADED` while it signs).
UPLOAD = LeaseFields("lease_owner", "lease_until")
#: The dispatch handler's lease on a `SIGNED` record.
DISPATCH = LeaseFields("dispatch_lease", "dispatch_lease_until")
#: A sending run's lease on an amendment item.
AMENDMENT = LeaseFields("lease", "lease_until")
#: A sending attempt's lease on a status package waiting in the inbound outbox.
OUTBOX = LeaseFields("lease", "lease_until")


@dataclass(frozen=True)
class Lease:
    """One worker's claim: a fresh token, valid until `until` (epoch seconds); `now` is when it was taken."""

    fields: LeaseFields
    token: str
    now: int
    until: int

    @classmethod
    def new(cls, fields: LeaseFields, seconds: int, now: int | None = None) -> Lease:
        moment = int(time.time()) if now is None else now
        return cls(fields=fields, token=uuid.uuid4().hex, now=moment, until=moment + seconds)

    def values(self) -> dict[str, Any]:
        """The fields as written when the lease is taken."""
        return {self.fields.owner: self.token, self.fields.until: self.until}


def lease_until(item: dict[str, Any], fields: LeaseFields) -> int:
    """The expiry of the lease of this kind on an item read back (0 when none is held)."""
    return int(item.get(fields.until, 0) or 0)
