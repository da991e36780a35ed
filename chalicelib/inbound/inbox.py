"""Agency-facing use cases on inbound documents: the inbox, one item (metadata, the signatures' verification report,
short-lived download links), and the clerk's report back to the sender (03 đã tiếp nhận, 02 từ chối with a reason,
04 phân công, 05 đang xử lý, 06 hoàn thành), sent as a status package through the axis.

Tenant isolation as for documents: every read starts from the caller's organ_id and another agency's item answers
404 (not 403), so ids cannot be probed; only the recipient agency itself reports statuses on an item.

The clerk's report is recorded first, together with its package in the outbox (one transaction), then sent at once;
if the axis does not take it now, `poll_axis` retries it every minute, and the item shows it as `pending`.

The use cases talk to ports (`chalicelib.domain.inbound_ports`), gathered in `InboxPorts`: app.py calls them with
none and they take the adapters' per-container factories (`default_ports()`); unit tests hand in-memory twins.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from chalicelib.adapters.agency_registry import AgencyRegistry
from chalicelib.adapters.axis.client import AxisClient
from chalicelib.adapters.axis.credentials import axis_credentials, shared_pool
from chalicelib.adapters.axis.errors import AxisError
from chalicelib.adapters.dynamo import ConditionFailed
from chalicelib.adapters.inbound_store import inbound_store
from chalicelib.adapters.objects import get_objects
from chalicelib.core.clock import now_iso
from chalicelib.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from chalicelib.core.log import logger
from chalicelib.core.settings import DOWNLOAD_URL_TTL_SECONDS
from chalicelib.domain import axis_statuses
from chalicelib.domain.caller import Caller
from chalicelib.domain.inbound_ports import AgencyDirectory, AxisSender, DownloadLinks, InboxRepository
from chalicelib.domain.links import expires_at
from chalicelib.domain.paging import page_limit
from chalicelib.domain.text import TextRule, body_text
from chalicelib.inbound.outbox import check_status_package, outbox_item, send_status

__all__ = ["API_AXIS_TIMEOUT_SECONDS", "InboxPorts", "api_axis_client", "default_ports", "get_item", "get_own_item",
           "list_issues", "list_items", "present", "report_status"]

#: The API sends the clerk's status at once but must answer within its own timeout (30 s): a slow axis only
#: delays the package, which stays in the outbox for the next poll.
API_AXIS_TIMEOUT_SECONDS = 8.0

#: Fields of an inbox item on the wire, in lists and in the detail (docs/contract.md#inbox-items: never rename these).
_LIST_FIELDS = ("inbox_id", "from_organ_id", "from_name", "number", "notation", "subject", "type_name", "issued_on",
                "received_at", "status", "status_code", "revoked", "verification_summary", "priority",
                "arrival_number", "arrival_year")  # số đến (issue 12; None on items filed before it)
_DETAIL_FIELDS = ("edxml_document_id", "place", "signer", "due_date", "steering_type", "paper", "to_places",
                  "updated_at", "warnings", "verification_reasons")
#: What revocations, updates and replacements recorded on the item (chalicelib.inbound.amendments), shown when set.
_AMENDMENT_FIELDS = ("revocation", "replaced_by", "replaced_at", "removed_as_recipient", "business_doc_type")
_AMENDMENT_DETAIL_FIELDS = ("updates", "recipients", "replaces")


@dataclass(frozen=True)
class InboxPorts:
    """What the inbox use cases need from the outside world."""

    store: InboxRepository
    agencies: AgencyDirectory
    links: DownloadLinks
    #: An axis client speaking as the given agency, quick enough for an API request; PermissionError without
    #: credentials for it.
    axis: Callable[[str], AxisSender]


def api_axis_client(organ_id: str) -> AxisSender:
    """An axis client for `organ_id` whose timeout fits inside the API's own (`API_AXIS_TIMEOUT_SECONDS`)."""
    creds = axis_credentials()
    secret = creds.get("systems", {}).get(organ_id)
    if not secret:
        raise PermissionError("no axis credentials")
    timeout = min(API_AXIS_TIMEOUT_SECONDS, float(creds.get("timeout", 30)))
    return AxisClient(creds["endpoint"], organ_id, secret, timeout=timeout, http=shared_pool())  # one pool


def default_ports() -> InboxPorts:
    """The adapters of this container (each built once by its factory)."""
    return InboxPorts(store=inbound_store(), agencies=AgencyRegistry(), links=get_objects(), axis=api_axis_client)


def _not_found() -> NotFound:
    return NotFound("Không tìm thấy văn bản đến.", code="inbox_item_not_found")


def _own_item(store: InboxRepository, caller: Caller, inbox_id: str, *, write: bool = False) -> dict[str, Any]:
    """The item if it is the caller's agency's (admins may read any, never act for an agency)."""
    try:
        uuid.UUID(inbox_id)
    except ValueError as exc:
        raise _not_found() from exc
    item = store.get_inbox_item(inbox_id)
    if item is None or (item["organ_id"] != caller.organ_id and (write or not caller.is_admin)):
        raise _not_found()
    return item


def get_own_item(caller: Caller, inbox_id: str, ports: InboxPorts | None = None) -> dict[str, Any]:
    """The raw inbox item if the caller may read it (other use cases, e.g. `/v1/verify`); 404 otherwise."""
    return _own_item((ports or default_ports()).store, caller, inbox_id)


def present(item: dict[str, Any], *, detail: bool = False, links: DownloadLinks | None = None) -> dict[str, Any]:
    """The wire shape of an inbox item; the detail adds metadata, attachments with their verification report and a
    download link each, and the status history with whether each report has reached the axis."""
    out = {name: item.get(name) for name in _LIST_FIELDS}
    out["revoked"] = bool(item.get("revoked"))
    out.update({name: item[name] for name in _AMENDMENT_FIELDS if item.get(name) not in (None, "", 0)})
    if not detail:
        return out
    out.update({name: item.get(name) for name in _DETAIL_FIELDS})
    out.update({name: item[name] for name in _AMENDMENT_DETAIL_FIELDS if item.get(name)})
    sent = item.get("sent_statuses") or {}
    out["status_history"] = [
        {**entry, **({"sent_at": sent[entry["code"]]["sent_at"], "axis_doc_id": sent[entry["code"]]["axis_doc_id"]}
                     if entry["code"] in sent else {"pending": True})}
        for entry in item.get("status_history", [])
    ]
    links = links or default_ports().links
    expires = expires_at(DOWNLOAD_URL_TTL_SECONDS)
    attachments = []
    for att in item.get("attachments", []):
        disposition = f"attachment; filename*=UTF-8''{quote(att['name'] or 'attachment', safe='')}"
        url = links.presigned_get(att["key"], disposition=disposition, expires=DOWNLOAD_URL_TTL_SECONDS,
                                  content_type="application/pdf" if att.get("is_pdf") else "application/octet-stream")
        shown = {"name": att["name"], "content_type": att.get("content_type"), "size": att.get("size"),
                 "sha256": att.get("sha256"), "verification": att.get("verification"),
                 "download": {"url": url, "expires_at": expires}}
        if att.get("verification_summary"):  # why the item is (not) `valid`, per file (issue 8)
            shown.update(verification_summary=att["verification_summary"],
                         verification_reasons=att.get("verification_reasons") or [])
        report_key = (att.get("verification") or {}).get("report_key")
        if report_key:  # a report too large for the record: kept in S3 beside the file
            shown["verification_report"] = {"url": links.presigned_get(
                report_key, content_type="application/json", expires=DOWNLOAD_URL_TTL_SECONDS), "expires_at": expires}
        attachments.append(shown)
    out["attachments"] = attachments
    return out


def list_items(caller: Caller, *, limit: str | None, cursor: str | None,
               ports: InboxPorts | None = None) -> dict[str, Any]:
    """`GET /v1/inbox`: the caller's agency's inbound documents, newest first."""
    items, nxt = (ports or default_ports()).store.list_inbox(caller.organ_id, limit=page_limit(limit), cursor=cursor)
    body: dict[str, Any] = {"items": [present(i) for i in items]}
    if nxt:
        body["next"] = nxt
    return body


def get_item(caller: Caller, inbox_id: str, ports: InboxPorts | None = None) -> dict[str, Any]:
    """`GET /v1/inbox/{id}`."""
    ports = ports or default_ports()
    return present(_own_item(ports.store, caller, inbox_id), detail=True, links=ports.links)


def report_status(caller: Caller, inbox_id: str, body: Any, ports: InboxPorts | None = None) -> dict[str, Any]:
    """`POST /v1/inbox/{id}/status` {"code", "reason"?}: record the clerk's report and send it to the sender."""
    ports = ports or default_ports()
    store = ports.store
    item = _own_item(store, caller, inbox_id, write=True)
    # The clerk's reason goes into a status package (XML 1.0): checked and in NFC first (chalicelib.domain.text).
    code, reason = axis_statuses.validate_clerk_report(body_text(body, {"reason": TextRule(multiline=True)}))
    if item.get("revoked"):
        raise Conflict("Văn bản đã bị thu hồi, không báo trạng thái được nữa.", code="inbox_item_revoked")
    if not axis_statuses.clerk_status_allowed(item["status_code"], code):
        raise Conflict("Không thể chuyển sang trạng thái này từ trạng thái hiện tại.", code="status_not_allowed",
                       details={"current": item["status_code"], "requested": code})
    at = now_iso()
    entry = {"status": axis_statuses.status_name(code), "code": code, "meaning": axis_statuses.status_meaning(code),
             "at": at, "by": caller.username, **({"reason": reason} if reason else {})}
    agency = ports.agencies.get(item["organ_id"])
    outbox = outbox_item(item, code, reason, at, reporter_name=agency.name if agency else item["organ_id"])
    problem = check_status_package(outbox)  # built before anything is recorded: a package that cannot be sent
    if problem is not None:                 # must never wait in the outbox (issue 8)
        raise ValidationFailed("Không lập được gói tin trạng thái: lý do chứa ký tự không hợp lệ hoặc văn bản "
                               "thiếu thông tin.", code="status_package_invalid", details={"reason": problem})
    try:
        store.record_clerk_status(item, entry, outbox)
    except ConditionFailed as exc:
        raise Conflict("Trạng thái văn bản vừa thay đổi, vui lòng tải lại.", code="status_changed") from exc
    _send_now(outbox, ports)
    return present(store.get_inbox_item(inbox_id) or item, detail=True, links=ports.links)


def _send_now(outbox: dict[str, Any], ports: InboxPorts) -> None:
    """Try the axis now with a short timeout; whatever fails stays in the outbox for `poll_axis`."""
    try:
        send_status(ports.axis(outbox["organ_id"]), outbox, ports.store)
    except (AxisError, PermissionError, OSError) as exc:
        logger.warning("status package left in the outbox", extra={
            "inbox_id": outbox["inbox_id"], "code": outbox["code"], "error": type(exc).__name__})


def list_issues(caller: Caller, *, limit: str | None, cursor: str | None,
                ports: InboxPorts | None = None) -> dict[str, Any]:
    """`GET /v1/admin/inbound-issues` (admins): envelopes refused or not matched, and status packages the axis
    refused to carry, newest first, so nothing the axis brought in is lost silently."""
    if not caller.is_admin:
        raise Forbidden("Chỉ quản trị viên được xem mục này.", code="admin_only")
    items, nxt = (ports or default_ports()).store.list_issues(limit=page_limit(limit), cursor=cursor)
    fields = ("axis_doc_id", "organ_id", "from", "outcome", "reason", "details", "received_at", "raw_key", "ack",
              "acked_at", "inbox_id", "code", "to", "last_error", "failed_at")
    body: dict[str, Any] = {"items": [{k: i[k] for k in fields if k in i} for i in items]}
    if nxt:
        body["next"] = nxt
    return body
