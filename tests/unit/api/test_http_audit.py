"""The one audit hook at the HTTP edge (chalicelib.api.http.Routes.route, issue 9): which answered requests leave an
entry, what the entry says, and that an entry that cannot be written withholds the answer (503)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from chalice import Chalice
from chalice.test import Client

from chalicelib.adapters.audit_store import use_audit_store
from chalicelib.api import http
from chalicelib.api.http import Routes
from chalicelib.core.errors import Conflict
from chalicelib.domain.caller import Caller
from tests.fakes.audit import FakeAuditStore

CALLERS = {"admin": Caller("admin1", "000.00.01.H62", True), "clerk": Caller("clerk1", "000.00.12.H62", False)}


@pytest.fixture()
def store() -> Iterator[FakeAuditStore]:
    fake = FakeAuditStore()
    use_audit_store(fake)
    yield fake
    use_audit_store(None)


@pytest.fixture()
def client(monkeypatch: pytest.MonkeyPatch, store: FakeAuditStore) -> Iterator[Client]:
    monkeypatch.setattr(http, "caller_from_headers", lambda headers: CALLERS[headers["authorization"]])
    app = Chalice(app_name="http-audit-test")
    routes = Routes(app)

    @routes.route("/v1/documents/{document_id}")
    def get_document(caller: Any, document_id: str) -> dict:
        return {"document_id": document_id, "content": "never in the entry"}

    @routes.route("/v1/documents", methods=["POST"], status=201)
    def create_document(caller: Any) -> dict:
        return {"document_id": "new-id", "upload": {"fields": {"token": "secret"}}}

    @routes.route("/v1/documents/{document_id}/revoke", methods=["POST"])
    def revoke_document(caller: Any, document_id: str) -> dict:
        raise Conflict(code="not_retryable")

    @routes.route("/v1/health", auth=False)
    def health() -> dict:
        return {"status": "ok"}

    with Client(app) as c:
        yield c


def _entries(store: FakeAuditStore) -> list[dict[str, Any]]:
    return [item for _, item in sorted(store.items.items())]


def test_an_admins_read_is_audited_with_who_what_and_from_where(client: Client, store: FakeAuditStore) -> None:
    response = client.http.get("/v1/documents/d-42", headers={"authorization": "admin"})
    assert response.status_code == 200
    [entry] = _entries(store)
    assert entry["actor"] == {"username": "admin1", "organ_id": "000.00.01.H62", "admin": True}
    assert (entry["action"], entry["resource"], entry["result"]) == (
        "get_document", {"type": "document", "id": "d-42"}, "ok")
    assert entry["source_ip"]  # chalice's test client, like chalice.local, names one
    assert "never in the entry" not in json.dumps(entry)


def test_a_clerks_read_is_not_audited_but_every_change_is_even_refused(client: Client, store: FakeAuditStore) -> None:
    client.http.get("/v1/documents/d-1", headers={"authorization": "clerk"})
    assert _entries(store) == []
    assert client.http.post("/v1/documents", headers={"authorization": "clerk"}).status_code == 201
    assert client.http.post("/v1/documents/d-1/revoke", headers={"authorization": "clerk"}).status_code == 409
    created, refused = _entries(store)
    assert (created["action"], created["resource"]["id"], created["result"]) == ("create_document", "new-id", "ok")
    assert "secret" not in json.dumps(created)
    assert (refused["action"], refused["resource"]["id"], refused["result"]) == ("revoke_document", "d-1",
                                                                                 "not_retryable")
    assert refused["prev_hash"] == created["hash"]


def test_calls_without_a_caller_are_not_audited(client: Client, store: FakeAuditStore) -> None:
    assert client.http.get("/v1/health").status_code == 200
    assert _entries(store) == []


def test_an_entry_that_cannot_be_written_withholds_the_answer(client: Client, store: FakeAuditStore,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(item: dict[str, Any]) -> bool:
        raise RuntimeError("table unavailable")

    monkeypatch.setattr(store, "put_new", broken)
    response = client.http.get("/v1/documents/d-42", headers={"authorization": "admin"})
    assert response.status_code == 503
    body = json.loads(response.body)
    assert body["error"]["code"] == "audit_unavailable" and "d-42" not in response.body.decode()
