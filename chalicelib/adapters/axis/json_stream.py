"""A JSON object read from a stream with one string member handed over in pieces (the getEdoc answer).

Why: getEdoc answers `{"status": ..., "data": "<base64 of the package>"}`, and a 100 MB document makes that string
larger than the document itself; `extract_streaming` passes that one string on as it arrives, so memory stays flat,
and parses every other member normally, each bounded by `MAX_SMALL_VALUE`. Malformed JSON is a `ValueError`.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from typing import Any

__all__ = ["MAX_SMALL_VALUE", "extract_streaming"]

#: Any JSON value of the answer but the streamed string larger than this is not an axis answer.
MAX_SMALL_VALUE = 16 * 1024 * 1024


def extract_streaming(chunks: Iterator[bytes], key: str, on_text: Any) -> dict[str, Any]:
    """Read a top-level JSON object from `chunks`, passing the string value of `key` to `on_text` piece by piece.

    Why: getEdoc answers `{"status": ..., "data": "<base64 of the package>"}`, and a 100 MB document makes that
    string larger than the document itself; this keeps memory flat. Every other member is parsed normally
    (bounded size) and returned; `key` maps to True when it was present. Raises ValueError on malformed JSON.
    """
    scanner = _Scanner(chunks)
    result: dict[str, Any] = {}
    scanner.expect("{")
    if scanner.peek_nonspace() == "}":
        scanner.take()
        return result
    while True:
        scanner.expect('"')
        name = json.loads('"' + scanner.read_string(None) + '"')
        scanner.expect(":")
        if name == key and scanner.peek_nonspace() == '"':
            scanner.take()
            scanner.read_string(on_text)
            result[name] = True
        else:
            result[name] = json.loads(scanner.read_value())
        sep = scanner.peek_nonspace()
        scanner.take()
        if sep == "}":
            return result
        if sep != ",":
            raise ValueError("malformed JSON object")


class _Scanner:
    """A minimal pull scanner over UTF-8 chunks: just enough JSON to stream one string member."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks = chunks
        self.decoder = codecs.getincrementaldecoder("utf-8")()
        self.buf = ""
        self.pos = 0

    def _fill(self) -> bool:
        for chunk in self.chunks:
            text = self.decoder.decode(chunk)
            if text:
                self.buf = self.buf[self.pos:] + text
                self.pos = 0
                return True
        return False

    def peek_nonspace(self) -> str:
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in " \t\r\n":
                self.pos += 1
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self._fill():
                raise ValueError("unexpected end of JSON")

    def take(self) -> str:
        char = self.peek_nonspace()
        self.pos += 1
        return char

    def expect(self, char: str) -> None:
        if self.take() != char:
            raise ValueError(f"expected {char!r} in JSON")

    def read_string(self, on_text: Any) -> str:
        """After the opening quote: the raw (still escaped) text up to the closing quote. With `on_text`, the
        decoded text goes there in pieces instead and "" is returned."""
        raw: list[str] = []
        size = 0
        while True:
            if self.pos >= len(self.buf) and not self._fill():
                raise ValueError("unterminated JSON string")
            quote = self.buf.find('"', self.pos)
            slash = self.buf.find("\\", self.pos)
            stop = min(i for i in (quote, slash, len(self.buf)) if i >= 0)
            piece = self.buf[self.pos:stop]
            if on_text is None:
                raw.append(piece)
                size += len(piece)
                if size > MAX_SMALL_VALUE:
                    raise ValueError("JSON string too large")
            elif piece:
                on_text(piece)
            self.pos = stop
            if stop == len(self.buf):
                continue
            if stop == quote:
                self.pos += 1
                return "".join(raw)
            escape = self._escape()
            if on_text is None:
                raw.append(escape)
            else:
                on_text(json.loads('"' + escape + '"'))

    def _escape(self) -> str:
        while len(self.buf) - self.pos < 2 or (self.buf[self.pos + 1] == "u" and len(self.buf) - self.pos < 6):
            if not self._fill():
                raise ValueError("unterminated JSON escape")
        length = 6 if self.buf[self.pos + 1] == "u" else 2
        escape = self.buf[self.pos:self.pos + length]
        self.pos += length
        return escape

    def read_value(self) -> str:
        """The raw text of one JSON value other than the streamed string (objects/arrays by bracket depth)."""
        first = self.peek_nonspace()
        if first == '"':
            self.take()
            return '"' + self.read_string(None) + '"'
        raw: list[str] = []
        depth = 0
        size = 0
        while True:
            if self.pos >= len(self.buf) and not self._fill():
                if depth == 0 and raw:
                    return "".join(raw)
                raise ValueError("unexpected end of JSON")
            char = self.buf[self.pos]
            if depth == 0 and char in ",}]" and raw:
                return "".join(raw)
            self.pos += 1
            if char == '"':
                raw.append('"' + self.read_string(None) + '"')
                continue
            if char in "{[":
                depth += 1
            elif char in "}]":
                depth -= 1
            raw.append(char)
            size += 1
            if size > MAX_SMALL_VALUE:
                raise ValueError("JSON value too large")
            if depth == 0 and char in "}]":
                return "".join(raw)
