"""The request and answer models of every route, by name: what `chalicelib.api.openapi` turns into the OpenAPI 3.1
document (issue 9, "OpenAPI": request and response bodies from the same models).

Requests: `DocumentMetadata` (chalicelib.domain.metadata) is the model `POST /v1/documents` validates with; the
other bodies are still validated field by field in their use cases, with the codes clients branch on
(`reason_required`, `invalid_recipients`, `invalid_status_code`, `invalid_queue`, `invalid_document_ids`...); the
models here state the same rules for the document. Answers follow what the presenters return
(chalicelib.outbound.presenters, chalicelib.inbound.inbox.present, chalicelib.keys.certificates.key_view,
docs/contract.md): the fields every answer has are required, the others optional, and an answer may carry more
fields than listed (DESIGN.md: "add fields freely, never rename these").

Names, not classes, are what app.py passes (`body="RevokeRequest"`): app.py must not import pydantic at cold start.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from chalicelib.admin.trust_roots import AddTrustRoot
from chalicelib.api.admin_schemas import (
    Agency,
    AgencyChangeList,
    AgencyList,
    AuditList,
    AuditVerify,
    MonthlyReport,
    ReportTargets,
    ReportTargetsAnswer,
    SealUpload,
    SyncReport,
    TrustRoot,
    TrustRootDeleted,
    TrustRootList,
    YearlyReport,
)
from chalicelib.api.schemas_base import Answer as _Answer
from chalicelib.api.schemas_base import PresignedPost
from chalicelib.domain.agency_requests import AgencyCreate, AgencyPatch, SealConfirm, SyncRequest
from chalicelib.domain.metadata import DocumentMetadata

__all__ = ["MODELS", "ErrorAnswer"]

_OrganId = Field(pattern=r"^[0-9A-Z.]{1,64}$", description="mã định danh cơ quan (QCVN 102:2016), e.g. 000.00.01.H62")




# -- errors ------------------------------------------------------------------------------------------------------
class ErrorDetail(BaseModel):
    code: str = Field(description="stable snake_case code (docs/error-codes.md)")
    message: str = Field(description="Vietnamese, for people")
    details: dict[str, Any] = Field(description="what the code needs to be acted on")


class ErrorAnswer(BaseModel):
    """Every refusal: `{"error": {"code", "message", "details"}}` (DESIGN.md, API)."""

    error: ErrorDetail


# -- requests ----------------------------------------------------------------------------------------------------
class RevokeRequest(BaseModel):
    """Thu hồi văn bản: the reason the recipients' clerks read (required)."""

    reason: str = Field(min_length=1, max_length=2000, description="lý do thu hồi")


class UpdateRecipientsRequest(BaseModel):
    """Cập nhật nơi nhận: identifier codes added and/or removed, and the reason."""

    recipients_added: list[str] = Field(default_factory=list, max_length=100)
    recipients_removed: list[str] = Field(default_factory=list, max_length=100)
    reason: str = Field(min_length=1, max_length=2000)


class InboxStatusRequest(BaseModel):
    """A clerk's status report on an inbox item (02 needs a reason: NĐ 30/2020 Art. 21(2))."""

    code: Literal["02", "03", "04", "05", "06"]
    reason: str | None = Field(default=None, max_length=2000)


class VerifyRequest(BaseModel):
    """`POST /v1/verify` by reference: one of `document_id` (an own upload) or `inbox_id` (an inbox item)."""

    document_id: str | None = None
    inbox_id: str | None = None
    attachment: int = Field(default=0, ge=0, description="which PDF of the inbox item")


class Pkcs11Key(BaseModel):
    """A key on an HSM token, named by labels (the PIN never: its Secrets Manager secret's name)."""

    token_label: str | None = None
    key_label: str | None = None
    key_id_hex: str | None = None
    module_path: str | None = None
    pin_secret: str | None = None


class CsrSubject(BaseModel):
    """Fields of a CSR's subject that an admin may override (defaults from the agency)."""

    common_name: str | None = None
    organization_name: str | None = None
    organizational_unit_name: str | None = None
    locality_name: str | None = None
    state_or_province_name: str | None = None
    country_name: str | None = None
    serial_number: str | None = None
    email_address: str | None = None


class CreateKeyRequest(BaseModel):
    """A new KMS key for a served agency, or an existing PKCS#11 key registered (`backend: "pkcs11"`)."""

    organ_id: str = _OrganId
    backend: Literal["kms", "pkcs11"] = "kms"
    pkcs11: Pkcs11Key | None = None
    key_uri: str | None = Field(default=None, description="RFC 7512 pkcs11: URI, instead of `pkcs11`")
    subject: CsrSubject | None = None


class CsrRequest(BaseModel):
    subject: CsrSubject | None = None


class CertificateRequest(BaseModel):
    """The certificate the CA issued for the key, and the chain up to a trust root (PEM)."""

    certificate_pem: str
    chain_pem: str | None = None


class RedriveRequest(BaseModel):
    queue: Literal["dispatch", "upload"]
    document_ids: list[str] | None = Field(default=None, min_length=1, max_length=100,
                                           description="only the messages of these documents (UUIDs)")


class RetryRequest(BaseModel):
    resend_unconfirmed: bool = Field(default=False, description="the admin checked the packages are NOT on the axis")


# -- answers -----------------------------------------------------------------------------------------------------
class Health(_Answer):
    status: Literal["ok"]
    stage: str




class AttachmentUpload(PresignedPost):
    index: int
    name: str


class CreatedDocument(_Answer):
    document_id: str
    state: Literal["AWAITING_UPLOAD"]
    upload: PresignedPost
    attachment_uploads: list[AttachmentUpload] | None = None


class TimelineEntry(_Answer):
    state: str
    at: str


class Delivery(_Answer):
    organ_id: str
    status: str
    updated_at: str
    axis_doc_id: str | None = None
    history: list[dict[str, Any]]


class Amendment(_Answer):
    amendment_id: str | None
    kind: str | None
    status: str | None


class Document(_Answer):
    """A document's record as `GET /v1/documents/{id}` shows it (docs/contract.md#document-detail)."""

    document_id: str
    organ_id: str
    state: str
    metadata: dict[str, Any]
    created_at: str
    updated_at: str
    reason: str | None = None
    timeline: list[TimelineEntry] | None = None
    deliveries: list[Delivery] | None = None
    amendments: list[Amendment] | None = None


class DocumentList(_Answer):
    items: list[Document]
    next: str | None = Field(default=None, description="opaque cursor of the next page (`?cursor=`)")


class AmendmentAnswer(Document):
    amendment: Amendment


class Download(_Answer):
    url: str
    expires_at: str


class SignatureReport(_Answer):
    field: str | None = None
    signer_subject: str | None = None
    intact: bool | None = None
    valid: bool | None = None
    trusted: bool | None = None
    pades_level: str | None = None


class VerifyReport(_Answer):
    signatures: list[SignatureReport]


class InboxItem(_Answer):
    inbox_id: str
    from_organ_id: str | None
    number: str | None
    notation: str | None
    subject: str | None
    received_at: str | None
    status: str | None
    revoked: bool


class InboxList(_Answer):
    items: list[InboxItem]
    next: str | None = None


class InboundIssueList(_Answer):
    items: list[dict[str, Any]]
    next: str | None = None


class Key(_Answer):
    organ_id: str
    key_ref: str
    backend: str
    key_id: str
    state: str
    not_after: str | None
    days_left: int | None


class KeyList(_Answer):
    items: list[Key]


class Csr(_Answer):
    organ_id: str
    key_ref: str
    csr_pem: str
    subject: dict[str, Any]


class Rotation(_Answer):
    key: Key
    csr_pem: str
    next: list[str]


class DeadLetter(_Answer):
    queue: str
    message_id: str
    receive_count: int
    dead_lettered_at: str
    document_id: str | None


class DeadLetterList(_Answer):
    items: list[DeadLetter]
    truncated: bool


class Redrive(_Answer):
    queue: str
    redriven: list[dict[str, Any]]
    failed: list[dict[str, Any]]
    truncated: bool
    not_found: list[str]


class Retry(_Answer):
    document_id: str
    state: str | None


class OpenApiDocument(_Answer):
    openapi: str
    info: dict[str, Any]
    paths: dict[str, Any]


#: Every model a route may name, by its name.
MODELS: dict[str, type[BaseModel]] = {m.__name__: m for m in (
    DocumentMetadata, RevokeRequest, UpdateRecipientsRequest, InboxStatusRequest, VerifyRequest, CreateKeyRequest,
    CsrRequest, CertificateRequest, RedriveRequest, RetryRequest,
    Health, CreatedDocument, Document, DocumentList, AmendmentAnswer, Download, VerifyReport, InboxItem, InboxList,
    InboundIssueList, Key, KeyList, Csr, Rotation, DeadLetterList, Redrive, Retry, OpenApiDocument, ErrorAnswer,
    AgencyCreate, AgencyPatch, SealConfirm, SyncRequest, Agency, AgencyList, SealUpload, SyncReport, AgencyChangeList,
    ReportTargets, MonthlyReport, YearlyReport, ReportTargetsAnswer,
    AddTrustRoot, AuditList, AuditVerify, TrustRoot, TrustRootList, TrustRootDeleted,
)}
