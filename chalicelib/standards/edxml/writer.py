"""Document packages (QCVN 102:2016 edXML, `docs/edxml.md#namespace`, § Business types), written
streaming: memory does not grow with the attached files.

One package carries one document: new (`BussinessDocType` 0), or a revocation (1), update (2) or replacement (3)
of one sent before. Element order is the standard's, because the parsers on the other side are name-based and
order-sensitive. The optional enveloped `Signature` element (last child of `edXMLHeader`) is never emitted: the
reference library has no code that creates or checks it, and legal validity comes from the signatures inside the
PDF (NĐ 30/2020 Art. 5; `docs/edxml.md#header-signature`).
"""

from __future__ import annotations

import os
import uuid
from datetime import datetime
from typing import BinaryIO

from chalicelib.core.clock import VN_TZ
from chalicelib.standards.edxml.dates import format_date, format_timestamp
from chalicelib.standards.edxml.errors import EdxmlWriteError
from chalicelib.standards.edxml.markup import P, XmlWriter, require, start_package
from chalicelib.standards.edxml.model import DOC_TYPE_NEW, AttachmentSource, Business, DocumentHeader, Organ
from chalicelib.standards.edxml.transfer import write_zip_base64

__all__ = ["write_new_document_package"]


def _check_new_document(recipients: list[Organ], header: DocumentHeader, business: Business,
                        attachments: list[AttachmentSource]) -> None:
    """Refuse, before writing a byte, what the standard does not allow: no `To`, `Priority` outside 0–4,
    `SteeringType` outside 0–2, `Paper` not 0/1, an unknown `BussinessDocType`, no `DocumentId`, a new document
    without a file (`docs/edxml.md#formats`, § Business types)."""
    require(bool(recipients), "To")
    require(0 <= header.priority <= 4, "Priority")
    require(0 <= header.steering_type <= 2, "SteeringType")
    require(business.paper in (0, 1), "Paper")
    require(business.doc_type in (0, 1, 2, 3), "BussinessDocType")
    require(bool(header.document_id), "DocumentId")
    if business.doc_type == DOC_TYPE_NEW and not attachments:
        raise EdxmlWriteError("missing_attachment", "Văn bản mới phải có ít nhất một tệp đính kèm.")
    for att in attachments:
        if not os.path.isfile(att.path):
            raise EdxmlWriteError("missing_attachment", "Không tìm thấy tệp đính kèm.", {"name": att.name})


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
    x = start_package()

    x.open(P + "MessageHeader")
    x.organ("From", sender)
    for recipient in recipients:
        x.organ("To", recipient)
    x.leaf(P + "DocumentId", header.document_id)
    x.group("Code", ("CodeNumber", header.code_number), ("CodeNotation", header.code_notation))
    x.group("PromulgationInfo", ("Place", header.place),
            ("PromulgationDate", format_date(header.promulgation_date)))
    x.group("DocumentType", ("Type", int(header.type_code)), ("TypeDetail", int(header.type_detail)),
            ("TypeName", header.type_name))
    x.leaf(P + "Subject", header.subject)
    x.leaf(P + "Content", header.content)
    x.group("SignerInfo", ("Competence", header.signer.competence), ("Position", header.signer.position),
            ("FullName", header.signer.full_name))
    x.leaf(P + "DueDate", format_date(header.due_date) if header.due_date else "")
    x.open(P + "OtherInfo")
    x.leaf(P + "Priority", int(header.priority))
    x.leaf(P + "SphereOfPromulgation", header.sphere_of_promulgation)
    x.leaf(P + "TyperNotation", header.typer_notation)
    x.leaf(P + "PromulgationAmount", int(header.promulgation_amount))
    x.leaf(P + "PageAmount", int(header.page_amount))
    x.leaf(P + "Direction", "true" if header.direction else "false")
    x.repeated("Appendixes", "Appendix", header.appendixes)
    x.close(P + "OtherInfo")
    for ref in header.response_for:
        x.response_for(ref)
    x.leaf(P + "SteeringType", int(header.steering_type))
    x.repeated("ToPlaces", "Place", header.to_places)
    x.close(P + "MessageHeader")

    x.open(P + "TraceHeaderList")
    x.trace_header(sender.organ_id, stamp)
    _business(x, business)
    x.close(P + "TraceHeaderList")
    x.close(P + "edXMLHeader")

    content_ids = [_content_id(header, i) for i in range(len(attachments))]
    x.open(P + "edXMLBody")
    x.open(P + "edXMLManifest", ' version="1.0"')
    for cid, att in zip(content_ids, attachments, strict=True):
        x.group("Reference", ("ContentId", cid), ("ContentType", att.content_type), ("Description", att.description),
                ("AttachmentName", att.name))
    x.close(P + "edXMLManifest")
    x.close(P + "edXMLBody")
    x.close(P + "edXMLEnvelope")

    x.open("AttachmentEncoded")
    for cid, att in zip(content_ids, attachments, strict=True):
        x.open("Attachment")
        x.leaf("ContentId", cid)
        x.leaf("AttachmentName", att.name)
        x.leaf("Description", att.description)
        x.leaf("ContentType", att.content_type)
        x.parts.append(f"{'  ' * x.depth}<ContentTransferEncoded>")
        x.flush(out)
        write_zip_base64(out, att, local, tmp_dir, compresslevel)
        x.parts.append("</ContentTransferEncoded>\n")
        x.close("Attachment")
    x.close("AttachmentEncoded")
    x.close("edXML")
    x.flush(out)


def _business(x: XmlWriter, business: Business) -> None:
    """`Bussiness`: the package's kind and who handled it, then the update or replacement block it needs."""
    x.open(P + "Bussiness")
    if business.document_id:
        x.leaf(P + "DocumentId", business.document_id)
    x.leaf(P + "BussinessDocType", int(business.doc_type))
    x.leaf(P + "BussinessDocReason", business.reason)
    x.leaf(P + "Paper", int(business.paper))
    x.staff(business.staff)
    if business.document_info is not None:
        info = business.document_info
        x.open(P + "BussinessDocumentInfo")
        x.leaf(P + "DocumentInfo", int(info.document_info))
        x.leaf(P + "DocumentReceiver", int(info.document_receiver))
        x.open(P + "ReceiverList")
        for receiver in info.receivers:
            x.group("Receiver", ("OrganId", receiver.organ_id), ("ReceiverType", int(receiver.receiver_type)))
        x.close(P + "ReceiverList")
        x.close(P + "BussinessDocumentInfo")
    if business.replacements:
        x.open(P + "ReplacementInfoList")
        for replacement in business.replacements:
            x.open(P + "ReplacementInfo")
            x.leaf(P + "DocumentId", replacement.document_id)
            x.repeated("OrganIdList", "OrganId", replacement.organ_ids)
            x.close(P + "ReplacementInfo")
        x.close(P + "ReplacementInfoList")
    x.close(P + "Bussiness")
