"""The organisation's seal (con dấu) as PDF image data, made from the transparent PNG an agency registers.

NĐ 30/2020 Phụ lục I (docs/signature-appearance.md): the organisation's signature shows its seal, red, at actual
size, as a transparent image over about the left third of the competent person's signature.

Why not Pillow (or pyHanko's `PdfImage`, which needs it): the Lambda package should not carry an imaging library
to place one picture. A PDF image XObject can take PNG's own compressed pixel data almost as is: `/FlateDecode`
with `/Predictor 15` is exactly PNG's per-row filtering (ISO 32000-1 §7.4.4.4). Only the alpha channel must go to
a separate soft mask (`/SMask`), and that needs no unfiltering either: every PNG filter (Sub, Up, Average, Paeth)
works byte by byte against the same byte of the previous pixel and of the row above, so the filtered rows split
per channel into valid filtered rows of the colour image and of the mask. One inflate, strided slice copies per
row, two deflates: a few milliseconds for a 600 x 600 seal, done once per container per seal (the caller caches
by S3 ETag), and each document then only writes the two cached streams.

Supported: colour types 0 (grey), 2 (RGB), 4 (grey + alpha), 6 (RGBA), 8 or 16 bits, not interlaced; the seal
PNG an agency registers is normally RGBA. Palette and interlaced PNGs are refused with a message saying how to
convert them (their transparency would need real unfiltering).
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

__all__ = ["MAX_PNG_BYTES", "MAX_SIDE_PX", "PNG_SIGNATURE", "SealImage", "SealImageError", "load_png",
           "seal_content_class", "write_image"]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: A seal is a few centimetres wide: 4000 px is 2800 dpi at 36 mm, far more than any scan needs.
MAX_SIDE_PX = 4000
MAX_PNG_BYTES = 4 * 1024 * 1024

#: Deflate level of the seal's streams: 6 takes ~40 % of level 9's time on a 480 x 480 seal for ~3 % more bytes
#: (1 KB per PDF), and the decode happens on a container's first document (issue 11, cold start).
_ZLIB_LEVEL = 6

_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # colour type -> samples per pixel
_COLOR_SPACE = {0: "/DeviceGray", 2: "/DeviceRGB", 4: "/DeviceGray", 6: "/DeviceRGB"}


class SealImageError(ValueError):
    """The seal PNG cannot be used; the message says what to change."""


@dataclass(frozen=True)
class SealImage:
    """A seal ready to be written into PDFs: compressed colour samples, optional compressed alpha mask.

    `key` identifies the source (e.g. S3 key and ETag) for caches and logs; it plays no part in the PDF.
    """

    width: int
    height: int
    bits: int
    color_space: str
    color_data: bytes
    alpha_data: bytes | None
    key: str = ""

    @property
    def colors(self) -> int:
        return 3 if self.color_space == "/DeviceRGB" else 1


def load_png(data: bytes, key: str = "") -> SealImage:
    """Parse a PNG into a `SealImage`; raises `SealImageError` for anything it cannot place faithfully."""
    if len(data) > MAX_PNG_BYTES:
        raise SealImageError(f"seal PNG larger than {MAX_PNG_BYTES // (1024 * 1024)} MB")
    if not data.startswith(PNG_SIGNATURE):
        raise SealImageError("not a PNG file")
    pos = len(PNG_SIGNATURE)
    header: tuple[int, ...] | None = None
    idat: list[bytes] = []
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        crc_bytes = data[pos + 8 + length:pos + 12 + length]
        if len(body) != length or len(crc_bytes) != 4:
            raise SealImageError("truncated PNG")
        if zlib.crc32(kind + body) != struct.unpack(">I", crc_bytes)[0]:
            raise SealImageError(f"corrupt PNG (bad CRC in {kind.decode('latin-1')} chunk)")
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    if header is None or not idat:
        raise SealImageError("PNG without IHDR or image data")
    width, height, bits, color_type, _compression, _filter, interlace = header
    if color_type not in _CHANNELS:
        raise SealImageError("palette PNG: save the seal as RGBA (truecolour with alpha)")
    if bits not in (8, 16):
        raise SealImageError(f"{bits}-bit PNG: save the seal with 8 bits per channel")
    if interlace:
        raise SealImageError("interlaced PNG: save the seal without interlacing")
    if not (0 < width <= MAX_SIDE_PX and 0 < height <= MAX_SIDE_PX):
        raise SealImageError(f"seal image must be at most {MAX_SIDE_PX} px on each side")

    channels = _CHANNELS[color_type]
    sample_bytes = bits // 8
    pixel_bytes = channels * sample_bytes
    stride = width * pixel_bytes
    expected = height * (stride + 1)
    try:
        # max_length bounds the output: a decompression bomb stops at the size the header promises.
        inflater = zlib.decompressobj()
        raw = inflater.decompress(b"".join(idat), expected)
    except zlib.error as exc:
        raise SealImageError(f"corrupt PNG image data ({exc})") from exc
    if len(raw) != expected:
        raise SealImageError("PNG image data does not match its declared size")

    has_alpha = color_type in (4, 6)
    if not has_alpha:
        # Filtered PNG rows are already what /Predictor 15 decodes: re-compress nothing, just re-wrap.
        color = zlib.compress(raw, _ZLIB_LEVEL)
        alpha = None
    else:
        color, alpha = _split_alpha(raw, width, height, channels, sample_bytes)
    return SealImage(width=width, height=height, bits=bits, color_space=_COLOR_SPACE[color_type],
                     color_data=color, alpha_data=alpha, key=key)


def _split_alpha(raw: bytes, width: int, height: int, channels: int, sample_bytes: int) -> tuple[bytes, bytes]:
    """Split filtered rows into filtered colour rows and filtered alpha rows (see the module docstring)."""
    pixel_bytes = channels * sample_bytes
    color_bytes = (channels - 1) * sample_bytes
    stride = width * pixel_bytes
    color = bytearray(height * (1 + width * color_bytes))
    alpha = bytearray(height * (1 + width * sample_bytes))
    src = memoryview(raw)
    c_stride, a_stride = 1 + width * color_bytes, 1 + width * sample_bytes
    for y in range(height):
        row = src[y * (stride + 1):(y + 1) * (stride + 1)]
        c0, a0 = y * c_stride, y * a_stride
        color[c0] = alpha[a0] = row[0]  # the row's filter type applies to both
        pixels = row[1:]
        crow = memoryview(color)[c0 + 1:c0 + c_stride]
        arow = memoryview(alpha)[a0 + 1:a0 + a_stride]
        for k in range(color_bytes):
            crow[k::color_bytes] = pixels[k::pixel_bytes]
        for k in range(sample_bytes):
            arow[k::sample_bytes] = pixels[color_bytes + k::pixel_bytes]
    return zlib.compress(bytes(color), _ZLIB_LEVEL), zlib.compress(bytes(alpha), _ZLIB_LEVEL)


def _image_dict(width: int, height: int, bits: int, color_space: str, colors: int) -> dict[str, Any]:
    from pyhanko.pdf_utils import generic  # lazy: pyHanko ~150 ms at cold start

    name = generic.NameObject
    return {
        name("/Type"): name("/XObject"),
        name("/Subtype"): name("/Image"),
        name("/Width"): generic.NumberObject(width),
        name("/Height"): generic.NumberObject(height),
        name("/ColorSpace"): name(color_space),
        name("/BitsPerComponent"): generic.NumberObject(bits),
        name("/Filter"): name("/FlateDecode"),
        name("/DecodeParms"): generic.DictionaryObject({
            name("/Predictor"): generic.NumberObject(15),
            name("/Colors"): generic.NumberObject(colors),
            name("/BitsPerComponent"): generic.NumberObject(bits),
            name("/Columns"): generic.NumberObject(width),
        }),
    }


def write_image(writer: Any, seal: SealImage) -> Any:
    """Add the seal's image XObject (and its soft mask) to a pyHanko writer; returns the image's reference."""
    from pyhanko.pdf_utils import generic  # lazy: pyHanko ~150 ms at cold start

    image = generic.DictionaryObject(_image_dict(seal.width, seal.height, seal.bits, seal.color_space,
                                                 seal.colors))
    if seal.alpha_data is not None:
        mask = generic.StreamObject(
            generic.DictionaryObject(_image_dict(seal.width, seal.height, seal.bits, "/DeviceGray", 1)),
            encoded_data=seal.alpha_data)
        image[generic.NameObject("/SMask")] = writer.add_object(mask)
    return writer.add_object(generic.StreamObject(image, encoded_data=seal.color_data))


@lru_cache(maxsize=1)
def seal_content_class() -> type:
    """pyHanko `PdfContent` that draws the seal; the stamp's layout rule scales it into place.

    Defined on first use so that importing this module does not import pyHanko. Make a fresh instance per
    document: pyHanko keeps the writer and the resources on the content object.
    """
    from pyhanko.pdf_utils import generic  # lazy: pyHanko ~150 ms at cold start
    from pyhanko.pdf_utils.content import PdfContent, ResourceType  # lazy: pyHanko ~150 ms at cold start
    from pyhanko.pdf_utils.layout import BoxConstraints  # lazy: pyHanko ~150 ms at cold start

    class SealContent(PdfContent):
        """The seal image at its pixel size in points; the stamp's layout rule scales it into place."""

        def __init__(self, seal: SealImage) -> None:
            super().__init__(box=BoxConstraints(width=seal.width, height=seal.height))
            self.seal = seal

        def render(self) -> bytes:
            ref = write_image(self._ensure_writer, self.seal)
            self.set_resource(ResourceType.XOBJECT, generic.NameObject("/Seal"), ref)
            return b"q %d 0 0 %d 0 0 cm /Seal Do Q" % (self.seal.width, self.seal.height)

    return SealContent
