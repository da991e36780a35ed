"""One suite, two stores: the in-memory twin the unit tests use (tests/fakes.InMemoryDocumentStore) and the DynamoDB
adapter (chalicelib.adapters.document_store.DocumentStore) on moto, provisioned by the handler fixtures
(tests/integration/conftest.py `handler_env`, the embedded stack's own table schema). A use case tested against
the fake can then trust it to behave as DynamoDB does: conditions, leases, deliveries."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from chalicelib.adapters.document_store import DocumentStore
from chalicelib.adapters.dynamo import ConditionFailed
from chalicelib.domain.leases import DISPATCH, UPLOAD, Lease
from tests.fakes import InMemoryDocumentStore
from tests.support.contract import SIDES, one_side

H62, G22 = "000.00.00.H62", "000.00.00.G22"


@pytest.fixture(params=SIDES)
def store(request: pytest.FixtureRequest) -> Any:
    return one_side(request, InMemoryDocumentStore, DocumentStore)


def _record(store: Any, state: str = "AWAITING_UPLOAD") -> str:
    document_id = str(uuid.uuid4())
    at = "2026-11-25T03:00:00.000000Z"
    store.create({"document_id": document_id, "organ_id": H62, "state": "AWAITING_UPLOAD", "created_at": at,
                  "updated_at": at, "metadata": {"recipients": [G22]}})
    if state == "SIGNED":
        store.transition(document_id, "UPLOADED")
        store.transition(document_id, "SIGNED")
    return document_id


class TestDocumentStoreContract:
    def test_a_record_is_created_once_with_its_first_event(self, store: Any) -> None:
        document_id = _record(store)
        record, events, deliveries = store.get_full(document_id)
        assert record["state"] == "AWAITING_UPLOAD" and [e["state"] for e in events] == ["AWAITING_UPLOAD"]
        assert deliveries == []
        with pytest.raises(ConditionFailed):
            store.create({k: record[k] for k in ("document_id", "organ_id", "state", "created_at", "updated_at",
                                                  "metadata")})

    def test_a_transition_follows_the_state_table_and_records_its_reason(self, store: Any) -> None:
        document_id = _record(store)
        with pytest.raises(ConditionFailed):
            store.transition(document_id, "DISPATCHED")  # AWAITING_UPLOAD → DISPATCHED is not legal
        store.transition(document_id, "REJECTED", fields={"reason": "not_pdf"})
        record, events, _ = store.get_full(document_id)
        assert record["state"] == "REJECTED" and record["reason"] == "not_pdf"
        assert events[-1]["state"] == "REJECTED" and events[-1]["detail"] == {"reason": "not_pdf"}

    def test_one_worker_at_a_time_holds_a_lease_and_only_it_finishes(self, store: Any) -> None:
        document_id = _record(store)
        first = Lease.new(UPLOAD, 90)
        store.transition(document_id, "UPLOADED", from_states=frozenset({"AWAITING_UPLOAD", "UPLOADED"}),
                         claim=first)
        assert store.get(document_id)["lease_owner"] == first.token
        with pytest.raises(ConditionFailed):
            store.transition(document_id, "UPLOADED", from_states=frozenset({"UPLOADED"}),
                             claim=Lease.new(UPLOAD, 90))
        with pytest.raises(ConditionFailed):
            store.transition(document_id, "SIGNED", lease=Lease.new(UPLOAD, 90))  # not the holder
        store.transition(document_id, "SIGNED", lease=first)
        record = store.get(document_id)
        assert record["state"] == "SIGNED" and "lease_owner" not in record and "lease_until" not in record

    def test_a_lease_that_ran_out_or_was_released_is_taken_over(self, store: Any) -> None:
        document_id = _record(store, "SIGNED")
        expired = Lease.new(DISPATCH, 90, now=int(time.time()) - 200)
        store.claim(document_id, expired, in_state="SIGNED", fields={"dispatch_started_at": "T"})
        taker = Lease.new(DISPATCH, 90)
        store.claim(document_id, taker, in_state="SIGNED")
        with pytest.raises(ConditionFailed):
            store.claim(document_id, Lease.new(DISPATCH, 90), in_state="SIGNED")
        store.release(document_id, expired)  # not ours any more: nothing happens
        assert store.get(document_id)["dispatch_lease_until"] == taker.until
        store.release(document_id, taker)
        again = Lease.new(DISPATCH, 90)
        store.claim(document_id, again, in_state="SIGNED")
        record = store.get(document_id)
        assert record["dispatch_lease"] == again.token and record["dispatch_started_at"] == "T"
        with pytest.raises(ConditionFailed):
            store.claim(document_id, Lease.new(DISPATCH, 90, now=int(time.time()) + 1000), in_state="DISPATCHED")

    def test_a_delivery_goes_from_intent_to_sent_once(self, store: Any) -> None:
        document_id = _record(store, "SIGNED")
        intent = store.put_delivery_intent(document_id, G22)
        assert intent["status"] == "PENDING" and store.put_delivery_intent(document_id, G22)["status"] == "PENDING"
        row = store.note_send_attempt(document_id, G22, "aa")
        assert row["package_hashes"] == {"aa"} and row["send_attempts"] == 1
        store.note_send_attempt(document_id, G22, "bb")
        store.forget_send_attempt(document_id, G22, "aa")
        store.mark_delivery_sent(document_id, G22, "doc-1", paper=False, package_sha256="bb")
        with pytest.raises(ConditionFailed):
            store.mark_delivery_sent(document_id, G22, "doc-2", paper=False)
        (delivery,) = store.get_full(document_id)[2]
        assert delivery["status"] == "SENT" and delivery["axis_doc_id"] == "doc-1"
        assert delivery["package_hashes"] == {"bb"} and delivery["send_attempts"] == 2
        assert [h["status"] for h in delivery["history"]] == ["SENT"]
        assert store.put_delivery_intent(document_id, G22)["status"] == "SENT", "a retry finds it sent"

    def test_a_delivery_opened_with_its_first_attempt_and_found_again_on_a_retry(self, store: Any) -> None:
        """open_delivery (issue 11): a new row carries the first attempt; an existing one comes back unchanged, with
        `created` False and its own hashes (for the retry to reconcile), never this run's."""
        document_id = _record(store, "SIGNED")
        row, created = store.open_delivery(document_id, G22, "aa")
        assert created and row["status"] == "PENDING" and row["package_hashes"] == {"aa"}
        assert row["send_attempts"] == 1 and row["first_attempt_at"] == row["last_attempt_at"]
        again, created = store.open_delivery(document_id, G22, "bb")
        assert not created and again["package_hashes"] == {"aa"} and again["send_attempts"] == 1
        assert store.note_send_attempt(document_id, G22, "bb")["send_attempts"] == 2
        store.mark_delivery_sent(document_id, G22, "doc-1", paper=False, package_sha256="bb")
        sent, created = store.open_delivery(document_id, G22, "cc")
        assert not created and sent["status"] == "SENT" and sent["axis_doc_id"] == "doc-1"
        assert sent["history"][0]["status"] == "SENT" and isinstance(sent["send_attempts"], int)
        plain_row, created = store.open_delivery(document_id, H62)
        assert created and "package_hashes" not in plain_row
        ((_, g22), (_, h62)) = sorted((d["organ_id"], d) for d in store.get_full(document_id)[2])
        assert g22["package_hashes"] == {"aa", "bb"} and h62["status"] == "PENDING"

    def test_unconfirmed_sends_are_forgotten_only_on_pending_rows(self, store: Any) -> None:
        document_id = _record(store, "SIGNED")
        store.put_delivery_intent(document_id, G22)
        store.note_send_attempt(document_id, G22, "aa")
        store.put_delivery_intent(document_id, H62)
        assert store.forget_unconfirmed_sends(document_id) == [G22]
        rows = {d["organ_id"]: d for d in store.get_full(document_id)[2]}
        assert "package_hashes" not in rows[G22] and rows[G22]["status"] == "PENDING"


class TestSweepIndexContract:
    """The sparse index the sweep reads (chalicelib.domain.sweep_rules) and its conditional writes."""

    def test_only_records_in_flight_are_indexed_and_found_once_due(self, store: Any) -> None:
        from chalicelib.domain import sweep_rules

        waiting = _record(store)
        signed = _record(store, "SIGNED")
        done = _record(store)
        store.transition(done, "REJECTED", fields={"reason": "not_pdf"})
        now = int(time.time())
        assert store.get(waiting)["sweep_lane"] == sweep_rules.LANE
        assert store.get(waiting)["sweep_due"] >= now + sweep_rules.bound_seconds("AWAITING_UPLOAD") - 5
        assert store.get(signed)["sweep_lane"] == sweep_rules.LANE
        assert not {"sweep_lane", "sweep_from", "sweep_due"} & set(store.get(done))
        assert waiting not in store.due_for_sweep(now, 100), "cannot be overdue yet"
        soonest = now + sweep_rules.MIN_BOUND_SECONDS + 10
        assert {waiting, signed} <= set(store.due_for_sweep(soonest, 100))
        assert done not in store.due_for_sweep(now + 10**6, 100)

    def test_moves_between_swept_states_keep_the_index_keys_and_a_retime_moves_them_up(self, store: Any) -> None:
        from chalicelib.domain import sweep_rules

        document_id = _record(store)
        first = store.get(document_id)
        store.transition(document_id, "UPLOADED")
        moved = store.get(document_id)
        assert moved["sweep_from"] == first["sweep_from"], "the index entry is written once"
        assert moved["sweep_due"] >= first["sweep_from"]
        store.retime_sweep(document_id, moved["sweep_due"])
        assert store.get(document_id)["sweep_from"] == moved["sweep_due"]
        store.retime_sweep(document_id, moved["sweep_due"] - 100)
        assert store.get(document_id)["sweep_from"] == moved["sweep_due"], "never moved back"
        assert document_id not in store.due_for_sweep(moved["sweep_due"] - 1, 100)
        assert document_id in store.due_for_sweep(moved["sweep_due"], 100)
        store.transition(document_id, "FAILED", fields={"reason": "stuck_uploaded"})
        store.retime_sweep(document_id, moved["sweep_due"] + 100)  # out of the index: nothing
        assert sweep_rules.FROM_FIELD not in store.get(document_id)

    def test_every_transition_counts_the_version_and_an_old_version_loses(self, store: Any) -> None:
        document_id = _record(store)
        assert store.get(document_id)["version"] == 1
        store.transition(document_id, "UPLOADED")
        assert store.get(document_id)["version"] == 2
        with pytest.raises(ConditionFailed):
            store.transition(document_id, "FAILED", expect_version=1)
        store.transition(document_id, "FAILED", expect_version=2, fields={"reason": "stuck_uploaded"})
        record = store.get(document_id)
        assert record["state"] == "FAILED" and record["version"] == 3 and "sweep_lane" not in record

    def test_a_held_lease_blocks_a_probe_and_a_free_one_does_not(self, store: Any) -> None:
        document_id = _record(store, "SIGNED")
        store.claim(document_id, Lease.new(DISPATCH, 90), in_state="SIGNED")
        version = store.get(document_id)["version"]
        probe = Lease.new(DISPATCH, 0)
        with pytest.raises(ConditionFailed):
            store.transition(document_id, "FAILED", expect_version=version, free=probe)
        with pytest.raises(ConditionFailed):
            store.record_sweep_retry(document_id, state="SIGNED", version=version, due=1, free=probe,
                                     detail={"sweep": "retried"})
        other = _record(store, "SIGNED")
        store.transition(other, "FAILED", expect_version=store.get(other)["version"], free=probe)
        assert store.get(other)["state"] == "FAILED"

    def test_a_sweep_retry_is_counted_once_per_version(self, store: Any) -> None:
        document_id = _record(store)
        store.transition(document_id, "UPLOADED")
        version = store.get(document_id)["version"]
        probe = Lease.new(UPLOAD, 0)
        store.record_sweep_retry(document_id, state="UPLOADED", version=version, due=12345, free=probe,
                                 detail={"sweep": "retried", "attempt": 1})
        with pytest.raises(ConditionFailed):  # a second sweep that read the same version
            store.record_sweep_retry(document_id, state="UPLOADED", version=version, due=12345, free=probe,
                                     detail={"sweep": "retried", "attempt": 1})
        record, events, _ = store.get_full(document_id)
        assert record["state"] == "UPLOADED" and record["sweep_retries_uploaded"] == 1
        assert record["sweep_due"] == 12345 and record["version"] == version + 1
        assert events[-1]["state"] == "UPLOADED" and events[-1]["detail"] == {"sweep": "retried", "attempt": 1}
        assert document_id in store.due_for_sweep(12345, 100)
        store.transition(document_id, "FAILED", fields={"reason": "stuck_uploaded"})
        assert "sweep_retries_uploaded" not in store.get(document_id), "FAILED clears the counters"

    def test_foreign_uploads_are_noted_up_to_a_limit_without_changing_the_record(self, store: Any) -> None:
        document_id = _record(store)
        before = store.get(document_id)
        detail = {"refused": "foreign_upload", "part": "main"}
        assert store.record_foreign_upload(document_id, state="AWAITING_UPLOAD", detail=detail, limit=2)
        assert store.record_foreign_upload(document_id, state="AWAITING_UPLOAD", detail=detail, limit=2)
        assert not store.record_foreign_upload(document_id, state="AWAITING_UPLOAD", detail=detail, limit=2)
        assert not store.record_foreign_upload(str(uuid.uuid4()), state="AWAITING_UPLOAD", detail=detail, limit=2)
        record, events, _ = store.get_full(document_id)
        assert record["foreign_uploads"] == 2
        assert {k: record[k] for k in ("state", "version", "sweep_due")} == \
            {k: before[k] for k in ("state", "version", "sweep_due")}
        assert [e.get("detail") for e in events[1:]] == [detail, detail]
