"""Small PNGs for the seal checks (chalicelib.admin.agencies.check_seal): any colour type, size and bit depth,
unfiltered rows; enough to hit every refusal without an imaging library."""

from __future__ import annotations

import struct
import zlib

__all__ = ["png"]

_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png(width: int = 40, height: int = 30, color_type: int = 6, *, fill: int = 0x80) -> bytes:
    """A valid PNG of `width` x `height`, 8 bits per sample, every sample `fill` (colour type 3 gets a palette)."""
    row = b"\x00" + bytes([fill]) * (width * _CHANNELS[color_type])
    chunks = [_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0))]
    if color_type == 3:
        chunks.append(_chunk(b"PLTE", bytes(3 * 256)))
    chunks += [_chunk(b"IDAT", zlib.compress(row * height, 9)), _chunk(b"IEND", b"")]
    return b"\x89PNG\r\n\x1a\n" + b"".join(chunks)
