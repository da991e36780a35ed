"""Phụ lục (attachments) uploaded with a document as further PDFs: their S3 keys, part names, the stamp's text and
the names they travel under in the edXML package.

Pure logic (no boto3): the API, the signing handler and dispatch share these names, so an attachment's key is
computed in one place and an S3 event's key maps back to its document and part without a lookup.

Parts are named `main` (the document itself) and `att-<n>`, n counting from 1 in the order the client listed the
attachments; the same names appear in the API (`?part=att-1`), the record and the keys
(`incoming/<organ>/<id>/att-<n>.pdf`, `signed/<organ>/<id>/att-<n>.pdf`).
"""

from __future__ import annotations

import re
from typing import Any

from chalicelib.core.errors import NotFound

__all__ = ["MAIN_PART", "MAX_ATTACHMENTS", "attachment_file_name", "find_part", "incoming_attachment_key",
    "parse_incoming_key", "part_name", "signed_attachment_key", "stamp_label"]

#: At most this many attachments per document: each is signed in the same invocation as the document.
MAX_ATTACHMENTS = 20
MAIN_PART = "main"

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_INCOMING = re.compile(rf"^incoming/(?P<organ>[^/]+)/(?P<doc>{_UUID})(?:\.pdf|/(?P<part>att-(?P<n>[1-9][0-9]?))\.pdf)$")
_PART = re.compile(r"^att-(?P<n>[1-9][0-9]?)$")


def part_name(index: int) -> str:
    return f"att-{index}"


def incoming_attachment_key(organ_id: str, document_id: str, index: int) -> str:
    return f"incoming/{organ_id}/{document_id}/{part_name(index)}.pdf"


def signed_attachment_key(organ_id: str, document_id: str, index: int) -> str:
    return f"signed/{organ_id}/{document_id}/{part_name(index)}.pdf"


def parse_incoming_key(key: str) -> tuple[str, str, str] | None:
    """(organ_id, document_id, part) of an upload key, part `main` or `att-<n>`; None for any other key."""
    match = _INCOMING.match(key)
    if not match:
        return None
    return match["organ"], match["doc"], match["part"] or MAIN_PART


def stamp_label(number: str, notation: str) -> str:
    """The first line of a phụ lục's stamp: "Số: <số>/<ký hiệu>", or the ký hiệu alone while the số is empty
    (a document may be registered before its number is issued, models.DocumentMetadata)."""
    return f"Số: {number}/{notation}" if number else notation


def attachment_file_name(metadata: dict[str, Any], spec: dict[str, Any], index: int) -> str:
    """The `AttachmentName` a recipient saves the phụ lục under: the client's `file_name`, else one derived from
    the document's số/ký hiệu like the main file's (dispatch), so the files of one package sort together."""
    if spec.get("file_name"):
        return str(spec["file_name"])
    base = f"{metadata.get('number') or 'so'}-{metadata['notation']}".replace("/", "-")
    return f"{base}-phu-luc-{index}.pdf"


def find_part(record: dict[str, Any], part: str | None) -> dict[str, Any] | None:
    """The record's attachment entry for `part` (`att-<n>`); None for the main document. An unknown part is a
    404 in the document's own terms, like an unknown document."""
    if part in (None, "", MAIN_PART):
        return None
    match = _PART.match(str(part))
    entries = {int(a["index"]): a for a in record.get("attachments") or []}
    if not match or int(match["n"]) not in entries:
        raise NotFound("Không tìm thấy phụ lục của văn bản.", code="attachment_not_found", details={"part": part})
    return entries[int(match["n"])]
