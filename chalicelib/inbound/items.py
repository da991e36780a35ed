"""The inbox item a parsed document package becomes (the record `GET /v1/inbox/{id}` reads,
docs/contract.md#inbox-items).

Pure: built only from the package, the envelope facts and the attachments already stored and verified, so a retried
filing builds the same item. Free text is cut (`domain.inbound_rules.cut`) so the item stays far below DynamoDB's
400 KB item limit; the raw package in S3 keeps everything the sender wrote. Status 01 "đã đến" opens its history
(NĐ 30/2020 Art. 21(2)).

Trust counts (issue 8): the item's `verification_summary` is `valid` only when every signature of every PDF is
intact, valid, trusted (chains to a configured root) and the last one covers the whole file. Otherwise it says the
worst of `unreadable`, `invalid`, `unsigned`, `untrusted`, and `verification_reasons` says why; each attachment's
report carries its own `summary` and each signature its `reasons` (derived here from the report's fields, so the
verdict never depends on what another module's one-word summary chose to count).
"""

from __future__ import annotations

from typing import Any

from chalicelib.domain import axis_statuses
from chalicelib.domain.inbound_rules import cut
from chalicelib.signing import verification

__all__ = ["SUMMARY_ORDER", "annotate", "attachment_verdict", "build_inbox_item", "signature_reasons"]

#: Worst first: an item's summary is the worst of its attachments'.
SUMMARY_ORDER = ("unreadable", "invalid", "partial", "unsigned", "untrusted", "valid")


def signature_reasons(sig: dict[str, Any], *, last: bool) -> list[str]:
    """Why one signature of a report is not good enough to call the file `valid` (empty when it is)."""
    if not isinstance(sig, dict):
        return ["unreadable"]
    if sig.get("error"):
        return ["unreadable"]
    reasons = []
    if not sig.get("intact"):
        reasons.append("not_intact")
    if not sig.get("valid"):
        reasons.append("invalid")
    if not sig.get("trusted"):
        reasons.append("untrusted")
    if last and not sig.get("covers_whole_document"):
        reasons.append("not_whole_document")
    return reasons


def attachment_verdict(report: dict[str, Any]) -> tuple[str, list[str]]:
    """The one word for a PDF's report (`SUMMARY_ORDER`) and the reasons behind it. The worse of what
    `verification.summary` says and what the report's fields say, so an untrusted signature never reads `valid`."""
    if not isinstance(report, dict) or report.get("error"):
        return "unreadable", [str(report.get("error")) if isinstance(report, dict) else "unreadable"]
    sigs = report.get("signatures") or []
    if not isinstance(sigs, list):
        return "unreadable", ["unreadable"]
    if not sigs:
        return "unsigned", ["unsigned"]
    reasons: list[str] = []
    for index, sig in enumerate(sigs):
        for reason in signature_reasons(sig, last=index == len(sigs) - 1):
            if reason not in reasons:
                reasons.append(reason)
    if "unreadable" in reasons:
        own = "unreadable"
    elif {"not_intact", "invalid", "not_whole_document"} & set(reasons):
        own = "invalid"
    else:
        own = "untrusted" if reasons else "valid"
    try:
        theirs = verification.summary(report)
    except Exception:  # a report the summary cannot read is unreadable, never a failed filing
        theirs = "unreadable"
    word = min(own, theirs if theirs in SUMMARY_ORDER else "invalid", key=SUMMARY_ORDER.index)
    return word, reasons or ([] if word == "valid" else [word])


def annotate(report: dict[str, Any]) -> tuple[dict[str, Any], str, list[str]]:
    """The report with each signature's `reasons` added, its verdict word and reasons (see `attachment_verdict`)."""
    word, reasons = attachment_verdict(report)
    sigs = report.get("signatures") if isinstance(report, dict) else None
    if isinstance(sigs, list):
        report = {**report, "signatures": [
            {**sig, "reasons": signature_reasons(sig, last=i == len(sigs) - 1)} if isinstance(sig, dict) else sig
            for i, sig in enumerate(sigs)]}
    return report, word, reasons


def build_inbox_item(inbox_id: str, organ_id: str, base: dict[str, Any], package: Any,
                     attachments: list[dict[str, Any]]) -> dict[str, Any]:
    """The inbox item of a parsed document package (pure). Free text is cut so the item stays far below DynamoDB's
    400 KB; the raw package in S3 keeps everything."""
    received = base["received_at"]
    verdicts = [(a["verification_summary"], a.get("verification_reasons") or []) if a.get("verification_summary")
                else attachment_verdict(a["verification"]) for a in attachments if a.get("verification") is not None]
    overall = "no_pdf" if not verdicts else min(
        (word if word in SUMMARY_ORDER else "invalid" for word, _ in verdicts), key=SUMMARY_ORDER.index)
    reasons = list(dict.fromkeys(r for _, rs in verdicts for r in rs))[:20]
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
        "attachments": attachments, "verification_summary": overall, "verification_reasons": reasons,
        "warnings": [cut(w, 200) for w in package.warnings[:20]],
    }
