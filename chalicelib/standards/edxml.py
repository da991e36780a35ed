"""edXML packages (QCVN 102:2016/BTTTT, amended 2022): what travels over the national document exchange axis.

One XML package carries one document (`write_new_document_package`) or one status report
(`write_status_package`); `parse_package` reads both. The shape follows the official client library's samples,
because the parsers on the other side are name-based and order-sensitive:

- namespace `http://www.mic.gov.vn/TBT/QCVN_102_2016`; the root `edXML` declares it as the default namespace, the
  `edXMLEnvelope` element declares the prefix `edXML` for the same URI and every header/body element carries that
  prefix; `AttachmentEncoded` sits OUTSIDE the envelope as the root's second child (unprefixed, default namespace);
- the standard's misspellings are kept on purpose: `Bussiness`, `BussinessDocType`, `BussinessDocReason`,
  `BussinessDocumentInfo`, `TyperNotation`, `OrganAdd`, `Appendixes`, `ContentTransferEncoded`;
- dates `yyyy/MM/dd`, timestamps `yyyy/MM/dd HH:mm:ss` in Vietnam local time (UTC+7) without a zone;
- `ContentTransferEncoded` is base64 of a ZIP archive holding one entry, the file itself.

Memory stays flat in the attachment size both ways: the writer zips each file into a temporary file and streams its
base64 in chunks; the reader feeds expat in chunks and decodes `ContentTransferEncoded` text straight into a
temporary file as it arrives. (ElementTree's iterparse would not do: it hands over an element's text only once the
element is complete, i.e. the whole base64 string of a 100 MB attachment at once.)

The optional enveloped `Signature` element (last child of `edXMLHeader`) is never emitted: the reference library has
no code that creates or checks it, and legal validity comes from the signatures inside the PDF (NĐ 30/2020 Art. 5).
Secret documents have no field here because they never travel over the axis (QĐ 28/2018).
"""

from __future__ import annotations

import binascii
import contextlib
import io
import os
import re
import shutil
import tempfile
import uuid
import zipfile
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any, BinaryIO
from xml.parsers import expat

from chalicelib.core.clock import VN_TZ
from chalicelib.core.errors import GatewayError

#: The edXML namespace of QCVN 102:2016.
NS = "http://www.mic.gov.vn/TBT/QCVN_102_2016"
#: The prefix `edXMLEnvelope` declares for `NS`; header and body elements carry it.
PREFIX = "edXML"

#: Vietnam local time (Indochina Time, UTC+7, no daylight saving): the zone edXML timestamps are written in.

#: Status codes of status packages (`StatusCode`), QCVN 102:2016 as amended; other codes are stored as they come.
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

#: `BussinessDocType` values: 0 new, 1 revocation (thu hồi), 2 update (cập nhật), 3 replacement (thay thế).
DOC_TYPE_NEW, DOC_TYPE_REVOKE, DOC_TYPE_UPDATE, DOC_TYPE_REPLACE = 0, 1, 2, 3

#: Refuse a decoded attachment larger than this: an unzipped "one entry" could otherwise be a zip bomb.
MAX_ATTACHMENT_BYTES = 1024 * 1024 * 1024
#: Refuse any other element text larger than this: only `ContentTransferEncoded` may be big.
MAX_TEXT_CHARS = 4 * 1024 * 1024

#: Raw bytes per base64 chunk written: a multiple of 3, so chunks concatenate into one valid base64 text.
_B64_CHUNK = 3 * 64 * 1024
_READ_CHUNK = 64 * 1024
_ZIP_MAGIC = b"PK\x03\x04"
_P = f"{PREFIX}:"

# Characters XML 1.0 cannot carry at all (C0 controls other than tab/LF/CR, surrogates, U+FFFE/U+FFFF).
_INVALID_XML_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_WHITESPACE = str.maketrans("", "", " \t\r\n")


class EdxmlError(GatewayError):
    """A package that cannot be built or read. `code` is stable snake_case, `message` Vietnamese.

    Codes: `malformed_xml`, `dtd_forbidden`, `not_edxml`, `missing_sender`, `element_too_large`, `bad_base64`,
    `bad_attachment_zip`, `attachment_too_large`, `invalid_text`, `invalid_value`, `missing_attachment`.
    """

    status = 422
    code = "edxml_invalid"
    message = "Gói tin edXML không hợp lệ."

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message, code=code, details=details)


# --------------------------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------------------------


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
class StaffInfo:
    """`StaffInfo` (the clerk who handled it): `Department`, `Staff`, `Email`, `Mobile`."""

    department: str = ""
    staff: str = ""
    email: str = ""
    mobile: str = ""


@dataclass(frozen=True)
class ResponseFor:
    """`ResponseFor`: the document a status, revocation or reply is about.

    `code` is "số/ký hiệu" (e.g. "7413/UBND-VX3"); `document_id` the edXML `DocumentId` of that document.
    """

    organ_id: str
    code: str
    document_id: str
    promulgation_date: date | None


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
            raise EdxmlError("missing_value", "Gói tin thiếu ngày ban hành (PromulgationDate).")
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
            _silent_unlink(att.path)

    def __enter__(self) -> ParsedPackage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()


# --------------------------------------------------------------------------------------------------------------
# Formats
# --------------------------------------------------------------------------------------------------------------


def format_date(value: date) -> str:
    """`yyyy/MM/dd`, the edXML date format (`PromulgationDate`, `DueDate`)."""
    return f"{value.year:04d}/{value.month:02d}/{value.day:02d}"


def format_timestamp(value: datetime) -> str:
    """`yyyy/MM/dd HH:mm:ss` in Vietnam local time without a zone (`Timestamp`).

    A naive datetime is refused: guessing its zone would silently move the trace by up to seven hours.
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("edXML timestamps need a timezone-aware datetime")
    local = value.astimezone(VN_TZ)
    return f"{format_date(local)} {local.hour:02d}:{local.minute:02d}:{local.second:02d}"


def parse_date(text: str) -> date | None:
    """A date written `yyyy/MM/dd` or `yyyy-MM-dd` (a trailing time part is ignored); None if unreadable."""
    text = text.strip()
    match = re.match(r"(\d{4})[/-](\d{1,2})[/-](\d{1,2})(?:$|[ T])", text, re.ASCII)
    if not match:
        return None
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None


def parse_timestamp(text: str) -> datetime | None:
    """A timestamp `yyyy/MM/dd HH:mm:ss` (or `-` separators, or ISO 8601) as an aware datetime; no zone = UTC+7."""
    text = text.strip()
    match = re.fullmatch(r"(\d{4})[/-](\d{1,2})[/-](\d{1,2})[ T](\d{1,2}):(\d{2})(?::(\d{2}))?", text, re.ASCII)
    try:
        if match:
            parts = [int(g) if g else 0 for g in match.groups()]
            return datetime(*parts, tzinfo=VN_TZ)  # type: ignore[misc]
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=VN_TZ)


def document_id(issuer_organ_id: str, promulgation_date: date, number: str, notation: str) -> str:
    """The edXML `DocumentId`: "<issuer OrganId>,<yyyy/MM/dd>,<số>/<ký hiệu>".

    Example: `000.00.00.H62,2019/09/20,7413/UBND-VX3`. It identifies the document across agencies, which is why
    revocations and status packages point at it (`ResponseFor/DocumentId`).
    """
    return f"{issuer_organ_id},{format_date(promulgation_date)},{number}/{notation}"


def split_document_id(value: str) -> tuple[str, date | None, str, str] | None:
    """Inverse of `document_id`: (issuer OrganId, date, số, ký hiệu), or None when it is not of that form."""
    parts = value.split(",", 2)
    if len(parts) != 3 or "/" not in parts[2]:
        return None
    number, notation = parts[2].split("/", 1)
    return parts[0].strip(), parse_date(parts[1]), number.strip(), notation.strip()


# --------------------------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------------------------


def _esc(value: object) -> str:
    """XML-escape element text. CR is written as `&#13;` so it survives the parser's end-of-line normalisation."""
    text = str(value)
    bad = _INVALID_XML_CHARS.search(text)
    if bad:
        raise EdxmlError("invalid_text", "Nội dung có ký tự không hợp lệ trong XML.",
                         {"char": f"U+{ord(bad.group()):04X}"})
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;"))


class _Xml:
    """A tiny indenting writer: element order is the contract, so it is spelled out by the callers."""

    def __init__(self, depth: int = 0) -> None:
        self.parts: list[str] = []
        self.depth = depth

    def open(self, name: str, attrs: str = "") -> None:
        self.parts.append(f"{'  ' * self.depth}<{name}{attrs}>\n")
        self.depth += 1

    def close(self, name: str) -> None:
        self.depth -= 1
        self.parts.append(f"{'  ' * self.depth}</{name}>\n")

    def leaf(self, name: str, value: object = "") -> None:
        self.parts.append(f"{'  ' * self.depth}<{name}>{_esc(value)}</{name}>\n")

    def empty(self, name: str, attrs: str = "") -> None:
        self.parts.append(f"{'  ' * self.depth}<{name}{attrs}/>\n")

    def flush(self, out: IO[bytes]) -> None:
        out.write("".join(self.parts).encode("utf-8"))
        self.parts.clear()


def _organ(x: _Xml, tag: str, organ: Organ) -> None:
    x.open(_P + tag)
    x.leaf(_P + "OrganId", organ.organ_id)
    x.leaf(_P + "OrganizationInCharge", organ.organization_in_charge)
    x.leaf(_P + "OrganName", organ.name)
    x.leaf(_P + "OrganAdd", organ.address)
    x.leaf(_P + "Email", organ.email)
    x.leaf(_P + "Telephone", organ.telephone)
    x.leaf(_P + "Fax", organ.fax)
    x.leaf(_P + "Website", organ.website)
    x.close(_P + tag)


def _staff(x: _Xml, staff: StaffInfo) -> None:
    x.open(_P + "StaffInfo")
    x.leaf(_P + "Department", staff.department)
    x.leaf(_P + "Staff", staff.staff)
    x.leaf(_P + "Email", staff.email)
    x.leaf(_P + "Mobile", staff.mobile)
    x.close(_P + "StaffInfo")


def _response_for(x: _Xml, ref: ResponseFor) -> None:
    x.open(_P + "ResponseFor")
    x.leaf(_P + "OrganId", ref.organ_id)
    x.leaf(_P + "Code", ref.code)
    x.leaf(_P + "DocumentId", ref.document_id)
    x.leaf(_P + "PromulgationDate", format_date(ref.promulgation_date) if ref.promulgation_date else "")
    x.close(_P + "ResponseFor")


def _require(ok: bool, what: str) -> None:
    if not ok:
        raise EdxmlError("invalid_value", f"Giá trị không hợp lệ: {what}.", {"field": what})


def _check_new_document(recipients: list[Organ], header: DocumentHeader, business: Business,
                        attachments: list[AttachmentSource]) -> None:
    _require(bool(recipients), "To")
    _require(0 <= header.priority <= 4, "Priority")
    _require(0 <= header.steering_type <= 2, "SteeringType")
    _require(business.paper in (0, 1), "Paper")
    _require(business.doc_type in (0, 1, 2, 3), "BussinessDocType")
    _require(bool(header.document_id), "DocumentId")
    if business.doc_type == DOC_TYPE_NEW and not attachments:
        raise EdxmlError("missing_attachment", "Văn bản mới phải có ít nhất một tệp đính kèm.")
    for att in attachments:
        if not os.path.isfile(att.path):
            raise EdxmlError("missing_attachment", "Không tìm thấy tệp đính kèm.", {"name": att.name})


def _content_id(header: DocumentHeader, index: int) -> str:
    """Deterministic per document and position, so a rebuilt package is byte-identical (same `hash-file`)."""
    return f"cid:{uuid.uuid5(uuid.NAMESPACE_URL, f'edxml:{header.document_id}#{index}')}"


def write_new_document_package(out: BinaryIO, *, sender: Organ, recipients: list[Organ], header: DocumentHeader,
                               business: Business, attachments: list[AttachmentSource], trace_timestamp: datetime,
                               tmp_dir: str | None = None, compresslevel: int = 6) -> None:
    """Write a document package (QCVN 102:2016 edXML) to `out`, streaming: memory does not grow with the files.

    Element order is the standard's: `edXMLEnvelope/edXMLHeader` (`MessageHeader`, `TraceHeaderList`),
    `edXMLBody/edXMLManifest` (one `Reference` per file), then `AttachmentEncoded` as the root's second child.
    Each file is zipped (one entry, the file itself, as the reference library does) into a temporary file in
    `tmp_dir`, whose base64 is then written in chunks; so `tmp_dir` needs room for the largest file.
    The zip entry's time is `trace_timestamp`, so building the same package twice gives the same bytes.
    """
    _check_new_document(recipients, header, business, attachments)
    stamp = format_timestamp(trace_timestamp)
    local = trace_timestamp.astimezone(VN_TZ)
    x = _Xml()
    x.parts.append('<?xml version="1.0" encoding="UTF-8"?>\n')
    x.open("edXML", f' xmlns="{NS}"')
    x.open(_P + "edXMLEnvelope", f' xmlns:{PREFIX}="{NS}"')
    x.open(_P + "edXMLHeader")

    x.open(_P + "MessageHeader")
    _organ(x, "From", sender)
    for recipient in recipients:
        _organ(x, "To", recipient)
    x.leaf(_P + "DocumentId", header.document_id)
    x.open(_P + "Code")
    x.leaf(_P + "CodeNumber", header.code_number)
    x.leaf(_P + "CodeNotation", header.code_notation)
    x.close(_P + "Code")
    x.open(_P + "PromulgationInfo")
    x.leaf(_P + "Place", header.place)
    x.leaf(_P + "PromulgationDate", format_date(header.promulgation_date))
    x.close(_P + "PromulgationInfo")
    x.open(_P + "DocumentType")
    x.leaf(_P + "Type", int(header.type_code))
    x.leaf(_P + "TypeDetail", int(header.type_detail))
    x.leaf(_P + "TypeName", header.type_name)
    x.close(_P + "DocumentType")
    x.leaf(_P + "Subject", header.subject)
    x.leaf(_P + "Content", header.content)
    x.open(_P + "SignerInfo")
    x.leaf(_P + "Competence", header.signer.competence)
    x.leaf(_P + "Position", header.signer.position)
    x.leaf(_P + "FullName", header.signer.full_name)
    x.close(_P + "SignerInfo")
    x.leaf(_P + "DueDate", format_date(header.due_date) if header.due_date else "")
    x.open(_P + "OtherInfo")
    x.leaf(_P + "Priority", int(header.priority))
    x.leaf(_P + "SphereOfPromulgation", header.sphere_of_promulgation)
    x.leaf(_P + "TyperNotation", header.typer_notation)
    x.leaf(_P + "PromulgationAmount", int(header.promulgation_amount))
    x.leaf(_P + "PageAmount", int(header.page_amount))
    x.leaf(_P + "Direction", "true" if header.direction else "false")
    x.open(_P + "Appendixes")
    for appendix in header.appendixes:
        x.leaf(_P + "Appendix", appendix)
    x.close(_P + "Appendixes")
    x.close(_P + "OtherInfo")
    for ref in header.response_for:
        _response_for(x, ref)
    x.leaf(_P + "SteeringType", int(header.steering_type))
    x.open(_P + "ToPlaces")
    for place in header.to_places:
        x.leaf(_P + "Place", place)
    x.close(_P + "ToPlaces")
    x.close(_P + "MessageHeader")

    x.open(_P + "TraceHeaderList")
    x.open(_P + "TraceHeader")
    x.leaf(_P + "OrganId", sender.organ_id)
    x.leaf(_P + "Timestamp", stamp)
    x.close(_P + "TraceHeader")
    _business(x, business)
    x.close(_P + "TraceHeaderList")
    x.close(_P + "edXMLHeader")

    content_ids = [_content_id(header, i) for i in range(len(attachments))]
    x.open(_P + "edXMLBody")
    x.open(_P + "edXMLManifest", ' version="1.0"')
    for cid, att in zip(content_ids, attachments, strict=True):
        x.open(_P + "Reference")
        x.leaf(_P + "ContentId", cid)
        x.leaf(_P + "ContentType", att.content_type)
        x.leaf(_P + "Description", att.description)
        x.leaf(_P + "AttachmentName", att.name)
        x.close(_P + "Reference")
    x.close(_P + "edXMLManifest")
    x.close(_P + "edXMLBody")
    x.close(_P + "edXMLEnvelope")

    x.open("AttachmentEncoded")
    for cid, att in zip(content_ids, attachments, strict=True):
        x.open("Attachment")
        x.leaf("ContentId", cid)
        x.leaf("AttachmentName", att.name)
        x.leaf("Description", att.description)
        x.leaf("ContentType", att.content_type)
        x.parts.append(f"{'  ' * x.depth}<ContentTransferEncoded>")
        x.flush(out)
        _write_zip_base64(out, att, local, tmp_dir, compresslevel)
        x.parts.append("</ContentTransferEncoded>\n")
        x.close("Attachment")
    x.close("AttachmentEncoded")
    x.close("edXML")
    x.flush(out)


def _business(x: _Xml, business: Business) -> None:
    x.open(_P + "Bussiness")
    if business.document_id:
        x.leaf(_P + "DocumentId", business.document_id)
    x.leaf(_P + "BussinessDocType", int(business.doc_type))
    x.leaf(_P + "BussinessDocReason", business.reason)
    x.leaf(_P + "Paper", int(business.paper))
    _staff(x, business.staff)
    if business.document_info is not None:
        info = business.document_info
        x.open(_P + "BussinessDocumentInfo")
        x.leaf(_P + "DocumentInfo", int(info.document_info))
        x.leaf(_P + "DocumentReceiver", int(info.document_receiver))
        x.open(_P + "ReceiverList")
        for receiver in info.receivers:
            x.open(_P + "Receiver")
            x.leaf(_P + "OrganId", receiver.organ_id)
            x.leaf(_P + "ReceiverType", int(receiver.receiver_type))
            x.close(_P + "Receiver")
        x.close(_P + "ReceiverList")
        x.close(_P + "BussinessDocumentInfo")
    if business.replacements:
        x.open(_P + "ReplacementInfoList")
        for replacement in business.replacements:
            x.open(_P + "ReplacementInfo")
            x.leaf(_P + "DocumentId", replacement.document_id)
            x.open(_P + "OrganIdList")
            for organ_id in replacement.organ_ids:
                x.leaf(_P + "OrganId", organ_id)
            x.close(_P + "OrganIdList")
            x.close(_P + "ReplacementInfo")
        x.close(_P + "ReplacementInfoList")
    x.close(_P + "Bussiness")


def _write_zip_base64(out: IO[bytes], att: AttachmentSource, when: datetime, tmp_dir: str | None,
                      compresslevel: int) -> None:
    """Zip one file into a temporary file, then write that zip's base64 in chunks of a multiple of 3 bytes."""
    size = os.path.getsize(att.path)
    arcname = Path(str(att.name).replace("\\", "/")).name or "attachment"
    info = zipfile.ZipInfo(arcname, date_time=(max(when.year, 1980), when.month, when.day,
                                               when.hour, when.minute, when.second))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.file_size = size  # lets zipfile pick ZIP64 up front for files over 2 GiB
    info.external_attr = 0o644 << 16
    with tempfile.TemporaryFile(dir=tmp_dir, prefix="edxml-zip-") as tmp:
        with (zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=compresslevel) as zf,
              open(att.path, "rb") as src, zf.open(info, "w") as dst):
            shutil.copyfileobj(src, dst, _READ_CHUNK)
        tmp.seek(0)
        while chunk := tmp.read(_B64_CHUNK):
            out.write(binascii.b2a_base64(chunk, newline=False))


def write_status_package(out: BinaryIO, *, reporter: Organ, response_for: ResponseFor, status_code: str,
                         description: str = "", staff: StaffInfo | None = None, timestamp: datetime) -> None:
    """Write a status package: same root and envelope, no body, no attachments (QCVN 102:2016).

    `MessageHeader` holds, in order, `From` (who reports, normally the recipient), `ResponseFor` (the document),
    `StaffInfo`, `StatusCode` (01 đã đến … 06 hoàn thành, 13/15/16; see `STATUS_CODES`), `Description` (the
    reason, for 02) and `Timestamp`. A `TraceHeaderList` with the reporter's hop follows, as in document packages.
    """
    code = str(status_code).strip()
    _require(bool(code) and code.isascii() and code.isdigit(), "StatusCode")
    _require(bool(response_for.document_id), "ResponseFor/DocumentId")
    stamp = format_timestamp(timestamp)
    x = _Xml()
    x.parts.append('<?xml version="1.0" encoding="UTF-8"?>\n')
    x.open("edXML", f' xmlns="{NS}"')
    x.open(_P + "edXMLEnvelope", f' xmlns:{PREFIX}="{NS}"')
    x.open(_P + "edXMLHeader")
    x.open(_P + "MessageHeader")
    _organ(x, "From", reporter)
    _response_for(x, response_for)
    _staff(x, staff or StaffInfo())
    x.leaf(_P + "StatusCode", code)
    x.leaf(_P + "Description", description)
    x.leaf(_P + "Timestamp", stamp)
    x.close(_P + "MessageHeader")
    x.open(_P + "TraceHeaderList")
    x.open(_P + "TraceHeader")
    x.leaf(_P + "OrganId", reporter.organ_id)
    x.leaf(_P + "Timestamp", stamp)
    x.close(_P + "TraceHeader")
    x.close(_P + "TraceHeaderList")
    x.close(_P + "edXMLHeader")
    x.close(_P + "edXMLEnvelope")
    x.close("edXML")
    x.flush(out)


def build_status_package(*, reporter: Organ, response_for: ResponseFor, status_code: str, description: str = "",
                         staff: StaffInfo | None = None, timestamp: datetime) -> bytes:
    """`write_status_package` into bytes: status packages are small."""
    buf = io.BytesIO()
    write_status_package(buf, reporter=reporter, response_for=response_for, status_code=status_code,
                         description=description, staff=staff, timestamp=timestamp)
    return buf.getvalue()


# --------------------------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------------------------


class _Base64ToFile:
    """Decodes base64 text arriving in arbitrary pieces (whitespace anywhere) into a file, counting bytes."""

    def __init__(self, out: IO[bytes], limit: int) -> None:
        self.out = out
        self.limit = limit
        self.size = 0
        self.pending = ""

    def feed(self, text: str) -> None:
        text = self.pending + text.translate(_WHITESPACE)
        cut = len(text) - len(text) % 4
        self.pending = text[cut:]
        if cut:
            self._write(text[:cut])

    def finish(self) -> None:
        if self.pending:
            # Tolerate missing padding, as lenient decoders on the other side do.
            self._write(self.pending + "=" * (-len(self.pending) % 4))
            self.pending = ""

    def _write(self, text: str) -> None:
        try:
            data = binascii.a2b_base64(text.encode("ascii"), strict_mode=True)
        except (binascii.Error, UnicodeEncodeError) as exc:
            raise EdxmlError("bad_base64", "Tệp đính kèm không giải mã được (base64 lỗi).") from exc
        self.size += len(data)
        if self.size > self.limit:
            raise EdxmlError("attachment_too_large", "Tệp đính kèm vượt quá dung lượng cho phép.")
        self.out.write(data)


def _to_int(text: str, what: str, warnings: list[str]) -> int | None:
    text = text.strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        warnings.append(f"{what}: not an integer: {text[:40]!r}")
        return None


def _to_date(text: str, what: str, warnings: list[str]) -> date | None:
    if not text.strip():
        return None
    value = parse_date(text)
    if value is None:
        warnings.append(f"{what}: not a date: {text[:40]!r}")
    return value


def _to_timestamp(text: str, what: str, warnings: list[str]) -> datetime | None:
    if not text.strip():
        return None
    value = parse_timestamp(text)
    if value is None:
        warnings.append(f"{what}: not a timestamp: {text[:40]!r}")
    return value


_ORGAN_FIELDS = {"OrganId": "organ_id", "OrganName": "name", "OrganizationInCharge": "organization_in_charge",
                 "OrganAdd": "address", "Email": "email", "Telephone": "telephone", "Fax": "fax",
                 "Website": "website"}
_STAFF_FIELDS = {"Department": "department", "Staff": "staff", "Email": "email", "Mobile": "mobile"}
_SIGNER_FIELDS = {"Competence": "competence", "Position": "position", "FullName": "full_name"}
# Elements whose children are collected as a dict and turned into an object when the element ends.
_CONTAINERS = frozenset({"From", "To", "SignerInfo", "StaffInfo", "ResponseFor", "TraceHeader", "Reference",
                         "Attachment", "Receiver", "ReplacementInfo", "BussinessDocumentInfo"})


class _Reader:
    """Expat handlers that keep only small state: a stack of element names, the text of the current leaf, one dict
    per open container, and the attachment currently being decoded to disk."""

    def __init__(self, tmp_dir: str | None, max_attachment_bytes: int) -> None:
        self.tmp_dir = tmp_dir
        self.max_attachment_bytes = max_attachment_bytes
        self.pkg = ParsedPackage()
        self.stack: list[str] = []
        self.text: list[str] = []
        self.text_len = 0
        self.containers: list[dict[str, Any]] = []
        self.references: list[dict[str, Any]] = []
        self.decoder: _Base64ToFile | None = None
        self.decode_file: IO[bytes] | None = None
        self.temp_paths: list[str] = []
        self.seen_status = False

    # expat callbacks -----------------------------------------------------------------------------------------

    def start(self, qname: str, attrs: dict[str, str]) -> None:
        name = qname.rsplit(" ", 1)[-1]
        if not self.stack and name != "edXML":
            raise EdxmlError("not_edxml", "Không phải gói tin edXML (phần tử gốc phải là edXML).", {"root": name})
        self.stack.append(name)
        self.text.clear()
        self.text_len = 0
        if name in _CONTAINERS:
            self.containers.append({"_name": name})
        elif name == "ContentTransferEncoded" and self._parent() == "Attachment":
            fd, path = tempfile.mkstemp(dir=self.tmp_dir, prefix="edxml-att-")
            self.temp_paths.append(path)
            self.decode_file = os.fdopen(fd, "wb")
            self.decoder = _Base64ToFile(self.decode_file, self._encoded_limit())
            self.containers[-1]["_path"] = path

    def chars(self, data: str) -> None:
        if self.decoder is not None:
            self.decoder.feed(data)
            return
        self.text_len += len(data)
        if self.text_len > MAX_TEXT_CHARS:
            raise EdxmlError("element_too_large", "Một phần tử của gói tin quá lớn.", {"element": self.stack[-1]})
        self.text.append(data)

    def end(self, qname: str) -> None:
        name = self.stack.pop()
        parent = self.stack[-1] if self.stack else ""
        if self.decoder is not None and name == "ContentTransferEncoded":
            self.decoder.finish()
            self.decoder.out.close()
            self.decoder = self.decode_file = None
            return
        if name in _CONTAINERS:
            self._end_container(self.containers.pop())
            return
        text = "".join(self.text)
        self.text.clear()
        self.text_len = 0
        if self.containers and self.containers[-1]["_name"] == parent:
            self.containers[-1].setdefault(name, text)
            return
        self._leaf(parent, name, text)

    # helpers -------------------------------------------------------------------------------------------------

    def _parent(self) -> str:
        return self.stack[-2] if len(self.stack) > 1 else ""

    def _encoded_limit(self) -> int:
        # The decoded bytes may still be a zip whose entry is checked again after unzipping; a zip is never much
        # larger than what it holds, so the same bound (plus headroom for headers) applies to the encoded form.
        return self.max_attachment_bytes + 1024 * 1024

    def _leaf(self, parent: str, name: str, text: str) -> None:
        pkg, w = self.pkg, self.pkg.warnings
        if parent == "MessageHeader":
            if name == "DocumentId":
                pkg.document_id = text.strip()
            elif name == "Subject":
                pkg.subject = text
            elif name == "Content":
                pkg.content = text
            elif name == "DueDate":
                pkg.due_date = _to_date(text, "DueDate", w)
            elif name == "SteeringType":
                pkg.steering_type = _to_int(text, "SteeringType", w)
            elif name == "StatusCode":
                pkg.status_code = text.strip()
                self.seen_status = True
            elif name == "Description":
                pkg.status_description = text
            elif name == "Timestamp":
                pkg.status_timestamp = _to_timestamp(text, "Timestamp", w)
        elif parent == "Code":
            if name == "CodeNumber":
                pkg.code_number = text.strip()
            elif name == "CodeNotation":
                pkg.code_notation = text.strip()
        elif parent == "PromulgationInfo":
            if name == "Place":
                pkg.place = text
            elif name == "PromulgationDate":
                pkg.promulgation_date = _to_date(text, "PromulgationDate", w)
        elif parent == "DocumentType":
            if name == "Type":
                pkg.type_code = _to_int(text, "Type", w)
            elif name == "TypeDetail":
                pkg.type_detail = _to_int(text, "TypeDetail", w)
            elif name == "TypeName":
                pkg.type_name = text
        elif parent == "OtherInfo":
            if name == "Priority":
                pkg.priority = _to_int(text, "Priority", w) or 0
            elif name == "SphereOfPromulgation":
                pkg.sphere_of_promulgation = text
            elif name == "TyperNotation":
                pkg.typer_notation = text
            elif name == "PromulgationAmount":
                pkg.promulgation_amount = _to_int(text, "PromulgationAmount", w)
            elif name == "PageAmount":
                pkg.page_amount = _to_int(text, "PageAmount", w)
            elif name == "Direction":
                pkg.direction = text.strip().lower() in ("true", "1")
        elif parent == "Appendixes" and name == "Appendix":
            pkg.appendixes.append(text)
        elif parent == "ToPlaces" and name == "Place":
            pkg.to_places.append(text)
        elif parent == "Bussiness":
            if name == "DocumentId":
                pkg.business_document_id = text.strip()
            elif name == "BussinessDocType":
                pkg.business_doc_type = _to_int(text, "BussinessDocType", w)
            elif name == "BussinessDocReason":
                pkg.business_reason = text
            elif name == "Paper":
                pkg.paper = 1 if (_to_int(text, "Paper", w) or 0) else 0
        elif parent == "OrganIdList" and name == "OrganId":
            # ReplacementInfo/OrganIdList/OrganId: the ReplacementInfo is the innermost open container.
            owner = self._innermost("ReplacementInfo")
            if owner is not None:
                owner.setdefault("_organs", []).append(text.strip())

    def _end_container(self, c: dict[str, Any]) -> None:
        pkg, w = self.pkg, self.pkg.warnings
        name = c["_name"]
        if name in ("From", "To"):
            organ = Organ(**{attr: c.get(tag, "").strip() if attr == "organ_id" else c.get(tag, "")
                             for tag, attr in _ORGAN_FIELDS.items()})
            if name == "From":
                pkg.sender = organ
            else:
                pkg.recipients.append(organ)
        elif name == "SignerInfo":
            pkg.signer = SignerInfo(**{attr: c.get(tag, "") for tag, attr in _SIGNER_FIELDS.items()})
        elif name == "StaffInfo":
            pkg.staff = StaffInfo(**{attr: c.get(tag, "") for tag, attr in _STAFF_FIELDS.items()})
        elif name == "ResponseFor":
            pkg.response_for.append(ResponseFor(
                organ_id=c.get("OrganId", "").strip(), code=c.get("Code", "").strip(),
                document_id=c.get("DocumentId", "").strip(),
                promulgation_date=_to_date(c.get("PromulgationDate", ""), "ResponseFor/PromulgationDate", w)))
        elif name == "TraceHeader":
            pkg.trace.append(TraceEntry(c.get("OrganId", "").strip(),
                                        _to_timestamp(c.get("Timestamp", ""), "TraceHeader/Timestamp", w)))
        elif name == "Reference":
            self.references.append(c)
        elif name == "Attachment":
            self._end_attachment(c)
        elif name == "Receiver":
            owner = self._innermost("BussinessDocumentInfo")
            if owner is not None:
                owner.setdefault("_receivers", []).append(
                    Receiver(c.get("OrganId", "").strip(), _to_int(c.get("ReceiverType", ""), "ReceiverType", w) or 0))
        elif name == "BussinessDocumentInfo":
            pkg.document_info = DocumentInfoUpdate(
                document_info=_to_int(c.get("DocumentInfo", ""), "DocumentInfo", w) or 0,
                document_receiver=_to_int(c.get("DocumentReceiver", ""), "DocumentReceiver", w) or 0,
                receivers=c.get("_receivers", []))
        elif name == "ReplacementInfo":
            pkg.replacements.append(ReplacementInfo(c.get("DocumentId", "").strip(), c.get("_organs", [])))

    def _innermost(self, name: str) -> dict[str, Any] | None:
        for c in reversed(self.containers):
            if c["_name"] == name:
                return c
        return None

    def _end_attachment(self, c: dict[str, Any]) -> None:
        path = c.get("_path")
        content_id = c.get("ContentId", "").strip()
        if path is None:
            self.pkg.warnings.append(f"Attachment {content_id!r}: no ContentTransferEncoded")
            return
        entry_name = _unzip_in_place(path, self.max_attachment_bytes, self.tmp_dir)
        name = c.get("AttachmentName", "") or entry_name or content_id
        self.pkg.attachments.append(ParsedAttachment(
            content_id=content_id, name=name, content_type=c.get("ContentType", "").strip(), path=path,
            description=c.get("Description", ""), size=os.path.getsize(path)))

    def finish(self) -> ParsedPackage:
        pkg = self.pkg
        if not pkg.sender.organ_id:
            raise EdxmlError("missing_sender", "Gói tin thiếu thông tin cơ quan gửi (From/OrganId).")
        pkg.message_type = "status" if self.seen_status else "edoc"
        if pkg.message_type == "edoc":
            refs = {r.get("ContentId", "").strip(): r for r in self.references}
            for i, att in enumerate(pkg.attachments):
                ref = refs.pop(att.content_id, None)
                if ref is None:
                    pkg.warnings.append(f"Attachment {att.content_id!r} has no Reference in edXMLManifest")
                elif not att.content_type and ref.get("ContentType"):
                    # Some senders fill ContentType only in the manifest's Reference.
                    pkg.attachments[i] = replace(att, content_type=ref["ContentType"].strip())
            for cid in refs:
                pkg.warnings.append(f"Reference {cid!r} has no Attachment")
        return pkg

    def discard(self) -> None:
        if self.decode_file is not None:
            self.decode_file.close()
        for path in self.temp_paths:
            _silent_unlink(path)


def _unzip_in_place(path: str, limit: int, tmp_dir: str | None) -> str:
    """If `path` holds a ZIP (`PK\\x03\\x04`), replace it by its single entry and return the entry's name.

    The reference library zips one file per attachment; an archive with several entries keeps its first file
    entry. Sizes are counted while copying, never trusted from the archive's headers.
    """
    with open(path, "rb") as fh:
        if fh.read(4) != _ZIP_MAGIC:
            return ""
    out_fd, out_path = tempfile.mkstemp(dir=tmp_dir, prefix="edxml-att-")
    try:
        with zipfile.ZipFile(path) as zf, os.fdopen(out_fd, "wb") as out:
            entries = [i for i in zf.infolist() if not i.is_dir()]
            if not entries:
                raise EdxmlError("bad_attachment_zip", "Tệp nén đính kèm không có tệp nào.")
            size = 0
            with zf.open(entries[0]) as src:
                while chunk := src.read(_READ_CHUNK):
                    size += len(chunk)
                    if size > limit:
                        raise EdxmlError("attachment_too_large", "Tệp đính kèm vượt quá dung lượng cho phép.")
                    out.write(chunk)
            entry_name = Path(entries[0].filename.replace("\\", "/")).name
        os.replace(out_path, path)
        return entry_name
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, NotImplementedError) as exc:
        _silent_unlink(out_path)
        raise EdxmlError("bad_attachment_zip", "Tệp nén đính kèm bị lỗi, không giải nén được.") from exc
    except BaseException:
        _silent_unlink(out_path)
        raise


def _silent_unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _forbid(*_: object) -> None:
    raise EdxmlError("dtd_forbidden", "Gói tin không được chứa khai báo DTD/thực thể.")


def parse_package(src: str | os.PathLike[str] | BinaryIO, *, tmp_dir: str | None = None,
                  max_attachment_bytes: int = MAX_ATTACHMENT_BYTES) -> ParsedPackage:
    """Read an edXML package (document or status) from a path or a binary file, in constant memory.

    Elements are matched by local name and parent, as the other side's parsers do, so prefixes and namespace
    declarations may vary. Attachments are base64-decoded into temporary files in `tmp_dir` as the text streams
    in, then unzipped when they start with `PK\\x03\\x04` (else taken as they are). DTDs are refused outright
    (no entity expansion of any kind). Raises `EdxmlError` for input that is not a readable edXML package.
    """
    reader = _Reader(tmp_dir, max_attachment_bytes)
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.buffer_text = True
    parser.buffer_size = _READ_CHUNK
    parser.StartElementHandler = reader.start
    parser.EndElementHandler = reader.end
    parser.CharacterDataHandler = reader.chars
    parser.StartDoctypeDeclHandler = _forbid
    parser.EntityDeclHandler = _forbid
    try:
        with contextlib.ExitStack() as stack:
            stream: IO[bytes] = (stack.enter_context(open(src, "rb")) if isinstance(src, (str, os.PathLike))
                                 else src)
            while chunk := stream.read(_READ_CHUNK):
                parser.Parse(chunk, False)
            parser.Parse(b"", True)
        return reader.finish()
    except expat.ExpatError as exc:
        reader.discard()
        raise EdxmlError("malformed_xml", "Gói tin không phải XML hợp lệ.",
                         {"line": exc.lineno, "column": exc.offset}) from exc
    except BaseException:
        reader.discard()
        raise


def status_meaning(code: str) -> str | None:
    """The Vietnamese meaning of a status code, or None for a code this version does not know (kept anyway)."""
    return STATUS_CODES.get(code.strip())
