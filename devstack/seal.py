"""Plausible round seals (con dấu) for the demo agencies: red, transparent PNG, name around the ring, a star.

Why generated: each agency registers its own seal image in production (a scan, made transparent); the embedded
stack needs one per demo agency so the signature appearance can be seen and tested end to end. The word "MẪU"
(specimen) sits under the star so that no rendering of a demo seal passes for a real agency's seal.

Development only: Pillow draws it (a dependency of reportlab, declared in requirements-dev.txt). The gateway
itself never draws or decodes with Pillow: it reads the PNG bytes from S3 (chalicelib/signing/seal.py).
"""

from __future__ import annotations

import io
import math
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = ["SEAL_RGB", "make_demo_seal"]

#: Seal red (mực dấu đỏ). Not pure red: closer to real stamp ink, still far from any black/blue of the page.
SEAL_RGB = (205, 20, 30)
SIZE_PX = 480
_SUPERSAMPLE = 2

_FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),  # Debian fonts-dejavu-core (.ci installs it)
    Path(__file__).resolve().parents[1] / "chalicelib" / "signing" / "fonts" / "texgyretermes-regular.otf",  # shipped
)


def _font_path() -> Path:
    for path in _FONT_CANDIDATES:
        if path.exists():
            return path
    raise FileNotFoundError("no font with Vietnamese glyphs found for the demo seal")


@lru_cache(maxsize=64)
def _font(size: int) -> Any:
    from PIL import ImageFont

    return ImageFont.truetype(str(_font_path()), size)


def make_demo_seal(org_name: str, *, size_px: int = SIZE_PX) -> bytes:
    """A round red seal for `org_name` as RGBA PNG bytes (transparent outside the ink)."""
    from PIL import Image, ImageDraw

    scale = _SUPERSAMPLE
    side = size_px * scale
    img = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    ink = (*SEAL_RGB, 255)
    c = side / 2
    outer = side * 0.485
    # Double outer ring, an inner ring: the usual layout of an agency seal.
    for radius, width in ((outer, 0.028), (outer - side * 0.045, 0.008), (side * 0.30, 0.010)):
        w = max(1, int(side * width))
        draw.ellipse((c - radius, c - radius, c + radius, c + radius), outline=ink, width=w)

    text = unicodedata.normalize("NFC", org_name.upper())
    _ring_text(img, text, center=c, radius=side * 0.385, band=side * 0.115, ink=ink)
    _star(draw, c, c - side * 0.035, side * 0.14, ink)
    label_font = _font(int(side * 0.07))
    draw.text((c, c + side * 0.17), "MẪU", font=label_font, fill=ink, anchor="mm")

    img = img.resize((size_px, size_px), Image.Resampling.LANCZOS)
    # One ink colour everywhere, the shape in the alpha channel alone: resampling leaves stray colours under
    # transparent pixels, which cost ~80 KB per signed PDF in the colour stream and show nowhere.
    alpha = img.getchannel("A")
    img = Image.merge("RGBA", (*Image.new("RGB", img.size, SEAL_RGB).split(), alpha))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _ring_text(img: Any, text: str, *, center: float, radius: float, band: float, ink: tuple) -> None:
    """Write `text` clockwise around the ring, centred on the top, each letter upright to the circle; a small
    star closes the ring at the bottom."""
    from PIL import Image, ImageDraw

    size = int(band * 0.78)
    # Shrink the letters until the name fits in 80% of the circumference (the rest: the gap with the star).
    while True:
        font = _font(size)
        widths = [font.getlength(ch) * 1.08 for ch in text]
        if sum(widths) <= 2 * math.pi * radius * 0.80 or size <= 8:
            break
        size -= 2
    angle = -math.pi / 2 - (sum(widths) / radius) / 2
    for ch, width in zip(text, widths, strict=True):
        mid = angle + (width / 2) / radius
        angle += width / radius
        if ch.isspace():
            continue
        glyph = Image.new("RGBA", (size * 2, size * 2), (0, 0, 0, 0))
        ImageDraw.Draw(glyph).text((size, size), ch, font=font, fill=ink, anchor="mm")
        rotated = glyph.rotate(-math.degrees(mid + math.pi / 2), resample=Image.Resampling.BICUBIC)
        x = center + radius * math.cos(mid) - rotated.width / 2
        y = center + radius * math.sin(mid) - rotated.height / 2
        img.alpha_composite(rotated, (int(round(x)), int(round(y))))
    _star(ImageDraw.Draw(img), center, center + radius, size * 0.42, ink)


def _star(draw: Any, cx: float, cy: float, r: float, ink: tuple) -> None:
    """A filled five-pointed star centred on (cx, cy), point up."""
    points = []
    for i in range(10):
        radius = r if i % 2 == 0 else r * 0.382
        a = -math.pi / 2 + i * math.pi / 5
        points.append((cx + radius * math.cos(a), cy + radius * math.sin(a)))
    draw.polygon(points, fill=ink)


def main() -> None:  # pragma: no cover - manual preview: python -m devstack.seal "Tên cơ quan" out.png
    import sys

    name = sys.argv[1] if len(sys.argv) > 1 else "UBND tỉnh Vĩnh Phúc"
    out = Path(sys.argv[2] if len(sys.argv) > 2 else "seal.png")
    out.write_bytes(make_demo_seal(name))
    print(out)


if __name__ == "__main__":  # pragma: no cover
    main()
