"""edoc-gateway: the table of contents. Routes and event handlers only, each a few lines calling chalicelib.

Each handler imports its use-case module inside itself: each Lambda loads only its own use case, so its cold start
pays only for what it runs (boto3, pydantic, pyHanko, PyJWT; docs/contract.md#cold-start: importing this module ≤ 300
ms). Authentication and the mapping of errors to HTTP answers happen once, in `chalicelib.api.http`.
"""

from __future__ import annotations

import functools
from typing import Any

from chalice import Chalice, Rate

from chalicelib.api.events import sqs_batch
from chalicelib.api.http import NO_BODY, PDF_BODY, Param, Routes
from chalicelib.core import settings
from chalicelib.domain.states import ALL_STATES

app = Chalice(app_name="edoc-gateway")
app.api.cors = False
app.api.binary_types.append("application/pdf")  # POST /v1/verify and /v1/documents/draft take the PDF as the body
# GET /v1/admin/reports/monthly?format=xlsx answers a workbook (chalicelib.api.files: Accept must name it)
app.api.binary_types.append("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")



def _check_body(model: str, body: object) -> None:
    """A request body through its route's model (chalicelib.api.request_bodies; issue 9, "Uniform errors")."""
    from chalicelib.api.request_bodies import validated  # lazy: pydantic, off every Lambda's cold start

    validated(model, body)


routes = Routes(app, check_body=_check_body)
api, _body, _query = routes.route, routes.body, routes.query

# Query parameters as the OpenAPI document shows them (chalicelib.api.openapi); the use cases check them.
LIMIT = Param("limit", "số mục mỗi trang (1–200, mặc định 50)", {"type": "integer", "minimum": 1, "maximum": 200})
CURSOR = Param("cursor", "con trỏ trang tiếp theo (`next` của trang trước)")
STATE = Param("state", "lọc theo trạng thái", {"type": "string", "enum": sorted(ALL_STATES)})
PART = Param("part", "phụ lục `att-<n>` (mặc định: văn bản chính)", {"type": "string", "pattern": "^att-[0-9]+$"})
ORGAN_ID = Param("organ_id", "mã định danh cơ quan")
QUEUE = Param("queue", "hàng đợi", {"type": "string", "enum": ["dispatch", "upload", "webhooks"]})
Q = Param("q", "tìm theo tên, không phân biệt dấu và hoa thường (\"so tai chinh\")")
LEVEL = Param("level", "cấp của mã định danh", {"type": "string", "enum": ["1", "2", "3", "4"]})
PARENT = Param("parent", "mã định danh cơ quan cấp trên")
SERVED = Param("served", "cổng phục vụ", {"type": "string", "enum": ["true", "false"]})
ACTIVE = Param("active", "còn hoạt động", {"type": "string", "enum": ["true", "false"]})
SYNC_ID = Param("sync_id", "mã lần đồng bộ")
MONTH = Param("month", "tháng báo cáo (YYYY-MM, giờ Việt Nam)", {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"})
_DAY = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"}
AUDIT_QUERY = (Param("actor", "tên đăng nhập người thực hiện"), Param("organ_id", "cơ quan của người thực hiện"),
               Param("resource_id", "mã đối tượng (văn bản, khóa, chứng thư...)"),
               Param("from", "từ ngày (YYYY-MM-DD, giờ Việt Nam)", _DAY), Param("to", "đến ngày (YYYY-MM-DD)", _DAY),
               LIMIT, CURSOR)


# -- health --------------------------------------------------------------------------------------------------
@api("/v1/health", auth=False, answer="Health")
def health() -> dict:
    return {"status": "ok", "stage": settings.get_settings().stage}


@api("/v1/openapi.json", auth=False, answer="OpenApiDocument")
def openapi_document() -> dict:
    """The OpenAPI 3.1 document of this API (docs/openapi.json), without a token."""
    from chalicelib.api import openapi

    return openapi.document(routes.operations)


# -- agency: outgoing documents -----------------------------------------------------------------------------
@api("/v1/documents", methods=["POST"], status=201, body="DocumentMetadata", answer="CreatedDocument")
def create_document(caller: Any) -> dict:
    from chalicelib.outbound import documents

    return documents.create_document(caller, _body())


@api("/v1/documents", answer="DocumentList", query=(LIMIT, CURSOR, STATE))
def list_documents(caller: Any) -> dict:
    from chalicelib.outbound import documents

    return documents.list_documents(caller, limit=_query("limit"), cursor=_query("cursor"), state=_query("state"))


@api("/v1/documents/{document_id}", answer="Document")
def get_document(caller: Any, document_id: str) -> dict:
    from chalicelib.outbound import documents

    return documents.get_document(caller, document_id)


@api("/v1/documents/{document_id}/signed", answer="Download", query=(PART,))
def get_signed_document(caller: Any, document_id: str) -> dict:
    from chalicelib.outbound import documents

    return documents.signed_download(caller, document_id, part=_query("part"))


# -- agency: revoke or change the recipients of a sent document (outbound.amendments; packages go out async)
@api("/v1/documents/{document_id}/revoke", methods=["POST"], status=202, body="RevokeRequest",
     answer="AmendmentAnswer")
def revoke_document(caller: Any, document_id: str) -> dict:
    from chalicelib.outbound import amendments

    return amendments.revoke(caller, document_id, _body())


@api("/v1/documents/{document_id}/update", methods=["POST"], status=202, body="UpdateRecipientsRequest",
     answer="AmendmentAnswer")
def update_document_recipients(caller: Any, document_id: str) -> dict:
    from chalicelib.outbound import amendments

    return amendments.update_recipients(caller, document_id, _body())


# -- agency: the registry's active agencies by name or code, to pick recipients (issue 10; admins: /v1/admin/agencies)
@api("/v1/agencies", answer="Directory", query=(Q, Param("limit", "số mục (1–200, mặc định 20)",
                                                          {"type": "integer", "minimum": 1, "maximum": 200})))
def list_directory(caller: Any) -> dict:
    from chalicelib.outbound import directory

    return directory.directory(caller, q=_query("q"), limit=_query("limit"))


# -- agency: the metadata read from the document itself (issue 12) -------------------------------------------------
@api("/v1/documents/draft", methods=["POST"], content_types=["application/pdf"], body=PDF_BODY,
     answer="DocumentDraft", audit=False)
def draft_document(caller: Any) -> dict:
    """Read the metadata of POST /v1/documents from the PDF itself (NĐ 30 layout)."""
    from chalicelib.outbound.draft import read_draft

    return read_draft(caller, app.current_request.raw_body)


# -- agency: a report on any PDF's signatures ---------------------------------------------------------------------
@api("/v1/verify", methods=["POST"], content_types=["application/pdf", "application/json"], body="VerifyRequest",
     answer="VerifyReport")
def verify(caller: Any) -> dict:
    from chalicelib.api.verify import verify_body

    request = app.current_request
    return verify_body(caller, request.raw_body, request.headers.get("content-type", "application/json"))


# -- events --------------------------------------------------------------------------------------------------
@app.on_sqs_message(queue=settings.UPLOAD_QUEUE, batch_size=1, maximum_concurrency=settings.SIGN_MAX_CONCURRENCY)
def sign_document(event: Any) -> dict:
    from chalicelib.outbound.sign_upload import handle_upload_message

    return sqs_batch(event, handle_upload_message)


@app.on_sqs_message(queue=settings.DISPATCH_QUEUE, batch_size=10,
                    maximum_concurrency=settings.DISPATCH_MAX_CONCURRENCY)
def dispatch_document(event: Any) -> dict:
    from chalicelib.outbound import dispatch_queue

    remaining_ms = event.context.get_remaining_time_in_millis if event.context is not None else None
    return sqs_batch(event, functools.partial(dispatch_queue.handle_message, remaining_ms=remaining_ms),
                  on_failure=dispatch_queue.delay_redelivery)


# -- webhooks: fan out each recorded event to its agency's subscriptions, deliver it signed, retry, dead-letter ----
@app.on_sqs_message(queue=settings.WEBHOOKS_QUEUE, batch_size=10,
                    maximum_concurrency=settings.WEBHOOKS_MAX_CONCURRENCY)
def deliver_webhooks(event: Any) -> dict:
    from chalicelib.webhooks.delivery import handle_batch

    return handle_batch(event)


# -- the axis, inbound: statuses on our documents, documents for our agencies --------------------------------------
@app.schedule(Rate(1, unit=Rate.MINUTES))
def poll_axis(event: Any) -> dict:
    from chalicelib.inbound.poll import poll_axis as poll
    from chalicelib.outbound.amendments import requeue_stale

    context = event.context
    return poll(remaining_ms=context.get_remaining_time_in_millis if context is not None else None,
                requeue_amendments=requeue_stale)


# -- nothing stays in limbo: expire, retry or fail records overdue in AWAITING_UPLOAD, UPLOADED, SIGNED -------------
@app.schedule(Rate(5, unit=Rate.MINUTES))
def sweep_documents(event: Any) -> dict:
    from chalicelib.outbound.sweep import sweep_documents as sweep

    context = event.context
    return sweep(remaining_ms=context.get_remaining_time_in_millis if context is not None else None)


# -- agency: the registers (sổ văn bản đi / đến, issue 12; an admin names the agency) -------------------------------
REGISTER_QUERY = (Param("year", "năm của sổ (mặc định: năm nay, giờ Việt Nam)", {"type": "string",
                                                                               "pattern": "^[0-9]{4}$"}),
                  ORGAN_ID, LIMIT, CURSOR, Param("format", "json (mặc định) hoặc xlsx: cả sổ của năm trong một tệp",
                                                 {"type": "string", "enum": ["json"]}))


@api("/v1/registers/outgoing", answer="RegisterPage", query=REGISTER_QUERY)
def outgoing_register(caller: Any) -> Any:
    from chalicelib.api.files import register_answer

    return register_answer(caller, "outgoing", _query)


@api("/v1/registers/incoming", answer="RegisterPage", query=REGISTER_QUERY)
def incoming_register(caller: Any) -> Any:
    from chalicelib.api.files import register_answer

    return register_answer(caller, "incoming", _query)


# -- agency: inbound documents (inbox) ----------------------------------------------------------------------------
@api("/v1/inbox", answer="InboxList", query=(LIMIT, CURSOR))
def list_inbox(caller: Any) -> dict:
    from chalicelib.inbound import inbox

    return inbox.list_items(caller, limit=_query("limit"), cursor=_query("cursor"))


@api("/v1/inbox/{inbox_id}", answer="InboxItem")
def get_inbox_item(caller: Any, inbox_id: str) -> dict:
    from chalicelib.inbound import inbox

    return inbox.get_item(caller, inbox_id)


@api("/v1/inbox/{inbox_id}/status", methods=["POST"], body="InboxStatusRequest", answer="InboxItem")
def report_inbox_status(caller: Any, inbox_id: str) -> dict:
    from chalicelib.inbound import inbox

    return inbox.report_status(caller, inbox_id, _body())


# -- admin: what the axis brought in that needs a person ----------------------------------------------------------
@api("/v1/admin/inbound-issues", admin=True, answer="InboundIssueList", query=(LIMIT, CURSOR))
def list_inbound_issues(caller: Any) -> dict:
    from chalicelib.inbound import inbox

    return inbox.list_issues(caller, limit=_query("limit"), cursor=_query("cursor"))


# -- admin: organisation signing keys (create, CSR, certificate chain, activate, rotate, list) ------------------------
@api("/v1/admin/keys", admin=True, answer="KeyList", query=(ORGAN_ID,))
def admin_list_keys(caller: Any) -> dict:
    from chalicelib.admin import keys

    return keys.list_keys(caller, _query("organ_id"))


@api("/v1/admin/keys", methods=["POST"], status=201, admin=True, body="CreateKeyRequest", answer="Key")
def admin_create_key(caller: Any) -> dict:
    from chalicelib.admin import keys

    return keys.create_key(caller, _body())


@api("/v1/admin/keys/rotate", methods=["POST"], status=201, admin=True, body="CreateKeyRequest",
     answer="Rotation")
def admin_rotate_key(caller: Any) -> dict:
    from chalicelib.admin import keys

    return keys.rotate(caller, _body())


@api("/v1/admin/keys/{organ_id}/{key_ref}", admin=True, answer="Key")
def admin_get_key(caller: Any, organ_id: str, key_ref: str) -> dict:
    from chalicelib.admin import keys

    return keys.get_key(caller, organ_id, key_ref)


@api("/v1/admin/keys/{organ_id}/{key_ref}/csr", methods=["POST"], admin=True, body="CsrRequest", answer="Csr")
def admin_key_csr(caller: Any, organ_id: str, key_ref: str) -> dict:
    from chalicelib.admin import keys

    return keys.make_csr(caller, organ_id, key_ref, _body())


@api("/v1/admin/keys/{organ_id}/{key_ref}/certificate", methods=["PUT"], admin=True, body="CertificateRequest",
     answer="Key")
def admin_key_certificate(caller: Any, organ_id: str, key_ref: str) -> dict:
    from chalicelib.admin import keys

    return keys.upload_certificate(caller, organ_id, key_ref, _body())


@api("/v1/admin/keys/{organ_id}/{key_ref}/activate", methods=["POST"], admin=True, body=NO_BODY, answer="Key")
def admin_activate_key(caller: Any, organ_id: str, key_ref: str) -> dict:
    from chalicelib.admin import keys

    return keys.activate(caller, organ_id, key_ref)


# -- admin: agency registry (register, change, deactivate, seal; synced daily from the axis directory) --------------
@api("/v1/admin/agencies", admin=True, answer="AgencyList",
     query=(Q, LEVEL, PARENT, SERVED, ACTIVE, LIMIT, CURSOR))
def admin_list_agencies(caller: Any) -> dict:
    from chalicelib.admin import agencies

    return agencies.list_agencies(caller, q=_query("q"), level=_query("level"), parent=_query("parent"),
                                  served=_query("served"), active=_query("active"), limit=_query("limit"),
                                  cursor=_query("cursor"))


@api("/v1/admin/agencies", methods=["POST"], status=201, admin=True, body="AgencyCreate", answer="Agency")
def admin_create_agency(caller: Any) -> dict:
    from chalicelib.admin import agencies

    return agencies.create_agency(caller, _body())


@api("/v1/admin/agencies/sync", methods=["POST"], status=202, admin=True, body="SyncRequest", answer="SyncReport")
def admin_sync_agencies(caller: Any) -> dict:
    from chalicelib.admin import agency_sync

    return agency_sync.run_sync(caller, _body())


@api("/v1/admin/agencies/changes", admin=True, answer="AgencyChangeList", query=(ORGAN_ID, SYNC_ID, LIMIT, CURSOR))
def admin_agency_changes(caller: Any) -> dict:
    from chalicelib.admin import agency_sync

    return agency_sync.list_changes(caller, organ_id=_query("organ_id"), sync_id=_query("sync_id"),
                                    limit=_query("limit"), cursor=_query("cursor"))


@api("/v1/admin/agencies/{organ_id}", admin=True, answer="Agency")
def admin_get_agency(caller: Any, organ_id: str) -> dict:
    from chalicelib.admin import agencies

    return agencies.get_agency(caller, organ_id)


@api("/v1/admin/agencies/{organ_id}", methods=["PATCH"], admin=True, body="AgencyPatch", answer="Agency")
def admin_update_agency(caller: Any, organ_id: str) -> dict:
    from chalicelib.admin import agencies

    return agencies.update_agency(caller, organ_id, _body())


@api("/v1/admin/agencies/{organ_id}/seal", methods=["POST"], admin=True, body=NO_BODY, answer="SealUpload")
def admin_seal_upload(caller: Any, organ_id: str) -> dict:
    from chalicelib.admin import agencies

    return agencies.seal_upload(caller, organ_id)


@api("/v1/admin/agencies/{organ_id}/seal", methods=["PUT"], admin=True, body="SealConfirm", answer="Agency")
def admin_confirm_seal(caller: Any, organ_id: str) -> dict:
    from chalicelib.admin import agencies

    return agencies.confirm_seal(caller, organ_id, _body())


@app.schedule(Rate(1, unit=Rate.DAYS))
def sync_agencies(event: Any) -> dict:
    from chalicelib.admin.agency_sync import sync_registry

    return sync_registry(by="schedule")


# -- admin: dead letters and retries (dispatch resilience) ----------------------------------------------------------
@api("/v1/admin/dead-letters", admin=True, answer="DeadLetterList", query=(QUEUE,))
def admin_list_dead_letters(caller: Any) -> dict:
    from chalicelib.webhooks import deliveries  # dispatch's and upload's DLQs (outbound), and the webhooks DLQ

    return deliveries.list_dead_letters(caller, _query("queue"))


@api("/v1/admin/dead-letters/redrive", methods=["POST"], admin=True, body="RedriveRequest", answer="Redrive")
def admin_redrive_dead_letters(caller: Any) -> dict:
    from chalicelib.webhooks import deliveries

    return deliveries.redrive(caller, _body())


@api("/v1/admin/documents/{document_id}/retry", methods=["POST"], admin=True, body="RetryRequest", answer="Retry")
def admin_retry_document(caller: Any, document_id: str) -> dict:
    from chalicelib.outbound import dead_letters

    return dead_letters.retry_document(caller, document_id, _body())


# -- admin: search, revoke, reports (issue 9: find any agency's document, revoke for it, the province's KPIs) --------
@api("/v1/admin/documents", admin=True, answer="DocumentList", query=(
        ORGAN_ID, STATE, Param("recipient", "mã định danh cơ quan nhận"),
        Param("from", "từ ngày tạo (YYYY-MM-DD, giờ Việt Nam)", {"type": "string", "format": "date"}),
        Param("to", "đến ngày tạo (YYYY-MM-DD)", {"type": "string", "format": "date"}),
        Param("number", "số văn bản"), Param("notation", "ký hiệu"),
        Param("q", "từ trong trích yếu, không phân biệt dấu và hoa thường"), LIMIT, CURSOR))
def admin_search_documents(caller: Any) -> dict:
    from chalicelib.admin import search

    return search.search_documents(caller, {
        "organ_id": _query("organ_id"), "state": _query("state"), "recipient": _query("recipient"),
        "from": _query("from"), "to": _query("to"), "number": _query("number"), "notation": _query("notation"),
        "q": _query("q"), "limit": _query("limit"), "cursor": _query("cursor")})


@api("/v1/admin/documents/{document_id}/revoke", methods=["POST"], status=202, admin=True, body="RevokeRequest",
     answer="AmendmentAnswer")
def admin_revoke_document(caller: Any, document_id: str) -> dict:
    from chalicelib.admin import search

    return search.revoke_document(caller, document_id, _body())


@api("/v1/admin/reports/monthly", admin=True, answer="MonthlyReport", query=(MONTH, Param(
        "format", "json (mặc định); csv và xlsx trả về tệp, mô tả ở docs/contract.md#monthly-report",
        {"type": "string", "enum": ["json"]})))
def admin_monthly_report(caller: Any) -> Any:
    from chalicelib.api.files import monthly_report_answer

    return monthly_report_answer(caller, month=_query("month"), fmt=_query("format"))


@api("/v1/admin/reports/yearly", admin=True, answer="YearlyReport",
     query=(Param("year", "năm báo cáo", {"type": "string", "pattern": "^[0-9]{4}$"}),))
def admin_yearly_report(caller: Any) -> dict:
    from chalicelib.admin import reports

    return reports.yearly(caller, year=_query("year"))


@api("/v1/admin/reports/targets", admin=True, answer="ReportTargetsAnswer")
def admin_get_report_targets(caller: Any) -> dict:
    from chalicelib.admin import reports

    return reports.get_targets(caller)


@api("/v1/admin/reports/targets", methods=["PUT"], admin=True, body="ReportTargets", answer="ReportTargetsAnswer")
def admin_put_report_targets(caller: Any) -> dict:
    from chalicelib.admin import reports

    return reports.put_targets(caller, _body())
# -- admin: audit and trust roots (issue 9; every call audited at the edge, chalicelib.api.http) ---------------------
@api("/v1/admin/audit", admin=True, answer="AuditList", query=AUDIT_QUERY)
def admin_search_audit(caller: Any) -> dict:
    from chalicelib.admin import audit

    return audit.search(caller, actor=_query("actor"), organ_id=_query("organ_id"), resource_id=_query("resource_id"),
                        from_day=_query("from"), to_day=_query("to"), limit=_query("limit"), cursor=_query("cursor"))


@api("/v1/admin/audit/verify", admin=True, answer="AuditVerify", query=(Param("day", "ngày (YYYY-MM-DD)", _DAY),))
def admin_verify_audit(caller: Any) -> dict:
    from chalicelib.admin import audit

    return audit.verify_day(caller, _query("day"))


@api("/v1/admin/trust-roots", admin=True, answer="TrustRootList")
def admin_list_trust_roots(caller: Any) -> dict:
    from chalicelib.admin import trust_roots

    return trust_roots.list_roots(caller)


@api("/v1/admin/trust-roots", methods=["POST"], status=201, admin=True, body="AddTrustRoot", answer="TrustRoot")
def admin_add_trust_root(caller: Any) -> dict:
    from chalicelib.admin import trust_roots

    return trust_roots.add_root(caller, _body())


@api("/v1/admin/trust-roots/{fingerprint}", methods=["DELETE"], admin=True, body=NO_BODY, answer="TrustRootDeleted")
def admin_delete_trust_root(caller: Any, fingerprint: str) -> dict:
    from chalicelib.admin import trust_roots

    return trust_roots.delete_root(caller, fingerprint)


# -- agency: webhooks (issue 14; docs/contract.md#webhooks) ------------------------------------------------------------
@api("/v1/webhooks", methods=["POST"], status=201, body="WebhookCreate", answer="WebhookWithSecret")
def create_webhook(caller: Any) -> dict:
    from chalicelib.webhooks import subscriptions

    return subscriptions.create(caller, _body())


@api("/v1/webhooks", answer="WebhookList", query=(ORGAN_ID,))
def list_webhooks(caller: Any) -> dict:
    from chalicelib.webhooks import subscriptions

    return subscriptions.list_subscriptions(caller, _query("organ_id"))


@api("/v1/webhooks/{subscription_id}", answer="Webhook")
def get_webhook(caller: Any, subscription_id: str) -> dict:
    from chalicelib.webhooks import subscriptions

    return subscriptions.get(caller, subscription_id)


@api("/v1/webhooks/{subscription_id}", methods=["PATCH"], body="WebhookPatch", answer="Webhook")
def update_webhook(caller: Any, subscription_id: str) -> dict:
    from chalicelib.webhooks import subscriptions

    return subscriptions.update(caller, subscription_id, _body())


@api("/v1/webhooks/{subscription_id}", methods=["DELETE"], body=NO_BODY, answer="WebhookDeleted")
def delete_webhook(caller: Any, subscription_id: str) -> dict:
    from chalicelib.webhooks import subscriptions

    return subscriptions.delete(caller, subscription_id)


@api("/v1/webhooks/{subscription_id}/rotate-secret", methods=["POST"], body="RotateSecretRequest",
     answer="WebhookWithSecret")
def rotate_webhook_secret(caller: Any, subscription_id: str) -> dict:
    from chalicelib.webhooks import subscriptions

    return subscriptions.rotate_secret(caller, subscription_id, _body())


@api("/v1/webhooks/{subscription_id}/test", methods=["POST"], status=202, body=NO_BODY, answer="WebhookQueued")
def test_webhook(caller: Any, subscription_id: str) -> dict:
    from chalicelib.webhooks import deliveries

    return deliveries.send_test(caller, subscription_id)


@api("/v1/webhooks/{subscription_id}/deliveries", answer="WebhookDeliveryList", query=(LIMIT, CURSOR))
def list_webhook_deliveries(caller: Any, subscription_id: str) -> dict:
    from chalicelib.webhooks import deliveries

    return deliveries.list_deliveries(caller, subscription_id, limit=_query("limit"), cursor=_query("cursor"))


@api("/v1/admin/webhooks/{subscription_id}/redeliver", methods=["POST"], status=202, admin=True,
     body="RedeliverRequest", answer="WebhookQueued")
def admin_redeliver_webhook(caller: Any, subscription_id: str) -> dict:
    from chalicelib.webhooks import deliveries

    return deliveries.redeliver(caller, subscription_id, _body())
