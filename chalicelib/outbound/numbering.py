"""Numbering at issuance (issue 12): the signer's step between the upload checks and the organisation's signature.

NĐ 30/2020/NĐ-CP Art. 15: the văn thư numbers and dates a document when it is issued, from the agency's register of
outgoing documents (sổ văn bản đi), consecutively per calendar year. A document registered without a number (`""`,
or `"auto"` in `POST /v1/documents`) is numbered here, as it is signed: the next number of its agency's register
(chalicelib.adapters.register_store, never issued twice nor skipped, the same number again on a retry), written into
the first page's blanks ("Số:      /TB-UBND", "ngày    tháng 6 năm 2020", found from the glyph positions,
chalicelib.domain.issuance) by the signature's own incremental update (chalicelib.signing.marks), and put on the
record's metadata, so the edXML package and the phụ lục stamps carry it. A number the clerk gave is written into the
blanks the same way, and nothing is issued.

Which register and which date: the register of the year of the document's `issued_on`, and that date in the
blanks, as the clerk declared it at registration. The agreement check (chalicelib.outbound.text_check) has by then
held it against what the page prints ("tháng 6 năm 2020" only agrees with a June 2020 date), so the date written
can never contradict the page, which "today's date" could (a draft signed in June, issued in July).

Order: the number is issued after every check that can refuse the upload itself (the PDF's structure, the text's
agreement, a certification forbidding the marks, `blanks_locked`), so a refused upload does not use a number. A
failure after it (a phụ lục refused, the stamp outside the page, the key unavailable) keeps the number: the
record's `register` (read as its `metadata.number`) says which, and the register lists it with the document's state
(Art. 15: numbers are not reused).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from chalicelib.adapters.register_store import get_register_store
from chalicelib.core.log import logger
from chalicelib.domain.issuance import GlyphLine, Mark, marks_for, plan_marks
from chalicelib.domain.registers import OUTGOING, format_number
from chalicelib.outbound.text_check import check_lines
from chalicelib.signing.marks import refuse_if_marks_forbidden
from chalicelib.signing.pdf_text import TextUnavailable, first_page

__all__ = ["Issuance", "held_number", "issue_and_check", "register_entry", "wants_number"]


@dataclass(frozen=True)
class Issuance:
    """What the signer writes: the document's `number` ("" only when no register applies), the `marks` for the
    first page's blanks (empty when the page has none) and, when the gateway issued the number, the record's
    `register` field (`{"direction", "year", "n", "number"}`)."""

    number: str
    marks: tuple[Mark, ...] = ()
    register: dict[str, Any] | None = None
    #: The fields the text disagreed on under a `warn` setting (chalicelib.outbound.text_check).
    noted: dict[str, dict[str, str]] = field(default_factory=dict)

    def fields(self) -> dict[str, Any]:
        """The record field that carries the issued number (for the SIGNED transition; readers see it as
        `metadata.number`, chalicelib.adapters.record_body.with_issued_number); {} when nothing was issued."""
        return {"register": self.register} if self.register is not None else {}


def wants_number(metadata: dict[str, Any]) -> bool:
    """Whether the gateway issues this document's number: none was given (`""`; `"auto"` is stored as `""`)."""
    return not str(metadata.get("number") or "").strip()


def register_entry(record: dict[str, Any]) -> dict[str, Any]:
    """What the register's entry shows of the document besides its number (NĐ 30 Phụ lục IV, sổ đăng ký văn bản
    đi: ngày tháng, ký hiệu, trích yếu, người ký, nơi nhận), so the register reads without the record."""
    md = record.get("metadata") or {}
    signer = md.get("signer") or {}
    return {"document_id": record["document_id"], "notation": md.get("notation", ""), "type": md.get("type", ""),
            "subject": md.get("subject", ""), "issued_on": md.get("issued_on", ""),
            "signer": signer.get("full_name", ""), "recipients": list(md.get("recipients") or [])[:500],
            "by": record.get("created_by", "")}


def issue_and_check(path: str, record: dict[str, Any], metadata_check: str) -> Issuance:
    """Read the first page once (bounded), hold it against the record (`metadata_mismatch` under `reject`), refuse
    marks a certification forbids (`blanks_locked`), then issue the number if the gateway is to, and plan the marks.
    Raises UploadRejected for the refusals; idempotent under retries (the register answers the number held)."""
    metadata = record.get("metadata") or {}
    auto = wants_number(metadata)
    lines: list[Any] = []
    glyphs: list[GlyphLine] = []
    if auto or metadata_check != "off":
        with contextlib.suppress(TextUnavailable):  # a scan: nothing to compare, no blanks; the number still counts
            lines, glyphs = first_page(path)
    noted = check_lines(lines, metadata, metadata_check) if lines else {}
    issued_on = date.fromisoformat(str(metadata["issued_on"])[:10])
    blanks = plan_marks(glyphs, "00", issued_on) if glyphs else []  # where marks would go, whatever the number
    if blanks:  # checked before a number is issued: a refused upload uses none
        refuse_if_marks_forbidden(path)
    number, register = str(metadata.get("number") or ""), None
    if auto:
        issued = get_register_store().issue(record["organ_id"], OUTGOING, issued_on.year, record["document_id"],
                                            entry=register_entry(record))
        number = issued["number"]
        register = {"direction": OUTGOING, "year": issued_on.year, "n": issued["n"], "number": number}
        logger.info("number issued", extra={"document_id": record["document_id"], "year": issued_on.year,
                                            "n": issued["n"], "reused": issued["reused"]})
    marks = tuple(marks_for(glyphs, number, issued_on)) if glyphs and number else ()
    return Issuance(number=number, marks=marks, register=register, noted=noted)


def held_number(record: dict[str, Any], state: str, reason: str) -> dict[str, Any]:
    """For a document that ends REJECTED or FAILED at signing: the record field of the number it already holds
    (`register`, read as `metadata.number`), the register's entry noted with the state; {} when it holds none.
    Best effort: the register itself is the truth, this only lets the record show it."""
    metadata = record.get("metadata") or {}
    if not wants_number(metadata):
        return {}
    try:
        year = date.fromisoformat(str(metadata["issued_on"])[:10]).year
        store = get_register_store()
        n = store.held(record["organ_id"], OUTGOING, year, record["document_id"])
        if n is None:
            return {}
        store.note(record["organ_id"], OUTGOING, year, n, {"state": state, "reason": reason})
    except Exception as exc:
        logger.warning("held number not recorded", extra={"document_id": record["document_id"],
                                                          "error": type(exc).__name__})
        return {}
    return {"register": {"direction": OUTGOING, "year": year, "n": n, "number": format_number(n)}}
