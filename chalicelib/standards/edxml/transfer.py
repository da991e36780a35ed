"""`ContentTransferEncoded`, both ways (QCVN 102:2016, `docs/edxml.md#formats`): base64 of a ZIP archive that
holds one entry, the file itself, as the reference library writes it.

Memory stays flat in the attachment size: on sending, the file is zipped into a temporary file whose base64 is
written in chunks; on receiving, the base64 text is decoded into a temporary file as the parser hands it over
(`chalicelib.standards.base64_stream`), then unzipped in place when it starts with `PK\\x03\\x04` (else taken as
it is). Sizes are counted while copying, never trusted from the archive's headers.
"""

from __future__ import annotations

import binascii
import contextlib
import os
import shutil
import tempfile
import zipfile
from datetime import datetime
from pathlib import Path
from typing import IO

from chalicelib.standards.base64_stream import Base64Sink, Base64TooLarge
from chalicelib.standards.edxml.errors import EdxmlReadError
from chalicelib.standards.edxml.limits import ReadLimits
from chalicelib.standards.edxml.model import AttachmentSource
from chalicelib.standards.edxml.unzip import LOCAL_HEADER, extract_single_entry

__all__ = ["AttachmentDecoder", "silent_unlink", "unzip_in_place", "write_zip_base64"]

#: Raw bytes per base64 chunk written: a multiple of 3, so chunks concatenate into one valid base64 text.
_B64_CHUNK = 3 * 64 * 1024
_COPY_CHUNK = 64 * 1024


def write_zip_base64(out: IO[bytes], att: AttachmentSource, when: datetime, tmp_dir: str | None,
                     compresslevel: int) -> None:
    """Zip one file into a temporary file, then write that zip's base64 in chunks of a multiple of 3 bytes."""
    size = os.path.getsize(att.path)
    arcname = Path(str(att.name).replace("\\", "/")).name or "attachment"
    info = zipfile.ZipInfo(arcname, date_time=(max(when.year, 1980), when.month, when.day,
                                               when.hour, when.minute, when.second))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.file_size = size  # lets zipfile pick ZIP64 up front for files over 2 GiB
    info.external_attr = 0o644 << 16
    with tempfile.TemporaryFile(dir=tmp_dir, prefix="edxml-zip-") as tmp:
        with (zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=compresslevel) as zf,
              open(att.path, "rb") as src, zf.open(info, "w") as dst):
            shutil.copyfileobj(src, dst, _COPY_CHUNK)
        tmp.seek(0)
        while chunk := tmp.read(_B64_CHUNK):
            out.write(binascii.b2a_base64(chunk, newline=False))


class AttachmentDecoder(Base64Sink):
    """The base64 sink for `ContentTransferEncoded`: strict, bounded, and failing as an unreadable package does
    (`bad_base64`, `attachment_too_large`) rather than with the standard library's errors."""

    def _write(self, text: str, strict: bool) -> None:
        try:
            super()._write(text, strict)
        except Base64TooLarge:
            raise EdxmlReadError("attachment_too_large", "Tệp đính kèm vượt quá dung lượng cho phép.") from None
        except (binascii.Error, UnicodeEncodeError) as exc:
            raise EdxmlReadError("bad_base64", "Tệp đính kèm không giải mã được (base64 lỗi).") from exc


def unzip_in_place(path: str, limits: ReadLimits, tmp_dir: str | None) -> str:
    """If `path` holds a ZIP (`PK\\x03\\x04`), replace it by its single entry and return the entry's name.

    The standard and the reference library put one file in each attachment's archive: anything else is refused
    (`chalicelib.standards.edxml.unzip`, one code per kind of refusal). Sizes are counted while inflating, never
    trusted from the archive's headers; a file that is not a ZIP is taken as it is, within the same size bound.
    """
    with open(path, "rb") as fh:
        if fh.read(4) != LOCAL_HEADER:
            if os.path.getsize(path) > limits.attachment_bytes:
                raise EdxmlReadError("attachment_too_large", "Tệp đính kèm vượt quá dung lượng cho phép.",
                                     {"max_bytes": limits.attachment_bytes})
            return ""
    out_fd, out_path = tempfile.mkstemp(dir=tmp_dir, prefix="edxml-att-")
    try:
        with open(path, "rb") as src, os.fdopen(out_fd, "wb") as out:
            entry_name = extract_single_entry(src, out, limits)
        os.replace(out_path, path)
        return Path(entry_name.replace("\\", "/")).name
    except BaseException:
        silent_unlink(out_path)
        raise


def silent_unlink(path: str) -> None:
    """Delete a temporary file that may already be gone."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
