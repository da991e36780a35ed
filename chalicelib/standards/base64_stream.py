"""Base64 text that arrives in pieces, decoded straight into a file: the one sink both big base64 payloads use.

Two places carry a whole document as one base64 string: the edXML `ContentTransferEncoded` element (QCVN 102:2016,
`docs/edxml.md#formats`) and the `data` member of the axis's getEdoc answer (`docs/axis-protocol.md`). A 100 MB
document makes either string larger than the document itself, so neither is ever held whole: the text is fed here
piece by piece as the parser hands it over, and only 4-character groups are decoded.

Errors are the standard library's, so each caller says what they mean for its own input: `binascii.Error` (not
base64), `UnicodeEncodeError` (non-ASCII text), `Base64TooLarge` (more decoded bytes than the caller allows).
"""

from __future__ import annotations

import binascii
from typing import IO

__all__ = ["Base64Sink", "Base64TooLarge"]

_WHITESPACE = str.maketrans("", "", " \t\r\n")


class Base64TooLarge(ValueError):
    """The decoded bytes went past the sink's `limit`; nothing past the limit was written."""


class Base64Sink:
    """Base64 text in arbitrary pieces → bytes in `out` (whitespace anywhere ignored; 4-character groups decoded).

    `size` counts the bytes written. `limit` (None: no limit) bounds them. `strict_tail` says how the last group,
    padded with `=` when the sender left the padding out (lenient decoders on the other side accept that), is
    decoded: strictly like the rest, or with `binascii`'s lenient default.
    """

    def __init__(self, out: IO[bytes], limit: int | None = None, *, strict_tail: bool = True) -> None:
        self.out = out
        self.limit = limit
        self.strict_tail = strict_tail
        self.size = 0
        self.pending = ""

    def feed(self, text: str) -> None:
        """Decode what forms whole 4-character groups; keep the rest for the next piece."""
        text = self.pending + text.translate(_WHITESPACE)
        cut = len(text) - len(text) % 4
        self.pending = text[cut:]
        if cut:
            self._write(text[:cut], True)

    def finish(self) -> None:
        """Decode the last, possibly unpadded, group."""
        if self.pending:
            self._write(self.pending + "=" * (-len(self.pending) % 4), self.strict_tail)
            self.pending = ""

    def _write(self, text: str, strict: bool) -> None:
        data = binascii.a2b_base64(text.encode("ascii"), strict_mode=strict)
        self.size += len(data)
        if self.limit is not None and self.size > self.limit:
            raise Base64TooLarge(self.limit)
        self.out.write(data)
