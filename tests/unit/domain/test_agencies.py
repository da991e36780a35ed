"""The agency registry's pure rules (chalicelib.domain.agencies): accent-free search, filters from the code, the
list's order, and the comparison with the axis directory (what the sync adds, renames, withdraws, holds)."""

from __future__ import annotations

import unicodedata

import pytest

from chalicelib.domain.agencies import (
    AgencyFilter,
    DirectoryEntry,
    compare,
    directory_entries,
    fold_name,
    list_order,
    matches,
)


@pytest.mark.parametrize(("name", "folded"), [
    ("Sở Tài chính", "so tai chinh"),
    ("ĐẢNG ỦY  Khối", "dang uy khoi"),
    ("Sở Thông tin và Truyền thông Vĩnh Phúc", "so thong tin va truyen thong vinh phuc"),
    (unicodedata.normalize("NFD", "Sở Tài chính"), "so tai chinh"),  # NFD: every mark its own code point
])
def test_names_fold_to_lower_case_ascii(name: str, folded: str) -> None:
    assert fold_name(name) == folded


def test_q_finds_an_agency_by_accent_free_words_in_any_case() -> None:
    item = {"organ_id": "000.00.05.H62", "name": "Sở Tài chính Vĩnh Phúc"}
    assert matches(item, AgencyFilter(q="so tai chinh"))
    assert matches(item, AgencyFilter(q="TÀI   chính vinh"))
    assert matches(item, AgencyFilter(q="05.h62")), "the code is searched too"
    assert not matches(item, AgencyFilter(q="so noi vu"))


def test_level_parent_served_active_come_from_the_item_and_its_code() -> None:
    commune = {"organ_id": "000.46.24.H44", "name": "UBND xã", "served": False}
    assert matches(commune, AgencyFilter(level=3, parent="000.00.24.H44", served=False, active=True))
    assert not matches(commune, AgencyFilter(level=2))
    assert not matches(commune, AgencyFilter(parent="000.00.00.H44"))
    assert not matches(commune, AgencyFilter(served=True))
    assert not matches({**commune, "active": False}, AgencyFilter(active=True))


def test_the_list_reads_top_level_first() -> None:
    codes = ["000.00.12.H62", "000.00.00.H03", "000.01.12.H62", "000.00.00.H62", "000.00.01.H62"]
    assert sorted(codes, key=list_order) == ["000.00.00.H03", "000.00.00.H62", "000.00.01.H62", "000.00.12.H62",
                                             "000.01.12.H62"]


def test_directory_rows_keep_strict_codes_with_names_only() -> None:
    entries, skipped = directory_entries([
        {"code": "000.00.12.H62", "name": "Sở  Thông tin", "mail": "a@b.vn"},
        {"code": "vxp.saas.03", "name": "Hệ thống khác"},
        {"code": "000.00.13.H62", "name": ""},
        {"code": "000.00.12.H62", "name": "duplicate, ignored"},
    ])
    assert entries == [DirectoryEntry("000.00.12.H62", "Sở Thông tin", "a@b.vn")]
    assert skipped == 2


def _item(code: str, name: str, **extra: object) -> dict:
    return {"organ_id": code, "name": name, **extra}


def test_compare_adds_renames_withdraws_and_counts_the_rest() -> None:
    directory = [DirectoryEntry("000.00.01.H62", "Văn phòng UBND tỉnh"),
                 DirectoryEntry("000.00.02.H62", "Sở Tư pháp (tên mới)"),
                 DirectoryEntry("000.00.09.H62", "Sở mới")]
    registry = [_item("000.00.01.H62", "Văn phòng UBND tỉnh"),
                _item("000.00.02.H62", "Sở Tư pháp", source="axis"),
                _item("000.00.03.H62", "Sở đã giải thể", source="axis"),
                _item("000.00.04.H62", "Đơn vị đăng ký tay", source="local"),
                _item("000.00.05.H62", "Đã ngừng", source="axis", active=False)]
    diff = compare(directory, registry, skipped=3)
    assert [e.organ_id for e in diff.added] == ["000.00.09.H62"]
    assert [r.as_dict() for r in diff.renamed] == [
        {"organ_id": "000.00.02.H62", "from": "Sở Tư pháp", "to": "Sở Tư pháp (tên mới)"}]
    assert diff.withdrawn == ["000.00.03.H62"], "a hand-registered one and an inactive one are left alone"
    assert diff.unchanged == 1 and diff.skipped == 3 and diff.held == []


def test_a_served_agency_is_held_for_an_admin_never_renamed_or_withdrawn() -> None:
    registry = [_item("000.00.12.H62", "Sở TTTT", served=True), _item("000.00.13.H62", "Sở Nội vụ", served=True)]
    diff = compare([DirectoryEntry("000.00.12.H62", "Sở Khoa học và Công nghệ")], registry)
    assert diff.renamed == [] and diff.withdrawn == []
    assert [h.as_dict() for h in diff.held] == [
        {"organ_id": "000.00.12.H62", "change": "renamed", "from": "Sở TTTT", "to": "Sở Khoa học và Công nghệ"},
        {"organ_id": "000.00.13.H62", "change": "withdrawn"}]


def test_a_name_in_another_normal_form_is_not_a_rename() -> None:
    nfd = unicodedata.normalize("NFD", "Sở Tài chính")
    diff = compare([DirectoryEntry("000.00.05.H62", nfd)], [_item("000.00.05.H62", "Sở Tài chính")])
    assert diff.renamed == [] and diff.unchanged == 1
