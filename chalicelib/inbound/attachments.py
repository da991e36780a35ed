"""The attachments of an inbound document: kept in S3, their PDF signatures verified, and the reports fitted into
the inbox item (for chalicelib.inbound.poll).

Why a module of its own: what a sender attaches is the most hostile part of a package (issue 8). The verifier
(`chalicelib.signing.verification.verify_pdf`, bounded by its own module) may still raise on a file nobody foresaw:
the attachment is then filed as `unreadable` (`verification_failed`), never a failed filing. Its report is cut
(`domain.inbound_rules.bounded`: counts and string lengths) and annotated with the verdict and reasons
(`chalicelib.inbound.items.annotate`); an item that would still exceed `ITEM_BYTES_BUDGET` keeps each report in S3
beside its attachment (`<attachment key>.verification.json`) and only the verdict in DynamoDB (400 KB item limit).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from typing import Any

from chalicelib.core.log import logger
from chalicelib.domain.inbound_rules import ITEM_BYTES_BUDGET, bounded, cut, record_bytes, safe_name
from chalicelib.inbound.items import annotate
from chalicelib.signing import verification
from chalicelib.standards.axis_protocol import sha256_file

__all__ = ["REPORT_SUFFIX", "fit_item", "store_attachments", "verify"]

REPORT_SUFFIX = ".verification.json"


def store_attachments(files: Any, organ_id: str, inbox_id: str, attachments: Iterable[Any], *,
                      roots: Callable[[], list[Any]], max_signatures: int) -> list[dict[str, Any]]:
    """Upload each attachment under the item's prefix and verify the PDFs; the item's `attachments` entries."""
    stored = []
    for index, att in enumerate(attachments):
        with open(att.path, "rb") as fh:
            is_pdf = fh.read(5) == b"%PDF-"
        key = f"inbound/{organ_id}/{inbox_id}/{safe_name(att.name, index)}"
        files.upload(att.path, key, content_type="application/pdf" if is_pdf else "application/octet-stream")
        entry: dict[str, Any] = {"name": cut(att.name, 255), "content_type": cut(att.content_type, 100),
                                 "size": att.size, "sha256": sha256_file(att.path), "key": key, "is_pdf": is_pdf,
                                 "verification": None}
        if is_pdf:
            report, word, reasons = annotate(verify(att.path, roots, max_signatures))
            entry.update(verification=report, verification_summary=word, verification_reasons=reasons[:20])
        stored.append(entry)
    return stored


def verify(path: str, roots: Callable[[], list[Any]], max_signatures: int) -> dict[str, Any]:
    """The PDF's signature report, cut to fit a record; a verifier that raises gives an unreadable report."""
    try:
        report = verification.verify_pdf(path, trust_roots=roots())
    except Exception as exc:  # the file is still filed (and kept); the clerk sees it could not be checked
        logger.warning("signature verification raised", extra={"error": type(exc).__name__})
        return {"signatures": [], "error": "verification_failed"}
    if not isinstance(report, dict):
        return {"signatures": [], "error": "verification_failed"}
    sigs = report.get("signatures")
    sigs = sigs if isinstance(sigs, list) else []
    out = bounded({**report, "signatures": sigs[:max_signatures]})
    if len(sigs) > max_signatures:
        out["signatures_total"] = len(sigs)
    return out


def fit_item(files: Any, item: dict[str, Any], tmp: str, budget: int = ITEM_BYTES_BUDGET) -> bool:
    """Keep `item` under `budget` bytes: when it is over, each verification report moves to S3 beside its
    attachment and the item keeps the verdict, the count and the key. True when reports were moved."""
    if record_bytes(item) <= budget:
        return False
    for index, att in enumerate(item["attachments"]):
        report = att.get("verification")
        if not report:
            continue
        path = os.path.join(tmp, f"report-{index}.json")
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(report, fh, ensure_ascii=False)
        report_key = f"{att['key']}{REPORT_SUFFIX}"
        files.upload(path, report_key, content_type="application/json")
        att["verification"] = {"signatures": [], "stored_in": "s3", "report_key": report_key,
                               "signatures_total": report.get("signatures_total", len(report.get("signatures") or [])),
                               **({"error": report["error"]} if report.get("error") else {})}
    return True
