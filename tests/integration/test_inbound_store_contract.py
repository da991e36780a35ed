"""One suite, two inbound repositories: the in-memory twin the inbox use cases' unit tests use
(tests/fakes/inbound.MemoryInboxStore) and the DynamoDB adapter (chalicelib.adapters.inbound_store.InboundStore) on
moto, provisioned by the handler fixtures (tests/integration/conftest.py `handler_env`, the embedded stack's own table
schema). The items are filed as poll_axis files them (an inbox item in the shape of `items.build_inbox_item`, its 01
from `outbox.arrival_outbox_item`, the envelope record), so a use case tested against the fake can trust it to behave
as DynamoDB does: all-or-nothing filing, tenant-bound cursors, conditional clerk reports, the outbox lease.

The table outlives a test (module-scoped moto), so every test files under agencies and ids of its own."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from chalicelib.adapters.dynamo import ConditionFailed
from chalicelib.adapters.inbound_store import InboundStore
from chalicelib.core.errors import ValidationFailed
from chalicelib.domain import axis_statuses
from chalicelib.inbound.outbox import arrival_outbox_item, outbox_item
from tests.fakes.inbound import FakeAgency, MemoryInboundStore, MemoryInboxStore
from tests.support.contract import SIDES, one_side

G22 = "000.00.00.G22"


@pytest.fixture(params=SIDES)
def store(request: pytest.FixtureRequest) -> Any:
    return one_side(request, MemoryInboxStore, InboundStore)


def _agency() -> str:
    """An agency of this test's own (the store does not check organ ids against the registry)."""
    return f"000.00.00.{uuid.uuid4().hex[:6].upper()}"


def _at(n: int) -> str:
    return f"2026-11-25T03:00:{n:02d}.000000Z"


def _item(organ_id: str, n: int = 0) -> dict[str, Any]:
    """An inbox item with the fields `build_inbox_item` gives it."""
    received = _at(n)
    entry = {"status": axis_statuses.status_name(axis_statuses.ARRIVED), "code": axis_statuses.ARRIVED,
             "meaning": axis_statuses.status_meaning(axis_statuses.ARRIVED), "at": received, "by": "system"}
    axis_doc_id = uuid.uuid4().hex[:24]
    return {
        "inbox_id": str(uuid.uuid4()), "organ_id": organ_id, "from_organ_id": G22, "from_name": "Bộ Nội vụ",
        "edxml_document_id": f"{G22},2026/11/25,{n}/BNV", "number": str(n), "notation": "BNV",
        "subject": f"Văn bản {n}", "type_name": "Công văn", "issued_on": "2026-11-25", "place": "Hà Nội",
        "signer": {"full_name": "A", "position": "B", "competence": ""}, "priority": 0, "due_date": None,
        "steering_type": None, "paper": 0, "to_places": [], "business_doc_type": 0,
        "received_at": received, "updated_at": received, "axis_doc_id": axis_doc_id,
        "raw_key": f"inbound/{organ_id}/{axis_doc_id}.edxml", "package_sha256": "ab" * 32,
        "status": entry["status"], "status_code": axis_statuses.ARRIVED, "status_history": [entry],
        "sent_statuses": {}, "revoked": False, "attachments": [], "verification_summary": "no_pdf", "warnings": [],
    }


def _envelope(item: dict[str, Any]) -> dict[str, Any]:
    """The envelope record poll_axis files with the item (`base` + outcome)."""
    return {"axis_doc_id": item["axis_doc_id"], "organ_id": item["organ_id"], "from": G22, "listed_as": "edoc",
            "received_at": item["received_at"], "raw_key": item["raw_key"], "sha256": item["package_sha256"],
            "size": 1234, "outcome": "filed", "inbox_id": item["inbox_id"], "ack": "done"}


def _file(store: Any, organ_id: str, n: int = 0) -> tuple[dict[str, Any], dict[str, Any]]:
    """File an item as poll_axis does; the item and its 01 waiting in the outbox."""
    item = _item(organ_id, n)
    outbox = arrival_outbox_item(item, FakeAgency(organ_id, "UBND tỉnh Hà Giang"))
    assert store.file_inbox_item(item, outbox, _envelope(item))
    return item, outbox


def _clerk_entry(code: str, at: str) -> dict[str, Any]:
    return {"status": axis_statuses.status_name(code), "code": code, "meaning": axis_statuses.status_meaning(code),
            "at": at, "by": "clerk"}


def _pending(store: Any, organ_id: str) -> list[tuple[str, str]]:
    return [(o["inbox_id"], o["code"]) for o in store.pending_outbox(organ_id)]


class TestInboundStoreContract:
    # -- filing and reading ------------------------------------------------------------------------------------
    def test_an_item_is_filed_with_its_01_and_envelope_all_or_nothing_and_once(self, store: Any) -> None:
        organ = _agency()
        item, outbox = _file(store, organ)
        saved = store.get_inbox_item(item["inbox_id"])
        assert {k: saved[k] for k in item} == item
        assert store.get_envelope(item["axis_doc_id"], organ)["outcome"] == "filed"
        assert _pending(store, organ) == [(item["inbox_id"], "01")]

        again = {**_envelope(item), "axis_doc_id": uuid.uuid4().hex[:24]}
        assert not store.file_inbox_item(item, outbox, again), "the same document in a second envelope"
        assert store.get_envelope(again["axis_doc_id"], organ) is None, "nothing of the failed filing was written"

        other = _item(organ, 1)
        assert not store.file_inbox_item(other, arrival_outbox_item(other, None), _envelope(item) | {
            "inbox_id": other["inbox_id"]}), "an envelope already recorded"
        assert store.get_inbox_item(other["inbox_id"]) is None and _pending(store, organ) == [(item["inbox_id"], "01")]
        assert store.get_inbox_item(str(uuid.uuid4())) is None

    def test_an_agency_lists_only_its_own_items_newest_first_a_page_at_a_time(self, store: Any) -> None:
        organ, neighbour = _agency(), _agency()
        mine = [_file(store, organ, n)[0]["inbox_id"] for n in range(3)]
        theirs = _file(store, neighbour, 5)[0]["inbox_id"]
        first, cursor = store.list_inbox(organ, limit=2, cursor=None)
        assert [i["inbox_id"] for i in first] == [mine[2], mine[1]] and cursor
        rest, end = store.list_inbox(organ, limit=2, cursor=cursor)
        assert [i["inbox_id"] for i in rest] == [mine[0]] and end is None
        assert [i["inbox_id"] for i in store.list_inbox(neighbour, limit=10, cursor=None)[0]] == [theirs]
        assert store.list_inbox(_agency(), limit=10, cursor=None) == ([], None)

    @pytest.mark.parametrize("cursor", ["another agency's", "not-a-cursor", "WzEsMl0"])  # WzEsMl0: "[1,2]"
    def test_a_cursor_from_another_agency_or_none_at_all_is_refused(self, store: Any, cursor: str) -> None:
        organ = _agency()
        for n in range(2):
            _file(store, organ, n)
        if cursor == "another agency's":
            cursor = store.list_inbox(organ, limit=1, cursor=None)[1]
        with pytest.raises(ValidationFailed) as exc:
            store.list_inbox(_agency(), limit=1, cursor=cursor)
        assert exc.value.code == "invalid_cursor"

    # -- the clerk's report ------------------------------------------------------------------------------------
    def test_a_clerks_report_is_written_with_its_package_only_on_the_status_it_was_decided_on(self, store: Any
                                                                                            ) -> None:
        organ = _agency()
        item, _ = _file(store, organ)
        accepted = _clerk_entry("03", _at(10))
        store.record_clerk_status(item, accepted, outbox_item(item, "03", "", _at(10), reporter_name="U"))
        saved = store.get_inbox_item(item["inbox_id"])
        assert (saved["status"], saved["status_code"], saved["updated_at"]) == ("ACCEPTED", "03", _at(10))
        assert [h["code"] for h in saved["status_history"]] == ["01", "03"] and saved["status_history"][-1] == accepted
        assert _pending(store, organ) == [(item["inbox_id"], "01"), (item["inbox_id"], "03")], "oldest first"

        with pytest.raises(ConditionFailed):  # a second request decided on the old status (01)
            store.record_clerk_status(item, _clerk_entry("04", _at(11)),
                                      outbox_item(item, "04", "", _at(11), reporter_name="U"))
        assert store.get_inbox_item(item["inbox_id"])["status_code"] == "03"
        assert [c for _, c in _pending(store, organ)] == ["01", "03"], "its package was not written either"

        store.record_clerk_status(saved, _clerk_entry("04", _at(12)),
                                  outbox_item(saved, "04", "", _at(12), reporter_name="U"))
        assigned = store.get_inbox_item(item["inbox_id"])
        with pytest.raises(ConditionFailed):  # 03 again, while its first package still waits in the outbox
            store.record_clerk_status(assigned, _clerk_entry("03", _at(13)),
                                      outbox_item(assigned, "03", "", _at(13), reporter_name="U"))
        after = store.get_inbox_item(item["inbox_id"])
        assert after["status_code"] == "04" and [h["code"] for h in after["status_history"]] == ["01", "03", "04"]

    def test_a_report_on_an_item_that_is_not_there_is_refused(self, store: Any) -> None:
        ghost = _item(_agency())
        with pytest.raises(ConditionFailed):
            store.record_clerk_status(ghost, _clerk_entry("03", _at(10)),
                                      outbox_item(ghost, "03", "", _at(10), reporter_name="U"))
        assert store.get_inbox_item(ghost["inbox_id"]) is None and store.pending_outbox(ghost["organ_id"]) == []

    # -- the outbox --------------------------------------------------------------------------------------------
    def test_the_outbox_of_an_agency_is_its_own_packages_oldest_first(self, store: Any) -> None:
        organ, neighbour = _agency(), _agency()
        late, _ = _file(store, organ, 7)
        early, _ = _file(store, organ, 3)
        theirs, _ = _file(store, neighbour, 1)
        assert _pending(store, organ) == [(early["inbox_id"], "01"), (late["inbox_id"], "01")]
        assert _pending(store, neighbour) == [(theirs["inbox_id"], "01")]
        assert store.pending_outbox(_agency()) == []

    def test_one_sender_at_a_time_holds_the_lease_and_a_release_frees_it(self, store: Any) -> None:
        organ = _agency()
        item, outbox = _file(store, organ)
        token = store.lease_outbox(outbox)
        assert token and store.lease_outbox(outbox) is None, "held: nobody else sends it meanwhile"
        store.release_outbox(outbox, token, "AxisTransientError")
        (waiting,) = store.pending_outbox(organ)
        assert waiting["last_error"] == "AxisTransientError" and "lease_until" not in waiting
        again = store.lease_outbox(outbox)
        assert again and again != token and store.lease_outbox(outbox) is None
        assert store.pending_outbox(organ)[0]["attempts"] == 2
        assert store.lease_outbox({**outbox, "sk": "STATUS#nothing#01"}) is None, "no such package"

    def test_completing_drops_the_package_and_notes_the_axis_docid_on_the_item(self, store: Any) -> None:
        organ = _agency()
        item, outbox = _file(store, organ)
        token = store.lease_outbox(outbox)
        assert store.complete_outbox(outbox, token, "f" * 24)
        assert store.pending_outbox(organ) == [] and store.lease_outbox(outbox) is None
        sent = store.get_inbox_item(item["inbox_id"])["sent_statuses"]
        assert set(sent) == {"01"} and sent["01"]["axis_doc_id"] == "f" * 24 and sent["01"]["sent_at"]
        assert not store.complete_outbox(outbox, token, "e" * 24), "completed once"
        assert store.get_inbox_item(item["inbox_id"])["sent_statuses"]["01"]["axis_doc_id"] == "f" * 24

    def test_a_refused_package_leaves_the_outbox_for_the_administrators_list_newest_first(self, store: Any) -> None:
        organ = _agency()
        first, first_outbox = _file(store, organ, 1)
        second, second_outbox = _file(store, organ, 2)
        store.fail_outbox(first_outbox, store.lease_outbox(first_outbox), "AXIS_REFUSED")
        store.fail_outbox(second_outbox, store.lease_outbox(second_outbox), "AXIS_RECIPIENT_UNKNOWN")
        assert store.pending_outbox(organ) == [] and store.lease_outbox(first_outbox) is None, "never retried"
        issues, _ = store.list_issues(limit=2, cursor=None)
        assert [(i["inbox_id"], i["code"], i["last_error"], i["outcome"]) for i in issues] == [
            (second["inbox_id"], "01", "AXIS_RECIPIENT_UNKNOWN", "status_send_refused"),
            (first["inbox_id"], "01", "AXIS_REFUSED", "status_send_refused")]
        assert all(i["failed_at"] for i in issues)

    def test_a_stale_token_can_neither_release_fail_nor_complete(self, store: Any) -> None:
        organ = _agency()
        item, outbox = _file(store, organ)
        stale = store.lease_outbox(outbox)
        store.release_outbox(outbox, stale, "AxisTransientError")
        current = store.lease_outbox(outbox)
        assert current and current != stale

        store.release_outbox(outbox, stale, "late")
        assert store.lease_outbox(outbox) is None, "still held by the current sender"
        store.fail_outbox(outbox, stale, "AXIS_REFUSED")
        assert _pending(store, organ) == [(item["inbox_id"], "01")], "not given up on"
        assert all(i.get("inbox_id") != item["inbox_id"] for i in store.list_issues(limit=100, cursor=None)[0])
        assert not store.complete_outbox(outbox, stale, "e" * 24)
        assert _pending(store, organ) == [(item["inbox_id"], "01")]
        assert store.get_inbox_item(item["inbox_id"])["sent_statuses"] == {}
        assert store.pending_outbox(organ)[0]["last_error"] == "AxisTransientError", "the stale release wrote nothing"

        assert store.complete_outbox(outbox, current, "f" * 24)
        assert store.get_inbox_item(item["inbox_id"])["sent_statuses"]["01"]["axis_doc_id"] == "f" * 24

    def test_a_token_given_up_is_no_longer_the_senders(self, store: Any) -> None:
        """Releasing or failing gives the lease up for good (both fields go): the same token cannot then complete
        the package (a refused one would vanish from the issue list) nor fail it."""
        organ = _agency()
        item, outbox = _file(store, organ)
        token = store.lease_outbox(outbox)
        store.release_outbox(outbox, token, "AxisTransientError")
        assert not store.complete_outbox(outbox, token, "a" * 24)
        store.fail_outbox(outbox, token, "AXIS_REFUSED")
        assert _pending(store, organ) == [(item["inbox_id"], "01")]

        failing = store.lease_outbox(outbox)
        store.fail_outbox(outbox, failing, "AXIS_REFUSED")
        assert not store.complete_outbox(outbox, failing, "b" * 24)
        assert [i["inbox_id"] for i in store.list_issues(limit=100, cursor=None)[0]].count(item["inbox_id"]) == 1



@pytest.fixture(params=SIDES)
def inbound(request: pytest.FixtureRequest) -> Any:
    return one_side(request, MemoryInboundStore, InboundStore)


class TestEnvelopeAttemptsContract:
    """Attempts per envelope (issue 8): counted with a bound, noted, cleared; issues listed; records always fit."""

    def test_attempts_are_counted_up_to_the_bound_and_keep_what_was_noted(self, inbound: Any) -> None:
        doc_id, organ = uuid.uuid4().hex[:24], _agency()
        assert inbound.begin_attempt(doc_id, organ, 3)["attempts"] == 1
        inbound.note_attempt(doc_id, organ, {"raw_key": f"inbound/{organ}/{doc_id}.edxml", "last_error": "OSError"})
        assert [inbound.begin_attempt(doc_id, organ, 3)["attempts"] for _ in range(2)] == [2, 3]
        spent = inbound.begin_attempt(doc_id, organ, 3)
        assert spent["exhausted"] is True and spent["attempts"] == 3
        assert spent["raw_key"] == f"inbound/{organ}/{doc_id}.edxml" and spent["last_error"] == "OSError"
        assert inbound.begin_attempt(doc_id, _agency(), 3)["attempts"] == 1, "counted per envelope and agency"
        inbound.clear_attempts(doc_id, organ)
        assert inbound.begin_attempt(doc_id, organ, 3)["attempts"] == 1, "a cleared envelope starts afresh"
        assert inbound.get_envelope(doc_id, organ) is None, "the count is not the envelope record"

    def test_an_issue_envelope_is_listed_once_and_acknowledged(self, inbound: Any) -> None:
        doc_id, organ = uuid.uuid4().hex[:24], _agency()
        record = {"axis_doc_id": doc_id, "organ_id": organ, "from": G22, "received_at": _at(1), "raw_key": "k",
                  "outcome": "forged_sender", "reason": "sender_mismatch", "ack": "fail",
                  "details": {"claimed": "000.00.00.K62", "authenticated": G22}}
        assert inbound.put_envelope(record, issue=True)
        assert not inbound.put_envelope(record, issue=True), "recorded once"
        inbound.mark_envelope_acked(doc_id, organ, "fail")
        assert inbound.get_envelope(doc_id, organ)["ack"] == "fail"
        listed = [i for i in inbound.list_issues(limit=200, cursor=None)[0] if i.get("axis_doc_id") == doc_id]
        assert len(listed) == 1 and listed[0]["reason"] == "sender_mismatch"


def test_an_envelope_record_with_huge_details_still_fits(handler_env: Any) -> None:
    """The adapter side only: DynamoDB refuses items over 400 KB; details come from untrusted input."""
    from chalicelib.domain.inbound_rules import record_bytes

    store = InboundStore()
    doc_id, organ = uuid.uuid4().hex[:24], _agency()
    record = {"axis_doc_id": doc_id, "organ_id": organ, "received_at": _at(1), "outcome": "unprocessable",
              "reason": "unprocessable_content", "ack": "fail", "details": {"report": ["x" * 1000] * 600}}
    assert record_bytes(record) > 400_000
    assert store.put_envelope(record, issue=True)
    saved = store.get_envelope(doc_id, organ)
    assert saved["details"]["cut"] is True and record_bytes(saved) < 100_000
