"""`POST /v1/verify`: a report on any PDF's signatures (docs/contract.md#verify-report), with the same verifier that
checks inbound documents (`chalicelib.signing.verification`) and the trust roots the key lifecycle uses
(`adapters.trust_store.trust_roots`).

Three ways in: the PDF itself as the body (`Content-Type: application/pdf`, up to 5 MB: API Gateway's payload
limit leaves no room for more), or `{"document_id"}` of the caller's own upload (the signed PDF once there is one,
else the original), or `{"inbox_id"}` of an item in the caller's inbox (its first PDF, or `"attachment": n`).
Files are streamed from S3 to /tmp, never held in memory, and the report never contains document contents.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

from chalicelib.adapters.objects import get_objects
from chalicelib.adapters.trust_store import trust_roots
from chalicelib.api.auth import Caller
from chalicelib.api.http import parse_json
from chalicelib.core.errors import GatewayError, NotFound, ValidationFailed
from chalicelib.inbound.inbox import get_own_item
from chalicelib.outbound.documents import get_record
from chalicelib.signing.verification import verify_pdf

__all__ = ["MAX_INLINE_BYTES", "PayloadTooLarge", "verify_body"]

MAX_INLINE_BYTES = 5 * 1024 * 1024


class PayloadTooLarge(GatewayError):
    status = 413
    code = "payload_too_large"
    message = "Tệp quá lớn để gửi trực tiếp (tối đa 5 MB): hãy dùng document_id hoặc inbox_id."


def _verify_file(path: str) -> dict[str, Any]:
    """The report, or 400 with its code (`not_a_pdf`, `malformed_pdf`, `encrypted_pdf`, `pdf_too_complex` with
    `details.reason`). The parse is bounded in CPU and memory and the report cut to fit (chalicelib.signing)."""
    report = verify_pdf(path, trust_roots=trust_roots())
    if report.get("error"):
        message = None if report["error"] == "pdf_too_complex" else "Không đọc được tệp PDF để kiểm tra chữ ký."
        details = {"reason" if k == "detail" else k: report[k] for k in ("detail", "field") if k in report}
        raise ValidationFailed(message, code=report["error"], details=details)
    return report


def verify_body(caller: Caller, body: bytes | None, content_type: str) -> dict[str, Any]:
    """The report for the PDF in the body, or for the upload or inbox item a JSON body names."""
    if content_type.split(";")[0].strip().lower() == "application/pdf":
        if not body:
            raise ValidationFailed("Không có tệp PDF trong yêu cầu.", code="empty_file")
        if len(body) > MAX_INLINE_BYTES:
            raise PayloadTooLarge(details={"max_bytes": MAX_INLINE_BYTES})
        with tempfile.TemporaryDirectory(prefix="verify-") as tmp:
            path = os.path.join(tmp, "document.pdf")
            with open(path, "wb") as fh:
                fh.write(body)
            return _verify_file(path)
    request = parse_json(body)
    if not isinstance(request, dict) or not ({"document_id", "inbox_id"} & set(request)):
        raise ValidationFailed("Cần gửi tệp PDF, hoặc document_id, hoặc inbox_id.", code="nothing_to_verify")
    key = _key_of(caller, request)
    with tempfile.TemporaryDirectory(prefix="verify-") as tmp:
        path = os.path.join(tmp, "document.pdf")
        get_objects().download(key, path)
        report = _verify_file(path)
    return report


def _key_of(caller: Caller, request: dict[str, Any]) -> str:
    """The S3 key of the PDF the request names, after the same tenant checks as reading it (404 otherwise)."""
    if "document_id" in request:
        record = get_record(caller, str(request["document_id"]))
        return record.get("signed_key") or record["original_key"]
    item = get_own_item(caller, str(request["inbox_id"]))
    pdfs = [a for a in item.get("attachments", []) if str(a.get("name", "")).lower().endswith(".pdf")
            or a.get("content_type") == "application/pdf"]
    index = request.get("attachment", 0)
    if not isinstance(index, int) or not 0 <= index < len(pdfs):
        raise NotFound("Văn bản đến không có tệp PDF này.", code="attachment_not_found")
    return pdfs[index]["key"]
