"""Every list reads `limit` the same way (chalicelib.domain.paging)."""

from __future__ import annotations

import pytest

from chalicelib.core.errors import ValidationFailed
from chalicelib.domain.paging import page_limit


@pytest.mark.parametrize(("value", "size"), [(None, 50), ("", 50), ("7", 7), ("0", 1), ("-3", 1), ("999", 200)])
def test_absent_means_fifty_and_anything_is_clamped(value: str | None, size: int) -> None:
    assert page_limit(value) == size


def test_text_that_is_not_an_integer_is_invalid_limit() -> None:
    with pytest.raises(ValidationFailed) as refused:
        page_limit("many")
    assert refused.value.code == "invalid_limit"
