"""`poll_axis`: take what the axis holds for the agencies this gateway serves, every minute.

The axis has no webhook: each served agency's system lists its unacknowledged envelopes (`getReceivedEdocList`,
status then edoc), fetches each (`getEdoc`), and acknowledges transport with `updateStatus` (axis-api.md). Per
envelope, in this order:

1. store the raw package durably FIRST (S3 `inbound/<organ_id>/<axis docId>.edxml`): from here on nothing the
   sender sent can be lost, whatever fails next; if storing fails the envelope is left on the axis for the next poll;
2. parse it (edXML, QCVN 102). Unparseable → `updateStatus fail` and an envelope record an admin sees;
3. a status package (01–06, 02 with its reason, any other code kept as it came) updates the reporting
   recipient's delivery row of our document (found by `ResponseFor/DocumentId`); one about no document of ours is
   recorded as an orphan. Both are acknowledged `done`;
4. a new document (`BussinessDocType` 0) has its PDF signatures verified, is filed in the recipient agency's inbox
   with its attachments, acknowledged `done`, and answered with status 01 "đã đến" (NĐ 30/2020 Art. 21(2): the
   same day). For an agency not registered or not active here: `fail`, recorded.

Idempotent everywhere, because the axis delivers at least once and a run may die at any point: the envelope record
(keyed by axis docId) is checked before downloading; the inbox item's id is derived from the sender and the edXML
DocumentId, so the same document in a second envelope is recognised as a copy; a status is applied once per axis
docId and per package hash; status packages we answer with wait in an outbox, written together with the change they
report and retried by every poll until the axis takes them.

Agencies polled: those whose system credentials are in the axis secret, except any the registry marks as not served
(an external agency's envelopes belong to its own system: the gateway never takes them). Revocations, updates and
replacements (`BussinessDocType` 1–3, and a sender's status 13) are applied to the inbox by
`chalicelib.inbound.amendments`; envelopes an earlier version recorded `deferred` are processed like new ones. Each
run also queues again amendments of our own documents whose sending message was lost (`amendments.requeue_stale`).
Logs carry ids, codes and counts only, never document contents.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

from chalicelib.adapters import aws
from chalicelib.core.clock import now_iso
from chalicelib.core.log import logger
from chalicelib.core.settings import get_settings
from chalicelib.domain import axis_statuses

#: Stop taking new envelopes when less than this is left of the invocation (Lambda timeout 60 s).
SAFETY_MARGIN_MS = 15_000
MAX_ATTACHMENTS = 50
#: Verification reports kept per attachment in the inbox item (an item is limited to 400 KB).
MAX_REPORTED_SIGNATURES = 20
_INBOX_NAMESPACE = uuid.UUID("6f1d7f8e-3c1a-5b7e-9a53-0e6c2b1d4a10")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
#: What an axis envelope id may look like (24 hex seen); it becomes part of S3 and DynamoDB keys.
_AXIS_DOC_ID = re.compile(r"[A-Za-z0-9_.-]{1,100}")

#: Envelope outcomes that need an administrator (listed by GET /v1/admin/inbound-issues).
ISSUE_OUTCOMES = frozenset({"unparseable", "not_served", "orphan_status", "orphan_amendment",
                            "unsupported_business_type"})


# -- pure helpers -----------------------------------------------------------------------------------------------


def canonical_document_id(value: str) -> str:
    """An edXML DocumentId in the form the gateway writes ("<OrganId>,<yyyy/MM/dd>,<số>/<ký hiệu>"), so a sender
    writing `2019-09-20` or stray spaces still matches; anything else is returned trimmed, as it came."""
    from chalicelib.standards.edxml import document_id, split_document_id

    text = (value or "").strip()
    parts = split_document_id(text)
    if parts is None or parts[1] is None:
        return text
    issuer, issued, number, notation = parts
    return document_id(issuer, issued, number, notation)


def inbox_id_for(organ_id: str, sender_organ_id: str, edxml_document_id: str, business_doc_type: int) -> str:
    """The inbox item id of a document: the same document from the same sender to the same agency is ONE item,
    whichever envelope (or duplicate) brought it."""
    key = f"{organ_id}|{sender_organ_id}|{canonical_document_id(edxml_document_id)}|{business_doc_type}"
    return str(uuid.uuid5(_INBOX_NAMESPACE, key))


def safe_name(name: str, index: int) -> str:
    """An S3 key segment for an attachment: ASCII, no path, bounded; the index keeps two `a.pdf` apart."""
    base = os.path.basename(str(name).replace("\\", "/")) or "attachment"
    cleaned = _SAFE_NAME.sub("_", base).strip("._") or "attachment"
    return f"{index:02d}-{cleaned[-120:]}"


def envelope_action(record: dict[str, Any] | None) -> str:
    """What to do with a listed envelope given its record: `process` (never seen, or recorded `deferred`/`waiting`:
    not finished), `skip` (recorded without an acknowledgement to give), or `ack_<done|fail>` (already handled; only
    the transport acknowledgement may be missing)."""
    from chalicelib.inbound.amendments import REPROCESS_OUTCOMES

    if record is None or record.get("outcome") in REPROCESS_OUTCOMES:
        return "process"
    if not record.get("ack"):
        return "skip"
    return f"ack_{record['ack']}"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def _cut(text: Any, limit: int) -> str:
    return str(text or "")[:limit]


# -- the schedule ---------------------------------------------------------------------------------------------


def poll_axis(remaining_ms: Callable[[], int] | None = None) -> dict[str, int]:
    """One poll of every served agency; returns counts by outcome (for the log and tests)."""
    from chalicelib.adapters.agency_registry import AgencyRegistry
    from chalicelib.adapters.axis.credentials import axis_credentials
    from chalicelib.adapters.axis.errors import AxisError

    def out_of_time() -> bool:
        return remaining_ms is not None and remaining_ms() < SAFETY_MARGIN_MS

    counts: Counter[str] = Counter()
    try:
        from chalicelib.outbound.amendments import requeue_stale

        if requeued := requeue_stale():
            counts["amendments_requeued"] += requeued
    except Exception as exc:  # never let the sweep stop the poll; it runs again in a minute
        logger.warning("amendment sweep failed", extra={"error": type(exc).__name__})
    codes = sorted(axis_credentials().get("systems", {}))
    if codes:  # start with another agency each minute, so one that runs out of time never starves the last ones
        turn = int(time.time() // 60) % len(codes)
        codes = codes[turn:] + codes[:turn]
    agencies = AgencyRegistry().get_many(codes)
    for organ_id in codes:
        agency = agencies.get(organ_id)
        if agency is not None and not agency.served:
            continue
        if out_of_time():
            counts["out_of_time"] += 1
            break
        try:
            _Poll(organ_id, agency, counts, out_of_time).run()
        except (AxisError, PermissionError) as exc:
            counts["organ_errors"] += 1
            logger.warning("axis poll failed for an agency", extra={"organ_id": organ_id, "error": type(exc).__name__})
    logger.info("axis polled", extra={"counts": dict(counts)})
    return dict(counts)


class _Poll:
    """One agency's poll: its axis client, registry entry and the shared counters."""

    def __init__(self, organ_id: str, agency: Any, counts: Counter[str], out_of_time: Callable[[], bool]) -> None:
        from chalicelib.adapters.axis.credentials import axis_client_for
        from chalicelib.adapters.inbound_store import InboundStore

        self.organ_id = organ_id
        self.agency = agency
        self.accepts = agency is not None and agency.served and agency.active
        self.counts = counts
        self.out_of_time = out_of_time
        self.client = axis_client_for(organ_id)
        self.store = InboundStore()

    def run(self) -> None:
        send_pending_statuses(self.client, self.organ_id, self.store, self.counts)
        for messagetype in ("status", "edoc"):
            seen: set[str] = set()
            for entry in self.client.get_received_edoc_list(messagetype):
                doc_id = str(entry.get("docId") or "").strip()
                if doc_id in seen:
                    continue
                if not _AXIS_DOC_ID.fullmatch(doc_id):
                    self.counts["bad_doc_id"] += 1
                    logger.warning("axis listed an envelope id we cannot use", extra={"organ_id": self.organ_id})
                    continue
                seen.add(doc_id)
                if self.out_of_time():
                    self.counts["out_of_time"] += 1
                    return
                try:
                    self.envelope(doc_id, entry)
                except Exception as exc:  # one bad envelope must not hold up the others; it is retried next poll
                    self.counts["errors"] += 1
                    logger.exception("inbound envelope failed", extra={
                        "organ_id": self.organ_id, "axis_doc_id": doc_id, "error": type(exc).__name__})

    # -- one envelope --------------------------------------------------------------------------------------------
    def envelope(self, doc_id: str, entry: dict[str, Any]) -> None:
        from chalicelib.standards.axis_protocol import sha256_file
        from chalicelib.standards.edxml import EdxmlError, parse_package

        record = self.store.get_envelope(doc_id, self.organ_id)
        action = envelope_action(record)
        if action == "skip":
            self.counts["skipped"] += 1
            return
        if action.startswith("ack_"):
            self.ack(doc_id, action[4:])
            self.counts["re_acked"] += 1
            return
        first_seen = ""
        if record is not None:  # deferred or waiting: processed again from the start
            from chalicelib.inbound.amendments import reopen_envelope

            first_seen = reopen_envelope(record)
        with tempfile.TemporaryDirectory(prefix="inbound-") as tmp:
            raw = os.path.join(tmp, "package.edxml")
            self.client.get_edoc(doc_id, dest=raw)
            key = f"inbound/{self.organ_id}/{doc_id}.edxml"
            aws.client("s3").upload_file(raw, get_settings().documents_bucket, key,
                                         ExtraArgs={"ContentType": "application/xml"})
            base = {"axis_doc_id": doc_id, "organ_id": self.organ_id, "from": _cut(entry.get("from"), 64),
                    "listed_as": _cut(entry.get("messageType"), 16), "received_at": now_iso(), "raw_key": key,
                    "sha256": sha256_file(raw), "size": os.path.getsize(raw),
                    **({"first_seen_at": first_seen} if first_seen else {})}
            try:
                package = parse_package(raw, tmp_dir=tmp)
            except EdxmlError as exc:
                self.refuse(base, "unparseable", exc.code, "fail")
                return
            with package:
                if package.message_type == "status":
                    self.status(base, package)
                else:
                    self.document(base, package, tmp)

    def ack(self, doc_id: str, ack: str) -> None:
        """Transport acknowledgement (`done`/`fail`): the envelope stops being listed."""
        self.client.update_status(doc_id, ack)
        self.store.mark_envelope_acked(doc_id, self.organ_id, ack)

    def refuse(self, base: dict[str, Any], outcome: str, reason: str, ack: str,
               details: dict[str, Any] | None = None) -> None:
        record = {**base, "outcome": outcome, "reason": reason, "ack": ack, "details": details or {}}
        self.store.put_envelope(record, issue=outcome in ISSUE_OUTCOMES)
        self.ack(base["axis_doc_id"], ack)
        self.counts[outcome] += 1
        logger.warning("inbound envelope refused" if ack == "fail" else "inbound envelope recorded", extra={
            "organ_id": self.organ_id, "axis_doc_id": base["axis_doc_id"], "outcome": outcome, "reason": reason})

    # -- status packages -----------------------------------------------------------------------------------------
    def status(self, base: dict[str, Any], package: Any) -> None:
        code = axis_statuses.normalize_code(package.status_code)
        reporter = package.sender.organ_id
        ref = package.response_for[0] if package.response_for else None
        about = canonical_document_id(ref.document_id) if ref else ""
        facts = {"code": code, "reporter": _cut(reporter, 64), "response_for": _cut(about, 300)}
        target = self._find_delivery(about, reporter) if about else None
        if target is None:
            if code == axis_statuses.RECALL_REQUESTED:  # the sender of a document in our inbox asks for it back
                from chalicelib.inbound.amendments import revoke_from_status

                if revoke_from_status(self, base, package, about):
                    return
            self.refuse(base, "orphan_status", "unknown_document", "done", facts)
            return
        document_id, delivery = target
        if delivery.get("status") == "PENDING":
            # Dispatch has not recorded its send yet (or died in between): leave the report on the axis until the
            # delivery is SENT, so the status is applied on top of it rather than lost under it.
            self.counts["status_waiting"] += 1
            return
        outcome = self._apply(document_id, reporter, delivery, code, package, base)
        self.store.put_envelope({**base, **facts, "outcome": outcome, "document_id": document_id, "ack": "done"})
        self.ack(base["axis_doc_id"], "done")
        self.counts[outcome] += 1
        logger.info("status applied", extra={"document_id": document_id, "to": reporter, "code": code,
                                             "outcome": outcome, "axis_doc_id": base["axis_doc_id"]})

    def _find_delivery(self, edxml_document_id: str, reporter: str) -> tuple[str, dict[str, Any]] | None:
        """Our document with that DocumentId, sent by this agency to the reporter (newest first)."""
        for candidate in self.store.documents_for_edxml_id(edxml_document_id):
            if candidate.get("organ_id") != self.organ_id:
                continue
            delivery = self.store.get_delivery(candidate["document_id"], reporter)
            if delivery is not None:
                return candidate["document_id"], delivery
        return None

    def _apply(self, document_id: str, reporter: str, delivery: dict[str, Any], code: str, package: Any,
               base: dict[str, Any]) -> str:
        ids = [base["axis_doc_id"], f"sha256:{base['sha256']}"]
        current = delivery
        for _ in range(5):
            if axis_statuses.already_applied(current, base["axis_doc_id"], base["sha256"]):
                return "status_duplicate"
            update = axis_statuses.delivery_update(
                current, code=code, description=package.status_description,
                reported_at=_iso(package.status_timestamp), at=now_iso(), axis_doc_id=base["axis_doc_id"])
            if self.store.apply_delivery_status(document_id, reporter, current, update, ids):
                return "status_applied"
            current = self.store.get_delivery(document_id, reporter) or {}
        raise RuntimeError("delivery row kept changing")  # retried by the next poll

    # -- documents -----------------------------------------------------------------------------------------------
    def document(self, base: dict[str, Any], package: Any, tmp: str) -> None:
        from chalicelib.standards.edxml import DOC_TYPE_NEW, DOC_TYPE_REPLACE, DOC_TYPE_REVOKE, DOC_TYPE_UPDATE

        if not self.accepts:
            reason = "not_registered" if self.agency is None else "not_active"
            self.refuse(base, "not_served", reason, "fail", {"from": _cut(package.sender.organ_id, 64)})
            return
        doc_type = package.business_doc_type if package.business_doc_type is not None else DOC_TYPE_NEW
        if doc_type in (DOC_TYPE_REVOKE, DOC_TYPE_UPDATE):
            from chalicelib.inbound.amendments import apply

            if apply(self, base, package, doc_type):
                return
            # else: an update bringing the document to an agency that never had it, filed as a document below
        elif doc_type not in (DOC_TYPE_NEW, DOC_TYPE_REPLACE):
            self.refuse(base, "unsupported_business_type", f"business_doc_type_{doc_type}", "fail",
                        {"from": _cut(package.sender.organ_id, 64)})
            return
        sender = package.sender.organ_id
        inbox_id = inbox_id_for(self.organ_id, sender, package.document_id or f"axis:{base['axis_doc_id']}",
                                doc_type)
        if self.store.get_inbox_item(inbox_id) is None:
            item = self._inbox_item(inbox_id, base, package, tmp)
            if doc_type == DOC_TYPE_REPLACE:  # link the documents it replaces, both ways, before it is filed
                from chalicelib.inbound.amendments import link_replacement

                link_replacement(self.store, self.organ_id, item, package)
            outbox = arrival_outbox_item(item, self.agency)
            envelope = {**base, "outcome": "filed", "inbox_id": inbox_id, "ack": "done"}
            if self.store.file_inbox_item(item, outbox, envelope):
                self.ack(base["axis_doc_id"], "done")
                self.counts["filed"] += 1
                logger.info("inbound document filed", extra={"organ_id": self.organ_id, "inbox_id": inbox_id,
                                                              "axis_doc_id": base["axis_doc_id"], "from": sender})
                send_status(self.client, outbox, self.store, self.counts)
                return
            if self.store.get_envelope(base["axis_doc_id"], self.organ_id) is not None:
                return  # a concurrent run filed this very envelope; it acknowledges it too
        # Another envelope already brought this document (a duplicate delivery): one item, one 01.
        self.store.put_envelope({**base, "outcome": "duplicate", "inbox_id": inbox_id, "ack": "done"})
        self.ack(base["axis_doc_id"], "done")
        self.counts["duplicate"] += 1

    def _inbox_item(self, inbox_id: str, base: dict[str, Any], package: Any, tmp: str) -> dict[str, Any]:
        """Upload the attachments (verified first) and build the inbox item."""
        from chalicelib.admin.keys import trust_roots
        from chalicelib.signing import verification
        from chalicelib.standards.axis_protocol import sha256_file

        s3 = aws.client("s3")
        bucket = get_settings().documents_bucket
        attachments = []
        for index, att in enumerate(package.attachments[:MAX_ATTACHMENTS]):
            with open(att.path, "rb") as fh:
                is_pdf = fh.read(5) == b"%PDF-"
            report = verification.verify_pdf(att.path, trust_roots=trust_roots()) if is_pdf else None
            if report is not None:
                report["signatures"] = report["signatures"][:MAX_REPORTED_SIGNATURES]
            key = f"inbound/{self.organ_id}/{inbox_id}/{safe_name(att.name, index)}"
            s3.upload_file(att.path, bucket, key,
                           ExtraArgs={"ContentType": "application/pdf" if is_pdf else "application/octet-stream"})
            attachments.append({"name": _cut(att.name, 255), "content_type": _cut(att.content_type, 100),
                                "size": att.size, "sha256": sha256_file(att.path), "key": key, "is_pdf": is_pdf,
                                "verification": report})
        return build_inbox_item(inbox_id, self.organ_id, base, package, attachments)


def build_inbox_item(inbox_id: str, organ_id: str, base: dict[str, Any], package: Any,
                     attachments: list[dict[str, Any]]) -> dict[str, Any]:
    """The inbox item of a parsed document package (pure). Free text is cut so the item stays far below DynamoDB's
    400 KB; the raw package in S3 keeps everything."""
    from chalicelib.signing import verification

    received = base["received_at"]
    reports = [a["verification"] for a in attachments if a.get("verification") is not None]
    summaries = {verification.summary(r) for r in reports}
    overall = "no_pdf" if not reports else next(
        (s for s in ("unreadable", "invalid", "unsigned") if s in summaries), "valid")
    entry = {"status": axis_statuses.status_name(axis_statuses.ARRIVED), "code": axis_statuses.ARRIVED,
             "meaning": axis_statuses.status_meaning(axis_statuses.ARRIVED), "at": received, "by": "system"}
    return {
        "inbox_id": inbox_id, "organ_id": organ_id,
        "from_organ_id": _cut(package.sender.organ_id, 64), "from_name": _cut(package.sender.name, 300),
        "edxml_document_id": _cut(package.document_id, 300),
        "number": _cut(package.code_number, 50), "notation": _cut(package.code_notation, 100),
        "subject": _cut(package.subject, 2000), "type_name": _cut(package.type_name, 100),
        "issued_on": package.promulgation_date.isoformat() if package.promulgation_date else None,
        "place": _cut(package.place, 200),
        "signer": {"full_name": _cut(package.signer.full_name, 200), "position": _cut(package.signer.position, 200),
                   "competence": _cut(package.signer.competence, 200)},
        "priority": int(package.priority or 0),
        "due_date": package.due_date.isoformat() if package.due_date else None,
        "steering_type": package.steering_type, "paper": int(package.paper or 0),
        "to_places": [_cut(p, 300) for p in package.to_places[:50]],
        "business_doc_type": package.business_doc_type or 0,
        "received_at": received, "updated_at": received, "axis_doc_id": base["axis_doc_id"],
        "raw_key": base["raw_key"], "package_sha256": base["sha256"],
        "status": entry["status"], "status_code": axis_statuses.ARRIVED, "status_history": [entry],
        "sent_statuses": {}, "revoked": False,
        "attachments": attachments, "verification_summary": overall,
        "warnings": [_cut(w, 200) for w in package.warnings[:20]],
    }


def arrival_outbox_item(item: dict[str, Any], agency: Any) -> dict[str, Any]:
    """The 01 "đã đến" for a filed item, timestamped at receipt so a re-send is the same package byte for byte."""
    return outbox_item(item, axis_statuses.ARRIVED, "", item["received_at"],
                       reporter_name=getattr(agency, "name", "") or item["organ_id"])


def outbox_item(item: dict[str, Any], code: str, reason: str, at: str, *, reporter_name: str) -> dict[str, Any]:
    """A status package waiting to be sent about inbox `item` (pure)."""
    from chalicelib.adapters.inbound_store import outbox_key

    return {**outbox_key(item["organ_id"], item["inbox_id"], code), "inbox_id": item["inbox_id"], "code": code,
            "reason": reason, "reported_at": at, "created_at": at, "organ_id": item["organ_id"],
            "reporter_name": reporter_name, "to": item["from_organ_id"],
            "response_for": {"organ_id": item["from_organ_id"],
                             "code": f"{item.get('number', '')}/{item.get('notation', '')}",
                             "document_id": item.get("edxml_document_id", ""),
                             "promulgation_date": item.get("issued_on")}}


def status_package_bytes(outbox: dict[str, Any]) -> bytes:
    """The edXML status package of an outbox item (QCVN 102: From, ResponseFor, StaffInfo, StatusCode,
    Description, Timestamp). Deterministic: built only from the item."""
    from datetime import date

    from chalicelib.standards.edxml import Organ, ResponseFor, build_status_package

    ref = outbox["response_for"]
    issued = ref.get("promulgation_date")
    description = outbox.get("reason") or axis_statuses.status_meaning(outbox["code"]) or ""
    return build_status_package(
        reporter=Organ(organ_id=outbox["organ_id"], name=outbox.get("reporter_name") or outbox["organ_id"]),
        response_for=ResponseFor(organ_id=ref["organ_id"], code=ref["code"], document_id=ref["document_id"],
                                 promulgation_date=date.fromisoformat(issued) if issued else None),
        status_code=outbox["code"], description=description,
        timestamp=datetime.fromisoformat(outbox["reported_at"].replace("Z", "+00:00")))


def send_status(client: Any, outbox: dict[str, Any], store: Any, counts: Counter[str] | None = None) -> bool:
    """Send one outbox item (sendEdoc messagetype=status to the document's sender); True when the axis took it.

    Transient failures leave it for the next poll; a business error (the axis refuses the package or the
    recipient) stops the retries and lists it for an administrator.
    """
    from chalicelib.adapters.axis.errors import AxisBusinessError, AxisError

    counts = counts if counts is not None else Counter()
    token = store.lease_outbox(outbox)
    if token is None:
        return False
    with tempfile.TemporaryDirectory(prefix="status-") as tmp:
        path = os.path.join(tmp, "status.edxml")
        with open(path, "wb") as fh:
            fh.write(status_package_bytes(outbox))
        try:
            result = client.send_edoc(path, to=[outbox["to"]], messagetype="status")
        except AxisBusinessError as exc:
            store.fail_outbox(outbox, token, exc.error_code)
            counts["status_send_refused"] += 1
            logger.warning("axis refused a status package", extra={
                "inbox_id": outbox["inbox_id"], "code": outbox["code"], "error_code": exc.error_code})
            return False
        except (AxisError, OSError) as exc:
            store.release_outbox(outbox, token, type(exc).__name__)
            counts["status_send_retry"] += 1
            return False
    store.complete_outbox(outbox, token, result.doc_id)
    counts[f"status_{outbox['code']}_sent"] += 1
    logger.info("status package sent", extra={"inbox_id": outbox["inbox_id"], "code": outbox["code"],
                                              "to": outbox["to"], "axis_doc_id": result.doc_id})
    return True


def send_pending_statuses(client: Any, organ_id: str, store: Any, counts: Counter[str]) -> None:
    """Retry every status package still waiting for `organ_id` (the axis was down, or a run died mid-way)."""
    for outbox in store.pending_outbox(organ_id):
        if outbox.get("lease_until", 0) >= int(time.time()):
            continue
        send_status(client, outbox, store, counts)
