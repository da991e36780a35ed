"""How the organisation's signature looks on the page: Nghị định 30/2020/NĐ-CP, Art. 5 and Phụ lục I.

The rules, from docs/signature-appearance.md (the standard written up from NĐ 30/2020 Phụ lục I):

- main document: the organisation's seal (red, transparent PNG, actual size) over about the left third of the
  competent person's signature, and beside it the organisation's name and the signing time;
- a phụ lục (attachment): no image; the document's số and ký hiệu and the signing time, in the top-right corner
  of the attachment's first page;
- text in Times New Roman or a metric-compatible face, upright, size 10, black; the time in ISO 8601 with the
  Vietnam zone, e.g. `2019-09-20T14:30:15+07:00`;
- where the person's signature box cannot be found, an admin sets the box per agency or per upload (page, x, y in
  points); the default is the lower right of the last page.

Pure: geometry in PDF points (1/72 inch, ISO 32000-1 §8.3.2.3) and text, no pyHanko, no font file. The drawing
itself (font, pyHanko stamp styles) is `chalicelib.signing.stamp`; this module says only where and what.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.core.clock import VN_TZ

__all__ = [
    "ATTACHMENT_STAMP_HEIGHT",
    "ATTACHMENT_STAMP_MARGIN",
    "ATTACHMENT_STAMP_WIDTH",
    "DEFAULT_STAMP_HEIGHT",
    "DEFAULT_STAMP_MARGIN",
    "DEFAULT_STAMP_WIDTH",
    "SEAL_MAX_WIDTH_SHARE",
    "STAMP_FONT_SIZE",
    "STAMP_LEADING",
    "STAMP_PADDING",
    "StampBox",
    "box_on_page",
    "seal_side",
    "signing_time",
    "wrap_words",
]

#: Phụ lục I: Times New Roman or a metric-compatible face, size 10.
STAMP_FONT_SIZE = 10
STAMP_LEADING = STAMP_FONT_SIZE + 3
#: Space between the stamp's edge and its text, in points.
STAMP_PADDING = 3

#: Default stamp: lower right of the last page (signature-appearance.md), inside a 2 cm margin. 100 pt high so a
#: seal drawn at the box's height is ~35 mm across, the size of a real agency seal; 300 pt wide so the seal takes
#: the left third and the name and time fit beside it at 10 pt.
DEFAULT_STAMP_WIDTH = 300.0
DEFAULT_STAMP_HEIGHT = 100.0
DEFAULT_STAMP_MARGIN = 56.7
#: The phụ lục stamp (text only): two lines at 10 pt with 13 pt leading plus padding; wide enough for the time.
ATTACHMENT_STAMP_WIDTH = 200.0
ATTACHMENT_STAMP_HEIGHT = 36.0
ATTACHMENT_STAMP_MARGIN = 14.0
#: The seal's side: the box's height, but never more than this share of its width (the text needs the rest).
SEAL_MAX_WIDTH_SHARE = 0.4


@dataclass(frozen=True)
class StampBox:
    """Where the visible stamp goes, in PDF points (1/72 inch) from the page's lower-left corner.

    `page` is zero-based, negative from the end (-1 = last page). `x`/`y` left as None place the box at the lower
    right of the page's visible area with a 2 cm margin, the default of signature-appearance.md; an admin sets
    them per agency or per upload when the person's signature box is elsewhere.
    """

    page: int = -1
    x: float | None = None
    y: float | None = None
    width: float = DEFAULT_STAMP_WIDTH
    height: float = DEFAULT_STAMP_HEIGHT
    #: With `y` left as None, put the box at the top of the page instead of the bottom (the phụ lục stamp).
    top: bool = False
    #: Distance from the page's edges when `x`/`y` are left as None.
    margin: float = DEFAULT_STAMP_MARGIN

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0:
            raise ValueError("stamp width and height must be positive")

    @classmethod
    def from_placement(cls, placement: Any) -> StampBox:
        """A box from a placement as admins and clients write it (agency item `stamp`, upload metadata `stamp`):
        `{page, x, y, width, height}`, all optional, `page` counted from 1 (negative from the end, -1 = last page),
        the rest in points from the page's lower-left corner. Missing or null keys take the defaults."""
        if not placement:
            return cls()
        raw_page = placement.get("page")
        page = -1 if raw_page is None else int(raw_page)
        if page == 0:
            raise ValueError("page numbers start at 1 (or -1 for the last page)")

        def number(name: str, default: float | None) -> float | None:
            value = placement.get(name)
            return default if value is None else float(value)

        return cls(page=page - 1 if page > 0 else page, x=number("x", None), y=number("y", None),
                   width=number("width", DEFAULT_STAMP_WIDTH) or DEFAULT_STAMP_WIDTH,
                   height=number("height", DEFAULT_STAMP_HEIGHT) or DEFAULT_STAMP_HEIGHT)

    @classmethod
    def attachment(cls) -> StampBox:
        """The phụ lục stamp's box (signature-appearance.md): top-right corner of the FIRST page, just tall enough
        for two 10 pt lines (số/ký hiệu, then the time). It sits in the page's top margin (NĐ 30 Phụ lục I: 20-25
        mm), 5 mm from the edges, so it does not cover the quốc hiệu that starts right below that margin."""
        return cls(page=0, width=ATTACHMENT_STAMP_WIDTH, height=ATTACHMENT_STAMP_HEIGHT, top=True,
                   margin=ATTACHMENT_STAMP_MARGIN)


def box_on_page(box: StampBox, page_box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """The stamp's rectangle (x1, y1, x2, y2) on a page whose visible area is `page_box` (its /CropBox, else its
    /MediaBox, normalised so x1 < x2 and y1 < y2): the box's own x/y, else lower right (or top right for the phụ
    lục) inside the box's margin. Whether the result overlaps the page at all is the caller's check."""
    llx, lly, urx, ury = page_box
    x = box.x if box.x is not None else max(llx, urx - box.margin - box.width)
    if box.y is not None:
        y = box.y
    elif box.top:
        y = max(lly, ury - box.margin - box.height)
    else:
        y = lly + box.margin
    return x, y, x + box.width, y + box.height


def seal_side(width: float, height: float) -> float:
    """The seal's side in points for a box: its height, capped to a share of its width (signature-appearance.md:
    the seal covers about the left third of the signer's area; the name and time go beside it)."""
    return round(min(height, width * SEAL_MAX_WIDTH_SHARE), 2)


def signing_time(signed_at: dt.datetime | None) -> dt.datetime:
    """Signing time in +07:00, whole seconds (NĐ 30 shows ISO 8601 without fractions, CMS UTCTime has none)."""
    if signed_at is None:
        signed_at = dt.datetime.now(VN_TZ)
    elif signed_at.tzinfo is None:
        raise ValueError("signed_at must be timezone-aware")
    return signed_at.astimezone(VN_TZ).replace(microsecond=0)


def wrap_words(text: str, max_width: float, width_of: Callable[[str], float]) -> str:
    """Break a long organisation name onto several lines at word boundaries so it keeps the 10 pt size Phụ lục I
    asks for, `width_of(line)` giving a line's width in points; a renderer would otherwise shrink the whole stamp
    to fit the box. A single over-long word stays whole (and the renderer shrinks as a last resort)."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if current and width_of(candidate) > max_width:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    return "\n".join(lines)
