"""Replacement (thay thế): `POST /v1/documents` with `"replaces": "<document_id>"` claims an own, DISPATCHED document
before the new one is registered; the new document's packages then carry `BussinessDocType` 3 with its
`ReplacementInfoList` (chalicelib.outbound.packages.new_document_business).

A document is replaced once: the old record notes `replaced_by`; a claim by a replacement that never got sent
(EXPIRED or REJECTED) may be taken over (`amendment_rules.replacement_claim_stale`).
"""

from __future__ import annotations

from typing import Any

from chalicelib.adapters.amendment_store import get_amendment_store
from chalicelib.adapters.dynamo import ConditionFailed
from chalicelib.core.errors import Conflict, ValidationFailed
from chalicelib.domain import states
from chalicelib.domain.amendment_rules import replacement_claim_stale
from chalicelib.domain.caller import Caller
from chalicelib.outbound.amendments.requests import own_record
from chalicelib.outbound.packages import package_header
from chalicelib.standards.edxml import document_id as edxml_document_id

__all__ = ["prepare_replacement"]


def prepare_replacement(caller: Caller, metadata: Any, new_document_id: str) -> dict[str, Any]:
    """Check `metadata.replaces` (an own DISPATCHED document, not replaced yet, under another edXML DocumentId) and
    claim it: the old record notes `replaced_by`. Returns the block the new record keeps as `replaces`, from which
    dispatch builds the ReplacementInfoList."""
    store = get_amendment_store()
    old = own_record(caller, metadata.replaces, store, code="replaced_document_not_found")
    if old["state"] != states.DISPATCHED:
        raise Conflict("Chỉ thay thế được văn bản đã gửi đi và chưa bị thu hồi.", code="replaced_not_dispatched",
                       details={"state": old["state"]})
    old_edxml = package_header(old, []).document_id
    new_edxml = edxml_document_id(caller.organ_id, metadata.issued_on, metadata.number, metadata.notation)
    # A number left to the gateway (issue 12) is issued at signing, new in the register: never the old one's.
    if metadata.number and new_edxml == old_edxml:
        raise ValidationFailed("Văn bản thay thế phải có số, ký hiệu hoặc ngày ban hành khác văn bản bị thay thế.",
                               code="replacement_same_document_id", details={"document_id": old_edxml})
    stale = None
    if old.get("replaced_by"):
        if not replacement_claim_stale(store.get(old["replaced_by"])):
            raise Conflict("Văn bản đã được thay thế bởi văn bản khác.", code="already_replaced",
                           details={"replaced_by": old["replaced_by"]})
        stale = old["replaced_by"]
    try:
        store.claim_replacement(old["document_id"], caller.organ_id, new_document_id, stale)
    except ConditionFailed:
        raise Conflict("Văn bản bị thay thế vừa thay đổi, vui lòng thử lại.", code="state_changed") from None
    return {"document_id": old["document_id"], "edxml_document_id": old_edxml,
            "recipients": list(old["metadata"]["recipients"])}
