"""The edXML `DocumentId` (QCVN 102:2016, `docs/edxml.md#namespace`, `MessageHeader/DocumentId`):
"<issuer OrganId>,<yyyy/MM/dd>,<số>/<ký hiệu>", the one name a document has across agencies.

The only place that builds or takes apart that form: revocations, updates, replacements and status packages point
at a document by it (`ResponseFor/DocumentId`, `Bussiness/DocumentId`, `ReplacementInfo/DocumentId`).
"""

from __future__ import annotations

from datetime import date

from chalicelib.standards.edxml.dates import format_date, parse_date

__all__ = ["document_id", "split_document_id"]


def document_id(issuer_organ_id: str, promulgation_date: date, number: str, notation: str) -> str:
    """The edXML `DocumentId`: "<issuer OrganId>,<yyyy/MM/dd>,<số>/<ký hiệu>".

    Example: `000.00.00.H62,2019/09/20,7413/UBND-VX3`. It identifies the document across agencies, which is why
    revocations and status packages point at it (`ResponseFor/DocumentId`).
    """
    return f"{issuer_organ_id},{format_date(promulgation_date)},{number}/{notation}"


def split_document_id(value: str) -> tuple[str, date | None, str, str] | None:
    """Inverse of `document_id`: (issuer OrganId, date, số, ký hiệu), or None when it is not of that form."""
    parts = value.split(",", 2)
    if len(parts) != 3 or "/" not in parts[2]:
        return None
    number, notation = parts[2].split("/", 1)
    return parts[0].strip(), parse_date(parts[1]), number.strip(), notation.strip()
