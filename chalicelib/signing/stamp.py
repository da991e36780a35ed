"""The visible stamp of the organisation's signature, drawn with pyHanko (NĐ 30/2020 Phụ lục I).

What it looks like is `chalicelib.standards.appearance` (docs/signature-appearance.md): the seal over the left part
of the box, the organisation's name (or a phụ lục's số/ký hiệu) and the signing time beside it, 10 pt. Here that
becomes pyHanko stamp styles (`TextStampStyle`, ISO 32000-1 §12.5.5 appearance streams) with the cached font of
`font.py` and the seal of `seal.py`, and the box is resolved against the page the upload actually has.

Styles are built once per container (per box size for the seal layout); a document only fills in its text and a
fresh `SealContent`. pyHanko is imported inside functions (~150 ms at cold start).
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from typing import Any

from chalicelib.core.errors import UploadRejected
from chalicelib.signing.font import engine_classes, font_program
from chalicelib.signing.seal import SealImage, seal_content_class
from chalicelib.standards.appearance import (
    STAMP_FONT_SIZE,
    STAMP_LEADING,
    STAMP_PADDING,
    StampBox,
    box_on_page,
    seal_side,
    wrap_words,
)

__all__ = ["MSG_STAMP_PAGE", "STAMP_TEXT", "clear_styles", "seal_style", "stamp_rect", "stamp_style", "style_for",
           "wrap"]

#: Stamp text. NOT `%(ts)s`: pyHanko overwrites that one with its own UTC rendering
#: (docs/traps.md#ts-parameter-override).
STAMP_TEXT = "%(org_name)s\n%(signed_at)s"
MSG_STAMP_PAGE = "Trang đặt chữ ký số của cơ quan không có trong văn bản."


@lru_cache(maxsize=1)
def stamp_style() -> Any:
    """The text-only stamp (an agency without a registered seal): name and time from the box's left edge."""
    from pyhanko.pdf_utils import layout  # lazy: pyHanko ~150 ms at cold start
    from pyhanko.pdf_utils.text import TextBoxStyle  # lazy: pyHanko ~150 ms at cold start
    from pyhanko.stamp import TextStampStyle  # lazy: pyHanko ~150 ms at cold start

    _, factory = engine_classes()
    return TextStampStyle(
        stamp_text=STAMP_TEXT,
        # No margins inside the text box: pyHanko's default 10 pt there made the stamp's natural height exceed the
        # box, and the text was shrunk to ~9 pt. The stamp layout's own 3 pt margin is enough.
        text_box_style=TextBoxStyle(font=factory(), font_size=STAMP_FONT_SIZE, leading=STAMP_LEADING,
                                    box_layout_rule=layout.SimpleBoxLayoutRule(
                                        x_align=layout.AxisAlignment.ALIGN_MIN,
                                        y_align=layout.AxisAlignment.ALIGN_MIN, margins=layout.Margins())),
        inner_content_layout=layout.SimpleBoxLayoutRule(
            x_align=layout.AxisAlignment.ALIGN_MIN, y_align=layout.AxisAlignment.ALIGN_MID,
            margins=layout.Margins.uniform(STAMP_PADDING)),
        border_width=0,
        background=None,
    )


@lru_cache(maxsize=64)
def seal_style(box_width: float, box_height: float) -> Any:
    """The stamp with a seal, for one box size, without the seal itself (a fresh `SealContent` per document goes
    in as the background: pyHanko keeps per-document state on it).

    The seal is the stamp's background, laid out in the box's left `seal_side` points (scaled to fit, aspect
    kept, vertically centred), fully opaque (its PNG alpha is the transparency); the text starts right of it, at
    the bottom of the box: when the box is put over the signer's signature (the seal on its left third), the
    handwriting runs through the middle of the box and a caption-like line pair below it stays readable.
    """
    from pyhanko.pdf_utils import layout  # lazy: pyHanko ~150 ms at cold start

    side = seal_side(box_width, box_height)
    return replace(
        stamp_style(),
        background_layout=layout.SimpleBoxLayoutRule(
            x_align=layout.AxisAlignment.ALIGN_MIN, y_align=layout.AxisAlignment.ALIGN_MID,
            margins=layout.Margins(left=0, right=max(0.0, box_width - side), top=0, bottom=0),
            inner_content_scaling=layout.InnerScaling.STRETCH_TO_FIT),
        background_opacity=1.0,
        inner_content_layout=layout.SimpleBoxLayoutRule(
            x_align=layout.AxisAlignment.ALIGN_MIN, y_align=layout.AxisAlignment.ALIGN_MIN,
            margins=layout.Margins(left=side + STAMP_PADDING, right=STAMP_PADDING, top=STAMP_PADDING,
                                   bottom=STAMP_PADDING)),
    )


def style_for(rect: tuple[float, float, float, float], seal: SealImage | None) -> tuple[Any, float]:
    """(pyHanko stamp style, width available to the text) for this box and seal."""
    width, height = rect[2] - rect[0], rect[3] - rect[1]
    if seal is None:
        return stamp_style(), width - 2 * STAMP_PADDING
    key = (round(width, 2), round(height, 2))
    style = replace(seal_style(*key), background=seal_content_class()(seal))
    return style, width - seal_side(*key) - 2 * STAMP_PADDING


def _inherited(page: Any, key: str) -> Any:
    """A page attribute that may be inherited from the page tree (/MediaBox, /CropBox), bounded against loops."""
    node, depth = page, 0
    while node is not None and depth < 64:
        if key in node:
            return node[key]
        parent = node.get("/Parent")
        node = parent.get_object() if parent is not None else None
        depth += 1
    return None


def stamp_rect(reader: Any, box: StampBox) -> tuple[int, int, tuple[float, float, float, float]]:
    """(page index, page count, (x1, y1, x2, y2)) for the stamp, defaults resolved against the page's crop box.

    A page the document does not have, or a box that does not overlap the page at all, is the upload's mismatch
    with the placement it asked for: `UploadRejected` (`stamp_page_missing`, `stamp_outside_page`), not a retry.
    """
    page_count = int(reader.root["/Pages"]["/Count"])
    page_ix = box.page + page_count if box.page < 0 else box.page
    if not 0 <= page_ix < page_count:
        raise UploadRejected(MSG_STAMP_PAGE, code="stamp_page_missing",
                             details={"page": box.page + 1 if box.page >= 0 else box.page, "page_count": page_count})
    page_ref, _ = reader.find_page_for_modification(page_ix)
    page = page_ref.get_object()
    rect = _inherited(page, "/CropBox") or _inherited(page, "/MediaBox") or [0, 0, 595.28, 841.89]
    llx, lly, urx, ury = (float(v) for v in rect)
    llx, urx = min(llx, urx), max(llx, urx)
    lly, ury = min(lly, ury), max(lly, ury)
    x, y, _, _ = box_on_page(box, (llx, lly, urx, ury))
    if x >= urx or y >= ury or x + box.width <= llx or y + box.height <= lly:
        raise UploadRejected("Vị trí chữ ký số của cơ quan nằm ngoài trang.", code="stamp_outside_page",
                             details={"page_box": [llx, lly, urx, ury], "stamp": [x, y, box.width, box.height]})
    return page_ix, page_count, (x, y, x + box.width, y + box.height)


def wrap(text: str, max_width: float) -> str:
    """`text` broken at word boundaries to fit `max_width` points at 10 pt in the stamp font (Phụ lục I keeps the
    size; pyHanko would otherwise shrink the whole stamp to fit the box)."""
    program = font_program()
    return wrap_words(text, max_width, lambda line: program.text_width(line, STAMP_FONT_SIZE))


def clear_styles() -> None:
    """Forget the per-box-size seal styles (tests)."""
    seal_style.cache_clear()
