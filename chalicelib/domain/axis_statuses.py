"""Business statuses of status packages (QCVN 102:2016 `StatusCode`) and how they move what the gateway tracks.

Two sides use the same codes:
- a document we SENT: each recipient's delivery row follows the statuses that recipient reports (01 đã đến … 06
  hoàn thành, 02 từ chối with a reason). Reports may arrive twice (the axis delivers at least once) or out of order,
  so every report goes into the row's history, but the current status only moves forward (`advances`).
- a document we RECEIVED: the recipient agency's clerk reports 03/02/04/05/06 back to the sender through the inbox
  (`clerk_status_allowed`); 01 is sent automatically on receipt (NĐ 30/2020 Art. 21(2): the same day).

Pure logic: no AWS, no I/O. Unknown codes are kept as they came (never fatal), named `STATUS_<code>`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from chalicelib.core.errors import ValidationFailed
from chalicelib.standards.edxml import STATUS_CODES

__all__ = ["AMENDMENT_FIELDS", "ANSWER_NAMES", "CLERK_ALLOWED_FROM", "CLERK_CODES", "DeliveryUpdate",
    "MAX_REASON_CHARS", "STATUS_NAMES", "advances", "already_applied", "amendment_answer", "clerk_status_allowed",
    "delivery_update", "is_known", "normalize_code", "status_meaning", "status_name", "validate_clerk_report"]

ARRIVED, REJECTED, ACCEPTED, ASSIGNED, PROCESSING, COMPLETED = "01", "02", "03", "04", "05", "06"
RECALL_REQUESTED, UPDATE_AGREED, UPDATE_REFUSED = "13", "15", "16"

#: Code → the name the API shows (docs/contract.md#states: sent, arrived, accepted, rejected, assigned, processing,
#: completed), upper case like the delivery's own `SENT`/`PENDING`.
STATUS_NAMES: dict[str, str] = {
    ARRIVED: "ARRIVED",
    REJECTED: "REJECTED",
    ACCEPTED: "ACCEPTED",
    ASSIGNED: "ASSIGNED",
    PROCESSING: "PROCESSING",
    COMPLETED: "COMPLETED",
    RECALL_REQUESTED: "RECALL_REQUESTED",
    UPDATE_AGREED: "UPDATE_AGREED",
    UPDATE_REFUSED: "UPDATE_REFUSED",
}

#: How far along the recipient's handling a code says it is. 02 ends the handling as 06 does. Codes not listed
#: (13/15/16 concern revocations and updates, unknown codes) never move the current status: history only.
_PROGRESS: dict[str, int] = {ARRIVED: 1, ACCEPTED: 2, ASSIGNED: 3, PROCESSING: 4, COMPLETED: 5, REJECTED: 5}

#: What a recipient's clerk may report through `POST /v1/inbox/{id}/status`, and from which current code.
#: 02 (từ chối tiếp nhận) is refusing to register it, so only before 03; the rest only move forward.
CLERK_ALLOWED_FROM: dict[str, frozenset[str]] = {
    REJECTED: frozenset({ARRIVED}),
    ACCEPTED: frozenset({ARRIVED}),
    ASSIGNED: frozenset({ARRIVED, ACCEPTED}),
    PROCESSING: frozenset({ARRIVED, ACCEPTED, ASSIGNED}),
    COMPLETED: frozenset({ARRIVED, ACCEPTED, ASSIGNED, PROCESSING}),
}
CLERK_CODES = frozenset(CLERK_ALLOWED_FROM)

#: A reason longer than this is cut: it travels in `Description` and is shown to the sender's clerk.
MAX_REASON_CHARS = 1000

_CODE = re.compile(r"[0-9A-Za-z]{1,8}")


def normalize_code(code: object) -> str:
    """The code as stored: trimmed text; anything odd (empty, too long, not alphanumeric) becomes `invalid`."""
    text = str(code if code is not None else "").strip()
    return text if _CODE.fullmatch(text) else "invalid"


def status_name(code: str) -> str:
    """`03` → `ACCEPTED`; an unknown code keeps its digits: `99` → `STATUS_99`."""
    return STATUS_NAMES.get(code, f"STATUS_{code}")


def status_meaning(code: str) -> str | None:
    """The Vietnamese meaning (`Đã tiếp nhận`), or None for a code this version does not know."""
    return STATUS_CODES.get(code)


def is_known(code: str) -> bool:
    return code in STATUS_CODES


def advances(current_code: str | None, new_code: str) -> bool:
    """Whether a report with `new_code` moves a delivery whose current code is `current_code` (None: only SENT).

    Forward only, so a late duplicate (03 after 05) or a redelivered envelope never moves a delivery back; codes
    outside the 01–06 progression never move it at all.
    """
    new = _PROGRESS.get(new_code)
    if new is None:
        return False
    current = _PROGRESS.get(current_code or "", 0)
    return new > current


def clerk_status_allowed(current_code: str, new_code: str) -> bool:
    """Whether the recipient's clerk may report `new_code` on an inbox item whose last reported code is
    `current_code` (the table `CLERK_ALLOWED_FROM`)."""
    return current_code in CLERK_ALLOWED_FROM.get(new_code, frozenset())


@dataclass(frozen=True)
class DeliveryUpdate:
    """What applying one status report to a delivery row changes: always a history entry; the current status
    fields only when the report `advances` it."""

    entry: dict[str, Any]
    moves_status: bool
    fields: dict[str, Any]


def delivery_update(current: dict[str, Any], *, code: str, description: str, reported_at: str | None,
                    at: str, axis_doc_id: str) -> DeliveryUpdate:
    """The change one status report makes to a delivery row `current` (pure; the caller writes it conditionally).

    The history entry always carries the code, its name and meaning (None when unknown), `at` (when the gateway
    recorded it), `reported_at` (the package's own `Timestamp`, Vietnam time) and the axis envelope id; the reason
    (`Description`) is kept for 02, for 16 (why a revocation or update is refused) and for unknown codes (whatever
    the other side meant by it), and cut to `MAX_REASON_CHARS`. A 15/16 also answers the revocation or update the
    row shows as asked (`amendment_answer`).
    """
    reason = (description or "").strip()[:MAX_REASON_CHARS]
    entry: dict[str, Any] = {"status": status_name(code), "code": code, "meaning": status_meaning(code), "at": at,
                             "axis_doc_id": axis_doc_id}
    if reported_at:
        entry["reported_at"] = reported_at
    if reason and (code == REJECTED or not is_known(code)):
        entry["reason"] = reason
    if reason and code == UPDATE_REFUSED:
        entry["reason"] = reason
    moves = advances(current.get("status_code"), code)
    fields: dict[str, Any] = {}
    if moves:
        fields = {"status": status_name(code), "status_code": code, "status_meaning": status_meaning(code),
                  "status_at": at}
        if code == REJECTED:
            fields["reason"] = reason
    fields.update(amendment_answer(current, code=code, reason=reason, at=at, axis_doc_id=axis_doc_id))
    return DeliveryUpdate(entry=entry, moves_status=moves, fields=fields)


#: Delivery-row fields in which the sender's gateway tracks what it asked a recipient (chalicelib.outbound.amendments
#: writes them, REQUESTED, before sending the revocation or update package).
AMENDMENT_FIELDS = ("revocation", "update")
ANSWER_NAMES = {UPDATE_AGREED: "AGREED", UPDATE_REFUSED: "REFUSED"}


def amendment_answer(current: dict[str, Any], *, code: str, reason: str, at: str, axis_doc_id: str
                     ) -> dict[str, Any]:
    """The delivery fields a 15 (agrees) or 16 (refuses) changes: the answer goes on the revocation or update the
    row says was asked of this recipient (pure).

    A status package names only the document (`ResponseFor`), not which request it answers, so it answers the
    request still open (REQUESTED), the most recent one if both a revocation and an update are open; if none is
    open, the most recent request (a recipient changing its answer). No request on the row: history only ({}).
    """
    if code not in ANSWER_NAMES:
        return {}
    asked = [(field, current[field]) for field in AMENDMENT_FIELDS if isinstance(current.get(field), dict)]
    if not asked:
        return {}
    open_ = [pair for pair in asked if pair[1].get("status") == "REQUESTED"]
    field, request = max(open_ or asked, key=lambda pair: str(pair[1].get("requested_at", "")))
    answer = {**request, "status": ANSWER_NAMES[code], "answer_code": code, "answered_at": at,
              "answer_axis_doc_id": axis_doc_id}
    answer.pop("refusal_reason", None)
    if code == UPDATE_REFUSED and reason:
        answer["refusal_reason"] = reason
    return {field: answer}


def already_applied(current: dict[str, Any], axis_doc_id: str, fingerprint: str) -> bool:
    """A report is applied once: by its axis envelope id (a redelivered or re-listed envelope) and by the package's
    SHA-256 (the same package sent twice gets two envelope ids; a re-sent 01 is rebuilt byte for byte)."""
    seen = set(current.get("applied_envelopes") or ())
    return axis_doc_id in seen or f"sha256:{fingerprint}" in seen


def validate_clerk_report(body: Any) -> tuple[str, str]:
    """`{"code", "reason"?}` of `POST /v1/inbox/{id}/status` → (code, reason), or ValidationFailed.

    Only 02–06 come from a clerk (01 is automatic); 02 needs a reason (NĐ 30/2020 Art. 21(2): a document the agency
    cannot accept is returned with the reason why); the reason is trimmed and cut to `MAX_REASON_CHARS`.
    """
    if not isinstance(body, dict):
        raise ValidationFailed("Nội dung yêu cầu phải là một đối tượng JSON.")
    code = str(body.get("code") or "").strip()
    if code not in CLERK_CODES:
        raise ValidationFailed("Mã trạng thái phải là một trong 02, 03, 04, 05, 06.", code="invalid_status_code",
                               details={"code": code[:8], "allowed": sorted(CLERK_CODES)})
    reason = body.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise ValidationFailed("Lý do phải là chuỗi ký tự.", code="invalid_reason")
    text = (reason or "").strip()[:MAX_REASON_CHARS]
    if code == REJECTED and not text:
        raise ValidationFailed("Từ chối tiếp nhận (02) phải kèm lý do.", code="reason_required")
    return code, text
