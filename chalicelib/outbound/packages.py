"""The edXML packages the gateway sends (QCVN 102:2016, docs/edxml.md): the document itself (`BussinessDocType` 0,
or 3 when it replaces an earlier one) and the amendment packages (1 revocation, 2 update of the recipients).

Why one module: dispatch and the amendments' sending both build document packages, and an amendment package reuses
the document's header; the builders were written twice and had begun to drift. Packages are rebuilt byte for byte on
retry (the trace time is fixed on the record or the amendment), so a package's SHA-256 names it (dispatch's
reconciling depends on that).
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from typing import Any

from chalicelib.adapters.agency_registry import Agency
from chalicelib.core.clock import VN_TZ
from chalicelib.domain.amendment_rules import DOC_TYPES, UPDATE, update_receivers
from chalicelib.domain.document_codes import DOCUMENT_TYPES, URGENCY_PRIORITY
from chalicelib.standards.edxml import (
    DOC_TYPE_NEW,
    DOC_TYPE_REPLACE,
    AttachmentSource,
    Business,
    DocumentHeader,
    DocumentInfoUpdate,
    Organ,
    Receiver,
    ReplacementInfo,
    ResponseFor,
    SignerInfo,
    document_id,
    write_new_document_package,
)

__all__ = ["amendment_trace_time", "dispatch_trace_time", "new_document_business", "organ", "package_header",
           "unknown_agency", "write_amendment_package", "write_document_package"]


def unknown_agency(organ_id: str) -> Agency:
    """A recipient missing from the registry: addressed by its code alone."""
    return Agency(organ_id=organ_id, name=organ_id)


def organ(agency: Agency) -> Organ:
    """An agency as an edXML `From`/`To` organ."""
    return Organ(organ_id=agency.organ_id, name=agency.name, address=agency.address, email=agency.email,
                 telephone=agency.telephone)


def package_header(record: dict[str, Any], recipients: list[Agency]) -> DocumentHeader:
    """The edXML `MessageHeader` content for a record (QCVN 102: DocumentId, Code, PromulgationInfo…)."""
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
        to_places=[a.name for a in recipients], page_amount=int(record.get("page_count", 0) or 0),
        appendixes=[a["name"] for a in record.get("attachments") or []],
    )


def new_document_business(record: dict[str, Any], paper: bool) -> Business:
    """The `Bussiness` block of a document package: type 0, or type 3 with its `ReplacementInfoList` when the record
    replaces an earlier document (set by `outbound.amendments.prepare_replacement`)."""
    replaces = record.get("replaces")
    if not replaces:
        return Business(doc_type=DOC_TYPE_NEW, paper=int(paper))
    return Business(doc_type=DOC_TYPE_REPLACE, paper=int(paper), replacements=[
        ReplacementInfo(replaces["edxml_document_id"], list(replaces.get("recipients") or []))])


def write_document_package(path: str, record: dict[str, Any], sender: Agency, recipients: list[Agency],
                           signed_pdf: str, paper: bool, trace: datetime,
                           appendixes: list[AttachmentSource] | None = None) -> None:
    """The document itself, signed PDF first, then the phụ lục given (streamed from their files by the writer)."""
    md = record["metadata"]
    name = f"{md.get('number') or 'so'}-{md['notation']}.pdf".replace("/", "-")
    with open(path, "wb") as out:
        write_new_document_package(
            out, sender=organ(sender), recipients=[organ(a) for a in recipients],
            header=package_header(record, recipients), business=new_document_business(record, paper),
            attachments=[AttachmentSource(name=name, content_type="application/pdf", path=signed_pdf,
                                          description=md["subject"][:200]), *(appendixes or [])],
            trace_timestamp=trace,
        )


def write_amendment_package(path: str, record: dict[str, Any], amendment: dict[str, Any], sender: Agency,
                            to: list[Agency], paper: bool, trace: datetime) -> None:
    """A revocation (type 1) or update (type 2) package: the document's header with `ResponseFor` naming it,
    `Bussiness/DocumentId` the same, the reason, and for an update the ReceiverList; no attachment."""
    header = package_header(record, to)
    header = dataclasses.replace(header, response_for=[ResponseFor(
        organ_id=record["organ_id"], code=f"{header.code_number}/{header.code_notation}",
        document_id=header.document_id, promulgation_date=header.promulgation_date)])
    info = None
    if amendment["kind"] == UPDATE:
        info = DocumentInfoUpdate(document_info=0, document_receiver=1,
                                  receivers=[Receiver(c, t) for c, t in update_receivers(amendment)])
    business = Business(doc_type=DOC_TYPES[amendment["kind"]], reason=amendment["reason"], paper=int(paper),
                        document_id=header.document_id, document_info=info)
    with open(path, "wb") as out:
        write_new_document_package(out, sender=organ(sender), recipients=[organ(a) for a in to], header=header,
                                   business=business, attachments=[], trace_timestamp=trace)


def dispatch_trace_time(record: dict[str, Any]) -> datetime:
    """The edXML TraceHeader time of a document package: when dispatch of this document first started, fixed on the
    record, so that a rebuilt package is the same bytes (same hash-file) as the one an earlier attempt may have
    sent."""
    started = record.get("dispatch_started_at")
    if not started:
        return datetime.now(VN_TZ)
    return datetime.fromisoformat(str(started).replace("Z", "+00:00")).astimezone(VN_TZ)


def amendment_trace_time(amendment: dict[str, Any]) -> datetime:
    """The TraceHeader time of an amendment's packages: the amendment's `created_at`, so retries rebuild the same
    bytes."""
    return datetime.fromisoformat(str(amendment["created_at"]).replace("Z", "+00:00")).astimezone(VN_TZ)
