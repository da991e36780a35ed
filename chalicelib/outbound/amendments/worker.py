"""Sending an amendment's packages: the dispatch queue's handler for messages of type "amendment"
(chalicelib.outbound.dispatch_queue routes them here).

Exactly one package per recipient, with dispatch's machinery as it is: each send has its own PENDING → SENT row
(partition `DOC#<id>#AMENDMENT#<aid>`, the shape of a delivery row) and goes through `dispatch.deliver` (intent,
package hash, reconcile with the axis before any resend); permanent axis refusals and unconfirmable sends are
dead-lettered at once, transient failures retried by SQS until MAX_RECEIVES. Packages are rebuilt byte for byte on
retry: their trace time is the amendment's `created_at` and the lists they carry are the amendment's own.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from typing import Any

from chalicelib.adapters.agency_registry import Agency, get_agency_registry
from chalicelib.adapters.amendment_store import AmendmentStore, get_amendment_store
from chalicelib.adapters.axis.credentials import axis_client_for
from chalicelib.adapters.axis.errors import AxisBusinessError
from chalicelib.adapters.objects import get_objects
from chalicelib.adapters.queues import get_queues
from chalicelib.core.clock import now_iso
from chalicelib.core.log import logger
from chalicelib.core.settings import get_settings
from chalicelib.domain.amendment_rules import (
    DELIVERY_FIELD,
    FAILED,
    SENT,
    delivery_request,
    message_body,
    sends_partition,
)
from chalicelib.domain.leases import AMENDMENT, Lease, lease_until
from chalicelib.domain.retry import Deadline, OutOfTime, RetryLater
from chalicelib.outbound.dispatch import MAX_RECEIVES, SendUnconfirmed, call_seconds, deliver
from chalicelib.outbound.packages import (
    amendment_trace_time,
    unknown_agency,
    write_amendment_package,
    write_document_package,
)
from chalicelib.standards.axis_protocol import sha256_file

__all__ = ["handle_message", "process_amendment"]


def handle_message(data: dict[str, Any], receive_count: int = 1, *,
                   remaining_ms: Callable[[], int] | None = None) -> None:
    process_amendment(str(data["document_id"]), str(data["amendment_id"]), receive_count=receive_count,
                      remaining_ms=remaining_ms)


def process_amendment(document_id: str, amendment_id: str, *, receive_count: int = 1,
                      remaining_ms: Callable[[], int] | None = None) -> None:
    """Send an amendment's packages to every recipient not yet served; record SENT (or FAILED, as dispatch does:
    permanent axis refusals and unconfirmable sends are dead-lettered at once, transient failures retried by SQS
    until MAX_RECEIVES)."""
    store = get_amendment_store()
    amendment = store.get_amendment(document_id, amendment_id)
    record = store.get(document_id)
    if amendment is None or record is None or amendment["status"] == SENT:
        logger.info("amendment skipped", extra={"document_id": document_id, "amendment_id": amendment_id,
                                                "status": amendment and amendment["status"]})
        return
    deadline = Deadline(remaining_ms)
    if receive_count < MAX_RECEIVES and not deadline.allows(call_seconds()):
        raise OutOfTime(document_id)
    lease = store.claim_amendment(amendment)
    if lease is None:  # another run holds it: come back when its lease (as read above) ends
        raise RetryLater(document_id, until=lease_until(amendment, AMENDMENT) or None)
    try:
        with tempfile.TemporaryDirectory(prefix="amendment-") as tmp:
            _send_all(store, record, amendment, tmp, deadline)
    except AxisBusinessError as exc:
        logger.warning("axis refused an amendment package", extra={
            "document_id": document_id, "amendment_id": amendment_id, "error_code": exc.error_code})
        _fail_permanently(store, amendment, lease, receive_count, {
            "reason_code": "axis_rejected", "reason_message": "Trục liên thông từ chối gói tin.",
            "axis_error_code": exc.error_code, "axis_error": exc.error_desc[:500]})
        return
    except SendUnconfirmed as exc:
        logger.warning("amendment send unconfirmed", extra={"document_id": document_id, "to": exc.organ_id,
                                                            "amendment_id": amendment_id})
        _fail_permanently(store, amendment, lease, receive_count, {
            "reason_code": "axis_send_unconfirmed",
            "reason_message": "Không xác định được gói tin đã lên Trục hay chưa; cần kiểm tra trước khi gửi lại.",
            "axis_error": exc.detail[:500]})
        return
    except Exception as exc:  # transient (5xx, timeouts), but also AWS errors and bugs: retried by SQS
        logger.warning("amendment sending failed", extra={"document_id": document_id, "amendment_id": amendment_id,
                                                          "error": type(exc).__name__, "receive_count": receive_count})
        if receive_count >= MAX_RECEIVES:
            store.finish_amendment(amendment, lease, FAILED, {
                "reason_code": "axis_unavailable", "reason_message": "Không gửi được lên Trục sau nhiều lần thử.",
                "last_error": type(exc).__name__, "failed_at": now_iso()})
        else:
            store.release_amendment(amendment, lease)
        raise
    sent = store.sent_summary(amendment)
    store.finish_amendment(amendment, lease, SENT, {"sent_at": now_iso(), "sent": sent})
    logger.info("amendment sent", extra={"document_id": document_id, "amendment_id": amendment_id,
                                         "kind": amendment["kind"], "recipients": len(sent)})


def _fail_permanently(store: AmendmentStore, amendment: dict[str, Any], lease: Lease, receive_count: int,
                      fields: dict[str, Any]) -> None:
    """Dead-letter the message, then record FAILED (the order dispatch uses, for the same reason)."""
    get_queues().dead_letter(
        get_settings().dispatch_queue, message_body(amendment["document_id"], amendment["amendment_id"]),
        {"reason": fields["reason_code"], "amendment_id": amendment["amendment_id"],
         **({"axis_error_code": fields["axis_error_code"]} if fields.get("axis_error_code") else {})})
    store.finish_amendment(amendment, lease, FAILED, {**fields, "failed_at": now_iso(), "attempts_failed":
                                                      receive_count})


def _send_all(store: AmendmentStore, record: dict[str, Any], amendment: dict[str, Any], tmp: str,
              deadline: Deadline) -> None:
    document_id, kind = record["document_id"], amendment["kind"]
    targets = list(amendment["targets"])
    document_to = list(amendment.get("document_to") or [])
    agencies = get_agency_registry().get_many([record["organ_id"], *targets, *document_to])
    sender = agencies[record["organ_id"]]
    client = axis_client_for(sender.organ_id)
    trace = amendment_trace_time(amendment)

    def agency(code: str) -> Agency:
        return agencies.get(code) or unknown_agency(code)

    packages: dict[bool, tuple[str, str]] = {}
    rows = sends_partition(document_id, amendment["amendment_id"])
    for organ_id in targets:
        request = delivery_request(amendment, organ_id)
        change = request.get("change")
        store.mark_asked(document_id, organ_id, DELIVERY_FIELD[kind], request,
                         removed=True if change == "removed" else False if change == "added" else None)
        delivery = store.put_delivery_intent(rows, organ_id)
        if delivery["status"] != "PENDING":
            continue
        paper = bool(agency(organ_id).paper)
        if paper not in packages:
            path = os.path.join(tmp, f"{kind}-{int(paper)}.edxml")
            write_amendment_package(path, record, amendment, sender, [agency(c) for c in targets], paper, trace)
            packages[paper] = (path, sha256_file(path))
        deliver(store, client, rows, delivery, packages[paper], paper, deadline)
    if not document_to:
        return
    signed_pdf = os.path.join(tmp, "signed.pdf")
    documents: dict[bool, tuple[str, str]] = {}
    for organ_id in document_to:
        delivery = store.put_delivery_intent(document_id, organ_id)
        store.note_added(document_id, organ_id, amendment["amendment_id"])
        if delivery["status"] != "PENDING":
            continue
        if not os.path.exists(signed_pdf):
            get_objects().download(record["signed_key"], signed_pdf)
        paper = bool(agency(organ_id).paper)
        if paper not in documents:
            path = os.path.join(tmp, f"document-{int(paper)}.edxml")
            # The document itself for recipients an update added, addressed to the new list of recipients.
            write_document_package(path, record, sender, [agency(c) for c in amendment["recipients"]], signed_pdf,
                                   paper, trace)
            documents[paper] = (path, sha256_file(path))
        deliver(store, client, document_id, delivery, documents[paper], paper, deadline)
