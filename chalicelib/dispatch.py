"""`dispatch_document`: from a `SIGNED` record to one edXML package per recipient on the axis, `DISPATCHED`.

Why one `sendEdoc` per recipient: `Paper` (NĐ 30 Art. 23(4)) sits in the package's `Bussiness` block and is
set per recipient, and each recipient's delivery is then tracked (and retried) on its own. The package is built
at most twice (Paper 0 and 1), streamed to /tmp, never held in memory.

Exactly once per recipient: the record is claimed with a lease, each recipient gets a `PENDING` delivery row
(the intent) before its send and `SENT` with the axis DocId after; a retry skips recipients already `SENT`.
Business errors from the axis are permanent (`FAILED` with the axis's code, no retry); transport errors are
retried by SQS and end in the DLQ with the record `FAILED` on the last attempt.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from typing import Any

from chalicelib import aws, states
from chalicelib.agencies import Agency, AgencyRegistry
from chalicelib.log import logger
from chalicelib.settings import get_settings
from chalicelib.store import ConditionFailed, DocumentStore, now_iso

LEASE_SECONDS = 90
MAX_RECEIVES = 5
VN_TZ = timezone(timedelta(hours=7))
_SECRET_TTL = 300
_secret_cache: dict[str, tuple[float, dict[str, Any]]] = {}


class RetryLater(Exception):
    """Another worker holds the record's lease: let SQS deliver the message again later."""


def axis_credentials() -> dict[str, Any]:
    """`{"endpoint", "systems": {organ_id: secret}}` from Secrets Manager, cached for five minutes."""
    name = get_settings().axis_secret_name
    cached = _secret_cache.get(name)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    value = json.loads(aws.client("secretsmanager").get_secret_value(SecretId=name)["SecretString"])
    _secret_cache[name] = (time.monotonic() + _SECRET_TTL, value)
    return value


def axis_client_for(organ_id: str) -> Any:
    """An axis client speaking as `organ_id` (the `from` rule: system id = the sender's identifier code)."""
    from chalicelib.axis.client import AxisClient

    creds = axis_credentials()
    secret = creds.get("systems", {}).get(organ_id)
    if not secret:
        raise PermissionError(f"no axis credentials for {organ_id}")
    return AxisClient(creds["endpoint"], organ_id, secret, timeout=float(creds.get("timeout", 30)))


def handle_dispatch_message(body: str, receive_count: int = 1) -> None:
    process_dispatch(json.loads(body)["document_id"], receive_count=receive_count)


def process_dispatch(document_id: str, *, receive_count: int = 1) -> None:
    """Send the signed document to every recipient not yet served; record `DISPATCHED`."""
    from chalicelib.axis.errors import AxisBusinessError

    store = DocumentStore()
    record = store.get(document_id)
    if record is None or record["state"] != states.SIGNED:
        logger.info("dispatch skipped", extra={"document_id": document_id,
                                                "state": record and record["state"]})
        return
    lease = uuid.uuid4().hex
    now = int(time.time())
    try:
        store.update_fields(document_id, {"dispatch_lease": lease, "dispatch_lease_until": now + LEASE_SECONDS},
                            condition="#state = :signed AND (attribute_not_exists(dispatch_lease_until) "
                                      "OR dispatch_lease_until < :now)",
                            values={":signed": states.SIGNED, ":now": now})
    except ConditionFailed:
        current = store.get(document_id) or {}
        if current.get("state") == states.SIGNED:
            raise RetryLater(document_id) from None
        return
    owned = {"extra_condition": "dispatch_lease = :lease", "extra_values": {":lease": lease}}
    release = ("dispatch_lease", "dispatch_lease_until")
    try:
        with tempfile.TemporaryDirectory(prefix="dispatch-") as tmp:
            sent = _send_all(store, record, tmp)
    except AxisBusinessError as exc:
        logger.warning("axis refused the package", extra={"document_id": document_id, "error_code": exc.error_code})
        store.transition(document_id, states.FAILED, fields={
            "reason": "axis_rejected", "reason_message": "Trục liên thông từ chối gói tin.",
            "axis_error_code": exc.error_code, "axis_error": exc.error_desc[:500]}, remove=release, **owned)
        return
    except Exception as exc:  # transient (5xx, timeouts), but also auth refusals, AWS errors, bugs: retried
        if receive_count >= MAX_RECEIVES:
            store.transition(document_id, states.FAILED, fields={
                "reason": "axis_unavailable", "reason_message": "Không gửi được lên Trục sau nhiều lần thử.",
                "last_error": type(exc).__name__}, remove=release, **owned)
        else:
            store.update_fields(document_id, {"dispatch_lease_until": 0}, condition="dispatch_lease = :lease",
                                values={":lease": lease})
        raise
    store.transition(document_id, states.DISPATCHED, fields={"dispatched_at": now_iso(), "recipients_sent": sent},
                     remove=release, **owned)
    logger.info("document dispatched", extra={"document_id": document_id, "recipients": sent})


def _send_all(store: DocumentStore, record: dict[str, Any], tmp: str) -> int:
    """Build the package(s) and send to each recipient whose delivery is not `SENT` yet."""
    metadata = record["metadata"]
    recipients: list[str] = metadata["recipients"]
    agencies = AgencyRegistry().get_many([record["organ_id"], *recipients])
    sender = agencies[record["organ_id"]]
    client = axis_client_for(sender.organ_id)
    signed_pdf = os.path.join(tmp, "signed.pdf")
    aws.client("s3").download_file(get_settings().documents_bucket, record["signed_key"], signed_pdf)
    packages: dict[bool, str] = {}
    for organ_id in recipients:
        delivery = store.put_delivery_intent(record["document_id"], organ_id)
        if delivery["status"] != "PENDING":
            continue
        recipient = agencies.get(organ_id)
        paper = bool(recipient and recipient.paper)
        if paper not in packages:
            packages[paper] = _build_package(record, sender, [agencies.get(r) or _unknown(r) for r in recipients],
                                             signed_pdf, paper, tmp)
        result = client.send_edoc(packages[paper], to=[organ_id])
        store.mark_delivery_sent(record["document_id"], organ_id, result.doc_id, paper=paper)
        logger.info("package sent", extra={"document_id": record["document_id"], "to": organ_id,
                                           "axis_doc_id": result.doc_id})
    return len(recipients)


def _unknown(organ_id: str) -> Agency:
    return Agency(organ_id=organ_id, name=organ_id)


def _organ(agency: Agency) -> Any:
    from chalicelib.edxml import Organ

    return Organ(organ_id=agency.organ_id, name=agency.name, address=agency.address, email=agency.email,
                 telephone=agency.telephone)


def package_header(record: dict[str, Any], recipients: list[Agency]) -> Any:
    """The edXML `MessageHeader` content for a record (QCVN 102: DocumentId, Code, PromulgationInfo…)."""
    from chalicelib.edxml import DocumentHeader, SignerInfo, document_id
    from chalicelib.models import DOCUMENT_TYPES, URGENCY_PRIORITY

    md = record["metadata"]
    issued = date.fromisoformat(md["issued_on"])
    return DocumentHeader(
        document_id=document_id(record["organ_id"], issued, md.get("number", ""), md["notation"]),
        code_number=md.get("number", ""), code_notation=md["notation"], place=md["place"],
        promulgation_date=issued, type_code=1, type_detail=0, type_name=DOCUMENT_TYPES[md["type"]],
        subject=md["subject"], content=md["subject"],
        signer=SignerInfo(competence=md["signer"].get("competence", ""), position=md["signer"].get("position", ""),
                          full_name=md["signer"]["full_name"]),
        due_date=date.fromisoformat(md["due_date"]) if md.get("due_date") else None,
        priority=URGENCY_PRIORITY[md.get("urgency", "normal")], steering_type=int(md.get("steering_type", 0)),
        to_places=[a.name for a in recipients], page_amount=int(record.get("page_count", 0) or 0), appendixes=[],
    )


def _build_package(record: dict[str, Any], sender: Agency, recipients: list[Agency], signed_pdf: str, paper: bool,
                   tmp: str) -> str:
    from chalicelib.edxml import AttachmentSource, Business, write_new_document_package

    md = record["metadata"]
    name = f"{md.get('number') or 'so'}-{md['notation']}.pdf".replace("/", "-")
    path = os.path.join(tmp, f"package-{int(paper)}.edxml")
    with open(path, "wb") as out:
        write_new_document_package(
            out, sender=_organ(sender), recipients=[_organ(a) for a in recipients],
            header=package_header(record, recipients), business=Business(doc_type=0, paper=int(paper)),
            attachments=[AttachmentSource(name=name, content_type="application/pdf", path=signed_pdf,
                                          description=md["subject"][:200])],
            trace_timestamp=datetime.now(VN_TZ),
        )
    return path
