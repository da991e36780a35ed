"""Dispatch (chalicelib.outbound.dispatch_queue → dispatch.process_dispatch) through the fakes of its ports and a
fake axis client: one package per recipient, the lease taken and given up, permanent refusals dead-lettered."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from chalicelib.adapters.axis.client import SendResult
from chalicelib.adapters.axis.errors import AxisBusinessError
from chalicelib.domain.caller import Caller
from chalicelib.outbound import dispatch, dispatch_queue
from chalicelib.outbound.documents import create_document
from tests.unit.outbound.conftest import G22, H62, K62, Ports, sample_metadata


@dataclass
class _Timeout:
    read_timeout: float = 1.0
    connect_timeout: float = 1.0


@dataclass
class FakeAxis:
    """sendEdoc and getSentEdocList as the dispatch use case calls them."""

    refuse: str = ""
    sent: list[dict[str, Any]] = field(default_factory=list)
    timeout: _Timeout = field(default_factory=_Timeout)

    def send_edoc(self, path: str, to: list[str], package_sha256: str = "") -> SendResult:
        if self.refuse:
            raise AxisBusinessError(self.refuse, "refused")
        self.sent.append({"to": to, "sha256": package_sha256})
        return SendResult(doc_id=f"doc-{len(self.sent)}", status="OK", error_code="0", error_desc="")

    def list_sent_edocs(self, *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        return []


@pytest.fixture
def axis(monkeypatch: pytest.MonkeyPatch) -> FakeAxis:
    fake = FakeAxis()
    monkeypatch.setattr(dispatch, "axis_client_for", lambda organ_id: fake)
    monkeypatch.setattr(dispatch, "axis_credentials", lambda: {"timeout": 1})
    monkeypatch.setattr(dispatch, "remember_sent_document", lambda *args: None)
    return fake


def _signed(ports: Ports, recipients: list[str]) -> str:
    document_id = create_document(Caller("clerk-h62", H62, False), sample_metadata(recipients))["document_id"]
    key = f"signed/{H62}/{document_id}.pdf"
    ports.store.records[document_id].update({"state": "SIGNED", "signed_key": key, "page_count": 1})
    ports.objects.objects[key] = b"%PDF-1.7 signed"
    return document_id


def test_a_signed_document_goes_to_every_recipient_once_and_is_dispatched(ports: Ports, axis: FakeAxis) -> None:
    document_id = _signed(ports, [G22, K62])

    dispatch_queue.handle_message(json.dumps({"document_id": document_id}))

    record, events, deliveries = ports.store.get_full(document_id)
    assert record["state"] == "DISPATCHED" and record["recipients_sent"] == 2
    assert "dispatch_lease" not in record and "dispatch_lease_until" not in record, "the lease is given up"
    assert record["dispatch_started_at"], "the trace time is fixed on the record"
    assert [e["state"] for e in events][-1] == "DISPATCHED"
    assert [(d["organ_id"], d["status"], d["paper"]) for d in deliveries] == [(G22, "SENT", False),
                                                                             (K62, "SENT", True)]
    assert sorted(s["to"][0] for s in axis.sent) == [G22, K62]
    assert axis.sent[0]["sha256"] != axis.sent[1]["sha256"], "Paper 0 and Paper 1 are two packages"

    dispatch_queue.handle_message(json.dumps({"document_id": document_id}), 2)  # a duplicate message
    assert len(axis.sent) == 2, "nothing is sent twice"


def test_a_record_leased_by_another_worker_is_retried_later(ports: Ports, axis: FakeAxis) -> None:
    document_id = _signed(ports, [G22])
    ports.store.records[document_id].update({"dispatch_lease": "other", "dispatch_lease_until": 2**40})

    with pytest.raises(dispatch.RetryLater) as raised:
        dispatch.process_dispatch(document_id)
    assert axis.sent == [] and ports.store.get(document_id)["state"] == "SIGNED"
    assert raised.value.until == 2**40, "the queue edge holds the message back until the holder's lease ends"


def test_a_package_the_axis_refuses_is_dead_lettered_and_the_record_failed(ports: Ports, axis: FakeAxis) -> None:
    document_id = _signed(ports, [G22])
    axis.refuse = "E42"

    dispatch.process_dispatch(document_id, receive_count=2)

    record = ports.store.get(document_id)
    assert record["state"] == "FAILED" and record["reason"] == "axis_rejected"
    assert record["axis_error_code"] == "E42" and record["dispatch_attempts"] == 2
    assert "dispatch_lease" not in record
    (letter,) = ports.queues.messages(ports.queues.dlq_of(dispatch.get_settings().dispatch_queue))
    assert json.loads(letter.body) == {"document_id": document_id}
    assert letter.message_attributes == {"reason": "axis_rejected", "axis_error_code": "E42"}


def test_a_first_send_writes_the_row_once_and_a_retry_reconciles_what_it_left(ports: Ports, axis: FakeAxis,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 11: a new delivery row carries its first attempt (no note_send_attempt, no reconciling list), and the
    edXML id is remembered once, before the claim; a run that died after that first attempt left the package's hash
    on the row, and the next run asks the axis before it sends again."""
    noted: list[str] = []
    remembered: list[str] = []
    listed: list[str] = []
    real_note = ports.store.note_send_attempt
    monkeypatch.setattr(ports.store, "note_send_attempt", lambda d, o, sha: noted.append(o) or real_note(d, o, sha))
    monkeypatch.setattr(dispatch, "remember_sent_document", lambda *args: remembered.append(args[1]))
    monkeypatch.setattr(axis, "list_sent_edocs", lambda *a, **k: listed.append(k["to_code"]) or [])
    document_id = _signed(ports, [G22, K62])

    dispatch.process_dispatch(document_id)
    rows = {d["organ_id"]: d for d in ports.store.get_full(document_id)[2]}
    assert noted == [] and listed == [] and remembered == [document_id]
    assert all(r["status"] == "SENT" and r["send_attempts"] == 1 and len(r["package_hashes"]) == 1
               for r in rows.values())

    crashed = _signed(ports, [G22])
    sha = next(iter(rows[G22]["package_hashes"]))
    ports.store.open_delivery(crashed, G22, sha)  # the first attempt noted, then the worker died
    ports.store.records[crashed]["dispatch_started_at"] = ports.store.get(document_id)["dispatch_started_at"]
    dispatch.process_dispatch(crashed)
    assert listed == [G22], "the hash left by the dead run is reconciled before any resend"
    assert noted == [G22] and remembered == [document_id], "a retry notes its own attempt, remembers nothing"
    assert ports.store.get(crashed)["state"] == "DISPATCHED"


class _Died(Exception):
    """A worker killed between a send and its row (the OOM killer, a timeout): nothing after it runs."""


def test_the_first_attempt_records_its_intents_in_the_claim_and_each_row_once(ports: Ports, axis: FakeAxis,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 11: the claim writes each recipient's package hash on the record; no intent row is opened before a
    send; each row is written once, SENT; DISPATCHED drops the intents."""
    claims: list[dict[str, Any]] = []
    opened: list[str] = []
    real_claim, real_open = ports.store.claim, ports.store.open_delivery
    monkeypatch.setattr(ports.store, "claim", lambda d, lease, **kw: claims.append(kw) or real_claim(d, lease, **kw))
    monkeypatch.setattr(ports.store, "open_delivery", lambda d, o, *a, **kw: opened.append(o) or real_open(d, o, *a,
                                                                                                           **kw))
    document_id = _signed(ports, [G22, K62])

    dispatch.process_dispatch(document_id)

    (claim,) = claims
    assert claim["absent"] == ("dispatch_started_at",), "only a run that finds no earlier attempt goes this way"
    sent = {s["to"][0]: s["sha256"] for s in axis.sent}
    assert claim["fields"][dispatch.SEND_INTENTS] == {f"{G22} {sent[G22]}", f"{K62} {sent[K62]}"}
    assert opened == []
    record, _, deliveries = ports.store.get_full(document_id)
    assert record["state"] == "DISPATCHED" and dispatch.SEND_INTENTS not in record
    assert [(d["organ_id"], d["status"]) for d in deliveries] == [(G22, "SENT"), (K62, "SENT")]
    assert {d["axis_doc_id"] for d in deliveries} == {"doc-1", "doc-2"}


def test_a_first_attempt_that_died_after_a_send_is_reconciled_from_its_intents(ports: Ports, axis: FakeAxis,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    document_id = _signed(ports, [G22, K62])
    real_put = ports.store.put_delivery_sent

    def dies_after_g22(d: str, organ_id: str, *args: Any, **kwargs: Any) -> None:
        if organ_id == G22:
            raise _Died()
        real_put(d, organ_id, *args, **kwargs)

    monkeypatch.setattr(ports.store, "put_delivery_sent", dies_after_g22)
    with pytest.raises(_Died):
        dispatch.process_dispatch(document_id)
    assert sorted(s["to"][0] for s in axis.sent) == [G22, K62], "sent side by side: K62's went out too"
    assert [d["organ_id"] for d in ports.store.get_full(document_id)[2]] == [K62], "G22's row never written"
    g22_sha = next(s["sha256"] for s in axis.sent if s["to"] == [G22])
    assert f"{G22} {g22_sha}" in ports.store.get(document_id)[dispatch.SEND_INTENTS]

    listed: list[str] = []
    monkeypatch.setattr(axis, "list_sent_edocs", lambda *a, **k: listed.append(k["to_code"]) or (
        [{"toCode": G22, "hashFile": g22_sha, "docId": "doc-1"}] if k["to_code"] == G22 else []))
    dispatch.process_dispatch(document_id, receive_count=2)

    record, _, deliveries = ports.store.get_full(document_id)
    assert record["state"] == "DISPATCHED"
    rows = {d["organ_id"]: d for d in deliveries}
    assert rows[G22]["status"] == "SENT" and rows[G22]["reconciled"] and rows[G22]["axis_doc_id"] == "doc-1"
    assert rows[G22]["first_attempt_at"] == record["dispatch_started_at"], "the axis is asked from the first send"
    assert len(axis.sent) == 2, "G22 found on the axis, K62 already SENT: nothing sent twice"
    assert listed == [G22]


def test_a_first_attempt_loses_its_claim_to_another_first_attempt(ports: Ports, axis: FakeAxis,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Two runs that both read the record before either claimed: the second must not take the fast path over
    the first's sends (its claim requires that no `dispatch_started_at` is there)."""
    document_id = _signed(ports, [G22])
    stale = ports.store.get(document_id)
    ports.store.records[document_id]["dispatch_started_at"] = "2026-12-04T00:00:00Z"  # the other run's claim
    monkeypatch.setattr(ports.store, "get", lambda d: dict(stale) if d == document_id else None)
    with pytest.raises(dispatch.RetryLater):
        dispatch.process_dispatch(document_id)
    assert axis.sent == []


def test_a_transient_failure_of_a_first_send_opens_the_row_and_reconciles(ports: Ports, axis: FakeAxis,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.adapters.axis.errors import AxisTransientError

    monkeypatch.setattr(dispatch.time, "sleep", lambda s: None)
    monkeypatch.setattr(dispatch, "Deadline", lambda ms: type("D", (), {"allows": lambda self, s: True})())
    failures = iter([AxisTransientError(details={"http_status": 504})])
    real_send = axis.send_edoc

    def flaky(path: str, to: list[str], package_sha256: str = "") -> SendResult:
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return real_send(path, to, package_sha256)

    listed: list[str] = []
    monkeypatch.setattr(axis, "send_edoc", flaky)
    monkeypatch.setattr(axis, "list_sent_edocs", lambda *a, **k: listed.append(k["to_code"]) or [])
    document_id = _signed(ports, [G22])

    dispatch.process_dispatch(document_id)

    (row,) = ports.store.get_full(document_id)[2]
    assert row["status"] == "SENT" and row["send_attempts"] == 2
    assert listed == [G22], "a 504 may hide a stored package: asked before sending again"
    assert ports.store.get(document_id)["state"] == "DISPATCHED"


def test_recipients_are_sent_to_side_by_side(ports: Ports, axis: FakeAxis, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 11: the axis calls of one document overlap (DISPATCH_PARALLEL_SENDS, 4 by default). Each send waits
    at a barrier for the other: sent one after the other, the first would wait in vain and the barrier break."""
    import threading

    barrier = threading.Barrier(2, timeout=10)
    real_send = axis.send_edoc

    def meets_the_other(path: str, to: list[str], package_sha256: str = "") -> SendResult:
        barrier.wait()
        return real_send(path, to, package_sha256)

    monkeypatch.setattr(axis, "send_edoc", meets_the_other)
    document_id = _signed(ports, [G22, K62])

    dispatch.process_dispatch(document_id)

    assert not barrier.broken and ports.store.get(document_id)["state"] == "DISPATCHED"
    assert sorted(s["to"][0] for s in axis.sent) == [G22, K62]
