"""Reports on the digital signatures inside a PDF, with pyHanko's validator.

Why: legal validity of an electronic document comes from the signatures inside the PDF (NĐ 30/2020 Art. 5), not
from the edXML envelope, so every inbound attachment is checked before a clerk sees it, and the report is kept with
the inbox item. The shape is the `POST /v1/verify` answer of docs/contract.md#verify-report, so that route (a later
issue) returns this same report: `{"signatures": [{"field", "signer_subject", "organisation", "signed_at",
"timestamped", "intact", "valid", "trusted", "covers_whole_document", "pades_level", "revocation_checked"}]}`.

- `intact`: the signed byte ranges hash to what was signed; `valid`: the signature over them verifies with the
  certificate's key; `covers_whole_document`: nothing was appended after signing (else see `modification_level`).
- `trusted`: the signer's certificate chains to a configured trust root. No roots are configured yet (the national
  root of Ban Cơ yếu Chính phủ and the public CAs come with a later issue), so `trusted` is false for everyone;
  certificate fetching (AIA/OCSP/CRL) is off, so `revocation_checked` is false as well.
- `pades_level` (ETSI EN 319 142-1): B-B for a PAdES (`ETSI.CAdES.detached`) signature, B-T with a signature
  timestamp, B-LT when the document carries validation data (`/DSS`), B-LTA when a document timestamp follows;
  null for other subfilters.

A broken PDF gives `{"signatures": [], "error": "malformed_pdf"}`; one signature that cannot be evaluated gives an
entry with `intact`/`valid` false and `error`. Never raises on bad input: the report is data about the file.
pyHanko's decompression-bomb limits stay at their defaults (docs/traps.md#decode-limits). Heavy imports happen inside
the functions.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, timezone
from typing import Any

from chalicelib.core.clock import VN_TZ

__all__ = ["MAX_SIGNATURES", "PADES_SUBFILTER", "summary", "verify_pdf"]

PADES_SUBFILTER = "/ETSI.CAdES.detached"
#: A PDF with more signature fields than this is reported on its first ones only (each costs a CMS check).
MAX_SIGNATURES = 50


def verify_pdf(path: str | os.PathLike[str], *, trust_roots: list[Any] | None = None) -> dict[str, Any]:
    """The report on every signature of the PDF at `path` (see the module docstring); `trust_roots` are
    asn1crypto certificates (none configured yet → `trusted` false)."""
    from pyhanko.pdf_utils.misc import PdfError  # lazy: pyHanko ~150 ms at cold start
    from pyhanko.pdf_utils.reader import PdfFileReader  # lazy: pyHanko ~150 ms at cold start

    if not trust_roots:
        # With no roots every path fails to build, and pyHanko logs that as a warning with a traceback per
        # signature: noise, since `trusted: false` already says it.
        logging.getLogger("pyhanko.sign.validation.generic_cms").setLevel(logging.ERROR)
    try:
        with open(path, "rb") as fh:
            if fh.read(5) != b"%PDF-":
                return {"signatures": [], "error": "not_a_pdf"}
            fh.seek(0)
            reader = PdfFileReader(fh, strict=False)
            if reader.encrypted:
                return {"signatures": [], "error": "encrypted_pdf"}
            embedded = list(reader.embedded_signatures)[:MAX_SIGNATURES]
            has_dss = "/DSS" in reader.root
            dss = _read_dss(reader) if has_dss and trust_roots else None
            return {"signatures": [_report(sig, i, embedded, has_dss, trust_roots or [], dss) for i, sig in
                                   enumerate(embedded)]}
    except (PdfError, ValueError, KeyError, TypeError, IndexError, OSError, RecursionError):
        return {"signatures": [], "error": "malformed_pdf"}


def summary(report: dict[str, Any]) -> str:
    """One word for lists: `valid` (every signature intact, valid and covering the whole file), `unsigned`,
    `invalid`, or `unreadable`. Trust is not part of it while no roots are configured (see `trusted`)."""
    if report.get("error"):
        return "unreadable"
    sigs = report.get("signatures") or []
    if not sigs:
        return "unsigned"
    return "valid" if all(s["intact"] and s["valid"] for s in sigs) and sigs[-1]["covers_whole_document"] \
        else "invalid"


def _read_dss(reader: Any) -> Any:
    """The document's DSS (PAdES B-LT validation data), or None when it cannot be read."""
    from pyhanko.sign.validation.dss import DocumentSecurityStore  # lazy: pyHanko ~150 ms at cold start

    try:
        return DocumentSecurityStore.read_dss(reader)
    except Exception:  # a broken DSS: the signatures are still reported, without revocation evidence
        return None


def _report(sig: Any, index: int, all_sigs: list[Any], has_dss: bool, trust_roots: list[Any],
            dss: Any = None) -> dict[str, Any]:
    from pyhanko.sign.validation import validate_pdf_signature  # lazy: pyHanko ~150 ms at cold start
    from pyhanko.sign.validation.status import SignatureCoverageLevel  # lazy: pyHanko ~150 ms at cold start
    from pyhanko_certvalidator import ValidationContext  # lazy: pyHanko ~150 ms at cold start

    entry: dict[str, Any] = {
        "field": _text(getattr(sig, "field_name", "")), "signer_subject": None, "organisation": None,
        "signed_at": None, "timestamped": False, "intact": False, "valid": False, "trusted": False,
        "covers_whole_document": False, "pades_level": None, "revocation_checked": False,
    }
    revocation_checked = False
    try:
        context = ValidationContext(trust_roots=list(trust_roots), allow_fetching=False)
        if dss is not None:
            # B-LT: validate against the certificates, OCSP answers and CRLs embedded in the document, with
            # revocation REQUIRED — trusted then means "trusted and shown unrevoked by the document's own evidence".
            hard = dss.as_validation_context({"trust_roots": list(trust_roots), "allow_fetching": False,
                                               "revocation_mode": "hard-fail"})
            status = validate_pdf_signature(sig, signer_validation_context=hard)
            revocation_checked = bool(status.trusted)
            if not revocation_checked:
                status = validate_pdf_signature(sig, signer_validation_context=context)
        else:
            status = validate_pdf_signature(sig, signer_validation_context=context)
    except Exception as exc:  # a malformed CMS blob or an unsupported mechanism: report it, never fail the caller
        entry["error"] = type(exc).__name__
        return entry
    cert = status.signing_cert
    subject = cert.subject.native if cert is not None else {}
    timestamped = status.timestamp_validity is not None
    entry.update({
        "signer_subject": cert.subject.human_friendly if cert is not None else None,
        "organisation": subject.get("organization_name") or subject.get("common_name"),
        "signed_at": _iso(status.signer_reported_dt),
        "timestamped": timestamped,
        "intact": bool(status.intact),
        "valid": bool(status.valid),
        "trusted": bool(status.trusted) and bool(trust_roots),
        "covers_whole_document": status.coverage == SignatureCoverageLevel.ENTIRE_FILE,
        "pades_level": _pades_level(sig, timestamped, index, all_sigs, has_dss),
        "revocation_checked": revocation_checked,
        "modification_level": status.modification_level.name if status.modification_level else None,
    })
    if subject.get("serial_number"):
        entry["organ_id"] = subject["serial_number"]  # the identifier code the demo CA and agency certs carry
    if timestamped:
        entry["timestamp_at"] = _iso(status.timestamp_validity.timestamp)
    return entry


def _pades_level(sig: Any, timestamped: bool, index: int, all_sigs: list[Any], has_dss: bool) -> str | None:
    if str(sig.sig_object.get("/SubFilter")) != PADES_SUBFILTER:
        return None
    if not timestamped:
        return "B-B"
    if not has_dss:
        return "B-T"
    later_doc_ts = any(str(s.sig_object.get("/Type", "")) == "/DocTimeStamp" for s in all_sigs[index + 1:])
    return "B-LTA" if later_doc_ts else "B-LT"


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)  # noqa: UP017 (explicit for readers: CMS times are UTC)
    return value.astimezone(VN_TZ).isoformat(timespec="seconds")


def _text(value: object) -> str:
    return str(value or "")
