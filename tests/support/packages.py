"""edXML packages as agencies' own systems write them (the same writer as the gateway: the format is the contract),
for tests that play those systems on the axis.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path

from chalicelib.core.clock import VN_TZ
from chalicelib.standards.edxml import (
    AttachmentSource,
    Business,
    DocumentHeader,
    Organ,
    ResponseFor,
    SignerInfo,
    build_status_package,
    document_id,
    write_new_document_package,
)
from tests.support.organs import G22, H03, H62, NAMES

__all__ = ["about", "status_package", "vinh_phuc_7413_package", "vpcp_header", "vpcp_package", "write_package"]


def write_package(path: Path, *, sender: Organ, recipients: list[Organ], header: DocumentHeader,
                  business: Business | None = None, attachments: Iterable[AttachmentSource] = ()) -> Path:
    """A new-document package written to `path`, traced now (Vietnam time)."""
    with open(path, "wb") as out:
        write_new_document_package(out, sender=sender, recipients=recipients, header=header,
                                   business=business or Business(), attachments=list(attachments),
                                   trace_timestamp=datetime.now(VN_TZ))
    return path


def status_package(reporter: Organ, ref: ResponseFor, code: str, description: str = "") -> bytes:
    """A status package (mã trạng thái `code`) from `reporter` about the document `ref` names, stamped now."""
    return build_status_package(reporter=reporter, response_for=ref, status_code=code, description=description,
                                timestamp=datetime.now(VN_TZ))


def vpcp_header(code_number: str, notation: str, subject: str, **extra: object) -> DocumentHeader:
    """A công văn of Văn phòng Chính phủ issued today, as its own system heads it."""
    issued = datetime.now(VN_TZ).date()
    return DocumentHeader(
        document_id=document_id(G22, issued, code_number, notation), code_number=code_number, code_notation=notation,
        place="Hà Nội", promulgation_date=issued, type_name="Công văn", subject=subject,
        signer=SignerInfo("KT. BỘ TRƯỞNG, CHỦ NHIỆM", "PHÓ CHỦ NHIỆM", "Nguyễn Văn A"), to_places=["Như trên"],
        **extra)  # type: ignore[arg-type]


def vpcp_package(path: Path, sender: Organ, to: list[Organ], header: DocumentHeader, business: Business,
                 pdf: Path | None) -> bytes:
    """Văn phòng Chính phủ's package for `header` (its PDF named `<số>-VPCP.pdf`), written to `path`; its bytes."""
    attachments = [AttachmentSource(f"{header.code_number}-VPCP.pdf", "application/pdf", pdf)] if pdf else []
    return write_package(path, sender=sender, recipients=to, header=header, business=business,
                         attachments=attachments).read_bytes()


def about(header: DocumentHeader, organ_id: str = G22) -> ResponseFor:
    """The ResponseFor naming the document `header` heads (issued by `organ_id`)."""
    return ResponseFor(organ_id, f"{header.code_number}/{header.code_notation}", header.document_id,
                       header.promulgation_date)


def vinh_phuc_7413_package(folder: Path) -> Path:
    """A real document package of UBND tỉnh Vĩnh Phúc (7413/UBND-VX3) for VPCP and UBND tỉnh Bắc Giang, with a
    one-megabyte PDF, as `folder`/7413.edxml."""
    pdf = folder / "7413.pdf"
    pdf.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 4000 + b"%%EOF\n")
    header = DocumentHeader(
        document_id=document_id(H62, date(2019, 9, 20), "7413", "UBND-VX3"), code_number="7413",
        code_notation="UBND-VX3", place="Vĩnh Phúc", promulgation_date=date(2019, 9, 20), type_name="Công văn",
        subject="V/v triển khai các nhiệm vụ phát triển Chính quyền điện tử",
        signer=SignerInfo("TL. CHỦ TỊCH, KT. CHÁNH VĂN PHÒNG", "PHÓ CHÁNH VĂN PHÒNG", "Trần Thị Minh Lợi"))
    return write_package(folder / "7413.edxml", sender=Organ(H62, NAMES[H62]),
                         recipients=[Organ(G22, NAMES[G22]), Organ(H03, NAMES[H03])], header=header,
                         attachments=[AttachmentSource("7413.pdf", "application/pdf", pdf)])
