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


def _cursor(value) -> str:
    import base64
    import json

    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


GOOD = {"pk": "DOC#x", "sk": "META", "gsi1pk": "ORG#000.00.00.H62", "gsi1sk": "2026-01-01T00:00:00Z#x"}


@pytest.mark.parametrize("value", [
    {"gsi1pk": "ORG#000.00.00.H62"},  # missing key attributes: moto raised TypeError (500)
    {**GOOD, "extra": "x"},  # not the index's key
    {**GOOD, "pk": 1},  # a number where DynamoDB has a string: moto compared str and Decimal (500)
    {**GOOD, "sk": None},
    {**GOOD, "gsi1sk": {"S": "x"}},
    {**GOOD, "sk": ""},
    {**GOOD, "pk": "x" * 1025},
    [GOOD],
    "ORG#000.00.00.H62",
])
def test_a_well_formed_cursor_of_the_wrong_shape_is_invalid_cursor(value):
    with pytest.raises(ValidationFailed) as info:
        decode_cursor(_cursor(value))
    assert info.value.code == "invalid_cursor"


@pytest.mark.parametrize("cursor", ["x" * 5000, "é", "[" * 3000, _cursor("[" * 3000)])
def test_oversized_non_ascii_or_deep_cursors_are_invalid_cursor(cursor):
    with pytest.raises(ValidationFailed) as info:
        decode_cursor(cursor)
    assert info.value.code == "invalid_cursor"


def test_a_cursor_of_another_partition_is_invalid_cursor():
    assert decode_cursor(encode_cursor(GOOD), partition="ORG#000.00.00.H62") == GOOD
    with pytest.raises(ValidationFailed) as info:
        decode_cursor(encode_cursor(GOOD), partition="ORG#000.00.12.H62")
    assert info.value.code == "invalid_cursor"
