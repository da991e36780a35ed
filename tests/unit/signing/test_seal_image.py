"""The seal PNG → PDF image conversion (chalicelib/signing/seal.py), checked by decoding what a PDF reader decodes.

The PNGs are written here by a small encoder that uses every PNG filter type (None, Sub, Up, Average, Paeth) on
purpose, row after row: the conversion splits the FILTERED rows per channel without unfiltering them, and that is
only right if it is right for every filter. The PDF side is decoded as ISO 32000 says a reader decodes FlateDecode
with the PNG predictor, i.e. what a viewer does with the XObject (test_pades renders it with poppler as well).
"""

from __future__ import annotations

import random
import struct
import zlib

import pytest

from chalicelib.signing.seal import SealImageError, load_png
from devstack.seal import SEAL_RGB, make_demo_seal


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def _filter_row(kind: int, row: bytes, prior: bytes, bpp: int) -> bytes:
    out = bytearray(len(row))
    for i, x in enumerate(row):
        a = row[i - bpp] if i >= bpp else 0
        b = prior[i]
        c = prior[i - bpp] if i >= bpp else 0
        pred = (0, a, b, (a + b) // 2, _paeth(a, b, c))[kind]
        out[i] = (x - pred) & 0xFF
    return bytes([kind]) + bytes(out)


def encode_png(rows: list[bytes], width: int, color_type: int, bits: int = 8, *, interlace: int = 0) -> bytes:
    """A PNG whose row r uses filter type r % 5."""
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[color_type]
    bpp = max(1, channels * bits // 8)
    prior = bytes(len(rows[0]))
    data = bytearray()
    for r, row in enumerate(rows):
        data += _filter_row(r % 5, row, prior, bpp)
        prior = row
    ihdr = struct.pack(">IIBBBBB", width, len(rows), bits, color_type, 0, 0, interlace)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(bytes(data)))
            + _chunk(b"IEND", b""))


def _pdf_decode(data: bytes, width: int, colors: int, bits: int) -> bytes:
    """FlateDecode + /Predictor 15 as ISO 32000-1 §7.4.4.4 defines it (PNG unfiltering per row), written out here
    because pyHanko's decoder lacks the Paeth filter. The code under test never unfilters: this is independent."""
    raw = zlib.decompress(data)
    bpp = max(1, colors * bits // 8)
    stride = width * colors * bits // 8
    out = bytearray()
    prior = bytes(stride)
    for pos in range(0, len(raw), stride + 1):
        kind, row = raw[pos], bytearray(raw[pos + 1:pos + 1 + stride])
        for i in range(stride):
            a = row[i - bpp] if i >= bpp else 0
            b = prior[i]
            c = prior[i - bpp] if i >= bpp else 0
            row[i] = (row[i] + (0, a, b, (a + b) // 2, _paeth(a, b, c))[kind]) & 0xFF
        out += row
        prior = bytes(row)
    return bytes(out)


@pytest.mark.parametrize(("color_type", "bits"), [(6, 8), (6, 16), (4, 8), (4, 16), (2, 8), (0, 8), (2, 16)])
def test_pdf_streams_decode_to_the_png_pixels(color_type: int, bits: int) -> None:
    rng = random.Random(color_type * 100 + bits)
    width, height = 37, 23
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[color_type]
    sample = bits // 8
    rows = [bytes(rng.randrange(256) for _ in range(width * channels * sample)) for _ in range(height)]
    seal = load_png(encode_png(rows, width, color_type, bits))

    assert (seal.width, seal.height, seal.bits) == (width, height, bits)
    has_alpha = color_type in (4, 6)
    color_channels = channels - 1 if has_alpha else channels
    assert seal.colors == color_channels
    color = _pdf_decode(seal.color_data, width, color_channels, bits)
    pixel = channels * sample
    expected_color = b"".join(
        b"".join(row[x * pixel:x * pixel + color_channels * sample] for x in range(width)) for row in rows)
    assert color == expected_color
    if has_alpha:
        alpha = _pdf_decode(seal.alpha_data, width, 1, bits)
        expected_alpha = b"".join(
            b"".join(row[x * pixel + color_channels * sample:(x + 1) * pixel] for x in range(width)) for row in rows)
        assert alpha == expected_alpha
    else:
        assert seal.alpha_data is None


def test_demo_seal_is_red_ink_on_transparency() -> None:
    from io import BytesIO

    from PIL import Image

    png = make_demo_seal("Sở Thông tin và Truyền thông Vĩnh Phúc")
    img = Image.open(BytesIO(png))
    assert img.mode == "RGBA" and img.size[0] == img.size[1]
    seal = load_png(png)
    alpha = _pdf_decode(seal.alpha_data, seal.width, 1, 8)
    color = _pdf_decode(seal.color_data, seal.width, 3, 8)
    inked = [i for i, a in enumerate(alpha) if a > 200]
    clear = sum(1 for a in alpha if a == 0)
    assert len(inked) > 0.05 * len(alpha), "too little ink for a seal"
    assert clear > 0.4 * len(alpha), "a seal is mostly transparent"
    sampled = [tuple(color[3 * i:3 * i + 3]) for i in inked[:: max(1, len(inked) // 500)]]
    assert all(abs(r - SEAL_RGB[0]) < 40 and g < 80 and b < 80 for r, g, b in sampled), "ink is not seal red"
    # the corners are outside the round seal
    assert alpha[0] == alpha[seal.width - 1] == alpha[-1] == 0


@pytest.mark.parametrize(("data", "message"), [
    (b"GIF89a....", "not a PNG"),
    (encode_png([bytes(3)], 3, 3), "palette"),
    (encode_png([bytes(3)], 3, 6, interlace=1)[:0] + encode_png([bytes(12)], 3, 6, interlace=1), "interlaced"),
])
def test_unusable_pngs_are_refused_with_a_reason(data: bytes, message: str) -> None:
    with pytest.raises(SealImageError, match=message):
        load_png(data)


def test_corrupt_and_truncated_pngs_are_refused() -> None:
    good = encode_png([bytes(8)] * 2, 2, 6)
    broken_crc = bytearray(good)
    broken_crc[30] ^= 0xFF  # inside IHDR's body: its CRC no longer matches
    with pytest.raises(SealImageError, match="CRC"):
        load_png(bytes(broken_crc))
    with pytest.raises(SealImageError):
        load_png(good[:40])
    # image data shorter than the header promises
    short = encode_png([bytes(8)], 2, 6)
    header = struct.pack(">IIBBBBB", 2, 5, 8, 6, 0, 0, 0)
    forged = short[:8] + _chunk(b"IHDR", header) + short[8 + 25:]
    with pytest.raises(SealImageError, match="size"):
        load_png(forged)
