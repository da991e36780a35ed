"""Code tables of a document's metadata that both the API's validation and the edXML package builder read.

Why apart from chalicelib.domain.metadata: that module is the pydantic model of a request; dispatch needs only
these tables, and must not pay pydantic's import on its cold start.
"""

from __future__ import annotations

from chalicelib.standards.nd30_layout import TYPE_NAMES

__all__ = ["DOCUMENT_TYPES", "URGENCY_PRIORITY"]

#: Phụ lục III NĐ 30/2020: abbreviation → Vietnamese name, the standard's own table (chalicelib.standards.nd30_layout).
#: `CV` (công văn) has no abbreviation in the standard; clients send `CV` to mean it.
DOCUMENT_TYPES: dict[str, str] = TYPE_NAMES

#: edXML OtherInfo/Priority: 0 thường, 1 khẩn, 2 thượng khẩn, 3 hỏa tốc.
URGENCY_PRIORITY: dict[str, int] = {"normal": 0, "urgent": 1, "very_urgent": 2, "flash": 3}
