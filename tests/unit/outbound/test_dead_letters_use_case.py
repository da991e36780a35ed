"""The admin's dead letters (chalicelib.outbound.dead_letters) through the fakes of their ports: listing shows the
documents, redrive reopens a FAILED record before moving its message back to the source queue."""

from __future__ import annotations

import json

import pytest

from chalicelib.core.errors import Forbidden
from chalicelib.core.settings import get_settings
from chalicelib.domain.caller import Caller
from chalicelib.outbound import dead_letters
from chalicelib.outbound.documents import create_document
from tests.unit.outbound.conftest import G22, H62, Ports, sample_metadata

ADMIN = Caller("admin", "000.00.00.A00", True)


def _failed_dispatch(ports: Ports) -> str:
    document_id = create_document(Caller("clerk-h62", H62, False), sample_metadata([G22]))["document_id"]
    ports.store.records[document_id].update({"state": "FAILED", "signed_key": "signed/x.pdf",
                                             "reason": "axis_rejected", "dispatch_attempts": 1})
    ports.queues.dead_letter(get_settings().dispatch_queue, json.dumps({"document_id": document_id}),
                             {"reason": "axis_rejected"})
    return document_id


def test_listing_shows_each_dead_letter_with_its_document(ports: Ports) -> None:
    document_id = _failed_dispatch(ports)

    listing = dead_letters.list_dead_letters(ADMIN, "dispatch")

    (item,) = listing["items"]
    assert listing["truncated"] is False
    assert item["document_id"] == document_id and item["state"] == "FAILED" and item["organ_id"] == H62
    assert item["reason"] == "axis_rejected" and item["attempts"] == 1 and item["message_reason"] == "axis_rejected"
    assert item["receive_count"] == 0


def test_redrive_reopens_the_record_then_moves_the_message_back(ports: Ports) -> None:
    document_id = _failed_dispatch(ports)
    source = get_settings().dispatch_queue

    answer = dead_letters.redrive(ADMIN, {"queue": "dispatch", "document_ids": [document_id]})

    assert answer["redriven"][0]["documents"] == [{"document_id": document_id, "state": "SIGNED"}]
    assert answer["failed"] == [] and answer["not_found"] == []
    record, events, _ = ports.store.get_full(document_id)
    assert record["state"] == "SIGNED" and "reason" not in record and record["retried_by"] == "admin"
    assert events[-1]["detail"]["previous_reason"] == "axis_rejected"
    assert ports.queues.messages(ports.queues.dlq_of(source)) == []
    assert [json.loads(m.body) for m in ports.queues.messages(source)] == [{"document_id": document_id}]


def test_only_admins_see_dead_letters(ports: Ports) -> None:
    with pytest.raises(Forbidden):
        dead_letters.list_dead_letters(Caller("clerk-h62", H62, False))
