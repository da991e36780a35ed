"""The request and answer models of every route, by name: what `chalicelib.api.openapi` turns into the OpenAPI 3.1
document (issue 9, "OpenAPI": request and response bodies from the same models).

Requests: every route's body goes through its model here at the edge (chalicelib.api.request_bodies, called by
chalicelib.api.http before the handler), a refusal answered with the codes clients branch on (`reason_required`,
`invalid_recipients`, `invalid_status_code`, `invalid_queue`, `invalid_document_ids`...: each field's
`x-error-code`); the use cases keep the checks no model can make (states, duplicates, the registry).
Answers follow what the presenters return
(chalicelib.outbound.presenters, chalicelib.inbound.inbox.present, chalicelib.keys.certificates.key_view,
docs/contract.md): the fields every answer has are required, the others optional, and an answer may carry more
fields than listed (DESIGN.md: "add fields freely, never rename these").

Names, not classes, are what app.py passes (`body="RevokeRequest"`): app.py must not import pydantic at cold start.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, Field, StrictBool, StrictInt, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

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
from chalicelib.api.draft_schemas import DocumentDraft
from chalicelib.api.schemas_base import Answer as _Answer
from chalicelib.api.schemas_base import PresignedPost
from chalicelib.api.webhook_schemas import MODELS as WEBHOOK_MODELS
from chalicelib.domain.agency_requests import AgencyCreate, AgencyPatch, SealConfirm, SyncRequest
from chalicelib.domain.metadata import DocumentMetadata
from chalicelib.domain.text import ClientText
from chalicelib.standards.identifiers import STRICT_PATTERN

__all__ = ["MODELS", "ErrorAnswer"]





# -- errors ------------------------------------------------------------------------------------------------------
class ErrorDetail(BaseModel):
    code: str = Field(description="stable snake_case code (docs/error-codes.md)")
    message: str = Field(description="Vietnamese, for people")
    details: dict[str, Any] = Field(description="what the code needs to be acted on")


class ErrorAnswer(BaseModel):
    """Every refusal: `{"error": {"code", "message", "details"}}` (DESIGN.md, API)."""

    error: ErrorDetail


# -- requests ----------------------------------------------------------------------------------------------------
# What each route's use case enforced field by field before issue 9, stated once: chalicelib.api.request_bodies runs
# every body through its model at the edge and answers a refusal with the field's `x-error-code` (module docstring
# there). Bounds are the ones enforced, no stricter: a reason is trimmed and cut to 1000 characters, not refused.
def _code(code: str, **field: Any) -> Any:
    """A field whose refusal answers `code` (chalicelib.api.request_bodies, rule 3)."""
    return Field(json_schema_extra={"x-error-code": code}, **field)


def _stripped(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _falsy_none(value: Any) -> Any:
    return value or None


_Reason = ClientText(min_len=1, multiline=True)
_Identifier = Annotated[str, BeforeValidator(_stripped), StringConstraints(pattern=STRICT_PATTERN.pattern)]
_Uuid = Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                                                 r"[0-9a-fA-F]{12}$")]


class RevokeRequest(BaseModel):
    """Thu hồi văn bản: the reason the recipients' clerks read (required; trimmed, cut to 1000 characters)."""

    reason: _Reason = _code("reason_required", description="lý do thu hồi")


class UpdateRecipientsRequest(BaseModel):
    """Cập nhật nơi nhận: identifier codes added and/or removed (at least one change), and the reason."""

    recipients_added: list[_Identifier] | None = _code("invalid_recipients", default=None, max_length=100)
    recipients_removed: list[_Identifier] | None = _code("invalid_recipients", default=None, max_length=100)
    reason: _Reason = _code("reason_required", description="lý do cập nhật")


class InboxStatusRequest(BaseModel):
    """A clerk's status report on an inbox item (02 needs a reason: NĐ 30/2020 Art. 21(2))."""

    code: Annotated[Literal["02", "03", "04", "05", "06"], BeforeValidator(_stripped)] = _code("invalid_status_code")
    reason: ClientText(multiline=True) | None = _code("invalid_reason", default=None,
                                                      description="bắt buộc với 02; cắt còn 1000 ký tự")

    @model_validator(mode="after")
    def _reason_for_02(self) -> InboxStatusRequest:
        if self.code == "02" and not (self.reason or "").strip():
            raise PydanticCustomError("reason_required", "Từ chối tiếp nhận (02) phải kèm lý do.")
        return self


class VerifyRequest(BaseModel):
    """`POST /v1/verify` by reference: one of `document_id` (an own upload) or `inbox_id` (an inbox item)."""

    document_id: str | int | None = None
    inbox_id: str | int | None = None
    attachment: StrictInt = _code("attachment_not_found", default=0, ge=0, description="which PDF of the inbox item")

    @model_validator(mode="before")
    @classmethod
    def _one_reference(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not ({"document_id", "inbox_id"} & set(data)):
            raise PydanticCustomError("nothing_to_verify", "Cần gửi tệp PDF, hoặc document_id, hoặc inbox_id.")
        return data


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
    """A new KMS key for a served agency, or an existing PKCS#11 key registered (`backend: "pkcs11"`); whether the
    agency is registered and served is the use case's (`unknown_agency`, `agency_not_served`)."""

    organ_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)] = _code(
        "missing_organ_id", description="mã định danh cơ quan (QCVN 102:2016), e.g. 000.00.01.H62")
    backend: Annotated[Literal["kms", "pkcs11"] | None, BeforeValidator(_falsy_none)] = _code(
        "unsupported_key_backend", default=None, description="kms (mặc định) hoặc pkcs11")
    pkcs11: Pkcs11Key | None = _code("invalid_pkcs11_key", default=None)
    key_uri: str | None = _code("invalid_pkcs11_key", default=None, description="RFC 7512 pkcs11: URI, instead of "
                                                                               "`pkcs11`")
    subject: CsrSubject | None = None


class CsrRequest(BaseModel):
    subject: CsrSubject | None = None


class CertificateRequest(BaseModel):
    """The certificate the CA issued for the key, and the chain up to a trust root (PEM); whether they are PEM and
    chain to a trust root is the use case's (`invalid_certificate`, `certificate_untrusted`...)."""

    certificate_pem: str | None = _code("invalid_certificate", default=None)
    chain_pem: str | None = _code("invalid_certificate", default=None)


class RedriveRequest(BaseModel):
    queue: Literal["dispatch", "upload", "webhooks"] = _code("invalid_queue")
    document_ids: list[_Uuid] | None = _code("invalid_document_ids", default=None, min_length=1, max_length=100,
                                             description="only the messages of these documents (UUIDs)")


class RetryRequest(BaseModel):
    resend_unconfirmed: StrictBool = Field(default=False,
                                           description="the admin checked the packages are NOT on the axis")


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
    arrival_number: str | None = Field(default=None, description="số đến in the agency's register of incoming "
                                                                 "documents (docs/contract.md#registers)")
    arrival_year: int | None = None


class InboxList(_Answer):
    items: list[InboxItem]
    next: str | None = None


class RegisterEntry(_Answer):
    """One number of a register: the number, when it was issued and what it numbers (docs/contract.md#registers)."""

    n: int
    number: str
    holder_id: str
    year: int
    issued_at: str
    document_id: str | None = None
    inbox_id: str | None = None
    notation: str | None = None
    subject: str | None = None
    issued_on: str | None = None
    state: str | None = None
    reason: str | None = None
    status: str | None = None


class RegisterPage(_Answer):
    """`GET /v1/registers/outgoing|incoming`: one page of one agency's register of one year, in number order."""

    organ_id: str
    direction: str
    year: int
    items: list[RegisterEntry]
    next: str | None = None


class DirectoryEntry(_Answer):
    """An active agency as a clerk picks it for a document's recipients (`GET /v1/agencies`)."""

    organ_id: str
    name: str


class Directory(_Answer):
    items: list[DirectoryEntry]


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
MODELS: dict[str, type[BaseModel]] = WEBHOOK_MODELS | {m.__name__: m for m in (
    DocumentMetadata, RevokeRequest, UpdateRecipientsRequest, InboxStatusRequest, VerifyRequest, CreateKeyRequest,
    CsrRequest, CertificateRequest, RedriveRequest, RetryRequest,
    Health, CreatedDocument, Document, DocumentList, AmendmentAnswer, Download, VerifyReport, InboxItem, InboxList,
    InboundIssueList, Key, KeyList, Csr, Rotation, DeadLetterList, Redrive, Retry, OpenApiDocument, ErrorAnswer,
    AgencyCreate, AgencyPatch, SealConfirm, SyncRequest, Agency, AgencyList, SealUpload, SyncReport, AgencyChangeList,
    ReportTargets, MonthlyReport, YearlyReport, ReportTargetsAnswer,
    AddTrustRoot, AuditList, AuditVerify, TrustRoot, TrustRootList, TrustRootDeleted, Directory,
    DocumentDraft, RegisterPage,
)}
