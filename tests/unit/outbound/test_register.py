"""`POST /v1/documents` (chalicelib.outbound.documents.create_document) through the fakes of its ports."""

from __future__ import annotations

import pytest

from chalicelib.adapters.agency_registry import Agency
from chalicelib.core.errors import Forbidden, RecipientInactive, UnknownRecipient
from chalicelib.domain.caller import Caller
from chalicelib.outbound.documents import create_document, get_document
from tests.unit.outbound.conftest import G22, H62, K62, Ports, sample_metadata

CLERK = Caller("clerk-h62", H62, False)


def test_registering_writes_awaiting_upload_and_presigns_the_upload_key(ports: Ports) -> None:
    answer = create_document(CLERK, sample_metadata([G22, K62]))

    document_id = answer["document_id"]
    assert answer["state"] == "AWAITING_UPLOAD"
    assert answer["upload"]["fields"]["key"] == f"incoming/{H62}/{document_id}.pdf"
    record = ports.store.get(document_id)
    assert record["state"] == "AWAITING_UPLOAD" and record["organ_id"] == H62 and record["created_by"] == "clerk-h62"
    assert record["original_key"] == f"incoming/{H62}/{document_id}.pdf"
    assert record["metadata"]["recipients"] == [G22, K62]
    shown = get_document(CLERK, document_id)
    assert [e["state"] for e in shown["timeline"]] == ["AWAITING_UPLOAD"] and shown["deliveries"] == []


def test_an_unknown_or_inactive_recipient_is_refused_and_nothing_is_written(ports: Ports) -> None:
    with pytest.raises(UnknownRecipient) as refused:
        create_document(CLERK, sample_metadata([G22, "000.00.00.H49"]))
    assert refused.value.details == {"recipients": ["000.00.00.H49"]}
    assert ports.store.records == {}


def test_an_inactive_recipient_has_its_own_code_and_unknown_ones_come_first(ports: Ports) -> None:
    ports.agencies.add(Agency("000.00.13.H62", "Sở Nội vụ", active=False))
    with pytest.raises(RecipientInactive) as refused:
        create_document(CLERK, sample_metadata([G22, "000.00.13.H62"]))
    assert (refused.value.code, refused.value.status) == ("recipient_inactive", 422)
    assert refused.value.details == {"recipients": ["000.00.13.H62"]}
    with pytest.raises(UnknownRecipient):
        create_document(CLERK, sample_metadata(["000.00.13.H62", "000.00.00.H49"]))
    assert ports.store.records == {}


def test_a_sender_this_gateway_does_not_serve_is_forbidden(ports: Ports) -> None:
    with pytest.raises(Forbidden) as refused:
        create_document(Caller("clerk-g22", G22, False), sample_metadata([H62]))
    assert refused.value.code == "agency_not_served"
    assert ports.store.records == {}
