"""Agree or say why (issue 12): a document's own text against the metadata its record was registered with, so a
PDF whose "Số:" line, date, type or trích yếu says something else than the record is refused (`REJECTED
metadata_mismatch`, the fields in `details`) before it is signed and sent, or only noted, by the agency's setting
(`metadata_check`: `reject`, the default, `warn` or `off`; chalicelib.outbound.text_check applies it).

When the check applies: only when the first page has the whole NĐ 30 header (Phụ lục I ①③④: the quốc hiệu
"Cộng hòa xã hội chủ nghĩa Việt Nam", the "Số: …/…" line and the "<Địa danh>, ngày … tháng … năm …" line). A
PDF without it (a generic attachment, a report rendered from a template, most of the test suite's sample PDFs,
which carry the fixtures' text without its quốc hiệu) says nothing the gateway could hold against the record, and
is signed as before.

What counts as agreeing, field by field (only fields the reader is sure of, confidence ≥ `SURE`):
- `number`: a blank on the page agrees with anything (the văn thư fills it at issuance, Art. 15); otherwise the
  same number (leading zeros aside: "05" is 5);
- `notation`: the same ký hiệu, accents, case and spaces aside (`QD-UBND` is `QĐ-UBND`);
- `issued_on`: the same date; a date with blank day (or day and month) agrees with any date of that month (year);
- `type`: the same Phụ lục III type (folded);
- `subject`: the same trích yếu, accents, case, spaces and a final "." aside, "V/v" read as "Về việc".
"""

from __future__ import annotations

import re
from typing import Any

from chalicelib.domain.document_reader import Reading
from chalicelib.domain.text_search import fold

__all__ = ["CHECKED_FIELDS", "SETTINGS", "SURE", "applies", "disagreements"]

CHECKED_FIELDS = ("number", "notation", "issued_on", "type", "subject")
#: The agency's `metadata_check`: refuse a mismatch, only note it on the timeline, or not read the text at all.
SETTINGS = ("reject", "warn", "off")
SURE = 0.85


def applies(reading: Reading) -> bool:
    """Whether the text can be held against the record: the whole NĐ 30 header on the first page."""
    return reading.header and reading.national_title


def disagreements(reading: Reading, metadata: dict[str, Any]) -> dict[str, dict[str, str]]:
    """`{field: {"document": <as the text says>, "metadata": <as the record says>}}` for every checked field the
    two disagree on (empty when they agree or when the check does not apply)."""
    if not applies(reading):
        return {}
    out: dict[str, dict[str, str]] = {}
    for name in CHECKED_FIELDS:
        said = reading.metadata.get(name)
        if said is None or reading.confidence.get(name, 0.0) < SURE:
            continue
        recorded = str(metadata.get(name) or "")
        if not _agree(name, str(said), recorded):
            out[name] = {"document": str(said), "metadata": recorded}
    return out


def _agree(name: str, said: str, recorded: str) -> bool:
    if name == "number":
        return not said or (recorded.isdigit() and int(said) == int(recorded))
    if name == "issued_on":
        return recorded.startswith(said) if len(said) < 10 else said == recorded
    if name == "subject":
        return _subject(said) == _subject(recorded)
    return re.sub(r"\s+", "", fold(said)) == re.sub(r"\s+", "", fold(recorded))


def _subject(text: str) -> str:
    folded = fold(text).rstrip(". ")
    return re.sub(r"^v/v\b", "ve viec", folded)
