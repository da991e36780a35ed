"""`GET /v1/agencies` (chalicelib.outbound.directory): a clerk finds active agencies by name or code, accents and
case aside, and sees only their code and name."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from chalicelib.adapters import agency_registry
from chalicelib.core.errors import ValidationFailed
from chalicelib.outbound import directory
from tests.fakes.agencies import MemoryRegistry

CLERK = SimpleNamespace(username="clerk", organ_id="000.00.12.H62", is_admin=False)


@pytest.fixture
def registry() -> Iterator[MemoryRegistry]:
    reg = MemoryRegistry(
        {"organ_id": "000.00.13.H62", "name": "Sở Nội vụ", "served": True, "email": "snv@vp.gov.vn"},
        {"organ_id": "000.00.00.H62", "name": "UBND tỉnh Vĩnh Phúc", "served": True},
        {"organ_id": "000.00.00.G22", "name": "Văn phòng Chính phủ"},
        {"organ_id": "000.00.14.H62", "name": "Sở Tài chính (cũ)", "active": False})
    agency_registry.use_agency_registry(reg)
    try:
        yield reg
    finally:
        agency_registry.use_agency_registry(None)


def test_words_of_the_name_without_accents_find_the_agency_with_only_its_code_and_name(registry):
    assert directory.directory(CLERK, q="so noi VU") == {"items": [{"organ_id": "000.00.13.H62", "name": "Sở Nội vụ"}]}


def test_a_code_finds_the_agency_and_inactive_ones_are_left_out(registry):
    assert [i["organ_id"] for i in directory.directory(CLERK, q="H62")["items"]] == ["000.00.00.H62", "000.00.13.H62"]
    assert directory.directory(CLERK, q="tai chinh") == {"items": []}


def test_limit_bounds_the_answer_and_must_be_a_number(registry):
    assert len(directory.directory(CLERK, limit="1")["items"]) == 1
    with pytest.raises(ValidationFailed) as info:
        directory.directory(CLERK, limit="many")
    assert info.value.code == "invalid_limit"
