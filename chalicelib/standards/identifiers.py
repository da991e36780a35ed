"""Agency identifier codes (mã định danh) as QCVN 102:2016/BTTTT writes them.

A code names an agency on the national document exchange axis and in every edXML `OrganId` element. It is written
lowest level first, `V1V2V3.Z1Z2.Y1Y2.M1M2M3`:

- `M1M2M3` (level 1): a letter and two digits. `G` + 2 digits = a ministry or government body (`G22` Văn phòng
  Chính phủ), `H` + 2 digits = a province's People's Committee (UBND tỉnh), `K` + the same 2 digits = that
  province's People's Council (HĐND tỉnh);
- `Y1Y2` (level 2): departments (sở, ban, ngành) and district committees under level 1;
- `Z1Z2` (level 3): units under a level-2 unit (including commune committees);
- `V1V2V3` (level 4): units under level 3.

Unused levels are zero-filled, so `000.00.00.H62` is UBND tỉnh Vĩnh Phúc itself and `000.00.12.H62` a department
under it. Everything the gateway issues and every registered agency must match `STRICT_PATTERN`; inbound data may
carry other system ids (`vxp.saas.03`, a provincial gateway's id), which callers accept, store and flag with
`is_strict`. The province table and post-2025 mergers are data the admin manages, never a table here.
"""

from __future__ import annotations

import re

__all__ = ["STRICT_PATTERN", "is_strict", "level", "parent", "province_of"]

#: `^(\d{3})\.(\d{2})\.(\d{2})\.([A-Z]\d{2})$`: groups are level 4, level 3, level 2, level 1 (QCVN 102:2016).
#: ASCII-only (`\d` would otherwise accept any Unicode digit, e.g. full-width ones); use `fullmatch`, as the helpers
#: below do: `$` alone would also accept a trailing newline.
STRICT_PATTERN: re.Pattern[str] = re.compile(r"^(\d{3})\.(\d{2})\.(\d{2})\.([A-Z]\d{2})$", re.ASCII)

#: Level-1 letters that belong to a province: UBND tỉnh (`H`) and HĐND tỉnh (`K`) share the two digits.
_PROVINCE_LETTERS = frozenset("HK")


def is_strict(code: object) -> bool:
    """True when `code` is a well-formed four-level identifier code (QCVN 102:2016), nothing more or less.

    Why a predicate and not an exception: inbound packages legitimately carry non-standard system ids, which are
    stored and flagged rather than refused.
    """
    return isinstance(code, str) and STRICT_PATTERN.fullmatch(code) is not None


def level(code: str) -> int | None:
    """The level (1–4) of the agency a strict code names: the position of its lowest non-zero group.

    `000.00.00.H62` → 1, `000.00.12.H62` → 2, `000.46.24.H44` → 3; None for a code that is not strict.
    """
    match = STRICT_PATTERN.fullmatch(code) if isinstance(code, str) else None
    if match is None:
        return None
    v, z, y, _ = match.groups()
    if int(v):
        return 4
    if int(z):
        return 3
    if int(y):
        return 2
    return 1


def parent(code: str) -> str | None:
    """The code of the agency directly above `code`: zero its lowest non-zero group.

    `000.46.24.H44` → `000.00.24.H44` → `000.00.00.H44` → None (a level-1 body has no parent in the code).
    A code that is not strict has no known parent either, so it answers None as well: the hierarchy of a
    non-standard system id is unknowable from the id alone.
    """
    match = STRICT_PATTERN.fullmatch(code) if isinstance(code, str) else None
    if match is None:
        return None
    v, z, y, top = match.groups()
    if int(v):
        return f"000.{z}.{y}.{top}"
    if int(z):
        return f"000.00.{y}.{top}"
    if int(y):
        return f"000.00.00.{top}"
    return None


def province_of(code: str) -> str | None:
    """The code of the UBND tỉnh (`000.00.00.Hnn`) of the province an agency belongs to, or None.

    Level 1 `Hnn` (People's Committee) and `Knn` (People's Council) share the province number, so
    `000.00.00.K62` and `000.46.24.H62` both belong to `000.00.00.H62`. Ministries (`G`), other letters and
    codes that are not strict belong to no province.
    """
    match = STRICT_PATTERN.fullmatch(code) if isinstance(code, str) else None
    if match is None:
        return None
    top = match.group(4)
    if top[0] not in _PROVINCE_LETTERS:
        return None
    return f"000.00.00.H{top[1:]}"
