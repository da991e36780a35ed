"""Organ ids (mã định danh, QĐ 20/2020/QĐ-TTg) of the agencies the tests speak of, with their names.

Served agencies are registered on the gateway by devstack's demo data; external ones have their own systems on the
axis (the simulator).
"""

from __future__ import annotations

__all__ = ["G22", "H03", "H49", "H62", "K62", "NAMES"]

H62 = "000.00.00.H62"  # UBND tỉnh Vĩnh Phúc (served)
H03 = "000.00.00.H03"  # UBND tỉnh Bắc Giang (served)
G22 = "000.00.00.G22"  # Văn phòng Chính phủ (external)
K62 = "000.00.00.K62"  # HĐND tỉnh Vĩnh Phúc (external, paper in parallel)
H49 = "000.00.00.H49"  # UBND tỉnh Quảng Ninh (external)

NAMES = {
    H62: "UBND tỉnh Vĩnh Phúc",
    H03: "UBND tỉnh Bắc Giang",
    G22: "Văn phòng Chính phủ",
    K62: "HĐND tỉnh Vĩnh Phúc",
    H49: "UBND tỉnh Quảng Ninh",
}
