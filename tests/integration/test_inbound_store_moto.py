"""InboundStore's conditional writes on moto's DynamoDB: the idempotency the poller relies on when the axis delivers
twice, a run dies half-way, or two runs overlap."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.domain import axis_statuses
from tests.support.moto_tables import mocked_aws
from tests.support.organs import G22

TABLE = "edoc-documents-test-inbound"
DOC = "11111111-1111-1111-1111-111111111111"


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from chalicelib.adapters.inbound_store import InboundStore

    with mocked_aws(monkeypatch, documents_table=TABLE):
        s = InboundStore()
        s._table.put_item(Item={"pk": f"DOC#{DOC}", "sk": f"DELIVERY#{G22}", "organ_id": G22, "status": "SENT",
                                "updated_at": "T0", "history": [{"status": "SENT", "at": "T0"}]})
        yield s


def _apply(store, code: str, envelope: str, sha: str) -> bool:
    current = store.get_delivery(DOC, G22)
    if axis_statuses.already_applied(current, envelope, sha):
        return False
    update = axis_statuses.delivery_update(current, code=code, description="", reported_at=None, at=f"T-{envelope}",
                                           axis_doc_id=envelope)
    return store.apply_delivery_status(DOC, G22, current, update, [envelope, f"sha256:{sha}"])


def test_a_status_is_applied_once_per_envelope_and_per_package(store):
    assert _apply(store, "01", "e1", "h1")
    assert not _apply(store, "01", "e1", "h1"), "the same envelope again"
    assert not _apply(store, "01", "e2", "h1"), "the same package in another envelope"
    assert _apply(store, "03", "e3", "h3")
    row = store.get_delivery(DOC, G22)
    assert [h["status"] for h in row["history"]] == ["SENT", "ARRIVED", "ACCEPTED"]
    assert row["status"] == "ACCEPTED" and row["status_code"] == "03" and row["status_version"] == 2


def test_a_writer_that_read_an_older_version_loses_and_changes_nothing(store):
    stale = store.get_delivery(DOC, G22)
    assert _apply(store, "01", "e1", "h1")
    update = axis_statuses.delivery_update(stale, code="05", description="", reported_at=None, at="T",
                                           axis_doc_id="e9")
    assert not store.apply_delivery_status(DOC, G22, stale, update, ["e9", "sha256:h9"])
    assert store.get_delivery(DOC, G22)["status_code"] == "01"


def test_a_status_for_a_missing_delivery_row_writes_nothing(store):
    update = axis_statuses.delivery_update({}, code="01", description="", reported_at=None, at="T", axis_doc_id="e")
    assert not store.apply_delivery_status(DOC, "000.00.00.H49", {}, update, ["e", "sha256:x"])
    assert store.get_delivery(DOC, "000.00.00.H49") is None


def _item(inbox_id: str = "inbox-1") -> dict[str, Any]:
    return {"inbox_id": inbox_id, "organ_id": "000.00.00.H62", "from_organ_id": G22, "received_at": "T1",
            "status": "ARRIVED", "status_code": "01", "status_history": [], "sent_statuses": {}, "number": "1",
            "notation": "X", "edxml_document_id": f"{G22},2026/11/25,1/X", "issued_on": "2026-11-25"}


def test_filing_is_all_or_nothing_and_happens_once(store):
    from chalicelib.inbound.outbox import outbox_item

    item = _item()
    outbox = outbox_item(item, "01", "", "T1", reporter_name="UBND")
    env = {"axis_doc_id": "e1", "organ_id": "000.00.00.H62", "received_at": "T1", "outcome": "filed", "ack": "done"}
    assert store.file_inbox_item(item, outbox, env)
    assert not store.file_inbox_item(item, outbox, {**env, "axis_doc_id": "e2"}), "the same document again"
    assert store.get_envelope("e2", "000.00.00.H62") is None, "nothing of the failed filing was written"
    assert [o["code"] for o in store.pending_outbox("000.00.00.H62")] == ["01"]
    assert store.list_inbox("000.00.00.H62", limit=10, cursor=None)[0][0]["inbox_id"] == "inbox-1"
    assert store.list_inbox("000.00.00.H03", limit=10, cursor=None)[0] == []


def test_an_outbox_item_is_sent_by_one_worker_at_a_time_and_completed_once(store):
    from chalicelib.inbound.outbox import outbox_item

    item = _item()
    outbox = outbox_item(item, "01", "", "T1", reporter_name="UBND")
    store.file_inbox_item(item, outbox, {"axis_doc_id": "e1", "organ_id": "000.00.00.H62", "received_at": "T1",
                                         "outcome": "filed", "ack": "done"})
    token = store.lease_outbox(outbox)
    assert token and store.lease_outbox(outbox) is None
    assert store.complete_outbox(outbox, token, "f" * 24)
    assert not store.complete_outbox(outbox, token, "f" * 24)
    assert store.pending_outbox("000.00.00.H62") == []
    assert store.get_inbox_item("inbox-1")["sent_statuses"]["01"]["axis_doc_id"] == "f" * 24


def test_a_clerk_report_needs_the_status_it_was_decided_on(store):
    from chalicelib.adapters.dynamo import ConditionFailed
    from chalicelib.inbound.outbox import outbox_item

    item = _item()
    store.file_inbox_item(item, outbox_item(item, "01", "", "T1", reporter_name="U"),
                          {"axis_doc_id": "e1", "organ_id": "000.00.00.H62", "received_at": "T1", "outcome": "filed",
                           "ack": "done"})
    entry = {"status": "ACCEPTED", "code": "03", "meaning": "Đã tiếp nhận", "at": "T2", "by": "clerk"}
    store.record_clerk_status(item, entry, outbox_item(item, "03", "", "T2", reporter_name="U"))
    with pytest.raises(ConditionFailed):  # a second request decided on the old status
        store.record_clerk_status(item, {**entry, "code": "04", "status": "ASSIGNED"},
                                  outbox_item(item, "04", "", "T3", reporter_name="U"))
    saved = store.get_inbox_item("inbox-1")
    assert saved["status_code"] == "03" and [h["code"] for h in saved["status_history"]] == ["03"]
    assert sorted(o["code"] for o in store.pending_outbox("000.00.00.H62")) == ["01", "03"]


def test_inbox_pages_newest_first_and_a_cursor_stays_in_its_agency(store):
    from chalicelib.core.errors import ValidationFailed
    from chalicelib.inbound.outbox import outbox_item

    for n in range(3):
        item = {**_item(f"inbox-{n}"), "received_at": f"T{n}"}
        store.file_inbox_item(item, outbox_item(item, "01", "", f"T{n}", reporter_name="U"),
                              {"axis_doc_id": f"e{n}", "organ_id": "000.00.00.H62", "received_at": f"T{n}",
                               "outcome": "filed", "ack": "done"})
    first, cursor = store.list_inbox("000.00.00.H62", limit=2, cursor=None)
    assert [i["inbox_id"] for i in first] == ["inbox-2", "inbox-1"] and cursor
    rest, end = store.list_inbox("000.00.00.H62", limit=2, cursor=cursor)
    assert [i["inbox_id"] for i in rest] == ["inbox-0"] and end is None
    with pytest.raises(ValidationFailed):
        store.list_inbox("000.00.00.H03", limit=2, cursor=cursor)
