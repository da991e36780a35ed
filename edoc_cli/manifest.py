"""Metadata for `edoc send-dir`: which PDFs of a folder are documents, and each one's metadata and phụ lục.

Two ways an agency's system hands a batch over (issue 10), chosen per run:
- a sidecar per PDF: `X.pdf` with `X.json` (the body of `POST /v1/documents`), and its phụ lục as `X.att-1.pdf`,
  `X.att-2.pdf`, … (named in the metadata's `attachments`, or after their file when it has none);
- one CSV (`--manifest`, UTF-8, a header row): `file`, `number`, `notation`, `type`, `issued_on`, `place`,
  `subject`, `signer_full_name`, `signer_position`, `signer_competence`, `recipients` (codes separated by `;` or
  spaces), and optionally `urgency`, `due_date`, `attachments` (file names in the folder, separated by `;`).
The gateway validates the metadata itself (docs/contract.md#document-metadata); this module only gathers it, and a
PDF without metadata is a failed item named in the summary, never silently skipped.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["BatchItem", "from_manifest", "from_sidecars", "metadata_from_row"]

_ATTACHMENT = re.compile(r"\.att-(\d+)\.pdf$", re.IGNORECASE)
_OPTIONAL = ("urgency", "due_date", "secrecy")


@dataclass
class BatchItem:
    """One document of a batch: its PDF, its metadata (None when missing: `problem` says why), its phụ lục."""

    pdf: Path
    metadata: dict[str, Any] | None
    attachments: list[Path] = field(default_factory=list)
    problem: str | None = None


def metadata_from_row(row: dict[str, str]) -> dict[str, Any]:
    """The `POST /v1/documents` body of one CSV row (empty optional cells left out)."""
    value = {k: (row.get(k) or "").strip() for k in row}
    meta: dict[str, Any] = {
        "number": value.get("number", ""), "notation": value.get("notation", ""), "type": value.get("type", ""),
        "issued_on": value.get("issued_on", ""), "place": value.get("place", ""),
        "subject": value.get("subject", ""),
        "signer": {k: v for k, v in (("full_name", value.get("signer_full_name", "")),
                                     ("position", value.get("signer_position", "")),
                                     ("competence", value.get("signer_competence", ""))) if v},
        "recipients": [code for code in re.split(r"[;\s,]+", value.get("recipients", "")) if code],
    }
    meta.update({k: value[k] for k in _OPTIONAL if value.get(k)})
    return meta


def _with_attachment_names(meta: dict[str, Any], files: list[Path]) -> dict[str, Any]:
    """Phụ lục files the metadata does not name yet get `Phụ lục <n>` and their own file name."""
    given = list(meta.get("attachments") or [])
    for index, path in enumerate(files[len(given):], start=len(given) + 1):
        given.append({"name": f"Phụ lục {index}", "file_name": path.name})
    return {**meta, "attachments": given} if files else meta


def from_sidecars(folder: Path) -> list[BatchItem]:
    """Every `X.pdf` of `folder` (not `X.att-N.pdf`), with `X.json` and `X.att-N.pdf` beside it."""
    items = []
    for pdf in sorted(p for p in folder.iterdir() if p.suffix.lower() == ".pdf" and not _ATTACHMENT.search(p.name)):
        attachments = sorted((p for p in folder.glob(f"{pdf.stem}.att-*.pdf") if _ATTACHMENT.search(p.name)),
                             key=lambda p: int(_ATTACHMENT.search(p.name).group(1)))  # type: ignore[union-attr]
        sidecar = pdf.with_suffix(".json")
        if not sidecar.is_file():
            items.append(BatchItem(pdf, None, attachments, problem=f"thiếu tệp thông tin {sidecar.name}"))
            continue
        try:
            meta = json.loads(sidecar.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            items.append(BatchItem(pdf, None, attachments, problem=f"{sidecar.name} không phải JSON hợp lệ: {exc}"))
            continue
        if not isinstance(meta, dict):
            items.append(BatchItem(pdf, None, attachments, problem=f"{sidecar.name} phải là một đối tượng JSON"))
            continue
        items.append(BatchItem(pdf, _with_attachment_names(meta, attachments), attachments))
    return items


def from_manifest(folder: Path, manifest: Path) -> list[BatchItem]:
    """One item per CSV row; files are relative to `folder`."""
    items = []
    with manifest.open(encoding="utf-8-sig", newline="") as fh:
        for line, row in enumerate(csv.DictReader(fh), start=2):
            name = (row.get("file") or "").strip()
            pdf = folder / name
            if not name or not pdf.is_file():
                items.append(BatchItem(pdf, None, problem=f"dòng {line}: không có tệp '{name}'"))
                continue
            attachments = [folder / a.strip() for a in (row.get("attachments") or "").split(";") if a.strip()]
            missing = [a.name for a in attachments if not a.is_file()]
            if missing:
                items.append(BatchItem(pdf, None, attachments, problem=f"dòng {line}: thiếu phụ lục {missing}"))
                continue
            meta = metadata_from_row({k: v for k, v in row.items() if k != "attachments"})
            if attachments:
                meta["attachments"] = [{"name": a.stem, "file_name": a.name} for a in attachments]
            items.append(BatchItem(pdf, meta, attachments))
    return items
