"""Uploads bound to their record (chalicelib.domain.upload_binding): the presigned POST carries a per-upload token, the
record only its SHA-256, and the signing handler (chalicelib.outbound.sign_upload.process_upload) refuses any object
at the record's key that does not carry it, without consuming the record. Through the fakes of the ports."""

from __future__ import annotations

import hashlib
from pathlib import Path

from chalicelib.adapters.agency_registry import Agency
from chalicelib.domain import upload_binding
from chalicelib.domain.caller import Caller
from chalicelib.outbound.documents import create_document
from chalicelib.outbound.sign_upload import process_upload
from tests.unit.outbound.conftest import G22, H62, Ports, sample_metadata

H03 = "000.00.00.H03"  # a second served agency
BUCKET = "edoc-gateway-local-documents"


def _two_agencies(ports: Ports) -> tuple[dict, dict]:
    ports.agencies.add(Agency(H03, "Sở Tư pháp", served=True))
    mine = create_document(Caller("clerk-h62", H62, False), sample_metadata([G22]))
    theirs = create_document(Caller("clerk-h03", H03, False), sample_metadata([G22]))
    return mine, theirs


def test_the_post_carries_a_fresh_token_and_the_record_only_its_digest(ports: Ports) -> None:
    answer = create_document(Caller("clerk-h62", H62, False),
                             {**sample_metadata([G22]), "attachments": [{"name": "Phụ lục I"}]})
    token = answer["upload"]["fields"]["x-amz-meta-upload-token"]
    part_token = answer["attachment_uploads"][0]["fields"]["x-amz-meta-upload-token"]
    assert len(token) >= 40 and token != part_token
    assert ports.objects.posts[answer["upload"]["fields"]["key"]]["x-amz-meta-upload-token"] == token
    record = ports.store.get(answer["document_id"])
    assert record["upload_token_sha256"] == hashlib.sha256(token.encode()).hexdigest()
    assert record["attachments"][0]["upload_token_sha256"] == hashlib.sha256(part_token.encode()).hexdigest()
    assert token not in repr(record) and part_token not in repr(record), "the token itself is never stored"
    again = create_document(Caller("clerk-h62", H62, False), sample_metadata([G22]))
    assert again["upload"]["fields"]["x-amz-meta-upload-token"] != token


def test_another_agencys_post_fields_used_on_this_key_are_refused_and_the_record_keeps_waiting(ports: Ports) -> None:
    mine, theirs = _two_agencies(ports)
    their_key = theirs["upload"]["fields"]["key"]
    before = ports.store.get(theirs["document_id"])

    # my POST fields, my token, but their key (moto lets a client change the key field)
    ports.objects.post(mine["upload"]["fields"], b"%PDF-1.7 agency A's bytes", key=their_key)
    process_upload(BUCKET, their_key)  # returns: the message is consumed, not retried

    record, events, _ = ports.store.get_full(theirs["document_id"])
    assert record["state"] == "AWAITING_UPLOAD" and record["version"] == before["version"]
    assert "lease_owner" not in record and record["sweep_due"] == before["sweep_due"]
    assert record["foreign_uploads"] == 1
    assert events[-1]["state"] == "AWAITING_UPLOAD"
    assert events[-1]["detail"] == {"refused": "foreign_upload", "part": "main"}
    assert ports.objects.uploads == [], "nothing signed"
    assert ports.queues.messages("edoc-local-dispatch") == []
    assert ports.store.get(mine["document_id"])["state"] == "AWAITING_UPLOAD"


def test_an_object_written_without_any_token_is_foreign_too(ports: Ports) -> None:
    mine, _ = _two_agencies(ports)
    key = mine["upload"]["fields"]["key"]
    ports.objects.put(key, b"%PDF-1.7 put by someone else")
    process_upload(BUCKET, key)
    process_upload(BUCKET, key)  # the same event redelivered: noted again, still nothing else
    record, events, _ = ports.store.get_full(mine["document_id"])
    assert record["state"] == "AWAITING_UPLOAD" and record["foreign_uploads"] == 2
    assert [e.get("detail", {}).get("refused") for e in events] == [None, "foreign_upload", "foreign_upload"]


def test_the_right_upload_after_a_foreign_one_goes_on_to_be_signed(ports: Ports, sample_pdf: Path) -> None:
    mine, theirs = _two_agencies(ports)
    their_key = theirs["upload"]["fields"]["key"]
    ports.objects.post(mine["upload"]["fields"], b"%PDF-1.7 agency A's bytes", key=their_key)
    process_upload(BUCKET, their_key)

    ports.objects.post(theirs["upload"]["fields"], sample_pdf.read_bytes())
    process_upload(BUCKET, their_key)

    # claimed and checked: the fakes' agency has no signing key, so it stops there, past the binding
    record, events, _ = ports.store.get_full(theirs["document_id"])
    assert [e["state"] for e in events] == ["AWAITING_UPLOAD", "AWAITING_UPLOAD", "UPLOADED", "FAILED"]
    assert record["state"] == "FAILED" and record["reason"] == "signing_key_unavailable"


def test_a_foreign_phu_luc_is_refused_by_its_own_event_and_holds_the_document_back(ports: Ports,
                                                                                 sample_pdf: Path) -> None:
    answer = create_document(Caller("clerk-h62", H62, False),
                             {**sample_metadata([G22]), "attachments": [{"name": "Phụ lục I"}]})
    document_id = answer["document_id"]
    part_key = answer["attachment_uploads"][0]["fields"]["key"]
    ports.objects.post(answer["upload"]["fields"], sample_pdf.read_bytes())
    ports.objects.post(answer["upload"]["fields"], sample_pdf.read_bytes(), key=part_key)  # the main file's token

    process_upload(BUCKET, part_key)
    process_upload(BUCKET, answer["upload"]["fields"]["key"])

    record, events, _ = ports.store.get_full(document_id)
    assert record["state"] == "AWAITING_UPLOAD" and "lease_owner" not in record
    assert [e.get("detail") for e in events[1:]] == [{"refused": "foreign_upload", "part": "att-1"}]


def test_a_record_from_before_the_binding_is_not_held_back() -> None:
    assert upload_binding.is_bound({}, None)
    assert upload_binding.is_bound({"upload-token": "t"}, upload_binding.digest("t"))
    assert not upload_binding.is_bound({"upload-token": "t"}, upload_binding.digest("u"))
    assert not upload_binding.is_bound({}, upload_binding.digest("t"))
    assert not upload_binding.is_bound({"upload-token": upload_binding.digest("t")}, upload_binding.digest("t"))
