"""A record in two items on moto (chalicelib.adapters.record_body): the body written once at creation, the state item
small enough that its first writes cost one unit each, and every reader given the record whole."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from chalicelib.adapters.document_store import DocumentStore
from chalicelib.adapters.record_body import BODY, BODY_FIELDS, META
from chalicelib.domain import upload_binding
from chalicelib.domain.leases import UPLOAD, Lease
from devstack.demo_data import SAMPLES

H62, G22 = "000.00.00.H62", "000.00.00.G22"


@pytest.fixture
def store(handler_env: Any) -> DocumentStore:
    return DocumentStore()


def _create(store: DocumentStore) -> str:
    document_id = str(uuid.uuid4())
    at = "2026-12-04T03:00:00.000000Z"
    store.create({"document_id": document_id, "organ_id": H62, "state": "AWAITING_UPLOAD", "created_at": at,
                  "updated_at": at, "created_by": "clerk-h62", "metadata": dict(SAMPLES[0].metadata),
                  "subject_folded": "cong van", "original_key": f"incoming/{H62}/{document_id}.pdf",
                  upload_binding.RECORD_FIELD: "ab" * 32})
    return document_id


def _raw(store: DocumentStore, document_id: str, sk: str) -> dict[str, Any]:
    return store._table.get_item(Key={"pk": f"DOC#{document_id}", "sk": sk}, ConsistentRead=True)["Item"]


def _size(item: dict[str, Any]) -> int:
    """DynamoDB's item size, closely enough: names and values in UTF-8 (devstack.write_meter measures it exactly)."""
    import json

    return sum(len(k.encode()) + len(json.dumps(v, default=str, ensure_ascii=False).encode()) for k, v in item.items())


def test_the_body_holds_what_never_changes_and_the_state_item_the_rest(store: DocumentStore) -> None:
    document_id = _create(store)
    body, meta = _raw(store, document_id, BODY), _raw(store, document_id, META)
    assert set(body) - {"pk", "sk"} == set(BODY_FIELDS) - {"stamp_box", "replaces"}
    assert not set(BODY_FIELDS) & set(meta)
    record = store.get(document_id)
    assert record["metadata"] == SAMPLES[0].metadata and record["state"] == "AWAITING_UPLOAD"
    assert record["sk"] == META and record[upload_binding.RECORD_FIELD] == "ab" * 32


def test_transitions_write_the_state_item_only_and_it_stays_small(store: DocumentStore) -> None:
    document_id = _create(store)
    body = _raw(store, document_id, BODY)
    store.transition(document_id, "UPLOADED", claim=Lease.new(UPLOAD, 90), fields={"uploaded_at": "2026-12-04"})
    assert _size(_raw(store, document_id, META)) < 1024, "its first writes cost one unit each"
    store.transition(document_id, "REJECTED", fields={"reason": "not_pdf", "reason_message": "Không phải PDF."})
    assert _raw(store, document_id, BODY) == body
    record, events, _ = store.get_full(document_id)
    assert record["state"] == "REJECTED" and record["metadata"] == SAMPLES[0].metadata
    assert [e["state"] for e in events] == ["AWAITING_UPLOAD", "UPLOADED", "REJECTED"]


def test_lists_give_each_record_with_its_body(store: DocumentStore) -> None:
    ids = {_create(store) for _ in range(3)}
    found, _ = store.list_for_organ(H62, limit=50)
    mine = [r for r in found if r["document_id"] in ids]
    assert len(mine) == 3 and all(r["metadata"] == SAMPLES[0].metadata for r in mine)


def test_the_signer_reads_the_record_whole_with_its_agency(store: DocumentStore) -> None:
    from chalicelib.adapters.signing_reads import record_and_agency

    document_id = _create(store)
    record, agency = record_and_agency(document_id, H62)
    assert record is not None and record["metadata"] == SAMPLES[0].metadata
    assert record["original_key"].endswith(f"{document_id}.pdf") and agency is not None
