"""The signer's "agree or say why" check (issue 12): before an upload is signed, its first page's text is read
(chalicelib.signing.pdf_text, bounded, the first page only) and held against the record's metadata
(chalicelib.domain.agreement: only when the page has the whole NĐ 30 header). By the agency's `metadata_check`
(registry field): `reject` (default) refuses a mismatch as `metadata_mismatch` with the differing fields in
`details.fields`, before anything is signed; `warn` signs and notes them on the SIGNED event of the timeline
(`metadata_mismatch`); `off` does not read the text.

A page the text reader cannot read (a scan, a font without a text mapping) gives nothing to compare: the upload
checks (chalicelib.signing.pdf_checks) already decided the file can be signed, so it is signed as before.
"""

from __future__ import annotations

from typing import Any

from chalicelib.core.errors import UploadRejected
from chalicelib.domain.agreement import disagreements
from chalicelib.domain.document_reader import read_document
from chalicelib.domain.page_text import PageLine
from chalicelib.signing.pdf_text import TextUnavailable, page_lines

__all__ = ["check_against_text", "check_lines"]


def check_against_text(path: str, metadata: dict[str, Any], setting: str) -> dict[str, dict[str, str]]:
    """The fields the text at `path` and `metadata` disagree on, to note (`warn`); `{}` when they agree, the check
    does not apply or is `off`; UploadRejected `metadata_mismatch` under `reject` (module docstring)."""
    if setting == "off":
        return {}
    try:
        _, lines = page_lines(path, head=1, tail=0)
    except TextUnavailable:
        return {}
    return check_lines(lines, metadata, setting)


def check_lines(lines: list[PageLine], metadata: dict[str, Any], setting: str) -> dict[str, dict[str, str]]:
    """`check_against_text` on the first page's lines already read (chalicelib.outbound.numbering reads them once
    for the check and the blanks)."""
    if setting == "off":
        return {}
    differing = disagreements(read_document(lines), metadata)
    if differing and setting != "warn":
        raise UploadRejected(code="metadata_mismatch", details={"fields": differing})
    return differing
