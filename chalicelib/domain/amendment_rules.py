"""The rules of amendments (thu hồi, cập nhật nơi nhận, thay thế) of a document this gateway sent, pure: what a
request may change, who gets which package, the items and messages that carry the intent (edXML `BussinessDocType`
1, 2 and 3; docs/edxml.md#business-types). The use cases and their storage are in chalicelib.outbound.amendments.

ReceiverList's `ReceiverType` code table is not public (like DocumentType's): this gateway writes every recipient
concerned, 0 kept, 1 added, 2 removed, so a reader can rebuild both the change and the new list; kept in one place
(`RECEIVER_*`) so it can follow the real table when one is published.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from chalicelib.core.errors import ValidationFailed
from chalicelib.domain import states
from chalicelib.standards.identifiers import is_strict

__all__ = [
    "DELIVERY_FIELD", "DOC_TYPES", "FAILED", "FAILURE_FIELDS", "LEASE_SECONDS", "MAX_CHANGES", "MAX_REASON_CHARS",
    "MESSAGE_TYPE", "OPEN_KEY", "PENDING", "RECEIVER_ADDED", "RECEIVER_KEPT", "RECEIVER_REMOVED", "REVOKE", "SENT",
    "STALE_SECONDS", "UPDATE", "UpdatePlan", "amendment_item", "delivery_request", "is_amendment_message",
    "message_body", "plan_update", "replacement_claim_stale", "revocation_id", "sends_partition", "update_receivers",
    "validate_reason",
]

REVOKE, UPDATE = "revoke", "update"
#: `BussinessDocType` of each kind of amendment package.
DOC_TYPES = {REVOKE: 1, UPDATE: 2}
#: The delivery-row field in which a recipient's answer (15/16) to each kind is tracked.
DELIVERY_FIELD = {REVOKE: "revocation", UPDATE: "update"}
#: `ReceiverType` in an update's ReceiverList (see the module docstring: the real code table is not public).
RECEIVER_KEPT, RECEIVER_ADDED, RECEIVER_REMOVED = 0, 1, 2
#: Value of `type` in a dispatch-queue message that this module handles.
MESSAGE_TYPE = "amendment"
PENDING, SENT, FAILED = "PENDING", "SENT", "FAILED"
#: GSI partition listing amendments whose packages are not all sent (see `requeue_stale`).
OPEN_KEY = "AMENDMENT_OPEN"
#: An amendment still PENDING this long after it was queued is queued again by poll_axis.
STALE_SECONDS = 300
LEASE_SECONDS = 90
MAX_REASON_CHARS = 1000
#: Recipients one update may add or remove (each costs one axis call).
MAX_CHANGES = 100
_REVOCATION_NAMESPACE = uuid.UUID("0b6f8a52-7d0e-5c1b-8f57-3a9d4e2c6b18")
#: Fields describing a failed sending run, removed when a redriven message takes the amendment up again (its
#: `reason` is the sender's own, kept).
FAILURE_FIELDS = ("reason_code", "reason_message", "axis_error_code", "axis_error", "failed_at", "last_error",
                   "attempts_failed")


def validate_reason(body: Any) -> str:
    """The request's `reason` (required: the recipients' clerks read it), trimmed and cut to MAX_REASON_CHARS."""
    if not isinstance(body, dict):
        raise ValidationFailed("Nội dung yêu cầu phải là một đối tượng JSON.")
    reason = body.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationFailed("Phải nêu lý do.", code="reason_required")
    return reason.strip()[:MAX_REASON_CHARS]


def _codes(body: dict[str, Any], name: str) -> list[str]:
    value = body.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value) or len(value) > MAX_CHANGES:
        raise ValidationFailed(f"{name} phải là danh sách mã định danh (tối đa {MAX_CHANGES}).",
                               code="invalid_recipients", details={"field": name})
    codes = [v.strip() for v in value]
    bad = [c for c in codes if not is_strict(c)]
    if bad:
        raise ValidationFailed("Mã định danh không hợp lệ.", code="invalid_recipients",
                               details={"field": name, "recipients": bad[:10]})
    if len(set(codes)) != len(codes):
        raise ValidationFailed("Mã định danh bị trùng.", code="invalid_recipients", details={"field": name})
    return codes


@dataclass(frozen=True)
class UpdatePlan:
    """What an update of recipients changes. `targets` get the update package (every earlier recipient, and an
    added one that already holds the document because an earlier update removed it); `document_to` get the document
    itself; `recipients` is the new list, earlier order kept, additions last."""

    kept: list[str]
    added: list[str]
    removed: list[str]
    reason: str
    document_to: list[str]

    @property
    def recipients(self) -> list[str]:
        return [*self.kept, *self.added]

    @property
    def targets(self) -> list[str]:
        current = [*self.kept, *self.removed]
        return [*current, *(c for c in self.added if c not in self.document_to)]


def plan_update(current: list[str], body: Any, *, sender: str, delivered: set[str] | frozenset[str] = frozenset()
                ) -> UpdatePlan:
    """Validate `{"recipients_added"?, "recipients_removed"?, "reason"}` against the current recipients (pure).

    `delivered`: agencies that already hold the document (a delivery row exists), so re-adding one sends it the
    update, not a second copy of the document."""
    reason = validate_reason(body)
    added = _codes(body, "recipients_added")
    removed = _codes(body, "recipients_removed")
    if not added and not removed:
        raise ValidationFailed("Phải thêm hoặc bớt ít nhất một nơi nhận.", code="no_recipient_change")
    problems: dict[str, list[str]] = {}
    if already := [c for c in added if c in current]:
        problems["already_recipients"] = already
    if missing := [c for c in removed if c not in current]:
        problems["not_recipients"] = missing
    if sender in added:
        problems["sender"] = [sender]
    if problems:
        raise ValidationFailed("Danh sách nơi nhận thay đổi không hợp lệ.", code="invalid_recipient_change",
                               details=problems)
    kept = [c for c in current if c not in removed]
    if not kept and not added:
        raise ValidationFailed("Văn bản phải còn ít nhất một nơi nhận.", code="no_recipient_left")
    return UpdatePlan(kept=kept, added=added, removed=removed, reason=reason,
                      document_to=[c for c in added if c not in delivered])


def update_receivers(amendment: dict[str, Any]) -> list[tuple[str, int]]:
    """An update's ReceiverList as (OrganId, ReceiverType): the new recipients (kept 0, added 1), then the removed
    ones (2), so a reader sees both the change and the new list (pure)."""
    removed, added = list(amendment.get("removed") or []), set(amendment.get("added") or [])
    out = [(c, RECEIVER_ADDED if c in added else RECEIVER_KEPT) for c in amendment.get("recipients") or []
           if c not in removed]
    return out + [(c, RECEIVER_REMOVED) for c in removed]


def revocation_id(document_id: str) -> str:
    """A document is revoked once (REVOKED is final): its revocation's id is derived, so a retried request finds it."""
    return str(uuid.uuid5(_REVOCATION_NAMESPACE, f"revoke|{document_id}"))


def message_body(document_id: str, amendment_id: str) -> str:
    """The dispatch-queue message that makes the dispatch handler send an amendment's packages."""
    return json.dumps({"type": MESSAGE_TYPE, "document_id": document_id, "amendment_id": amendment_id})


def is_amendment_message(data: Any) -> bool:
    return isinstance(data, dict) and data.get("type") == MESSAGE_TYPE and isinstance(data.get("amendment_id"), str)



def replacement_claim_stale(claimant: dict[str, Any] | None) -> bool:
    """Whether an earlier `replaced_by` claim may be taken over: its document never came to be, or ended before
    anything was sent (EXPIRED, REJECTED). A FAILED one is retryable, so it keeps its claim."""
    return claimant is None or claimant.get("state") in (states.EXPIRED, states.REJECTED)


def amendment_item(document_id: str, amendment_id: str, kind: str, *, reason: str, by: str, at: str,
                   targets: Sequence[str], added: Sequence[str] = (), removed: Sequence[str] = (),
                   document_to: Sequence[str] = (), recipients: Sequence[str] = ()) -> dict[str, Any]:
    """The amendment item as written with the record's change (pure)."""
    return {"pk": f"DOC#{document_id}", "sk": f"AMENDMENT#{amendment_id}", "document_id": document_id,
            "amendment_id": amendment_id, "kind": kind, "reason": reason, "status": PENDING, "created_at": at,
            "created_by": by, "targets": list(targets), "added": list(added), "removed": list(removed),
            "document_to": list(document_to), "recipients": list(recipients), "attempts": 0,
            "gsi1pk": OPEN_KEY, "gsi1sk": f"{at}#{document_id}#{amendment_id}", "enqueued_at": at}


def delivery_request(amendment: dict[str, Any], organ_id: str) -> dict[str, Any]:
    """What a delivery row shows about an amendment asked of its recipient until the recipient answers (pure);
    for an update, also how it changed this recipient (`kept`, `removed`, `added`)."""
    out = {"amendment_id": amendment["amendment_id"], "status": "REQUESTED",
           "requested_at": amendment["created_at"], "reason": amendment["reason"]}
    if amendment["kind"] == UPDATE:
        out["change"] = ("removed" if organ_id in amendment.get("removed", [])
                         else "added" if organ_id in amendment.get("added", []) else "kept")
    return out


def sends_partition(document_id: str, amendment_id: str) -> str:
    """The pseudo document id whose delivery rows track an amendment's own sends (`DOC#<id>#AMENDMENT#<aid>`)."""
    return f"{document_id}#AMENDMENT#{amendment_id}"
