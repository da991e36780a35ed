"""The one ZIP entry of a `ContentTransferEncoded` attachment, read as it streams and bounded (PKWARE APPNOTE.TXT
6.3, §4.3.7 local file header, §4.3.9 data descriptor, §4.4.4 flags, §4.4.5 methods, §4.5.3 ZIP64 extra).

Why not `zipfile`: it starts from the central directory at the end of the archive, which the sender writes and may
make as large as it likes (millions of entries become millions of objects before one byte is read), and it fails
in a dozen exception types. QCVN 102:2016 puts one entry in the archive, the file itself (`docs/edxml.md#formats`),
and Java's `ZipInputStream`, which the reference library reads with, goes through the local headers from the start
of the file: so does this, and refuses everything else with a code of its own (`EdxmlReadError`):

- `zip_encrypted`: an encrypted entry (flag bit 0 or 6, or method 99, AES);
- `zip_unsupported_method`: any method but 0 (stored) and 8 (deflated), or a stored entry without its size;
- `zip_bad_deflate`: a deflate stream that does not inflate, or ends too early;
- `zip_crc_mismatch`: the CRC-32 of what was inflated differs from the header's (or the data descriptor's);
- `zip_multiple_entries`: a second local header follows the entry;
- `zip_ratio_exceeded`: more than `ReadLimits.zip_ratio` bytes out per byte in, once past the ratio floor;
- `attachment_too_large`: more than `ReadLimits.attachment_bytes` out, counted while inflating;
- `bad_attachment_zip`: a truncated or inconsistent archive (short header, sizes that do not match).

Time and memory are bounded: input is read in 64 KiB pieces and each `decompress` call gives at most 64 KiB, so
the work is linear in the output, which is capped.
"""

from __future__ import annotations

import struct
import zlib
from typing import IO

from chalicelib.standards.edxml.errors import EdxmlReadError
from chalicelib.standards.edxml.limits import ReadLimits

__all__ = ["LOCAL_HEADER", "extract_single_entry"]

#: Signature of a local file header, the first bytes of any ZIP archive written by the reference library.
LOCAL_HEADER = b"PK\x03\x04"
_DESCRIPTOR = b"PK\x07\x08"
_HEADER = struct.Struct("<4sHHHHHIIIHH")  # §4.3.7: signature, version, flags, method, time, date, crc, sizes, lengths
_STORED, _DEFLATED, _AES = 0, 8, 99
_FLAG_ENCRYPTED, _FLAG_DESCRIPTOR, _FLAG_STRONG, _FLAG_UTF8 = 0x1, 0x8, 0x40, 0x800
_ZIP64_TAG, _UNSET32 = 0x0001, 0xFFFFFFFF
_CHUNK = 64 * 1024

_BAD = "Tệp nén đính kèm bị lỗi, không giải nén được."
_TOO_LARGE = "Tệp đính kèm vượt quá dung lượng cho phép."
_BOMB = "Tệp nén đính kèm có tỷ lệ nén bất thường (nghi là bom nén)."
_DEFLATE = "Dữ liệu nén của tệp đính kèm bị hỏng."
_METHOD = "Tệp nén đính kèm dùng phương thức nén không được hỗ trợ."


def _read_exact(src: IO[bytes], n: int) -> bytes:
    data = src.read(n)
    if len(data) != n:
        raise EdxmlReadError("bad_attachment_zip", _BAD, {"problem": "truncated"})
    return data


def _zip64_sizes(extra: bytes, usize: int, csize: int) -> tuple[int, int, bool]:
    """The sizes a ZIP64 extra field (§4.5.3) gives for those the header marked 0xFFFFFFFF."""
    pos = 0
    while pos + 4 <= len(extra):
        tag, size = struct.unpack_from("<HH", extra, pos)
        body = extra[pos + 4:pos + 4 + size]
        pos += 4 + size
        if tag != _ZIP64_TAG:
            continue
        values = [struct.unpack_from("<Q", body, i)[0] for i in range(0, len(body) - 7, 8)]
        if usize == _UNSET32:
            if not values:
                raise EdxmlReadError("bad_attachment_zip", _BAD, {"problem": "zip64_extra"})
            usize = values.pop(0)
        if csize == _UNSET32:
            if not values:
                raise EdxmlReadError("bad_attachment_zip", _BAD, {"problem": "zip64_extra"})
            csize = values.pop(0)
        return usize, csize, True
    if _UNSET32 in (usize, csize):
        raise EdxmlReadError("bad_attachment_zip", _BAD, {"problem": "zip64_extra"})
    return usize, csize, False


class _Output:
    """Counts, bounds and checksums what goes to `out`."""

    def __init__(self, out: IO[bytes], limits: ReadLimits) -> None:
        self.out, self.limits = out, limits
        self.size = 0
        self.crc = 0

    def write(self, data: bytes, consumed: int) -> None:
        self.size += len(data)
        if self.size > self.limits.attachment_bytes:
            raise EdxmlReadError("attachment_too_large", _TOO_LARGE, {"max_bytes": self.limits.attachment_bytes})
        if self.size > self.limits.zip_ratio_floor and self.size > self.limits.zip_ratio * max(consumed, 1):
            raise EdxmlReadError("zip_ratio_exceeded", _BOMB, {"max_ratio": self.limits.zip_ratio})
        self.crc = zlib.crc32(data, self.crc)
        self.out.write(data)


def _copy_stored(src: IO[bytes], sink: _Output, csize: int) -> None:
    remaining = csize
    while remaining > 0:
        block = _read_exact(src, min(remaining, _CHUNK))
        remaining -= len(block)
        sink.write(block, csize - remaining)


def _inflate(src: IO[bytes], sink: _Output, csize: int | None) -> bytes:
    """Inflate a raw deflate stream; `csize` None (data descriptor) reads until the stream ends. Returns the bytes
    read past the end of the stream (the start of what follows the entry)."""
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    fed = 0
    pending = b""
    try:
        while not inflater.eof:
            if not pending:
                want = _CHUNK if csize is None else min(_CHUNK, csize - fed)
                pending = src.read(want) if want > 0 else b""
                if not pending:
                    raise EdxmlReadError("zip_bad_deflate", _DEFLATE, {"problem": "truncated"})
                fed += len(pending)
            data = inflater.decompress(pending, _CHUNK)
            pending = inflater.unconsumed_tail
            sink.write(data, fed - len(pending))
    except zlib.error as exc:
        raise EdxmlReadError("zip_bad_deflate", _DEFLATE, {"problem": str(exc)[:100]}) from exc
    return inflater.unused_data


def _descriptor(src: IO[bytes], after: bytes, zip64: bool) -> tuple[bytes, int, int]:
    """The data descriptor (§4.3.9) after a deflated entry: (what follows it, crc, uncompressed size)."""
    width = 8 if zip64 else 4
    head = after + src.read(max(0, 4 + 4 + 2 * width - len(after)))
    if head[:4] == _DESCRIPTOR:
        head = head[4:]
    if len(head) < 4 + 2 * width:
        raise EdxmlReadError("bad_attachment_zip", _BAD, {"problem": "truncated_descriptor"})
    crc = struct.unpack_from("<I", head, 0)[0]
    usize = struct.unpack_from("<Q" if zip64 else "<I", head, 4 + width)[0]
    return head[4 + 2 * width:], crc, usize


def extract_single_entry(src: IO[bytes], out: IO[bytes], limits: ReadLimits) -> str:
    """Write the archive's one entry, read from `src` (positioned at its first local header), to `out`; return
    the entry's name as stored. Raises `EdxmlReadError` with the codes of the module docstring."""
    (signature, _version, flags, method, _time, _date, crc, csize, usize, name_len,
     extra_len) = _HEADER.unpack(_read_exact(src, _HEADER.size))
    if signature != LOCAL_HEADER:
        raise EdxmlReadError("bad_attachment_zip", _BAD, {"problem": "signature"})
    raw_name = _read_exact(src, name_len)
    usize, csize, zip64 = _zip64_sizes(_read_exact(src, extra_len), usize, csize)
    if flags & (_FLAG_ENCRYPTED | _FLAG_STRONG) or method == _AES:
        raise EdxmlReadError("zip_encrypted", "Tệp nén đính kèm được mã hóa, không giải nén được.")
    if method not in (_STORED, _DEFLATED):
        raise EdxmlReadError("zip_unsupported_method", _METHOD, {"method": method})
    name = raw_name.decode("utf-8", "replace") if flags & _FLAG_UTF8 else raw_name.decode("cp437")
    described = bool(flags & _FLAG_DESCRIPTOR)
    sink = _Output(out, limits)
    if method == _STORED:
        if described:  # a stored entry's end can only be known from its size (§4.4.4 bit 3)
            raise EdxmlReadError("zip_unsupported_method", _METHOD,
                                 {"method": method, "problem": "stored_without_size"})
        _copy_stored(src, sink, csize)
        rest = b""
    else:
        rest = _inflate(src, sink, None if described else csize)
    if described:
        rest, crc, usize = _descriptor(src, rest, zip64)
    if sink.crc != crc:
        raise EdxmlReadError("zip_crc_mismatch", "Tệp nén đính kèm sai mã kiểm tra (CRC), dữ liệu không toàn vẹn.")
    if sink.size != usize:
        raise EdxmlReadError("bad_attachment_zip", _BAD, {"problem": "size_mismatch"})
    following = rest + src.read(max(0, 4 - len(rest)))
    if following[:4] == LOCAL_HEADER:
        raise EdxmlReadError("zip_multiple_entries", "Tệp nén đính kèm phải chứa đúng một tệp.")
    return name
