"""Identifier codes (mã định danh, QCVN 102:2016): strict form, hierarchy, province."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.standards.identifiers import STRICT_PATTERN, is_strict, level, parent, province_of


@pytest.mark.parametrize("code", ["000.00.00.H62", "000.00.00.K62", "000.00.12.H62", "000.00.18.G12",
                                  "000.46.24.H44", "123.46.24.H44", "000.00.00.G22"])
def test_strict_codes_are_accepted(code: str) -> None:
    assert is_strict(code)
    assert STRICT_PATTERN.fullmatch(code)


@pytest.mark.parametrize("code", ["", "vxp.saas.03", "000.00.00.h62", "00.00.00.H62", "000.000.00.H62",
                                  "000.00.00.H6", "000.00.00.HH2", "000.00.00.H62\n", " 000.00.00.H62",
                                  "000-00-00-H62", "000.00.00.H620", "０００.00.00.H62"])
def test_other_system_ids_are_not_strict(code: str) -> None:
    assert not is_strict(code)


def test_non_strings_are_not_strict() -> None:
    assert not is_strict(None)
    assert not is_strict(62)


def test_parent_zeroes_the_lowest_non_zero_group() -> None:
    assert parent("123.46.24.H44") == "000.46.24.H44"
    assert parent("000.46.24.H44") == "000.00.24.H44"
    assert parent("000.00.24.H44") == "000.00.00.H44"
    assert parent("000.00.00.H44") is None
    assert parent("000.00.18.G12") == "000.00.00.G12"


def test_parent_of_a_non_standard_id_is_unknown() -> None:
    assert parent("vxp.saas.03") is None
    assert level("vxp.saas.03") is None


def test_levels() -> None:
    assert [level(c) for c in ("000.00.00.H62", "000.00.12.H62", "000.46.24.H44", "123.46.24.H44")] == [1, 2, 3, 4]


def test_province_of() -> None:
    assert province_of("000.00.00.H62") == "000.00.00.H62"
    assert province_of("000.00.13.H62") == "000.00.00.H62"
    assert province_of("000.00.00.K62") == "000.00.00.H62"  # HĐND tỉnh shares the UBND tỉnh's number
    assert province_of("000.46.24.H44") == "000.00.00.H44"
    assert province_of("000.00.00.G22") is None  # Văn phòng Chính phủ belongs to no province
    assert province_of("vxp.saas.03") is None


codes = st.builds(lambda v, z, y, letter, top: f"{v:03d}.{z:02d}.{y:02d}.{letter}{top:02d}",
                  st.integers(0, 999), st.integers(0, 99), st.integers(0, 99),
                  st.sampled_from("GHKABZ"), st.integers(0, 99))


@given(codes)
def test_parent_chain_zeroes_one_group_per_step_down_to_level_one(code: str) -> None:
    assert is_strict(code)
    chain = [code]
    while (up := parent(chain[-1])) is not None:
        assert is_strict(up)
        assert level(up) < level(chain[-1])
        changed = [a != b for a, b in zip(up.split("."), chain[-1].split("."), strict=True)]
        assert sum(changed) == 1  # exactly one group was zeroed
        assert up[-3:] == code[-3:]  # the level-1 body never changes
        assert province_of(up) == province_of(code)
        chain.append(up)
    non_zero_groups = sum(int(g) != 0 for g in code.split(".")[:3])
    assert len(chain) == non_zero_groups + 1
    assert level(chain[-1]) == 1
