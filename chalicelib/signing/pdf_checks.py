"""Checks on the uploaded object itself, before anything signs it.

Why here and not only in the presigned POST: the POST's conditions (size range, content type) are enforced by real
S3 but not by moto (docs/traps.md#moto-presigned-conditions-not-enforced), and a client can send any bytes that fit. The
signing handler calls `check_upload` on the downloaded file; every failure is an `UploadRejected` with a stable code, so
the record goes `REJECTED` with a reason instead of the message being retried forever.

Every parse is bounded (issue 8): the declared cross-reference sizes are checked from the bytes first
(`pdf_limits.prescan`), then pyHanko's parse runs in a forked child with CPU and memory limits
(`chalicelib.signing.bounded`), where the page tree is walked once with loops and depth refused
(`pdf_limits.check_page_tree`). A PDF past a bound is `pdf_too_complex` with `details.reason` naming it: the record
goes `REJECTED` instead of the Lambda dying with no record left. Memory stays flat otherwise: the size comes from the
file system, the header and trailer are read as 1 KB slices, and pyHanko's reader loads the cross-reference data and
the few objects looked at (catalog, page tree, form fields), never the page contents. pyHanko's decompression limits
(`DecodeLimits`) stay on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from chalicelib.core.errors import UploadRejected
from chalicelib.signing.bounded import ChildFailed, run_bounded
from chalicelib.signing.pdf_limits import (
    DEFAULT_LIMITS,
    ParseLimits,
    PdfTooComplex,
    check_object_streams,
    check_page_tree,
    prescan,
    signature_fields,
)

__all__ = ["EOF_MARKER", "MSG_EMPTY", "MSG_ENCRYPTED", "MSG_MALFORMED", "MSG_NOT_PDF", "MSG_TOO_COMPLEX",
           "MSG_TOO_LARGE", "PDF_MAGIC", "PdfFacts", "check_upload"]

#: PDF header and end-of-file marker. ISO 32000 lets readers find `%%EOF` within the last 1024 bytes.
PDF_MAGIC = b"%PDF-"
EOF_MARKER = b"%%EOF"
_PROBE = 1024

MSG_EMPTY = "Tệp tải lên rỗng."
MSG_TOO_LARGE = "Tệp vượt quá dung lượng cho phép."
MSG_NOT_PDF = "Tệp không phải PDF."
MSG_MALFORMED = "Tệp PDF bị hỏng hoặc không đầy đủ."
MSG_ENCRYPTED = "Tệp PDF đã bị mã hóa, không thể ký."
MSG_TOO_COMPLEX = "Tệp PDF có cấu trúc quá phức tạp, không thể xử lý an toàn."


@dataclass(frozen=True)
class PdfFacts:
    """What the checks learnt, for the record and the signing step."""

    size: int
    page_count: int
    #: Signature fields already in the document, signed or empty (the person's signature is usually one).
    signature_field_count: int
    #: Of those, how many carry a signature.
    signature_count: int


def check_upload(path: str | os.PathLike[str], max_bytes: int, *, limits: ParseLimits = DEFAULT_LIMITS) -> PdfFacts:
    """Check the uploaded file at `path`; return its facts or raise `UploadRejected`.

    Codes: `empty_file`, `file_too_large`, `not_a_pdf` (no `%PDF-` at offset 0), `malformed_pdf` (truncated,
    unparseable, no page to put the stamp on, or a signature field whose value is not a signature dictionary),
    `encrypted_pdf`, `pdf_too_complex` (past `limits`: `details.reason` says which, see `pdf_limits.PdfTooComplex`).

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
        try:
            prescan(fh, size, limits)
        except PdfTooComplex as exc:
            raise UploadRejected(MSG_TOO_COMPLEX, code="pdf_too_complex", details=exc.details) from exc

    _load_parser()  # in this process, before the fork: the child must not pay pyHanko's import
    try:
        answer = run_bounded(_parse, os.fspath(path), limits, limits=limits)
    except PdfTooComplex as exc:
        raise UploadRejected(MSG_TOO_COMPLEX, code="pdf_too_complex", details=exc.details) from exc
    except ChildFailed as exc:  # untrusted input: any parser failure is the file's fault, never a retry
        raise UploadRejected(MSG_MALFORMED, code="malformed_pdf",
                             details={"reason": exc.kind, "detail": exc.detail[:200]}) from exc
    if "rejected" in answer:
        rejected = answer["rejected"]
        raise UploadRejected(rejected["message"], code=rejected["code"], details=rejected["details"])
    return PdfFacts(size=size, **answer["facts"])


def _load_parser() -> None:
    import pyhanko.pdf_utils.reader  # noqa: F401  # lazy: pyHanko ~150 ms at cold start
    import pyhanko.sign.fields  # noqa: F401  # lazy: pyHanko ~150 ms at cold start


def _parse(path: str, limits: ParseLimits) -> dict[str, Any]:
    """pyHanko's look at the file, in the bounded child: `{"facts": ...}` or `{"rejected": ...}` (JSON)."""
    try:
        with open(path, "rb") as fh:
            return {"facts": _facts(fh, limits)}
    except UploadRejected as exc:
        return {"rejected": {"code": exc.code, "message": exc.message, "details": exc.details}}
    except (PdfTooComplex, MemoryError, RecursionError):
        raise  # the bounds, reported as such by run_bounded
    except Exception as exc:  # untrusted input: any parser failure is the file's fault, never a retry
        return {"rejected": {"code": "malformed_pdf", "message": MSG_MALFORMED,
                             "details": {"reason": type(exc).__name__, "detail": str(exc)[:200]}}}


def _facts(fh: Any, limits: ParseLimits) -> dict[str, int]:
    from pyhanko.pdf_utils.reader import PdfFileReader  # lazy: pyHanko ~150 ms at cold start (loaded before the fork)

    reader = PdfFileReader(fh)  # strict, like the signing step; default DecodeLimits (untrusted input)
    if reader.encrypted:
        raise UploadRejected(MSG_ENCRYPTED, code="encrypted_pdf")
    check_object_streams(reader, limits)
    check_page_tree(reader, limits)
    page_count = int(reader.root["/Pages"]["/Count"])
    if page_count < 1:
        raise UploadRejected(MSG_MALFORMED, code="malformed_pdf", details={"reason": "no_pages"})
    # The stamp goes on the last page by default: make sure the page tree really leads there.
    reader.find_page_for_modification(page_count - 1)
    fields = signature_fields(reader)
    for name, kind in fields:
        if kind == "not_a_dictionary":
            raise UploadRejected(MSG_MALFORMED, code="malformed_pdf", details={
                "reason": "signature_value_not_dictionary", "field": name[:100]})
    return {"page_count": page_count, "signature_field_count": len(fields),
            "signature_count": sum(1 for _, kind in fields if kind == "signed")}
