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

A broken PDF gives `{"signatures": [], "error": "malformed_pdf"}` (with `detail` when known, e.g.
`signature_value_not_dictionary`), one past the parse limits `"error": "pdf_too_complex"` and the bound as `detail`
(`pdf_limits.PdfTooComplex`); one
signature that cannot be evaluated gives an entry with `intact`/`valid` false and `error`. Never raises on bad input:
the report is data about the file.

Bounded (issue 8): the declared cross-reference sizes are checked from the bytes first (`pdf_limits.prescan`), then
the whole validation runs in a forked child with CPU and memory limits (`chalicelib.signing.bounded`). Reports are
cut to fit (`fit`): at most `MAX_SIGNATURES` entries (the first ones and the last, which `summary` judges), every
string capped (`MAX_TEXT`), and the whole under `MAX_REPORT_BYTES` of JSON, so an inbox item stays under DynamoDB's
400 KB and an API answer under Lambda's 6 MB; a cut report says so with `"truncated": true` and
`"signature_count"` (how many signatures the PDF has). pyHanko's decompression-bomb limits stay at their defaults
(docs/traps.md#decode-limits). Heavy imports happen inside the functions.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import datetime, timezone
from typing import Any

from chalicelib.core.clock import VN_TZ
from chalicelib.signing.bounded import ChildFailed, run_bounded
from chalicelib.signing.pdf_limits import (
    DEFAULT_LIMITS,
    ParseLimits,
    PdfTooComplex,
    check_object_streams,
    prescan,
    signature_fields,
)

__all__ = ["MAX_REPORT_BYTES", "MAX_SIGNATURES", "MAX_TEXT", "PADES_SUBFILTER", "SUMMARY_WORDS", "fit", "summary",
           "verify_pdf", "worst"]

PADES_SUBFILTER = "/ETSI.CAdES.detached"
#: A PDF with more signatures than this is reported on its first ones and its last (each costs a CMS check).
MAX_SIGNATURES = 20
#: Characters kept of each string a signer or the file chose (longer ones end with "…").
MAX_TEXT = {"field": 200, "signer_subject": 500, "organisation": 300, "organ_id": 64, "error": 100,
            "modification_level": 64}
#: The most bytes of a report as UTF-8 JSON (20 full entries are about 10 KB; hostile strings are cut first).
MAX_REPORT_BYTES = 32 * 1024
#: `summary`'s words, worst first (the order `worst` combines them in).
SUMMARY_WORDS = ("unreadable", "invalid", "untrusted", "unsigned", "partial", "valid")


def verify_pdf(path: str | os.PathLike[str], *, trust_roots: list[Any] | None = None,
               limits: ParseLimits = DEFAULT_LIMITS, max_bytes: int = MAX_REPORT_BYTES) -> dict[str, Any]:
    """The report on every signature of the PDF at `path` (see the module docstring), cut to `max_bytes`;
    `trust_roots` are asn1crypto certificates (none configured → `trusted` false)."""
    if not trust_roots:
        # With no roots every path fails to build, and pyHanko logs that as a warning with a traceback per
        # signature: noise, since `trusted: false` already says it.
        logging.getLogger("pyhanko.sign.validation.generic_cms").setLevel(logging.ERROR)
    try:
        size = os.stat(path).st_size
        with open(path, "rb") as fh:
            if fh.read(5) != b"%PDF-":
                return {"signatures": [], "error": "not_a_pdf"}
            prescan(fh, size, limits)
        _load_validator()  # in this process, before the fork: the child must not pay pyHanko's import
        report = run_bounded(_verify, os.fspath(path), list(trust_roots or []), limits, limits=limits)
    except PdfTooComplex as exc:
        return {"signatures": [], "error": "pdf_too_complex", "detail": exc.reason}
    except ChildFailed as exc:  # a parser failure the child did not classify: the file's fault
        return {"signatures": [], "error": "malformed_pdf", "detail": _cut(exc.kind, 100)[0]}
    except OSError:
        return {"signatures": [], "error": "malformed_pdf"}
    return fit(report, max_bytes)


def summary(report: dict[str, Any]) -> str:
    """One word for lists (pure), `valid` only when every signature is intact, valid and trusted and the last one
    covers the whole document. The words, worst first (`SUMMARY_WORDS`):

    - `unreadable`: the file could not be checked (`error` in the report: not a PDF, malformed, encrypted, too
      complex), or a signature in it could not be evaluated (its entry has `error`);
    - `invalid`: a signature is broken: the signed bytes changed (`intact` false) or the signature does not verify
      with its certificate's key (`valid` false);
    - `untrusted`: intact and valid, but a signer's certificate does not chain to a configured trust root (self-signed,
      another CA), so nothing says who signed;
    - `unsigned`: no signature at all;
    - `partial`: intact, valid and trusted, but something is not covered: content was added after the last signature
      (other than PAdES validation data or a document timestamp, `modification_level` `LTA_UPDATES`), or not every
      signature was checked (the report was cut, `signature_count` above the entries);
    - `valid`: all of the above hold.
    """
    if report.get("error"):
        return "unreadable"
    sigs = report.get("signatures") or []
    if not sigs:
        return "unsigned"
    if any(s.get("error") for s in sigs):
        return "unreadable"
    if not all(s.get("intact") and s.get("valid") for s in sigs):
        return "invalid"
    if not all(s.get("trusted") for s in sigs):
        return "untrusted"
    last = sigs[-1]
    covered = bool(last.get("covers_whole_document")) or last.get("modification_level") == "LTA_UPDATES"
    if not covered or int(report.get("signature_count") or len(sigs)) > len(sigs):
        return "partial"
    return "valid"


def worst(words: set[str] | list[str]) -> str:
    """The worst of several `summary` words (one per attachment, say); unknown words count as `unreadable`."""
    ranks = [SUMMARY_WORDS.index(w) if w in SUMMARY_WORDS else 0 for w in words]
    return SUMMARY_WORDS[min(ranks)] if ranks else "unsigned"


def fit(report: dict[str, Any], max_bytes: int = MAX_REPORT_BYTES) -> dict[str, Any]:
    """`report` cut to fit (pure): at most `MAX_SIGNATURES` entries (the first ones and the last), strings capped by
    `MAX_TEXT`, then entries dropped from the middle until the UTF-8 JSON is at most `max_bytes`. A cut report has
    `"truncated": true` and `"signature_count"`."""
    sigs = list(report.get("signatures") or [])
    count = int(report.get("signature_count") or len(sigs))
    truncated = bool(report.get("truncated"))
    if len(sigs) > MAX_SIGNATURES:
        sigs = sigs[:MAX_SIGNATURES - 1] + sigs[-1:]
        truncated = True
    entries = []
    for sig in sigs:
        entry = dict(sig)
        for key, limit in MAX_TEXT.items():
            if isinstance(entry.get(key), str):
                entry[key], cut = _cut(entry[key], limit)
                truncated = truncated or cut
        entries.append(entry)
    out = {k: v for k, v in report.items() if k not in ("signatures", "signature_count", "truncated")}
    out["signatures"] = entries
    while len(entries) > 1 and _size({**out, "truncated": True, "signature_count": count}) > max_bytes:
        del entries[-2]  # keep the first and the last
        truncated = True
    if truncated:
        out.update({"truncated": True, "signature_count": count})
    return out


def _size(report: dict[str, Any]) -> int:
    return len(json.dumps(report, ensure_ascii=False).encode("utf-8"))


def _cut(text: str, limit: int) -> tuple[str, bool]:
    return (text, False) if len(text) <= limit else (text[:limit - 1] + "…", True)


def _load_validator() -> None:
    import pyhanko.pdf_utils.reader  # noqa: F401  # lazy: pyHanko ~150 ms at cold start
    import pyhanko.sign.validation  # noqa: F401  # lazy: pyHanko ~150 ms at cold start
    import pyhanko.sign.validation.dss  # noqa: F401  # lazy: pyHanko ~150 ms at cold start
    import pyhanko.sign.validation.pdf_embedded  # noqa: F401  # lazy: pyHanko ~150 ms at cold start
    import pyhanko_certvalidator  # noqa: F401  # lazy: pyHanko ~150 ms at cold start


def _verify(path: str, trust_roots: list[Any], limits: ParseLimits) -> dict[str, Any]:
    """The report, in the bounded child (JSON); `PdfTooComplex`, `MemoryError` and `RecursionError` go up."""
    from pyhanko.pdf_utils.misc import PdfError  # lazy: pyHanko ~150 ms at cold start (loaded before the fork)
    from pyhanko.pdf_utils.reader import PdfFileReader  # lazy: pyHanko ~150 ms at cold start (loaded before the fork)

    # pyHanko logs a hostile file's own strings at length (a diff-analysis error quotes every field name): in this
    # child only, its log stays quiet; the report says what matters.
    logging.getLogger("pyhanko").setLevel(logging.CRITICAL)
    try:
        with open(path, "rb") as fh:
            reader = PdfFileReader(fh, strict=False)
            if reader.encrypted:
                return {"signatures": [], "error": "encrypted_pdf"}
            check_object_streams(reader, limits)
            bad_field = _non_dictionary_signature(reader)
            if bad_field is not None:
                return {"signatures": [], "error": "malformed_pdf", "detail": "signature_value_not_dictionary",
                        "field": _cut(bad_field, MAX_TEXT["field"])[0]}
            embedded = list(reader.embedded_signatures)
            chosen = list(enumerate(embedded))
            if len(chosen) > MAX_SIGNATURES:
                chosen = chosen[:MAX_SIGNATURES - 1] + chosen[-1:]
            has_dss = "/DSS" in reader.root
            dss = _read_dss(reader) if has_dss and trust_roots else None
            report: dict[str, Any] = {"signatures": [_report(sig, i, embedded, has_dss, trust_roots, dss)
                                                     for i, sig in chosen]}
            if len(chosen) < len(embedded):
                report.update({"truncated": True, "signature_count": len(embedded)})
            return report
    except (PdfError, ValueError, KeyError, TypeError, IndexError, AttributeError, AssertionError, OSError):
        return {"signatures": [], "error": "malformed_pdf"}


def _non_dictionary_signature(reader: Any) -> str | None:
    """The name of a signature field whose value is neither empty nor a signature dictionary, if any."""
    return next((name for name, kind in signature_fields(reader) if kind == "not_a_dictionary"), None)


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
        "field": _cut(_text(getattr(sig, "field_name", "")), MAX_TEXT["field"])[0], "signer_subject": None,
        "organisation": None,
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
    except (MemoryError, RecursionError, PdfTooComplex):
        raise  # the bounds: the whole report is refused, not one entry
    except Exception as exc:  # a malformed CMS blob or an unsupported mechanism: report it, never fail the caller
        entry["error"] = type(exc).__name__
        return entry
    cert = status.signing_cert
    subject = cert.subject.native if cert is not None else {}
    timestamped = status.timestamp_validity is not None
    entry.update({
        "signer_subject": cert.subject.human_friendly if cert is not None else None,
        "organisation": _optional_text(subject.get("organization_name") or subject.get("common_name")),
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
        # The identifier code the demo CA and agency certs carry.
        entry["organ_id"] = _optional_text(subject["serial_number"])
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


def _optional_text(value: object) -> str | None:
    """A certificate attribute as text (asn1crypto gives a list for a repeated one), None when absent."""
    if value is None:
        return None
    return "; ".join(map(str, value)) if isinstance(value, list) else str(value)
