"""The status packages a served agency sends back to a document's sender: 01 "đã đến" on receipt (NĐ 30/2020
Art. 21(2): the same day), the clerk's 02–06 (chalicelib.inbound.inbox) and the automatic 15 that answers a
revocation or an update (chalicelib.inbound.amendments).

Each waits in the outbox (`OUTBOX#<organ_id>`, chalicelib.adapters.inbound_store), written in the same transaction
as the change it reports, and is sent with `sendEdoc messagetype=status` (docs/axis-protocol.md) by whoever gets there
first: at once, or by every `poll_axis` until the axis takes it. A lease keeps two senders from sending it twice at
once.

Built and validated before anything is committed (issue 8): `check_status_package` is called by the clerk's
report (answered 400 before it is recorded) and by the filing of an inbound document (its 01); a package that still
cannot be built when it is sent (a record an older version wrote) is marked failed with the reason
`status_unbuildable` and listed for an administrator, and one bad outbox item never stops the others.

Why a module of its own: the poll, the inbox and the amendments all send these packages; here, below all three,
the imports run one way.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections import Counter
from datetime import date, datetime
from typing import Any

from chalicelib.adapters.axis.errors import AxisBusinessError, AxisError
from chalicelib.adapters.inbound_store import outbox_key
from chalicelib.core.log import logger
from chalicelib.domain import axis_statuses
from chalicelib.domain.inbound_ports import AxisSender, OutboxRepository
from chalicelib.standards.edxml import EdxmlError, Organ, ResponseFor, build_status_package

__all__ = ["arrival_outbox_item", "check_status_package", "outbox_item", "send_pending_statuses", "send_status",
           "status_package_bytes"]


def arrival_outbox_item(item: dict[str, Any], agency: Any) -> dict[str, Any]:
    """The 01 "đã đến" for a filed item, timestamped at receipt so a re-send is the same package byte for byte."""
    return outbox_item(item, axis_statuses.ARRIVED, "", item["received_at"],
                       reporter_name=getattr(agency, "name", "") or item["organ_id"])


def outbox_item(item: dict[str, Any], code: str, reason: str, at: str, *, reporter_name: str) -> dict[str, Any]:
    """A status package waiting to be sent about inbox `item` (pure)."""
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
    ref = outbox["response_for"]
    issued = ref.get("promulgation_date")
    description = outbox.get("reason") or axis_statuses.status_meaning(outbox["code"]) or ""
    return build_status_package(
        reporter=Organ(organ_id=outbox["organ_id"], name=outbox.get("reporter_name") or outbox["organ_id"]),
        response_for=ResponseFor(organ_id=ref["organ_id"], code=ref["code"], document_id=ref["document_id"],
                                 promulgation_date=date.fromisoformat(issued) if issued else None),
        status_code=outbox["code"], description=description,
        timestamp=datetime.fromisoformat(outbox["reported_at"].replace("Z", "+00:00")))


def check_status_package(outbox: dict[str, Any]) -> str | None:
    """None when the outbox item's package can be built; else the reason code (the EdxmlError's, e.g.
    `invalid_text` for a control character, `invalid_value` for an empty DocumentId)."""
    try:
        status_package_bytes(outbox)
    except EdxmlError as exc:
        return exc.code
    except (KeyError, TypeError, ValueError, AttributeError):
        return "status_unbuildable"
    return None


def send_status(client: AxisSender, outbox: dict[str, Any], store: OutboxRepository,
                counts: Counter[str] | None = None) -> bool:
    """Send one outbox item (sendEdoc messagetype=status to the document's sender); True when the axis took it.

    Transient failures leave it for the next poll; a business error (the axis refuses the package or the
    recipient) stops the retries and lists it for an administrator.
    """
    counts = counts if counts is not None else Counter()
    token = store.lease_outbox(outbox)
    if token is None:
        return False
    try:
        data = status_package_bytes(outbox)
    except Exception as exc:  # it can never be sent: say why, list it, and let the others go
        store.fail_outbox(outbox, token, "status_unbuildable")
        counts["status_unbuildable"] += 1
        logger.warning("status package cannot be built", extra={
            "inbox_id": outbox.get("inbox_id"), "code": outbox.get("code"), "error": type(exc).__name__,
            "error_code": getattr(exc, "code", None) if isinstance(exc, EdxmlError) else None})
        return False
    with tempfile.TemporaryDirectory(prefix="status-") as tmp:
        path = os.path.join(tmp, "status.edxml")
        with open(path, "wb") as fh:
            fh.write(data)
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


def send_pending_statuses(client: AxisSender, organ_id: str, store: OutboxRepository, counts: Counter[str]) -> None:
    """Retry every status package still waiting for `organ_id` (the axis was down, or a run died mid-way)."""
    for outbox in store.pending_outbox(organ_id):
        try:
            until = outbox.get("lease_until", 0)
            if isinstance(until, int | float) and until >= int(time.time()):
                continue
            send_status(client, outbox, store, counts)
        except Exception as exc:  # one broken item never blocks the outbox or the poll
            counts["status_send_errors"] += 1
            logger.warning("status package not sent", extra={
                "organ_id": organ_id, "sk": str(outbox.get("sk", ""))[:200], "error": type(exc).__name__})
