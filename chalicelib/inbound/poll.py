"""`poll_axis`: take what the axis holds for the agencies this gateway serves, every minute.

The axis has no webhook: each served agency's system lists its unacknowledged envelopes (`getReceivedEdocList`,
status then edoc), fetches each (`getEdoc`), and acknowledges transport with `updateStatus`
(docs/axis-protocol.md#receiving). Per envelope, in this order:

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

Hostile input (issue 8). The axis authenticates the system that sent each envelope (the list entry's `from`); a
package whose `From/OrganId` is another organ is refused (`fail`, outcome `forged_sender`, reason
`sender_mismatch`) before anything else, so nobody files, reports or revokes in another agency's name. Nothing
poisons the poller: every attempt at an envelope is counted before it is downloaded (a conditional write beside the
envelope record, `MAX_ATTEMPTS`); an exception of any type while handling it ends the envelope acknowledged `fail`
and listed (`unprocessable`, with a reason code) at once, or after the bound when it looks transient (our own
S3/DynamoDB, the axis); a run killed mid-way counts as an attempt too. The raw package is always kept first and the
record says why. Each agency is polled in isolation: an exception of any type in one agency's poll never stops the
others. The 01 answering a document is built before the document is filed; records are kept under DynamoDB's item
limit (reports cut, and moved to S3 beside the item when still too large).

Agencies polled: those whose system credentials are in the axis secret, except any the registry marks as not served
(an external agency's envelopes belong to its own system: the gateway never takes them). Revocations, updates and
replacements (`BussinessDocType` 1–3, and a sender's status 13) are applied to the inbox by
`chalicelib.inbound.amendments`; envelopes an earlier version recorded `deferred` are processed like new ones. Each
run first queues again amendments of our own documents whose sending message was lost (the outbound side's
`requeue_stale`, handed in by app.py). Logs carry ids, codes and counts only, never document contents.

Where the pieces live: the pure rules in `chalicelib.domain.inbound_rules`, the inbox item in
`chalicelib.inbound.items`, the status packages we answer with in `chalicelib.inbound.outbox`.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

from chalicelib.adapters.agency_registry import AgencyRegistry
from chalicelib.adapters.axis.credentials import axis_client_for, axis_credentials
from chalicelib.adapters.axis.errors import AxisError, AxisPackageTooLarge
from chalicelib.adapters.inbound_store import inbound_store
from chalicelib.adapters.objects import get_objects
from chalicelib.adapters.trust_store import trust_roots
from chalicelib.core.clock import now_iso
from chalicelib.core.log import logger
from chalicelib.domain import axis_statuses
from chalicelib.domain.inbound_rules import (
    ISSUE_OUTCOMES,
    MAX_ATTEMPTS,
    Contention,
    canonical_document_id,
    cut,
    envelope_action,
    inbox_id_for,
    sender_problem,
)
from chalicelib.inbound import amendments, arrival_numbers, attachments
from chalicelib.inbound.items import build_inbox_item
from chalicelib.inbound.outbox import arrival_outbox_item, check_status_package, send_pending_statuses, send_status
from chalicelib.standards.axis_protocol import sha256_file
from chalicelib.standards.edxml import (
    DOC_TYPE_NEW,
    DOC_TYPE_REPLACE,
    DOC_TYPE_REVOKE,
    DOC_TYPE_UPDATE,
    EdxmlError,
    parse_package,
)

__all__ = ["ISSUE_OUTCOMES", "MAX_ATTACHMENTS", "MAX_ATTEMPTS", "MAX_REPORTED_SIGNATURES", "SAFETY_MARGIN_MS",
           "is_transient", "poll_axis"]

#: Stop taking new envelopes when less than this is left of the invocation (Lambda timeout 60 s).
SAFETY_MARGIN_MS = 15_000
MAX_ATTACHMENTS = 50
#: Verification reports kept per attachment in the inbox item (an item is limited to 400 KB).
MAX_REPORTED_SIGNATURES = 20
#: What an axis envelope id may look like (24 hex seen); it becomes part of S3 and DynamoDB keys.
_AXIS_DOC_ID = re.compile(r"[A-Za-z0-9_.-]{1,100}")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def is_transient(exc: BaseException) -> bool:
    """Whether a failure looks like our infrastructure's or the axis's, not the content's: retried within
    MAX_ATTEMPTS. AWS errors are recognised by their classes' module (botocore builds them per client)."""
    if isinstance(exc, AxisError | Contention | OSError):
        return True
    return any(cls.__module__.split(".")[0] in ("botocore", "boto3") for cls in type(exc).__mro__)


# -- the schedule ---------------------------------------------------------------------------------------------


def poll_axis(remaining_ms: Callable[[], int] | None = None, *,
              requeue_amendments: Callable[[], int] | None = None) -> dict[str, int]:
    """One poll of every served agency; returns counts by outcome (for the log and tests).

    `requeue_amendments` is the outbound side's sweep (`chalicelib.outbound.amendments.requeue_stale`), run first
    and counted with the poll; app.py hands it in because inbound and outbound are siblings that never import each
    other (pyproject.toml layers).
    """

    def out_of_time() -> bool:
        return remaining_ms is not None and remaining_ms() < SAFETY_MARGIN_MS

    counts: Counter[str] = Counter()
    try:
        if requeue_amendments is not None and (requeued := requeue_amendments()):
            counts["amendments_requeued"] += requeued
    except Exception as exc:  # never let the sweep stop the poll; it runs again in a minute
        logger.warning("amendment sweep failed", extra={"error": type(exc).__name__})
    codes = sorted(axis_credentials().get("systems", {}))
    if codes:  # start with another agency each minute, so one that runs out of time never starves the last ones
        turn = int(time.time() // 60) % len(codes)
        codes = codes[turn:] + codes[:turn]
    try:
        agencies = AgencyRegistry().get_many(codes)
    except Exception as exc:  # without the registry no envelope can be judged: leave them all for the next poll
        counts["registry_errors"] += 1
        logger.warning("agency registry unavailable", extra={"error": type(exc).__name__})
        return dict(counts)
    for organ_id in codes:
        agency = agencies.get(organ_id)
        if agency is not None and not agency.served:
            continue
        if out_of_time():
            counts["out_of_time"] += 1
            break
        try:
            _Poll(organ_id, agency, counts, out_of_time).run()
        except Exception as exc:  # of ANY type: one agency's failure never stops the others (issue 8)
            counts["organ_errors"] += 1
            logger.warning("axis poll failed for an agency", extra={"organ_id": organ_id, "error": type(exc).__name__})
    logger.info("axis polled", extra={"counts": dict(counts)})
    return dict(counts)


class _Poll:
    """One agency's poll: its axis client, registry entry and the shared counters."""

    def __init__(self, organ_id: str, agency: Any, counts: Counter[str], out_of_time: Callable[[], bool], *,
                 client: Any = None, store: Any = None, files: Any = None,
                 roots: Callable[[], list[Any]] | None = None) -> None:
        self.organ_id = organ_id
        self.agency = agency
        self.accepts = agency is not None and agency.served and agency.active
        self.counts = counts
        self.out_of_time = out_of_time
        self.client = client if client is not None else axis_client_for(organ_id)
        self.store = store if store is not None else inbound_store()
        self.files = files if files is not None else get_objects()
        self.roots = roots or trust_roots

    def run(self) -> None:
        try:
            send_pending_statuses(self.client, self.organ_id, self.store, self.counts)
        except Exception as exc:  # the outbox waits for the next poll; receiving goes on
            self.counts["outbox_errors"] += 1
            logger.warning("status outbox not sent", extra={"organ_id": self.organ_id, "error": type(exc).__name__})
        for messagetype in ("status", "edoc"):
            seen: set[str] = set()
            for entry in self.client.get_received_edoc_list(messagetype):
                if not isinstance(entry, dict):
                    self.counts["bad_list_entry"] += 1
                    continue
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
                except Exception as exc:  # one bad envelope must not hold up the others; counted, bounded
                    self.counts["errors"] += 1
                    logger.exception("inbound envelope failed", extra={
                        "organ_id": self.organ_id, "axis_doc_id": doc_id, "error": type(exc).__name__})

    # -- one envelope --------------------------------------------------------------------------------------------
    def envelope(self, doc_id: str, entry: dict[str, Any]) -> None:
        record = self.store.get_envelope(doc_id, self.organ_id)
        action = envelope_action(record)
        if action == "skip":
            self.counts["skipped"] += 1
            return
        if action.startswith("ack_"):
            self.ack(doc_id, action[4:])
            self.counts["re_acked"] += 1
            return
        attempt = self.store.begin_attempt(doc_id, self.organ_id, MAX_ATTEMPTS)
        base: dict[str, Any] = {"axis_doc_id": doc_id, "organ_id": self.organ_id, "from": cut(entry.get("from"), 64),
                                "listed_as": cut(entry.get("messageType"), 16), "received_at": now_iso()}
        if attempt.get("exhausted"):  # earlier runs died on it (timeout, memory) or kept failing: give up, listed
            base.update({k: attempt[k] for k in ("raw_key", "sha256", "size") if attempt.get(k) is not None})
            self.refuse({**base, "attempts": int(attempt.get("attempts") or MAX_ATTEMPTS)}, "unprocessable",
                        "attempts_exhausted", "fail", {"error": cut(attempt.get("last_error"), 100)})
            return
        if record is not None and (first_seen := amendments.reopen_envelope(self.store, record)):
            base["first_seen_at"] = first_seen  # deferred or waiting: processed again, waiting counts from then
        try:
            self._take(doc_id, entry, base)
        except Exception as exc:
            self._failed(base, int(attempt.get("attempts") or 1), exc)
            return
        self.store.clear_attempts(doc_id, self.organ_id)

    def _take(self, doc_id: str, entry: dict[str, Any], base: dict[str, Any]) -> None:
        """Download, keep, parse and handle one envelope (`base` gathers what is known, for `_failed`)."""
        with tempfile.TemporaryDirectory(prefix="inbound-") as tmp:
            raw = os.path.join(tmp, "package.edxml")
            try:
                self.client.get_edoc(doc_id, dest=raw)
            except AxisPackageTooLarge as exc:
                # The content itself is too large (AXIS_MAX_PACKAGE_BYTES): the same bytes would come again on
                # every retry, so it is refused at once, not counted as a transient axis error. Nothing was kept
                # here (the client stops reading past the cap); the original stays on the sender's side.
                self.refuse(base, "unparseable", exc.code, "fail", {"max_bytes": exc.details.get("max_bytes")})
                return
            key = f"inbound/{self.organ_id}/{doc_id}.edxml"
            self.files.upload(raw, key, content_type="application/xml")
            base.update({"raw_key": key, "sha256": sha256_file(raw), "size": os.path.getsize(raw)})
            self.store.note_attempt(doc_id, self.organ_id, {k: base[k] for k in ("raw_key", "sha256", "size")})
            try:
                package = parse_package(raw, tmp_dir=tmp)
            except EdxmlError as exc:
                self.refuse(base, "unparseable", exc.code, "fail")
                return
            with package:
                claimed = package.sender.organ_id
                if problem := sender_problem(entry.get("from"), claimed):
                    self.refuse(base, "forged_sender", problem, "fail", {
                        "claimed": cut(claimed, 64), "authenticated": base["from"],
                        "message_type": cut(package.message_type, 16)})
                    return
                if package.message_type == "status":
                    self.status(base, package)
                else:
                    self.document(base, package, tmp)

    def _failed(self, base: dict[str, Any], attempts: int, exc: Exception) -> None:
        """Handling raised: retried (transient, within MAX_ATTEMPTS), or the envelope ends `fail` and listed."""
        doc_id = base["axis_doc_id"]
        error = type(exc).__name__
        logger.warning("inbound envelope failed", extra={"organ_id": self.organ_id, "axis_doc_id": doc_id,
                                                         "error": error, "attempts": attempts})
        if self.store.get_envelope(doc_id, self.organ_id) is not None:
            self.counts["errors"] += 1  # it was recorded before the failure: the record's ack is retried next poll
            return
        transient = is_transient(exc)
        if transient and attempts < MAX_ATTEMPTS:
            self.store.note_attempt(doc_id, self.organ_id, {"last_error": error})
            self.counts["envelope_retry"] += 1
            return
        reason = exc.code if isinstance(exc, EdxmlError) else "attempts_exhausted" if transient \
            else "unprocessable_content"
        self.refuse({**base, "attempts": attempts}, "unprocessable", reason, "fail", {"error": error})

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
        facts = {"code": code, "reporter": cut(reporter, 64), "response_for": cut(about, 300)}
        target = self._find_delivery(about, reporter) if about else None
        if target is None:
            # A 13: the sender of a document in our inbox asks for it back.
            if code == axis_statuses.RECALL_REQUESTED and amendments.revoke_from_status(self, base, package, about):
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
        if not self.accepts:
            reason = "not_registered" if self.agency is None else "not_active"
            self.refuse(base, "not_served", reason, "fail", {"from": cut(package.sender.organ_id, 64)})
            return
        doc_type = package.business_doc_type if package.business_doc_type is not None else DOC_TYPE_NEW
        if doc_type in (DOC_TYPE_REVOKE, DOC_TYPE_UPDATE):
            if amendments.apply(self, base, package, doc_type):
                return
            # else: an update bringing the document to an agency that never had it, filed as a document below
        elif doc_type not in (DOC_TYPE_NEW, DOC_TYPE_REPLACE):
            self.refuse(base, "unsupported_business_type", f"business_doc_type_{doc_type}", "fail",
                        {"from": cut(package.sender.organ_id, 64)})
            return
        sender = package.sender.organ_id
        if not (package.document_id or "").strip():  # its 01 could never be built: refused, never filed half
            self.refuse(base, "unparseable", "missing_document_id", "fail", {"from": cut(sender, 64)})
            return
        inbox_id = inbox_id_for(self.organ_id, sender, package.document_id, doc_type)
        if self.store.get_inbox_item(inbox_id) is None:
            problem = check_status_package(arrival_outbox_item(
                build_inbox_item(inbox_id, self.organ_id, base, package, []), self.agency))
            if problem is not None:  # built before anything is committed (issue 8)
                self.refuse(base, "unprocessable", "status_unbuildable", "fail", {"error": problem})
                return
            item = self._inbox_item(inbox_id, base, package, tmp)
            if doc_type == DOC_TYPE_REPLACE:  # link the documents it replaces, both ways, before it is filed
                amendments.link_replacement(self.store, self.organ_id, item, package)
            outbox = arrival_outbox_item(item, self.agency)
            item = arrival_numbers.numbered(self.store, item)  # số đến, last before filing (issue 12)
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
        """Upload the attachments (verified first) and build the inbox item, under DynamoDB's item limit."""
        stored = attachments.store_attachments(
            self.files, self.organ_id, inbox_id, package.attachments[:MAX_ATTACHMENTS], roots=self.roots,
            max_signatures=MAX_REPORTED_SIGNATURES)
        item = build_inbox_item(inbox_id, self.organ_id, base, package, stored)
        if attachments.fit_item(self.files, item, tmp):
            self.counts["reports_to_s3"] += 1
        return item
