"""Code tables of a document's metadata that both the API's validation and the edXML package builder read.

Why apart from chalicelib.domain.metadata: that module is the pydantic model of a request; dispatch needs only
these tables, and must not pay pydantic's import on its cold start.
"""

from __future__ import annotations

__all__ = ["DOCUMENT_TYPES", "URGENCY_PRIORITY"]

#: Phụ lục III NĐ 30/2020: abbreviation → Vietnamese name. `CV` (công văn) has no abbreviation in the
#: standard; clients send `CV` to mean it.
DOCUMENT_TYPES: dict[str, str] = {
    "NQ": "Nghị quyết", "QĐ": "Quyết định", "CT": "Chỉ thị", "QC": "Quy chế", "QyĐ": "Quy định",
    "TC": "Thông cáo", "TB": "Thông báo", "HD": "Hướng dẫn", "CTr": "Chương trình", "KH": "Kế hoạch",
    "PA": "Phương án", "ĐA": "Đề án", "DA": "Dự án", "BC": "Báo cáo", "BB": "Biên bản", "TTr": "Tờ trình",
    "HĐ": "Hợp đồng", "CĐ": "Công điện", "BGN": "Bản ghi nhớ", "BTT": "Bản thỏa thuận", "GUQ": "Giấy ủy quyền",
    "GM": "Giấy mời", "GGT": "Giấy giới thiệu", "GNP": "Giấy nghỉ phép", "PG": "Phiếu gửi", "PC": "Phiếu chuyển",
    "PB": "Phiếu báo", "CV": "Công văn",
}

#: edXML OtherInfo/Priority: 0 thường, 1 khẩn, 2 thượng khẩn, 3 hỏa tốc.
URGENCY_PRIORITY: dict[str, int] = {"normal": 0, "urgent": 1, "very_urgent": 2, "flash": 3}
