"""`POST /v1/documents/draft`: the metadata of `POST /v1/documents` read from the PDF itself (issue 12, "Read the
document"), so the clerk's form (the web page, `edoc send`) starts filled in.

The PDF comes as the body (`Content-Type: application/pdf`, up to 5 MB, as `POST /v1/verify` takes it), is written
to /tmp, its text and positions extracted under the parse limits (chalicelib.signing.pdf_text), read by the NĐ 30
layout (chalicelib.domain.document_reader), the fields its header lacks proposed from the caller's agency, and its
recipients resolved against the agency registry (chalicelib.domain.recipient_names). Nothing is stored: the answer
is a proposal the clerk checks (each field has a confidence, doubts are `warnings`); the document is registered by
`POST /v1/documents` as before. A scan (no text layer) answers 422 `no_text_layer`.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

from chalicelib.adapters.agency_registry import get_agency_registry
from chalicelib.core.errors import GatewayError, ValidationFailed
from chalicelib.domain.caller import Caller
from chalicelib.domain.document_reader import Reading, fill_from_issuer, read_document
from chalicelib.domain.recipient_names import Known, Resolved, province_name, resolve_recipients
from chalicelib.signing.pdf_text import TextUnavailable, page_lines

__all__ = ["MAX_DRAFT_BYTES", "draft_answer", "read_draft"]

#: API Gateway's payload limit leaves no room for more (as POST /v1/verify).
MAX_DRAFT_BYTES = 5 * 1024 * 1024


def read_draft(caller: Caller, body: bytes | None) -> dict[str, Any]:
    """The answer for the PDF in `body` (module docstring), or a GatewayError with a stable code."""
    if not body:
        raise ValidationFailed("Không có tệp PDF trong yêu cầu.", code="empty_file")
    if len(body) > MAX_DRAFT_BYTES:
        raise GatewayError(code="payload_too_large", message="Tệp quá lớn để đọc trực tiếp (tối đa 5 MB).",
                           details={"max_bytes": MAX_DRAFT_BYTES})
    with tempfile.TemporaryDirectory(prefix="draft-") as tmp:
        path = os.path.join(tmp, "document.pdf")
        with open(path, "wb") as fh:
            fh.write(body)
        try:
            pages, lines = page_lines(path)
        except TextUnavailable as exc:
            raise GatewayError(code=exc.code, details=dict(exc.details)) from None
    known = [Known(i["organ_id"], str(i.get("name", i["organ_id"])), bool(i.get("active", True)))
             for i in get_agency_registry().items()]
    reading = read_document(lines)
    return draft_answer(reading, known, caller.organ_id, pages=pages)


def draft_answer(reading: Reading, known: list[Known], sender: str, *, pages: int = 1) -> dict[str, Any]:
    """The wire shape (docs/contract.md#document-draft) of a reading, its recipients resolved for `sender`."""
    issuer = next((k.name for k in known if k.organ_id == sender), "")
    fill_from_issuer(reading, issuer_name=issuer, place=province_name(known, sender))
    resolved = resolve_recipients(reading.recipients, known, sender)
    metadata = dict(reading.metadata)
    codes = list(dict.fromkeys(c for r in resolved for c in r.organ_ids if c != sender))
    confidence = dict(reading.confidence)
    countable = [r for r in resolved if r.note not in ("archive", "internal", "as_above")]
    if codes:
        metadata["recipients"] = codes
        confidence["recipients"] = round(sum(1 for r in countable if r.organ_ids) / max(1, len(countable)), 2)
    warnings = list(reading.warnings)
    unresolved = [r.text for r in resolved if r.note == "unresolved"]
    if unresolved:
        warnings.append({"code": "recipient_unresolved", "field": "recipients",
                         "message": "Không tìm thấy trong danh bạ cơ quan: " + "; ".join(unresolved[:20])})
    if pages > 6:
        warnings.append({"code": "pages_skipped", "message": f"Chỉ đọc 3 trang đầu và 3 trang cuối ({pages} trang)."})
    return {"metadata": metadata, "confidence": confidence, "recipients": [_present(r) for r in resolved],
            "warnings": warnings, "nd30_header": reading.header, "pages": pages}


def _present(entry: Resolved) -> dict[str, Any]:
    out: dict[str, Any] = {"text": entry.text, "organ_ids": entry.organ_ids, "paper": entry.paper,
                           "list": entry.list}
    if entry.note:
        out["note"] = entry.note
    return out
