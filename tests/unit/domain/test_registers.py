"""The registers' rules (chalicelib.domain.registers): NĐ 30's number form, Vietnam's calendar year, the keys."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.domain.registers import INCOMING, OUTGOING, format_number, register_key, register_year, slot_key


@pytest.mark.parametrize(("n", "text"), [(1, "01"), (9, "09"), (10, "10"), (99, "99"), (100, "100"), (7413, "7413")])
def test_numbers_below_ten_have_a_leading_zero(n: int, text: str) -> None:
    assert format_number(n) == text


def test_there_is_no_number_zero() -> None:
    with pytest.raises(ValueError):
        format_number(0)


def test_the_year_is_vietnams() -> None:
    assert register_year(datetime(2026, 12, 31, 16, 59, tzinfo=UTC)) == 2026
    assert register_year(datetime(2026, 12, 31, 17, 0, tzinfo=UTC)) == 2027  # 00:00 on 1 January in Hà Nội
    with pytest.raises(ValueError):
        register_year(datetime(2026, 12, 31))  # naive: which zone?


def test_keys_sort_in_number_order_and_keep_registers_apart() -> None:
    assert sorted([slot_key(10), slot_key(9), slot_key(100)]) == [slot_key(9), slot_key(10), slot_key(100)]
    assert register_key("000.00.00.H62", OUTGOING, 2026) != register_key("000.00.00.H62", INCOMING, 2026)
    assert register_key("000.00.00.H62", OUTGOING, 2026) != register_key("000.00.00.H62", OUTGOING, 2027)
    with pytest.raises(ValueError):
        register_key("000.00.00.H62", "sideways", 2026)
