"""Phụ lục naming (chalicelib.domain.attachments) and the metadata's `attachments` field: the API, the signing handler
and dispatch must agree on every key and name, so they are pinned here."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from chalicelib.core.errors import NotFound
from chalicelib.domain.attachments import (
    attachment_file_name,
    find_part,
    incoming_attachment_key,
    parse_incoming_key,
    signed_attachment_key,
    stamp_label,
)
from chalicelib.domain.metadata import AttachmentSpec, DocumentMetadata

DOC = "0b5f8a2e-6c1d-4e3f-9a7b-1c2d3e4f5a6b"
ORGAN = "000.00.00.H62"


def test_keys_round_trip_through_the_event_parser() -> None:
    assert incoming_attachment_key(ORGAN, DOC, 2) == f"incoming/{ORGAN}/{DOC}/att-2.pdf"
    assert signed_attachment_key(ORGAN, DOC, 2) == f"signed/{ORGAN}/{DOC}/att-2.pdf"
    assert parse_incoming_key(incoming_attachment_key(ORGAN, DOC, 2)) == (ORGAN, DOC, "att-2")
    assert parse_incoming_key(f"incoming/{ORGAN}/{DOC}.pdf") == (ORGAN, DOC, "main")
    for other in (f"incoming/{ORGAN}/{DOC}/att-0.pdf", f"incoming/{ORGAN}/{DOC}/x.pdf", f"signed/{ORGAN}/{DOC}.pdf",
                  f"incoming/{ORGAN}/{DOC}/att-1.pdf.tmp", f"incoming/{ORGAN}/not-a-uuid.pdf"):
        assert parse_incoming_key(other) is None, other


def test_stamp_label_uses_the_notation_alone_while_there_is_no_number() -> None:
    assert stamp_label("7413", "UBND-VX3") == "Số: 7413/UBND-VX3"
    assert stamp_label("", "UBND-VX3") == "UBND-VX3"


def test_file_name_given_or_derived_from_the_document_code() -> None:
    md = {"number": "7413", "notation": "UBND-VX3"}
    assert attachment_file_name(md, {"file_name": "phu-luc-I.pdf"}, 1) == "phu-luc-I.pdf"
    assert attachment_file_name(md, {}, 2) == "7413-UBND-VX3-phu-luc-2.pdf"
    assert attachment_file_name({"number": "", "notation": "QĐ-UBND"}, {}, 1) == "so-QĐ-UBND-phu-luc-1.pdf"


def test_find_part_main_attachment_and_unknown() -> None:
    record = {"attachments": [{"index": 1, "name": "Phụ lục I", "signed_key": "k1"}]}
    assert find_part(record, None) is None and find_part(record, "main") is None
    assert find_part(record, "att-1")["signed_key"] == "k1"
    for bad in ("att-2", "att-x", "../main"):
        with pytest.raises(NotFound) as exc:
            find_part(record, bad)
        assert exc.value.code == "attachment_not_found"


def _metadata(**extra: object) -> dict:
    return {"number": "7413", "notation": "UBND-VX3", "type": "CV", "subject": "Về việc X", "issued_on": "2019-09-20",
            "place": "Vĩnh Phúc", "signer": {"full_name": "Nguyễn Văn A"}, "recipients": ["000.00.00.G22"], **extra}


def test_metadata_attachments_limits() -> None:
    assert DocumentMetadata.model_validate(_metadata()).attachments == []
    md = DocumentMetadata.model_validate(_metadata(attachments=[{"name": " Phụ lục I "}]))
    assert md.attachments == [AttachmentSpec(name="Phụ lục I")]
    for bad in ([{"name": ""}], [{"name": "x", "file_name": "../a.pdf"}], [{"name": "x", "file_name": "a.docx"}],
                [{"name": "x", "extra": 1}], [{"name": f"P{i}"} for i in range(21)]):
        with pytest.raises(ValidationError):
            DocumentMetadata.model_validate(_metadata(attachments=bad))
