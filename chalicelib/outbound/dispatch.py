"""`dispatch_document`: from a `SIGNED` record to one edXML package per recipient on the axis, `DISPATCHED`.

Why one `sendEdoc` per recipient: `Paper` (NĐ 30 Art. 23(4)) sits in the package's `Bussiness` block and is
set per recipient, and each recipient's delivery is then tracked (and retried) on its own. The package is built
at most twice (Paper 0 and 1), streamed to /tmp, never held in memory.

Exactly once per recipient: the record is claimed with a lease, and every send has its intent recorded before
it. The first attempt builds the packages before its claim, and the claim itself records each recipient's package
SHA-256 on the record (`send_intents`); each send is then followed by one write, the recipient's row `SENT` with
the axis DocId (issue 11: a row written once instead of an intent row and an update). Any later attempt (a retry,
or an administrator's) opens a `PENDING` row before each send, carrying the hashes the first attempt recorded for
that recipient, and records each further attempt's hash on it (`package_hashes`: the packages whose fate is
unknown); a retry skips recipients already `SENT`. A send whose answer never came (timeout, dropped connection,
or a worker killed between sending and recording) leaves its hash there (on the record or on the row), and the
next attempt first RECONCILES: it asks the axis for our recent sends to that recipient (getSentEdocList without
docId, `AxisClient.list_sent_edocs`) and, if one carries a listed hash, records that DocId as `SENT` (`reconciled`)
instead of sending again. Packages are rebuilt byte for byte (the edXML trace time is the record's
`dispatch_started_at`), so every attempt usually has the same hash.

What is and is not verified of the real axis (docs/axis-protocol.md#getsentedoclist-without-docid): getSentEdocList is
documented with `docId` only, answering per recipient `toCode`, `sendStatus`, `receiveStatus` and times. Listing without
`docId`, with a `hashFile` per item, is an EXTENSION the local simulator implements and the real axis has not been shown
to. So: an axis that refuses the list (a business error), or lists sends without hashes, cannot tell whether the
package arrived; the gateway then sends nothing more, records `FAILED` with reason `axis_send_unconfirmed` and
dead-letters the message, and an administrator who has checked with the axis operator retries with
`resend_unconfirmed` (chalicelib.outbound.dead_letters). An axis that answers an empty list without supporting the
form would make the gateway resend: a duplicate, never a loss. Attempts the axis itself refused (HTTP 429/503,
or no connection at all) are known not stored and need no reconciling; 500/502/504 and timeouts are unknown.
A package still being stored by the axis when the reconciling list is read would be missed (and sent twice):
before reconciling, an in-place retry waits 2 s after such an unknown outcome (0.2 s after a refusal), and a
redelivery waits the backoff below; that narrows the window, it does not close it.

Retries: a transient failure is first retried in place (IN_PLACE_TRIES per recipient, short pauses, only while
the Lambda has time for a whole axis call), then by SQS with exponential backoff: the handler sets the
message's visibility to `backoff_seconds(receive count)` before reporting it failed (`delay_redelivery`).
After MAX_RECEIVES (the queue's maxReceiveCount) the record is `FAILED` (`axis_unavailable`) and SQS moves the
message to the DLQ. Permanent failures (the axis refused the package: `axis_rejected` with the axis's code;
`axis_send_unconfirmed`) are not retried: the handler puts the message on the DLQ itself and consumes it, so
the DLQ holds every document an administrator has to look at, at once, not after five pointless sends.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from chalicelib.adapters.agency_registry import Agency, get_agency_registry
from chalicelib.adapters.axis.credentials import axis_client_for, axis_credentials
from chalicelib.adapters.axis.errors import AxisBusinessError, AxisTransientError
from chalicelib.adapters.document_store import DocumentStore, get_document_store
from chalicelib.adapters.dynamo import ConditionFailed
from chalicelib.adapters.inbound_store import remember_sent_document
from chalicelib.adapters.objects import get_objects
from chalicelib.adapters.queues import get_queues
from chalicelib.core.clock import VN_TZ, now_iso
from chalicelib.core.log import logger
from chalicelib.core.settings import get_settings
from chalicelib.domain import states
from chalicelib.domain.attachments import attachment_file_name
from chalicelib.domain.leases import DISPATCH, Lease, lease_until
from chalicelib.domain.retry import Deadline, OutOfTime, RetryLater, backoff_seconds
from chalicelib.outbound.packages import (
    dispatch_trace_time,
    package_header,
    unknown_agency,
    write_document_package,
)
from chalicelib.standards.axis_protocol import sha256_file
from chalicelib.standards.edxml import AttachmentSource

__all__ = ["FAILURE_REASONS", "IN_PLACE_TRIES", "LEASE_SECONDS", "MAX_RECEIVES", "SEND_INTENTS", "OutOfTime",
           "RetryLater", "SendUnconfirmed", "backoff_seconds", "call_seconds", "delay_redelivery", "deliver",
           "intents", "process_dispatch", "send_first"]

LEASE_SECONDS = 90
#: The dispatch queue's maxReceiveCount (infra/resources.yaml): on this receive the record goes FAILED.
MAX_RECEIVES = 5
#: sendEdoc tries per recipient within one receive, for transient failures (reconciling before each retry).
IN_PLACE_TRIES = 3
#: Pause before the next in-place try, doubled for each further one, as a share of the redelivery backoff's base (so
#: an environment that shortens the backoff shortens this too): 0.2 s after the axis refused the call outright, 2 s
#: after an answer that may hide a stored package, so that an axis still storing it has time to list it before the
#: reconciling getSentEdocList (a window, not a guarantee: see the module docstring).
_IN_PLACE_PAUSE_SHARE = {"refused": 0.01, "unknown": 0.1}
#: On the record, written by the first attempt's claim: `"<organ_id> <sha256>"` for each recipient's package, the
#: intents that attempt's sends are reconciled from if it dies after one (removed at DISPATCHED).
SEND_INTENTS = "send_intents"
#: Reasons a dispatch writes on a FAILED record (the admin API moves such records back to SIGNED).
FAILURE_REASONS = frozenset({"axis_rejected", "axis_unavailable", "axis_send_unconfirmed"})
#: HTTP statuses by which the axis says it did not take the request (overload, unavailable): nothing stored.
_REFUSED_STATUSES = frozenset({429, 503})
#: Connection errors raised before any byte of the request left: nothing stored.
_NOT_CONNECTED = frozenset({"NewConnectionError", "ConnectTimeoutError", "NameResolutionError"})


class SendUnconfirmed(Exception):
    """An earlier attempt may have reached the axis and the axis cannot say whether it did (see the module
    docstring): sending again could duplicate an official document, so a person decides."""

    def __init__(self, organ_id: str, detail: str) -> None:
        super().__init__(f"{organ_id}: {detail}")
        self.organ_id = organ_id
        self.detail = detail


def delay_redelivery(record: dict[str, Any], receive_count: int) -> None:
    """Set the failed message's visibility timeout to the backoff (ChangeMessageVisibility with the record's own
    receipt handle), before the batch reports it failed; on the last receive, 0, so SQS moves it to the DLQ now
    rather than after the queue's visibility timeout. Best effort: if this fails the queue's own visibility
    timeout applies."""
    settings = get_settings()
    delay = 0 if receive_count >= MAX_RECEIVES else backoff_seconds(
        receive_count, settings.dispatch_backoff_base_seconds, settings.dispatch_backoff_cap_seconds)
    try:
        queue = str(record["eventSourceARN"]).rsplit(":", 1)[-1]
        get_queues().delay(queue, record["receiptHandle"], delay)
    except Exception as exc:  # the failure itself is still reported; only the timing falls back
        logger.warning("could not delay redelivery", extra={"error": type(exc).__name__})
        return
    logger.info("dispatch retry delayed", extra={"receive_count": receive_count, "delay_seconds": delay})


def call_seconds() -> float:
    """The longest one axis call may take (connect + read timeouts of `axis_client_for`)."""
    timeout = float(axis_credentials().get("timeout", 30))
    return timeout + min(timeout, 10.0)


def process_dispatch(document_id: str, *, receive_count: int = 1,
                     remaining_ms: Callable[[], int] | None = None) -> None:
    """Send the signed document to every recipient not yet served; record `DISPATCHED`."""
    store = get_document_store()
    record = store.get(document_id)
    if record is None or record["state"] != states.SIGNED:
        logger.info("dispatch skipped", extra={"document_id": document_id,
                                                "state": record and record["state"]})
        return
    deadline = Deadline(remaining_ms)
    if receive_count < MAX_RECEIVES and not deadline.allows(call_seconds()):
        raise OutOfTime(document_id)  # a batch's last records when the axis is slow: not worth a half call
    lease = Lease.new(DISPATCH, LEASE_SECONDS)
    first = not record.get("dispatch_started_at")
    started: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="dispatch-") as tmp:
        plan = None
        if first:  # fixed once: the edXML trace time, so rebuilds hash the same
            started["dispatch_started_at"] = record["dispatch_started_at"] = now_iso()
            # Lets poll_axis match status packages to it. Once, before the claim that writes `dispatch_started_at`
            # (issue 11: not a PutItem per attempt): a run that dies after this and before the claim does it again.
            remember_sent_document(package_header(record, []).document_id, record["document_id"], record["organ_id"])
            # Built before the claim, whose write records what is about to be sent (SEND_INTENTS): the first
            # attempt writes each recipient's row once, SENT (issue 11), instead of an intent row before each send.
            plan = _prepare(record, tmp)
            started[SEND_INTENTS] = {f"{organ_id} {package[1]}" for organ_id, (package, _) in plan.items()}
        try:
            store.claim(document_id, lease, in_state=states.SIGNED, fields=started,
                        absent=("dispatch_started_at",) if first else ())
        except ConditionFailed:
            current = store.get(document_id) or {}
            if current.get("state") == states.SIGNED:
                raise RetryLater(document_id, until=lease_until(current, DISPATCH)) from None
            return
        try:
            sent = _send_all(store, record, plan or _prepare(record, tmp), deadline, first=first)
        except AxisBusinessError as exc:
            logger.warning("axis refused the package", extra={"document_id": document_id,
                                                              "error_code": exc.error_code})
            _fail_permanently(store, document_id, receive_count, {
                "reason": "axis_rejected", "reason_message": "Trục liên thông từ chối gói tin.",
                "axis_error_code": exc.error_code, "axis_error": exc.error_desc[:500]}, lease)
            return
        except SendUnconfirmed as exc:
            logger.warning("send unconfirmed", extra={"document_id": document_id, "to": exc.organ_id,
                                                      "detail": exc.detail})
            _fail_permanently(store, document_id, receive_count, {
                "reason": "axis_send_unconfirmed",
                "reason_message": "Không xác định được gói tin đã lên Trục hay chưa; cần kiểm tra trước khi gửi lại.",
                "unconfirmed_recipient": exc.organ_id, "axis_error": exc.detail[:500]}, lease)
            return
        except Exception as exc:  # transient (5xx, timeouts), but also auth refusals, AWS errors, bugs: retried
            if receive_count >= MAX_RECEIVES:
                store.transition(document_id, states.FAILED, fields={
                    "reason": "axis_unavailable", "reason_message": "Không gửi được lên Trục sau nhiều lần thử.",
                    "last_error": type(exc).__name__, "dispatch_attempts": receive_count}, lease=lease)
            else:
                store.release(document_id, lease)
            raise
    store.transition(document_id, states.DISPATCHED, fields={"dispatched_at": now_iso(), "recipients_sent": sent},
                     remove=(SEND_INTENTS,), lease=lease)
    logger.info("document dispatched", extra={"document_id": document_id, "recipients": sent})


def _fail_permanently(store: DocumentStore, document_id: str, receive_count: int, fields: dict[str, Any],
                      lease: Lease) -> None:
    """Dead-letter the message ourselves, then record FAILED; the caller consumes the message.

    In this order: if the worker dies in between, the record is still SIGNED (leased), the redelivered message
    meets the same refusal and dead-letters again (a second DLQ entry, harmless: redrive of a dispatched
    document changes nothing), whereas FAILED first could leave a FAILED record with nothing in the DLQ."""
    get_queues().dead_letter(get_settings().dispatch_queue, json.dumps({"document_id": document_id}),
                             {"reason": fields["reason"], **({"axis_error_code": fields["axis_error_code"]}
                                                             if fields.get("axis_error_code") else {})})
    store.transition(document_id, states.FAILED, fields={**fields, "dispatch_attempts": receive_count}, lease=lease)


Plan = dict[str, tuple[tuple[str, str], bool]]


def _prepare(record: dict[str, Any], tmp: str) -> Plan:
    """Each recipient's package, `organ_id → ((path, sha256), paper)`: the signed PDF downloaded once and the
    package built at most twice (Paper 0 and 1), in the recipients' order."""
    metadata = record["metadata"]
    recipients: list[str] = metadata["recipients"]
    agencies = get_agency_registry().cached_many([record["organ_id"], *recipients])
    sender = agencies[record["organ_id"]]
    signed_pdf = os.path.join(tmp, "signed.pdf")
    get_objects().download(record["signed_key"], signed_pdf)
    packages: dict[bool, tuple[str, str]] = {}  # paper flag → (path, sha256)
    plan: Plan = {}
    for organ_id in recipients:
        recipient = agencies.get(organ_id)
        paper = bool(recipient and recipient.paper)
        if paper not in packages:
            path = _build_package(record, sender, [agencies.get(r) or unknown_agency(r) for r in recipients],
                                  signed_pdf, paper, tmp)
            packages[paper] = (path, sha256_file(path))
        plan[organ_id] = (packages[paper], paper)
    return plan


def _send_all(store: DocumentStore, record: dict[str, Any], plan: Plan, deadline: Deadline | None = None, *,
              first: bool = False) -> int:
    """Send to each recipient whose delivery is not `SENT` yet. `first`: this run's claim recorded the packages'
    hashes on the record (SEND_INTENTS) and no row exists yet, so each send goes out at once and its row is written
    once, SENT (`send_first`). Otherwise each recipient's row is opened before its send (`open_delivery`, with
    the hashes the first attempt recorded for it when it has none yet) and `deliver` reconciles what may be on
    the axis already."""
    document_id = record["document_id"]
    client = axis_client_for(record["organ_id"])
    earlier = intents(record)
    until = deadline or Deadline(None)

    def one(organ_id: str, package: tuple[str, str], paper: bool) -> None:
        if first:
            send_first(store, client, document_id, organ_id, package, paper, until)
            return
        hashes = earlier.get(organ_id, frozenset())
        delivery, created = store.open_delivery(document_id, organ_id, package[1], earlier=hashes,
                                                earlier_at=str(record.get("dispatch_started_at") or ""))
        if delivery["status"] == "PENDING":
            deliver(store, client, document_id, delivery, package, paper, until, noted=created and not hashes)

    work = [(organ_id, package, paper) for organ_id, (package, paper) in plan.items()]
    workers = min(get_settings().dispatch_parallel_sends, len(work))
    if workers <= 1:
        for item in work:
            one(*item)
        return len(plan)
    # Each recipient's send and rows are its own (conditional writes per row), so they run side by side: the axis
    # calls are waits, not work. Every send is tried; the first failure in the recipients' order is raised.
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dispatch-send") as pool:
        futures = [pool.submit(one, *item) for item in work]
    failures = [f.exception() for f in futures if f.exception() is not None]
    if failures:
        raise failures[0]  # type: ignore[misc]  # an exception instance
    return len(plan)


def intents(record: dict[str, Any]) -> dict[str, frozenset[str]]:
    """The first attempt's SEND_INTENTS on the record (`"<organ_id> <sha256>"` each), by recipient."""
    found: dict[str, set[str]] = {}
    for entry in record.get(SEND_INTENTS) or ():
        organ_id, _, sha = str(entry).partition(" ")
        found.setdefault(organ_id, set()).add(sha)
    return {organ_id: frozenset(hashes) for organ_id, hashes in found.items()}


def send_first(store: DocumentStore, client: Any, document_id: str, organ_id: str, package: tuple[str, str],
               paper: bool, deadline: Deadline) -> None:
    """A first attempt's send to one recipient: its intent is on the record already, so the send goes out and the
    row is written once, SENT. A transient failure opens the row (with the hash unless the axis proved it did not
    take the package) and goes on as `deliver` does, reconciling before it sends again."""
    path, sha = package
    try:
        result = client.send_edoc(path, to=[organ_id], package_sha256=sha)
    except AxisTransientError as exc:
        refused = _not_stored(exc)
        delivery, _ = store.open_delivery(document_id, organ_id, None if refused else sha)
        if delivery["status"] != "PENDING":
            return
        pause = get_settings().dispatch_backoff_base_seconds * _IN_PLACE_PAUSE_SHARE["refused" if refused
                                                                                     else "unknown"]
        call = client.timeout.read_timeout + client.timeout.connect_timeout
        if IN_PLACE_TRIES <= 1 or not deadline.allows(call + pause):
            raise
        logger.info("axis send failed, retrying in place",
                    extra={"document_id": document_id, "to": organ_id, "try": 1, "error": exc.details})
        time.sleep(pause)
        deliver(store, client, document_id, delivery, package, paper, deadline, tries=1)
        return
    store.put_delivery_sent(document_id, organ_id, result.doc_id, paper=paper, package_sha256=sha)
    logger.info("package sent", extra={"document_id": document_id, "to": organ_id, "axis_doc_id": result.doc_id})


def deliver(store: DocumentStore, client: Any, document_id: str, delivery: dict[str, Any],
            package: tuple[str, str], paper: bool, deadline: Deadline, *, noted: bool = False, tries: int = 0) -> None:
    """One recipient, from PENDING to SENT: reconcile what earlier attempts may have left on the axis, then send,
    retrying transient failures in place (IN_PLACE_TRIES) while the invocation has time. Shared by the
    amendments' sending (their own delivery rows under `document_id` = `amendment_rules.sends_partition`).

    `noted`: the row was created by this run with this package's attempt on it (`open_delivery`), so the first
    send neither reconciles (nothing earlier can be on the axis) nor notes the attempt again."""
    organ_id = delivery["organ_id"]
    path, sha = package
    call = client.timeout.read_timeout + client.timeout.connect_timeout
    while True:
        unknown = set() if noted else set(delivery.get("package_hashes") or ())
        if unknown:
            found = _reconcile(client, organ_id, unknown, delivery.get("first_attempt_at") or "")
            if found is not None:
                store.mark_delivery_sent(document_id, organ_id, found[0], paper=paper, package_sha256=found[1],
                                         reconciled=True)
                logger.info("package found on the axis", extra={"document_id": document_id, "to": organ_id,
                                                                "axis_doc_id": found[0]})
                return
            for gone in unknown:  # the axis has none of them: those attempts never arrived
                store.forget_send_attempt(document_id, organ_id, gone)
        if not noted:
            delivery = store.note_send_attempt(document_id, organ_id, sha)
        noted = False
        tries += 1
        try:
            result = client.send_edoc(path, to=[organ_id], package_sha256=sha)
        except AxisTransientError as exc:
            refused = _not_stored(exc)
            if refused:
                store.forget_send_attempt(document_id, organ_id, sha)
                delivery["package_hashes"] = set(delivery.get("package_hashes") or ()) - {sha}
            pause = (get_settings().dispatch_backoff_base_seconds * 2 ** (tries - 1)
                     * _IN_PLACE_PAUSE_SHARE["refused" if refused else "unknown"])
            if tries >= IN_PLACE_TRIES or not deadline.allows(call + pause):
                raise
            logger.info("axis send failed, retrying in place",
                        extra={"document_id": document_id, "to": organ_id, "try": tries, "error": exc.details})
            time.sleep(pause)
            continue
        store.mark_delivery_sent(document_id, organ_id, result.doc_id, paper=paper, package_sha256=sha)
        logger.info("package sent", extra={"document_id": document_id, "to": organ_id, "axis_doc_id": result.doc_id})
        return


def _not_stored(exc: Any) -> bool:
    """Whether a transient failure proves the axis did not take the package (see the module docstring)."""
    details = getattr(exc, "details", {}) or {}
    return details.get("http_status") in _REFUSED_STATUSES or details.get("error") in _NOT_CONNECTED


def _reconcile(client: Any, organ_id: str, hashes: set[str], since: str) -> tuple[str, str] | None:
    """(DocId, hash) of a send of one of `hashes` to `organ_id` that the axis holds, or None if it holds none.

    Raises SendUnconfirmed when the axis cannot answer the question (it refuses the list or lists no hashes);
    a transient failure of the list call propagates (retried like any send)."""
    start = datetime.now(VN_TZ) - timedelta(days=1)
    if since:
        with_tz = datetime.fromisoformat(since.replace("Z", "+00:00"))
        start = with_tz.astimezone(VN_TZ) - timedelta(days=1)  # a day early: clocks and midnight
    try:
        items = client.list_sent_edocs("edoc", to_code=organ_id, from_date=start.strftime("%d/%m/%Y"))
    except AxisBusinessError as exc:
        raise SendUnconfirmed(organ_id, f"getSentEdocList without docId refused ({exc.error_code})") from exc
    mine = [i for i in items if str(i.get("toCode", "")) == organ_id]
    if any(not i.get("hashFile") for i in mine):
        raise SendUnconfirmed(organ_id, "getSentEdocList lists sends without hashFile")
    for item in mine:  # oldest first: if the axis holds two, the first is the one the recipient saw first
        if str(item["hashFile"]).lower() in hashes and item.get("docId"):
            return str(item["docId"]), str(item["hashFile"]).lower()
    return None


def _build_package(record: dict[str, Any], sender: Agency, recipients: list[Agency], signed_pdf: str, paper: bool,
                   tmp: str) -> str:
    path = os.path.join(tmp, f"package-{int(paper)}.edxml")
    write_document_package(path, record, sender, recipients, signed_pdf, paper, dispatch_trace_time(record),
                           appendixes=_appendix_sources(record, tmp))
    return path


def _appendix_sources(record: dict[str, Any], tmp: str) -> list[AttachmentSource]:
    """The signed phụ lục as further `Attachment` entries, after the document, in the client's order. Each is
    downloaded to `tmp` once (both paper variants of the package reuse it) and streamed from there by the writer,
    never held in memory."""
    sources = []
    for entry in record.get("attachments") or []:
        path = os.path.join(tmp, f"att-{int(entry['index'])}.pdf")
        if not os.path.exists(path):
            get_objects().download(entry["signed_key"], path)
        sources.append(AttachmentSource(name=attachment_file_name(record["metadata"], entry, int(entry["index"])),
                                        content_type="application/pdf", path=path,
                                        description=str(entry["name"])[:200]))
    return sources
