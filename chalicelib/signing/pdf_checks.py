"""Checks on the uploaded object itself, before anything signs it.

Why here and not only in the presigned POST: the POST's conditions (size range, content type) are enforced by real
S3 but not by moto (docs/traps.md#moto-presigned-conditions-not-enforced), and a client can send any bytes that fit. The
signing handler calls `check_upload` on the downloaded file; every failure is an `UploadRejected` with a stable code, so
the record goes `REJECTED` with a reason instead of the message being retried forever.

Memory stays flat: the size comes from the file system, the header and trailer are read as 1 KB slices, and
pyHanko's reader loads the cross-reference data and the few objects looked at (catalog, page tree path to the last
page, form fields), never the page contents. pyHanko's decompression limits (`DecodeLimits`) stay on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from chalicelib.core.errors import UploadRejected

__all__ = ["EOF_MARKER", "MSG_EMPTY", "MSG_ENCRYPTED", "MSG_MALFORMED", "MSG_NOT_PDF", "MSG_TOO_LARGE", "PDF_MAGIC",
           "PdfFacts", "check_upload"]

#: PDF header and end-of-file marker. ISO 32000 lets readers find `%%EOF` within the last 1024 bytes.
PDF_MAGIC = b"%PDF-"
EOF_MARKER = b"%%EOF"
_PROBE = 1024

MSG_EMPTY = "Tệp tải lên rỗng."
MSG_TOO_LARGE = "Tệp vượt quá dung lượng cho phép."
MSG_NOT_PDF = "Tệp không phải PDF."
MSG_MALFORMED = "Tệp PDF bị hỏng hoặc không đầy đủ."
MSG_ENCRYPTED = "Tệp PDF đã bị mã hóa, không thể ký."


@dataclass(frozen=True)
class PdfFacts:
    """What the checks learnt, for the record and the signing step."""

    size: int
    page_count: int
    #: Signature fields already in the document, signed or empty (the person's signature is usually one).
    signature_field_count: int
    #: Of those, how many carry a signature.
    signature_count: int


def check_upload(path: str | os.PathLike[str], max_bytes: int) -> PdfFacts:
    """Check the uploaded file at `path`; return its facts or raise `UploadRejected`.

    Codes: `empty_file`, `file_too_large`, `not_a_pdf` (no `%PDF-` at offset 0), `malformed_pdf` (truncated,
    unparseable, or no page to put the stamp on), `encrypted_pdf`.

    The header must be at offset 0. ISO 32000 readers tolerate up to 1 KB of junk before it, but the signature's
    /ByteRange and the incremental update's offsets count from the first byte of the file, and validators disagree
    on such files; a clear rejection beats a signature some recipients cannot verify.
    """
    size = os.stat(path).st_size
    if size == 0:
        raise UploadRejected(MSG_EMPTY, code="empty_file", details={"size": 0})
    if size > max_bytes:
        raise UploadRejected(MSG_TOO_LARGE, code="file_too_large", details={"size": size, "max_bytes": max_bytes})

    with open(path, "rb") as fh:
        head = fh.read(_PROBE)
        if not head.startswith(PDF_MAGIC):
            details: dict[str, Any] = {}
            offset = head.find(PDF_MAGIC)
            if offset > 0:
                details["header_offset"] = offset
            raise UploadRejected(MSG_NOT_PDF, code="not_a_pdf", details=details)
        fh.seek(max(0, size - _PROBE))
        tail = fh.read(_PROBE)
        if EOF_MARKER not in tail or b"startxref" not in tail:
            raise UploadRejected(MSG_MALFORMED, code="malformed_pdf", details={"reason": "truncated"})
        fh.seek(0)
        return _parse(fh, size)


def _parse(fh: Any, size: int) -> PdfFacts:
    from pyhanko.pdf_utils.reader import PdfFileReader  # lazy: pyHanko ~150 ms at cold start
    from pyhanko.sign.fields import enumerate_sig_fields  # lazy: pyHanko ~150 ms at cold start

    try:
        reader = PdfFileReader(fh)  # strict, like the signing step; default DecodeLimits (untrusted input)
        if reader.encrypted:
            raise UploadRejected(MSG_ENCRYPTED, code="encrypted_pdf")
        page_count = int(reader.root["/Pages"]["/Count"])
        if page_count < 1:
            raise UploadRejected(MSG_MALFORMED, code="malformed_pdf", details={"reason": "no_pages"})
        # The stamp goes on the last page by default: make sure the page tree really leads there.
        reader.find_page_for_modification(page_count - 1)
        fields = 0
        signed = 0
        for _name, value, _ref in enumerate_sig_fields(reader, filled_status=None):
            fields += 1
            if value is not None:
                signed += 1
    except UploadRejected:
        raise
    except Exception as exc:  # untrusted input: any parser failure is the file's fault, never a retry
        raise UploadRejected(MSG_MALFORMED, code="malformed_pdf",
                             details={"reason": type(exc).__name__, "detail": str(exc)[:200]}) from exc
    return PdfFacts(size=size, page_count=page_count, signature_field_count=fields, signature_count=signed)
