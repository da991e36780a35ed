"""The getEdoc answer streamer (chalicelib.adapters.axis.json_stream) on hostile bytes: it returns the object or
raises ValueError (the client's "garbled answer"), never another exception type, and the streamed member arrives
whole however the bytes are cut."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.adapters.axis.json_stream import extract_streaming

VALID = (b'{"status": "OK", "ErrorCode": "0", "docId": "' + b"a" * 24 + b'", "data": "QUJD\\u0044' + b"A" * 300
         + b'", "extra": ' + json.dumps({"list": [1, 2, {"x": None}]}).encode() + b"}")  # data has a JSON escape


def chunked(raw: bytes, size: int) -> list[bytes]:
    return [raw[i:i + size] for i in range(0, len(raw), size)] or [b""]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.integers(1, 64))
def test_arbitrary_bytes_give_an_object_or_a_value_error(raw: bytes, size: int) -> None:
    pieces: list[str] = []
    try:
        answer = extract_streaming(iter(chunked(raw, size)), "data", pieces.append)
    except (ValueError, RecursionError):
        return
    assert isinstance(answer, dict)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, len(VALID)), st.integers(1, 256), st.binary(min_size=1, max_size=3))
def test_a_valid_answer_cut_or_spliced_anywhere(cut: int, size: int, junk: bytes) -> None:
    for raw in (VALID[:cut], VALID[:cut] + junk + VALID[cut:]):
        pieces: list[str] = []
        try:
            extract_streaming(iter(chunked(raw, size)), "data", pieces.append)
        except (ValueError, RecursionError):
            continue


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 10_000])
def test_the_streamed_member_arrives_whole_in_any_chunking(size: int) -> None:
    pieces: list[str] = []
    answer = extract_streaming(iter(chunked(VALID, size)), "data", pieces.append)
    assert "".join(pieces) == "QUJDD" + "A" * 300
    assert answer["data"] is True and answer["extra"] == {"list": [1, 2, {"x": None}]}
