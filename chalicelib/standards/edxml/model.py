"""The edXML vocabulary (QCVN 102:2016/BTTTT, amended 2022): namespace, code values, and the records a package
carries, as dataclasses named after the elements they fill (`docs/edxml.md#namespace`).

Writers take `Organ`, `DocumentHeader`, `Business`, `AttachmentSource`...; the reader returns a `ParsedPackage`.
Element names quoted in the docstrings are the standard's, misspellings included (`Bussiness`, `OrganAdd`...).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from datetime import date, datetime

from chalicelib.standards.edxml.errors import EdxmlReadError

# The reader's bounds live in `limits`; these two are re-exported here, where importers have long found them.
from chalicelib.standards.edxml.limits import MAX_ATTACHMENT_BYTES, MAX_TEXT_CHARS

__all__ = [
    "DOC_TYPE_NEW", "DOC_TYPE_REPLACE", "DOC_TYPE_REVOKE", "DOC_TYPE_UPDATE", "MAX_ATTACHMENT_BYTES",
    "MAX_TEXT_CHARS", "NS", "PREFIX", "STATUS_CODES", "AttachmentSource", "Business", "DocumentHeader",
    "DocumentInfoUpdate", "Organ", "ParsedAttachment", "ParsedPackage", "Receiver", "ReplacementInfo",
    "ResponseFor", "SignerInfo", "StaffInfo", "TraceEntry", "status_meaning",
]

#: The edXML namespace of QCVN 102:2016.
NS = "http://www.mic.gov.vn/TBT/QCVN_102_2016"
#: The prefix `edXMLEnvelope` declares for `NS`; header and body elements carry it.
PREFIX = "edXML"

#: Status codes of status packages (`StatusCode`), QCVN 102:2016 as amended (`docs/edxml.md#status-packages`);
#: other codes are stored as they come.
STATUS_CODES: dict[str, str] = {
    "01": "Đã đến",
    "02": "Từ chối tiếp nhận",
    "03": "Đã tiếp nhận",
    "04": "Phân công",
    "05": "Đang xử lý",
    "06": "Hoàn thành",
    "13": "Đề nghị lấy lại văn bản",
    "15": "Đồng ý cập nhật/lấy lại",
    "16": "Từ chối cập nhật/lấy lại",
}

#: `BussinessDocType` values (`docs/edxml.md#business-types`): 0 new, 1 revocation (thu hồi), 2 update (cập nhật),
#: 3 replacement (thay thế).
DOC_TYPE_NEW, DOC_TYPE_REVOKE, DOC_TYPE_UPDATE, DOC_TYPE_REPLACE = 0, 1, 2, 3



@dataclass(frozen=True)
class Organ:
    """An agency as `From` and `To` carry it: `OrganId` (identifier code), `OrganName`, `OrganizationInCharge`
    (the body it belongs to), `OrganAdd` (address), `Email`, `Telephone`, `Fax`, `Website`."""

    organ_id: str
    name: str
    organization_in_charge: str = ""
    address: str = ""
    email: str = ""
    telephone: str = ""
    fax: str = ""
    website: str = ""


@dataclass(frozen=True)
class SignerInfo:
    """`SignerInfo`: `Competence` (thẩm quyền ký, e.g. "KT. CHỦ TỊCH"), `Position` (chức vụ), `FullName`."""

    competence: str
    position: str
    full_name: str


@dataclass(frozen=True)
class ResponseFor:
    """`ResponseFor`: the document a status, revocation or reply is about.

    `code` is "số/ký hiệu" (e.g. "7413/UBND-VX3"); `document_id` the edXML `DocumentId` of that document.
    """

    organ_id: str
    code: str
    document_id: str
    promulgation_date: date | None


@dataclass(frozen=True)
class StaffInfo:
    """`StaffInfo` (the clerk who handled it): `Department`, `Staff`, `Email`, `Mobile`."""

    department: str = ""
    staff: str = ""
    email: str = ""
    mobile: str = ""


@dataclass(frozen=True, kw_only=True)
class DocumentHeader:
    """The document's metadata, `MessageHeader` minus `From`/`To`.

    `type_code`/`type_detail` fill `DocumentType/Type` and `TypeDetail`: their code tables are not public (samples
    use 1 for "Công văn"), so they are configuration; `type_name` is the Vietnamese type name. `priority` is
    `OtherInfo/Priority` (0 thường, 1 khẩn, 2 thượng khẩn, 3 hỏa tốc, 4 hỏa tốc hẹn giờ); `steering_type` is
    `SteeringType` (0 not a steering document, 1 steering, 2 report on steering); `to_places` fills
    `ToPlaces/Place` (nơi nhận, free text); `response_for` names revoked or answered documents.
    """

    document_id: str
    code_number: str
    code_notation: str
    place: str
    promulgation_date: date
    type_code: int = 1
    type_detail: int = 0
    type_name: str
    subject: str
    content: str = ""
    signer: SignerInfo
    due_date: date | None = None
    priority: int = 0
    steering_type: int = 0
    to_places: list[str] = field(default_factory=list)
    page_amount: int = 0
    appendixes: list[str] = field(default_factory=list)
    sphere_of_promulgation: str = ""
    typer_notation: str = ""
    promulgation_amount: int = 0
    direction: bool = False
    response_for: list[ResponseFor] = field(default_factory=list)


@dataclass(frozen=True)
class AttachmentSource:
    """A file to attach: `AttachmentName` (`name`), `ContentType`, `Description`; `path` is read when writing."""

    name: str
    content_type: str
    path: str | os.PathLike[str]
    description: str = ""


@dataclass(frozen=True)
class Receiver:
    """`BussinessDocumentInfo/ReceiverList/Receiver`: `OrganId` and `ReceiverType` (update packages)."""

    organ_id: str
    receiver_type: int


@dataclass(frozen=True)
class DocumentInfoUpdate:
    """`BussinessDocumentInfo` of an update (`BussinessDocType` 2): what changed (`DocumentInfo` 0/1,
    `DocumentReceiver` 0/1) and the receivers concerned."""

    document_info: int = 0
    document_receiver: int = 0
    receivers: list[Receiver] = field(default_factory=list)


@dataclass(frozen=True)
class ReplacementInfo:
    """`ReplacementInfoList/ReplacementInfo` of a replacement (`BussinessDocType` 3): the replaced `DocumentId`
    and `OrganIdList/OrganId` of those who received it."""

    document_id: str
    organ_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class Business:
    """`TraceHeaderList/Bussiness`: what kind of package this is and who handled it.

    `doc_type` is `BussinessDocType` (0 new, 1 revocation, 2 update, 3 replacement), `reason` is
    `BussinessDocReason`, `paper` is `Paper` (1 = a paper original is also sent, NĐ 30/2020 Art. 23(4)),
    `staff` is `StaffInfo`. `document_id` (`Bussiness/DocumentId`) names the updated document;
    `document_info` and `replacements` are the update and replacement blocks.
    """

    doc_type: int = DOC_TYPE_NEW
    reason: str = ""
    paper: int = 0
    staff: StaffInfo = field(default_factory=StaffInfo)
    document_id: str = ""
    document_info: DocumentInfoUpdate | None = None
    replacements: list[ReplacementInfo] = field(default_factory=list)


@dataclass(frozen=True)
class TraceEntry:
    """`TraceHeaderList/TraceHeader`: one hop, `OrganId` and `Timestamp`."""

    organ_id: str
    timestamp: datetime | None


@dataclass(frozen=True)
class ParsedAttachment:
    """An attachment decoded to `path` (a temporary file the caller moves or deletes; see
    `ParsedPackage.cleanup`). `content_id` is the `ContentId` shared by `Reference` and `Attachment`."""

    content_id: str
    name: str
    content_type: str
    path: str
    description: str = ""
    size: int = 0


@dataclass
class ParsedPackage:
    """Everything `parse_package` read. Missing or unparseable optional values are None/"" and noted in
    `warnings`; nothing but broken XML, a missing sender or a broken attachment raises.

    `message_type` is "status" when the `MessageHeader` carries a `StatusCode`, else "edoc". For status packages
    `status_code` (kept as the string it came as, known or not), `status_description`, `status_timestamp` and
    `response_for[0]` say what was reported about which document.
    """

    message_type: str = "edoc"
    sender: Organ = field(default_factory=lambda: Organ("", ""))
    recipients: list[Organ] = field(default_factory=list)
    document_id: str = ""
    code_number: str = ""
    code_notation: str = ""
    place: str = ""
    promulgation_date: date | None = None
    type_code: int | None = None
    type_detail: int | None = None
    type_name: str = ""
    subject: str = ""
    content: str = ""
    signer: SignerInfo = field(default_factory=lambda: SignerInfo("", "", ""))
    due_date: date | None = None
    priority: int = 0
    sphere_of_promulgation: str = ""
    typer_notation: str = ""
    promulgation_amount: int | None = None
    page_amount: int | None = None
    direction: bool = False
    appendixes: list[str] = field(default_factory=list)
    response_for: list[ResponseFor] = field(default_factory=list)
    steering_type: int | None = None
    to_places: list[str] = field(default_factory=list)
    trace: list[TraceEntry] = field(default_factory=list)
    business_doc_type: int | None = None
    business_reason: str = ""
    business_document_id: str = ""
    paper: int = 0
    staff: StaffInfo = field(default_factory=StaffInfo)
    document_info: DocumentInfoUpdate | None = None
    replacements: list[ReplacementInfo] = field(default_factory=list)
    status_code: str | None = None
    status_description: str = ""
    status_timestamp: datetime | None = None
    attachments: list[ParsedAttachment] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def header(self) -> DocumentHeader:
        """The document metadata as a `DocumentHeader` (edoc packages); raises when a required value is missing."""
        if self.promulgation_date is None:
            raise EdxmlReadError("missing_value", "Gói tin thiếu ngày ban hành (PromulgationDate).")
        return DocumentHeader(
            document_id=self.document_id, code_number=self.code_number, code_notation=self.code_notation,
            place=self.place, promulgation_date=self.promulgation_date,
            type_code=self.type_code if self.type_code is not None else 1,
            type_detail=self.type_detail if self.type_detail is not None else 0, type_name=self.type_name,
            subject=self.subject, content=self.content, signer=self.signer, due_date=self.due_date,
            priority=self.priority, steering_type=self.steering_type or 0, to_places=list(self.to_places),
            page_amount=self.page_amount or 0, appendixes=list(self.appendixes),
            sphere_of_promulgation=self.sphere_of_promulgation, typer_notation=self.typer_notation,
            promulgation_amount=self.promulgation_amount or 0, direction=self.direction,
            response_for=list(self.response_for),
        )

    def cleanup(self) -> None:
        """Delete the attachments' temporary files (those the caller has not moved away)."""
        for att in self.attachments:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(att.path)

    def __enter__(self) -> ParsedPackage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()


def status_meaning(code: str) -> str | None:
    """The Vietnamese meaning of a status code, or None for a code this version does not know (kept anyway)."""
    return STATUS_CODES.get(code.strip())
