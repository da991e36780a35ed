"""Unit tests never reach AWS: every route answered through `chalicelib.api.http` writes its audit entry (issue 9)
into an in-memory store, so a test of an edge or a use case does not need a table (tests of the trail itself
install their own store)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chalicelib.adapters.audit_store import use_audit_store
from tests.fakes.audit import FakeAuditStore


@pytest.fixture(autouse=True)
def audit_store() -> Iterator[FakeAuditStore]:
    store = FakeAuditStore()
    use_audit_store(store)
    yield store
    use_audit_store(None)
