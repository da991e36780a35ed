"""The inbox item a parsed document package becomes (the record `GET /v1/inbox/{id}` reads,
docs/contract.md#inbox-items).

Pure: built only from the package, the envelope facts and the attachments already stored and verified, so a retried
filing builds the same item. Free text is cut (`domain.inbound_rules.cut`) so the item stays far below DynamoDB's
400 KB item limit; the raw package in S3 keeps everything the sender wrote. Status 01 "đã đến" opens its history
(NĐ 30/2020 Art. 21(2)).
"""

from __future__ import annotations

from typing import Any

from chalicelib.domain import axis_statuses
from chalicelib.domain.inbound_rules import cut
from chalicelib.signing import verification

__all__ = ["build_inbox_item"]


def build_inbox_item(inbox_id: str, organ_id: str, base: dict[str, Any], package: Any,
                     attachments: list[dict[str, Any]]) -> dict[str, Any]:
    """The inbox item of a parsed document package (pure). Free text is cut so the item stays far below DynamoDB's
    400 KB; the raw package in S3 keeps everything."""
    received = base["received_at"]
    reports = [a["verification"] for a in attachments if a.get("verification") is not None]
    # The worst attachment's word (verification.SUMMARY_WORDS): never `valid` for an untrusted one.
    overall = "no_pdf" if not reports else verification.worst({verification.summary(r) for r in reports})
    entry = {"status": axis_statuses.status_name(axis_statuses.ARRIVED), "code": axis_statuses.ARRIVED,
             "meaning": axis_statuses.status_meaning(axis_statuses.ARRIVED), "at": received, "by": "system"}
    return {
        "inbox_id": inbox_id, "organ_id": organ_id,
        "from_organ_id": cut(package.sender.organ_id, 64), "from_name": cut(package.sender.name, 300),
        "edxml_document_id": cut(package.document_id, 300),
        "number": cut(package.code_number, 50), "notation": cut(package.code_notation, 100),
        "subject": cut(package.subject, 2000), "type_name": cut(package.type_name, 100),
        "issued_on": package.promulgation_date.isoformat() if package.promulgation_date else None,
        "place": cut(package.place, 200),
        "signer": {"full_name": cut(package.signer.full_name, 200), "position": cut(package.signer.position, 200),
                   "competence": cut(package.signer.competence, 200)},
        "priority": int(package.priority or 0),
        "due_date": package.due_date.isoformat() if package.due_date else None,
        "steering_type": package.steering_type, "paper": int(package.paper or 0),
        "to_places": [cut(p, 300) for p in package.to_places[:50]],
        "business_doc_type": package.business_doc_type or 0,
        "received_at": received, "updated_at": received, "axis_doc_id": base["axis_doc_id"],
        "raw_key": base["raw_key"], "package_sha256": base["sha256"],
        "status": entry["status"], "status_code": axis_statuses.ARRIVED, "status_history": [entry],
        "sent_statuses": {}, "revoked": False,
        "attachments": attachments, "verification_summary": overall,
        "warnings": [cut(w, 200) for w in package.warnings[:20]],
    }
