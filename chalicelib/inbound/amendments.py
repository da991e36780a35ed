"""The receiving side of revocations, updates and replacements (edXML `BussinessDocType` 1, 2, 3), for poll_axis.

What a served agency's inbox does with each, the same poll that brings it in:
- revocation (1), or a status 13 from the sender (đề nghị lấy lại): the inbox item is marked `revoked` with the
  sender's reason and the gateway answers 15 at once. NĐ 30/2020 leaves the recipient no choice (it must destroy
  the revoked document and tell the sender through the system), so a clerk's decision would only delay the answer;
  the clerk sees `revoked: true` and can no longer report statuses on the item (chalicelib.inbound.inbox).
- update (2): the change of recipients (`BussinessDocumentInfo/ReceiverList`) is appended to the item's `updates`,
  its `recipients` list follows, and an agency the sender removed is marked `removed_as_recipient`; answered 15.
  An update that carries the document itself to an agency that never had it is filed as a new document.
- replacement (3): filed as a new document (the ordinary path, answered 01), linked both ways: the new item's
  `replaces` names the old ones (`ReplacementInfoList`), each old item this agency holds gets `replaced_by`.

The document concerned is found by its edXML DocumentId (`ResponseFor`, else `Bussiness/DocumentId`, else the
header's) from the same sender to the same agency, i.e. the inbox item's deterministic id. A revocation or update
that arrives before its document (envelopes listed out of order, the document's envelope failing once) is left on
the axis, recorded `waiting`, for WAIT_SECONDS; after that it is acknowledged and listed for the administrator
(`orphan_amendment`), never lost.

Each change is one transaction: the item's change, the answer in the outbox (retried by every poll until the axis
takes it) and the envelope record; applied once per package hash, so the same package in a second envelope changes
nothing. Logs carry ids and codes, never reasons or contents.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.adapters.dynamo import ConditionFailed
from chalicelib.adapters.inbound_store import InboundStore
from chalicelib.core.log import logger
from chalicelib.domain import axis_statuses
from chalicelib.domain.inbound_ports import EnvelopeRun
from chalicelib.domain.inbound_rules import (
    REPROCESS_OUTCOMES,
    Contention,
    canonical_document_id,
    cut,
    inbox_id_for,
)
from chalicelib.inbound.outbox import outbox_item, send_status

__all__ = ["MAX_REASON_CHARS", "RECEIVER_ADDED", "RECEIVER_REMOVED", "REPROCESS_OUTCOMES", "REVOKE", "UPDATE",
           "WAIT_SECONDS", "answer_entry", "answer_outbox", "apply", "find_item",
           "link_replacement", "receiver_change", "reopen_envelope", "revoke_from_status", "target_document_id",
           "waited_long_enough"]

#: The repository amendments change inbox items through; its amendment writes (`apply_amendment`, `link_replaced`,
#: `drop_unfinished_envelope`) live with the other inbound keys in chalicelib.adapters.inbound_store.
#: How long a revocation or update waits on the axis for the document it is about.
WAIT_SECONDS = 3600
#: Inbox items a later package may be about: the document (0), a replacement (3), an update that brought it (2).
_ITEM_TYPES = (0, 3, 2)
#: `ReceiverType` values this gateway writes (chalicelib.outbound.amendments); other senders' tables are not public.
RECEIVER_ADDED, RECEIVER_REMOVED = 1, 2
MAX_REASON_CHARS = 1000
REVOKE, UPDATE = 1, 2


# -- pure logic -----------------------------------------------------------------------------------------------------


def target_document_id(package: Any) -> str:
    """The edXML DocumentId of the document a revocation or update is about: `ResponseFor` (where the sender names
    it), else `Bussiness/DocumentId` (the field the standard gives updates), else the header's own DocumentId (a
    revocation package repeats the document's header)."""
    candidates = [r.document_id for r in package.response_for] + [package.business_document_id, package.document_id]
    return next((canonical_document_id(c) for c in candidates if c and c.strip()), "")


def receiver_change(organ_id: str, info: Any) -> dict[str, Any]:
    """What an update's ReceiverList says (pure): the recipients now (listed and not removed), those added and
    removed, and about `organ_id` itself: True removed, False listed as a recipient, None not mentioned (then the
    item's flag is left as it was: a list of changes only says nothing about the others)."""
    listed: dict[str, int] = {}
    for receiver in getattr(info, "receivers", None) or []:
        if receiver.organ_id:
            listed.setdefault(receiver.organ_id, receiver.receiver_type)
    mine = listed.get(organ_id)
    return {"recipients": [o for o, t in listed.items() if t != RECEIVER_REMOVED],
            "added": [o for o, t in listed.items() if t == RECEIVER_ADDED],
            "removed": [o for o, t in listed.items() if t == RECEIVER_REMOVED],
            "removed_self": None if mine is None else mine == RECEIVER_REMOVED}


def waited_long_enough(first_seen: str, now: str, seconds: float = WAIT_SECONDS) -> bool:
    """Whether an amendment whose document is still unknown has waited its time (ISO timestamps; unreadable = yes,
    so a bad record never keeps an envelope on the axis for ever)."""
    try:
        start = datetime.fromisoformat(first_seen.replace("Z", "+00:00"))
        end = datetime.fromisoformat(now.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return True
    return (end - start).total_seconds() >= seconds


def answer_entry(at: str, answers: str) -> dict[str, Any]:
    """The inbox item's status-history entry for the automatic 15, `answers` saying to what."""
    code = axis_statuses.UPDATE_AGREED
    return {"status": axis_statuses.status_name(code), "code": code, "meaning": axis_statuses.status_meaning(code),
            "at": at, "by": "system", "answers": answers}


def answer_outbox(item: dict[str, Any], at: str, axis_doc_id: str, reporter_name: str) -> dict[str, Any]:
    """The 15 to the sender about inbox `item`; one outbox entry per amendment envelope (a second amendment of the
    same document while the first answer still waits must not collide with it)."""
    out = outbox_item(item, axis_statuses.UPDATE_AGREED, "", at, reporter_name=reporter_name)
    out["sk"] = f"{out['sk']}#{axis_doc_id}"
    return out


# -- poll_axis entry points --------------------------------------------------------------------------------------------


def apply(poll: EnvelopeRun, base: dict[str, Any], package: Any, doc_type: int) -> bool:
    """A revocation or update for `poll.organ_id` (an agency served and active). False only for an update that
    brings the document to an agency that does not hold it: the caller files it as a new document."""
    store = poll.store
    about = target_document_id(package)
    sender = package.sender.organ_id
    item = find_item(store, poll.organ_id, sender, about) if about else None
    if item is None:
        if doc_type == UPDATE and package.attachments:
            return False
        _wait_or_give_up(poll, store, base, doc_type, about, sender)
        return True
    if not _from_document_sender(poll, base, item, doc_type):
        return True
    if doc_type == REVOKE:
        _revoke(poll, store, base, item, package.business_reason, "revocation")
    else:
        _update(poll, store, base, item, package)
    return True


def revoke_from_status(poll: EnvelopeRun, base: dict[str, Any], package: Any, about: str) -> bool:
    """A status 13 (the sender asks for its document back) about a document in this agency's inbox: handled as a
    revocation. False when no such item exists (the caller records an orphan status)."""
    store = poll.store
    item = find_item(store, poll.organ_id, package.sender.organ_id, about) if about else None
    if item is None:
        return False
    if _from_document_sender(poll, base, item, REVOKE):
        _revoke(poll, store, base, item, package.status_description, "status_13")
    return True


def link_replacement(store: InboundStore, organ_id: str, item: dict[str, Any], package: Any) -> None:
    """Before a replacement (type 3) is filed as `item`: each replaced document this agency holds from the same
    sender gets `replaced_by` (idempotent, so a retried filing repeats it harmlessly), and `item["replaces"]` lists
    them all, with the old inbox id where there is one."""
    links = []
    for info in package.replacements[:50]:
        old_id = canonical_document_id(info.document_id)
        if not old_id:
            continue
        old = find_item(store, organ_id, package.sender.organ_id, old_id)
        if old is not None and old["inbox_id"] != item["inbox_id"]:
            store.link_replaced(old["inbox_id"], item["inbox_id"], item["received_at"])
        links.append({"edxml_document_id": cut(old_id, 300), **({"inbox_id": old["inbox_id"]} if old else {})})
    if links:
        item["replaces"] = links


def find_item(store: InboundStore, organ_id: str, sender: str, edxml_document_id: str) -> dict[str, Any] | None:
    """The inbox item of that document from that sender to that agency, whichever package type brought it."""
    for doc_type in _ITEM_TYPES:
        item = store.get_inbox_item(inbox_id_for(organ_id, sender, edxml_document_id, doc_type))
        if item is not None:
            return item
    return None


def reopen_envelope(store: InboundStore, record: dict[str, Any]) -> str:
    """An envelope recorded `deferred` (before this module existed) or `waiting` is processed again now: its record
    goes, and the time it was first seen is returned so waiting keeps counting from there."""
    store.drop_unfinished_envelope(record)
    return str(record.get("first_seen_at") or record.get("received_at") or "")


# -- internals ------------------------------------------------------------------------------------------------------


def _from_document_sender(poll: EnvelopeRun, base: dict[str, Any], item: dict[str, Any], doc_type: int) -> bool:
    """Only the document's own sender, as the axis authenticated it, may revoke or update it (issue 8); anyone
    else's package is refused and listed."""
    if base.get("from") and item.get("from_organ_id") == base["from"]:
        return True
    poll.refuse(base, "forged_sender", "not_document_sender", "fail",
                {"inbox_id": item["inbox_id"], "business_doc_type": doc_type, "authenticated": base.get("from", "")})
    return False



def _wait_or_give_up(poll: EnvelopeRun, store: InboundStore, base: dict[str, Any], doc_type: int, about: str,
                     sender: str) -> None:
    facts = {"business_doc_type": doc_type, "response_for": cut(about, 300), "sender": cut(sender, 64)}
    first = base.get("first_seen_at") or base["received_at"]
    if not waited_long_enough(first, base["received_at"]):
        store.put_envelope({**base, **facts, "outcome": "waiting", "first_seen_at": first})
        poll.counts["amendment_waiting"] += 1
        return
    poll.refuse(base, "orphan_amendment", "unknown_document", "done", facts)


def _revoke(poll: EnvelopeRun, store: InboundStore, base: dict[str, Any], item: dict[str, Any], reason: str,
            source: str) -> None:
    facts = {"inbox_id": item["inbox_id"], "business_doc_type": REVOKE}
    if item.get("revoked"):
        _record(poll, store, base, "revoked_duplicate", facts)
        return
    at = base["received_at"]
    revocation = {"reason": cut(reason, MAX_REASON_CHARS).strip(), "at": at, "axis_doc_id": base["axis_doc_id"],
                  "source": source}
    _commit(poll, store, base, item, "revoked", facts, sets={"revoked": True, "revocation": revocation},
            appends={}, answers="revocation", only_if_not_revoked=True)


def _update(poll: EnvelopeRun, store: InboundStore, base: dict[str, Any], item: dict[str, Any], package: Any) -> None:
    info = package.document_info
    change = receiver_change(poll.organ_id, info)
    update = {"at": base["received_at"], "axis_doc_id": base["axis_doc_id"],
              "reason": cut(package.business_reason, MAX_REASON_CHARS).strip(),
              "document_info": int(getattr(info, "document_info", 0) or 0),
              "document_receiver": int(getattr(info, "document_receiver", 0) or 0),
              "recipients": change["recipients"][:500], "added": change["added"][:500],
              "removed": change["removed"][:500]}
    sets: dict[str, Any] = {}
    if change["recipients"]:
        sets["recipients"] = change["recipients"][:500]
    if change["removed_self"] is not None:
        sets["removed_as_recipient"] = change["removed_self"]
    _commit(poll, store, base, item, "updated", {"inbox_id": item["inbox_id"], "business_doc_type": UPDATE},
            sets=sets, appends={"updates": [update]}, answers="update")


def _commit(poll: EnvelopeRun, store: InboundStore, base: dict[str, Any], item: dict[str, Any], outcome: str,
            facts: dict[str, Any], *, sets: dict[str, Any], appends: dict[str, list[Any]], answers: str,
            only_if_not_revoked: bool = False) -> None:
    at = base["received_at"]
    outbox = answer_outbox(item, at, base["axis_doc_id"], getattr(poll.agency, "name", "") or poll.organ_id)
    envelope = {**base, **facts, "outcome": outcome, "ack": "done"}
    appends = {**appends, "status_history": [answer_entry(at, answers)]}
    try:
        store.apply_amendment(item["inbox_id"], sets=sets, appends=appends, at=at, outbox=outbox, envelope=envelope,
                              package_sha256=base["sha256"], only_if_not_revoked=only_if_not_revoked)
    except ConditionFailed:
        if store.get_envelope(base["axis_doc_id"], poll.organ_id) is not None:
            return  # a concurrent run recorded this very envelope; it acknowledges it too
        current = store.get_inbox_item(item["inbox_id"]) or {}
        if f"sha256:{base['sha256']}" in set(current.get("applied_packages") or ()) or (
                only_if_not_revoked and current.get("revoked")):
            _record(poll, store, base, f"{outcome}_duplicate", facts)
            return
        raise Contention("inbox item kept changing") from None  # retried by the next poll
    poll.ack(base["axis_doc_id"], "done")
    poll.counts[outcome] += 1
    logger.info("inbound amendment applied", extra={"organ_id": poll.organ_id, "inbox_id": item["inbox_id"],
                                                    "outcome": outcome, "axis_doc_id": base["axis_doc_id"]})
    send_status(poll.client, outbox, store, poll.counts)


def _record(poll: EnvelopeRun, store: InboundStore, base: dict[str, Any], outcome: str, facts: dict[str, Any]) -> None:
    """Another envelope already brought this amendment: record it, acknowledge it, answer nothing again."""
    store.put_envelope({**base, **facts, "outcome": outcome, "ack": "done"})
    poll.ack(base["axis_doc_id"], "done")
    poll.counts[outcome] += 1

