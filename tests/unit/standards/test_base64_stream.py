"""The one base64 streaming sink (edXML `ContentTransferEncoded`, axis getEdoc `data`): pieces split anywhere."""

from __future__ import annotations

import base64
import binascii
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.standards.base64_stream import Base64Sink, Base64TooLarge


@given(st.binary(max_size=300), st.lists(st.integers(min_value=0, max_value=500), max_size=6),
       st.sampled_from(["", "\n", " ", "\r\n  "]))
def test_pieces_split_anywhere_decode_to_the_bytes(data: bytes, cuts: list[int], spacing: str) -> None:
    text = base64.b64encode(data).decode("ascii")
    text = spacing.join(text[i:i + 7] for i in range(0, len(text), 7))
    out = io.BytesIO()
    sink = Base64Sink(out)
    bounds = sorted({0, len(text), *(c for c in cuts if c <= len(text))})
    for start, end in zip(bounds, bounds[1:], strict=False):
        sink.feed(text[start:end])
    sink.finish()
    assert out.getvalue() == data
    assert sink.size == len(data)


def test_missing_padding_is_tolerated() -> None:
    out = io.BytesIO()
    sink = Base64Sink(out)
    sink.feed(base64.b64encode(b"hello").decode().rstrip("="))
    sink.finish()
    assert out.getvalue() == b"hello"


def test_strict_and_lenient_tail() -> None:
    # A stray character after the last group: refused strictly (the edXML reader), ignored by binascii's lenient
    # default (the axis client's getEdoc, as it was before the two sinks became one).
    text = base64.b64encode(b"hello").decode() + "!"
    strict = Base64Sink(io.BytesIO())
    strict.feed(text)
    with pytest.raises(binascii.Error):
        strict.finish()
    lenient_out = io.BytesIO()
    lenient = Base64Sink(lenient_out, strict_tail=False)
    lenient.feed(text)
    lenient.finish()
    assert lenient_out.getvalue() == b"hello"


def test_limit_stops_before_writing_past_it() -> None:
    out = io.BytesIO()
    sink = Base64Sink(out, limit=5)
    sink.feed(base64.b64encode(b"abc").decode())
    with pytest.raises(Base64TooLarge):
        sink.feed(base64.b64encode(b"def").decode())
    assert out.getvalue() == b"abc"


def test_non_ascii_text_is_a_unicode_error() -> None:
    with pytest.raises(UnicodeEncodeError):
        Base64Sink(io.BytesIO()).feed("aGVsbé==")
