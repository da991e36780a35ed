"""Pagination cursors are opaque and refuse garbage with a stable code."""

from __future__ import annotations

import pytest

from chalicelib.adapters.dynamo import decode_cursor, encode_cursor
from chalicelib.core.errors import ValidationFailed


def test_cursor_round_trip():
    key = {"pk": "DOC#x", "sk": "META", "gsi1pk": "ORG#000.00.00.H62", "gsi1sk": "2026-01-01T00:00:00Z#x"}
    assert decode_cursor(encode_cursor(key)) == key


@pytest.mark.parametrize("garbage", ["!!!", "bm90IGpzb24", "WzEsMl0"])
def test_garbage_cursor_is_invalid_cursor(garbage):
    with pytest.raises(ValidationFailed) as info:
        decode_cursor(garbage)
    assert info.value.code == "invalid_cursor"
