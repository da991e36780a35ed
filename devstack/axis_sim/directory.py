"""The axis directory the simulator serves (getAgenciesList): the demo agencies and a few hundred more, generated
deterministically under the demo provinces (Vĩnh Phúc `H62`, Bắc Giang `H03`; docs/identifiers.md).

Why generated: the directory sync (chalicelib.admin.agency_sync, issue 9) must meet a directory of realistic size
that differs from the registry (entries the registry lacks; tests then rename and withdraw some at runtime through
`/_sim/directory`), without a data file of hundreds of lines. The same codes and names every run, so a test can
name an entry. Codes left free on purpose: `000.00.77.H62`, `000.00.98.H62`, `000.00.99.H62` (tests use them as
unknown or unregistered agencies), and every demo code keeps its demo name.

Layout per province: level-2 departments (sở, ban) at `000.00.20.*`–`000.00.35.*`, district committees (UBND
huyện, thành phố) from `000.00.40.*`, and under each district fifteen commune committees `000.01.<district>.*` to
`000.15.<district>.*` (level 3).
"""

from __future__ import annotations

from typing import Any

__all__ = ["DEPARTMENTS", "PROVINCES", "generated_agencies"]

DEPARTMENTS: tuple[str, ...] = (
    "Sở Tài chính", "Sở Kế hoạch và Đầu tư", "Sở Tư pháp", "Sở Công Thương", "Sở Xây dựng",
    "Sở Giao thông vận tải", "Sở Y tế", "Sở Giáo dục và Đào tạo", "Sở Tài nguyên và Môi trường",
    "Sở Nông nghiệp và Phát triển nông thôn", "Sở Lao động - Thương binh và Xã hội",
    "Sở Văn hóa, Thể thao và Du lịch", "Sở Khoa học và Công nghệ", "Thanh tra tỉnh", "Ban Dân tộc",
    "Ban Quản lý các khu công nghiệp",
)

#: province code → (name as it follows an agency's name, its districts)
PROVINCES: dict[str, tuple[str, tuple[str, ...]]] = {
    "H62": ("Vĩnh Phúc", ("thành phố Vĩnh Yên", "thành phố Phúc Yên", "huyện Bình Xuyên", "huyện Lập Thạch",
                          "huyện Sông Lô", "huyện Tam Dương", "huyện Tam Đảo", "huyện Vĩnh Tường", "huyện Yên Lạc")),
    "H03": ("Bắc Giang", ("thành phố Bắc Giang", "huyện Hiệp Hòa", "huyện Lạng Giang", "huyện Lục Nam",
                          "huyện Lục Ngạn", "huyện Sơn Động", "huyện Tân Yên", "huyện Việt Yên", "huyện Yên Dũng",
                          "huyện Yên Thế")),
}

_COMMUNES: tuple[str, ...] = (
    "Đồng Tâm", "Hợp Thịnh", "Kim Long", "Tân Phong", "Thanh Lãng", "Đạo Tú", "Hương Canh", "Quang Minh",
    "Sơn Lôi", "Trung Mỹ", "Bá Hiến", "Đại Đồng", "Hoàng Hoa", "Liên Châu", "Tiên Phong",
)


def generated_agencies() -> list[dict[str, Any]]:
    """The generated entries, in the gateway's shape (`organ_id`, `name`, `email`), parents before children."""
    rows: list[dict[str, Any]] = []
    for province, (place, districts) in PROVINCES.items():
        domain = f"{province.lower()}.gov.vn"
        for n, name in enumerate(DEPARTMENTS, start=20):
            rows.append({"organ_id": f"000.00.{n:02d}.{province}", "name": f"{name} {place}",
                         "email": f"so{n:02d}@{domain}"})
        for d, district in enumerate(districts, start=40):
            rows.append({"organ_id": f"000.00.{d:02d}.{province}", "name": f"UBND {district}",
                         "email": f"ubnd{d:02d}@{domain}"})
            for c, commune in enumerate(_COMMUNES, start=1):
                kind = "phường" if district.startswith("thành phố") else "xã"
                rows.append({"organ_id": f"000.{c:02d}.{d:02d}.{province}",
                             "name": f"UBND {kind} {commune}, {district}", "email": f"x{c:02d}{d:02d}@{domain}"})
    return rows
