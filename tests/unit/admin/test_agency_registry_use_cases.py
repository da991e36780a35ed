"""The agency registry's admin use cases (chalicelib.admin.agencies) and the directory sync
(chalicelib.admin.agency_sync) against the in-memory registry and object store: admins only, strict codes,
conditional writes, an opaque checked cursor, checked seals, and a sync that never touches a served agency's
local settings."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from chalicelib.adapters import agency_registry, objects
from chalicelib.admin import agencies, agency_sync
from chalicelib.core.errors import Conflict, Forbidden, GatewayError, NotFound, ValidationFailed
from tests.fakes import FakeObjects
from tests.fakes.agencies import MemoryRegistry
from tests.support.seals import png

ADMIN = SimpleNamespace(username="admin", organ_id="000.00.01.H62", is_admin=True)
CLERK = SimpleNamespace(username="clerk", organ_id="000.00.12.H62", is_admin=False)
SERVED = {"organ_id": "000.00.12.H62", "name": "Sở Thông tin và Truyền thông", "served": True, "active": True,
          "paper": True, "email": "stttt@vp.gov.vn", "seal_key": "seals/000.00.12.H62.png", "seal_etag": '"e1"',
          "stamp": {"page": -1, "width": 300}}


@pytest.fixture
def registry() -> Iterator[MemoryRegistry]:
    reg = MemoryRegistry(SERVED, {"organ_id": "000.00.00.H62", "name": "UBND tỉnh Vĩnh Phúc", "served": True},
                         {"organ_id": "000.00.00.G22", "name": "Văn phòng Chính phủ"})
    agency_registry.use_agency_registry(reg)
    try:
        yield reg
    finally:
        agency_registry.use_agency_registry(None)


@pytest.fixture
def store() -> Iterator[FakeObjects]:
    fake = FakeObjects()
    objects.use_objects(fake)
    try:
        yield fake
    finally:
        objects.use_objects(None)


def _register(**fields: object) -> dict:
    return agencies.create_agency(ADMIN, {"organ_id": "000.00.05.H62", "name": "Sở Tài chính Vĩnh Phúc", **fields})


def test_every_use_case_refuses_a_clerk_with_forbidden(registry: MemoryRegistry) -> None:
    calls = [lambda: agencies.list_agencies(CLERK), lambda: agencies.get_agency(CLERK, "000.00.00.H62"),
             lambda: agencies.create_agency(CLERK, {"organ_id": "000.00.05.H62", "name": "x"}),
             lambda: agencies.update_agency(CLERK, "000.00.00.H62", {"active": False}),
             lambda: agencies.seal_upload(CLERK, "000.00.12.H62"),
             lambda: agencies.confirm_seal(CLERK, "000.00.12.H62", {"key": "k"}),
             lambda: agency_sync.run_sync(CLERK)]
    for call in calls:
        with pytest.raises(Forbidden) as info:
            call()
        assert info.value.code == "forbidden" and info.value.status == 403
    assert registry.item("000.00.00.H62") == {"organ_id": "000.00.00.H62", "name": "UBND tỉnh Vĩnh Phúc",
                                              "served": True}, "nothing changed"


def test_register_derives_level_and_parent_and_answers_the_agency(registry: MemoryRegistry) -> None:
    out = _register(short_name="STC", contact={"email": "stc@vp.gov.vn", "telephone": "0211 3862 000"},
                    paper_in_parallel=True)
    assert out | {"created_at": None, "updated_at": None} == {
        "organ_id": "000.00.05.H62", "name": "Sở Tài chính Vĩnh Phúc", "short_name": "STC", "level": 2,
        "parent": "000.00.00.H62", "active": True, "served": False, "paper_in_parallel": True,
        "metadata_check": "reject",
        "contact": {"email": "stc@vp.gov.vn", "telephone": "0211 3862 000", "address": ""}, "seal": None,
        "stamp": None, "source": "local", "created_at": None, "updated_at": None}
    stored = registry.item("000.00.05.H62")
    assert stored["paper"] is True and stored["name_folded"] == "so tai chinh vinh phuc" and stored["version"] == 1
    assert agencies.get_agency(ADMIN, "000.00.05.H62") == out


@pytest.mark.parametrize(("body", "code"), [
    ({"organ_id": "000.00.5.H62", "name": "x"}, "invalid_organ_id"),
    ({"organ_id": "H62", "name": "x"}, "invalid_organ_id"),
    ({"name": "x"}, "invalid_organ_id"),
    ({"organ_id": "000.00.05.H62", "name": "x", "level": 2}, "invalid_request"),
    ({"organ_id": "000.00.05.H62", "name": "x", "served": "yes"}, "invalid_request"),
    ({"organ_id": "000.00.05.H62", "name": "bad\u0007"}, "invalid_text"),
    ({"organ_id": "000.00.05.H62", "name": "x", "contact": {"email": "not an email"}}, "invalid_request"),
])
def test_register_refuses_bad_bodies_with_their_codes(registry: MemoryRegistry, body: dict, code: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        agencies.create_agency(ADMIN, body)
    assert info.value.code == code and info.value.status == 400
    assert registry.item("000.00.05.H62") is None


def test_a_duplicate_registration_is_agency_exists(registry: MemoryRegistry) -> None:
    with pytest.raises(Conflict) as info:
        agencies.create_agency(ADMIN, {"organ_id": "000.00.00.G22", "name": "Another"})
    assert info.value.code == "agency_exists" and info.value.status == 409
    assert registry.item("000.00.00.G22")["name"] == "Văn phòng Chính phủ"


def test_unknown_agency_is_404(registry: MemoryRegistry) -> None:
    for code in ("000.00.77.H62", "CHANGE#x", "nonsense"):
        with pytest.raises(NotFound) as info:
            agencies.get_agency(ADMIN, code)
        assert info.value.code == "unknown_agency"


def test_patch_changes_only_what_it_names_and_bumps_the_version(registry: MemoryRegistry) -> None:
    out = agencies.update_agency(ADMIN, "000.00.12.H62", {"active": False, "contact": {"telephone": "0211"},
                                                           "stamp": {"page": 1, "x": 300, "y": 40}})
    assert out["active"] is False and out["contact"] == {"email": "stttt@vp.gov.vn", "telephone": "0211",
                                                         "address": ""}
    assert out["stamp"] == {"page": 1, "x": 300, "y": 40} and out["paper_in_parallel"] is True
    assert json.loads(json.dumps(out)) == out, "JSON-ready: the stored Decimals come back as numbers"
    assert out["seal"] == {"key": "seals/000.00.12.H62.png", "etag": '"e1"'}
    assert registry.item("000.00.12.H62")["version"] == 1
    agencies.update_agency(ADMIN, "000.00.12.H62", {"stamp": None, "name": "Sở TTTT"})
    item = registry.item("000.00.12.H62")
    assert "stamp" not in item and item["name_folded"] == "so tttt" and item["version"] == 2


@pytest.mark.parametrize("stamp", [{"page": 0}, {"page": 1, "width": -5}, {"page": 1, "height": 0}])
def test_a_bad_stamp_box_is_refused(registry: MemoryRegistry, stamp: dict) -> None:
    with pytest.raises(ValidationFailed):
        agencies.update_agency(ADMIN, "000.00.12.H62", {"stamp": stamp})
    assert registry.item("000.00.12.H62")["stamp"] == {"page": -1, "width": 300}


def test_a_patch_on_a_stale_read_loses_with_agency_changed(registry: MemoryRegistry) -> None:
    real_item = registry.item

    def stale(organ_id: str) -> dict:
        item = real_item(organ_id)
        registry.update(organ_id, {"name": "changed meanwhile"}, version=int(item.get("version", 0)))
        return item

    registry.item = stale  # type: ignore[method-assign]
    with pytest.raises(Conflict) as info:
        agencies.update_agency(ADMIN, "000.00.00.G22", {"active": False})
    assert info.value.code == "agency_changed"
    assert registry.rows["000.00.00.G22"].get("active", True) is True


def test_lists_filter_order_and_page_with_a_checked_cursor(registry: MemoryRegistry) -> None:
    for n in range(1, 8):
        agencies.create_agency(ADMIN, {"organ_id": f"000.00.{20 + n}.H62", "name": f"Sở Số {n} Tài chính"})
    page = agencies.list_agencies(ADMIN, q="tai CHINH", limit="3")
    assert [i["organ_id"] for i in page["items"]] == ["000.00.21.H62", "000.00.22.H62", "000.00.23.H62"]
    seen = [i["organ_id"] for i in page["items"]]
    while "next" in page:
        page = agencies.list_agencies(ADMIN, q="tai chinh", limit="3", cursor=page["next"])
        seen += [i["organ_id"] for i in page["items"]]
    assert seen == [f"000.00.{20 + n}.H62" for n in range(1, 8)]
    assert [i["organ_id"] for i in agencies.list_agencies(ADMIN, served="true")["items"]] == [
        "000.00.00.H62", "000.00.12.H62"]
    assert [i["organ_id"] for i in agencies.list_agencies(ADMIN, level="1")["items"]] == [
        "000.00.00.G22", "000.00.00.H62"]
    assert len(agencies.list_agencies(ADMIN, parent="000.00.00.H62")["items"]) == 8


@pytest.mark.parametrize("cursor", ["!!!", base64.urlsafe_b64encode(b'{"pk": "x"}').decode(),
                                    base64.urlsafe_b64encode(json.dumps({"after": "DROP"}).encode()).decode(),
                                    "A" * 5000])
def test_a_cursor_not_ours_is_invalid_cursor(registry: MemoryRegistry, cursor: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        agencies.list_agencies(ADMIN, cursor=cursor)
    assert info.value.code == "invalid_cursor"


@pytest.mark.parametrize(("params", "name"), [({"level": "5"}, "level"), ({"served": "yes"}, "served"),
                                              ({"active": "1"}, "active"), ({"parent": "H62"}, "parent")])
def test_bad_filters_are_invalid_filter(registry: MemoryRegistry, params: dict, name: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        agencies.list_agencies(ADMIN, **params)
    assert info.value.code == "invalid_filter" and info.value.details == {"filter": name}


# -- the seal -------------------------------------------------------------------------------------------------


def test_a_checked_seal_is_recorded_for_the_signer(registry: MemoryRegistry, store: FakeObjects) -> None:
    post = agencies.seal_upload(ADMIN, "000.00.12.H62")
    assert post["key"].startswith("seals/000.00.12.H62/") and post["key"].endswith(".png")
    assert store.posts[post["key"]]["Content-Type"] == "image/png" and post["max_bytes"] == 512 * 1024
    store.put(post["key"], png(200, 200, 6))
    out = agencies.confirm_seal(ADMIN, "000.00.12.H62", {"key": post["key"]})
    item = registry.item("000.00.12.H62")
    assert item["seal_key"] == post["key"] and item["seal_etag"] and out["seal"] == {"key": post["key"],
                                                                                    "etag": item["seal_etag"]}
    assert agency_registry.get_agency_registry().get("000.00.12.H62").seal_key == post["key"], "what the signer reads"


@pytest.mark.parametrize(("data", "why"), [
    (png(100, 100, 2), "no_transparency"),
    (png(100, 100, 3), "not_a_usable_png"),
    (png(2001, 10, 6), "too_many_pixels"),
    (b"GIF89a not a png", "not_a_usable_png"),
    (b"\x89PNG\r\n\x1a\n" + bytes(600 * 1024), "too_large"),
])
def test_an_unusable_seal_is_refused_and_never_recorded(registry: MemoryRegistry, store: FakeObjects,
                                                        data: bytes, why: str) -> None:
    key = agencies.seal_upload(ADMIN, "000.00.12.H62")["key"]
    store.put(key, data)
    with pytest.raises(GatewayError) as info:
        agencies.confirm_seal(ADMIN, "000.00.12.H62", {"key": key})
    assert (info.value.code, info.value.status, info.value.details["reason"]) == ("invalid_seal", 422, why)
    assert registry.item("000.00.12.H62")["seal_key"] == "seals/000.00.12.H62.png"


def test_a_seal_key_of_another_agency_or_missing_is_refused(registry: MemoryRegistry, store: FakeObjects) -> None:
    other = agencies.seal_upload(ADMIN, "000.00.00.H62")["key"]
    store.put(other, png())
    with pytest.raises(ValidationFailed) as info:
        agencies.confirm_seal(ADMIN, "000.00.12.H62", {"key": other})
    assert info.value.code == "invalid_seal_key"
    with pytest.raises(NotFound) as missing:
        agencies.confirm_seal(ADMIN, "000.00.12.H62", {"key": agencies.seal_upload(ADMIN, "000.00.12.H62")["key"]})
    assert missing.value.code == "seal_not_uploaded"


# -- the sync ----------------------------------------------------------------------------------------------------


@pytest.fixture
def directory() -> Iterator[list[dict]]:
    rows = [{"code": "000.00.12.H62", "name": "Sở Thông tin và Truyền thông"},
            {"code": "000.00.00.H62", "name": "UBND tỉnh Vĩnh Phúc"},
            {"code": "000.00.00.G22", "name": "Văn phòng Chính phủ"},
            {"code": "000.00.31.H62", "name": "Sở Xây dựng Vĩnh Phúc", "mail": "sxd@vp.gov.vn"}]
    agency_sync.use_directory(lambda: rows)
    try:
        yield rows
    finally:
        agency_sync.use_directory(None)


def test_sync_adds_renames_withdraws_and_logs_each_change(registry: MemoryRegistry, directory: list[dict]) -> None:
    first = agency_sync.run_sync(ADMIN)
    assert (first["added"], first["renamed"], first["withdrawn"], first["unchanged"]) == (
        ["000.00.31.H62"], [], [], 3)
    added = registry.item("000.00.31.H62")
    assert added["source"] == "axis" and added["served"] is False and added["active"] is True
    assert added["email"] == "sxd@vp.gov.vn"
    directory[3] = {"code": "000.00.31.H62", "name": "Sở Xây dựng tỉnh Vĩnh Phúc"}
    directory.append({"code": "000.00.32.H62", "name": "Sở Giao thông Vận tải"})
    second = agency_sync.sync_registry()
    assert second["added"] == ["000.00.32.H62"] and second["renamed"] == [
        {"organ_id": "000.00.31.H62", "from": "Sở Xây dựng Vĩnh Phúc", "to": "Sở Xây dựng tỉnh Vĩnh Phúc"}]
    del directory[4]
    third = agency_sync.sync_registry()
    assert third["withdrawn"] == ["000.00.32.H62"] and third["added"] == [] and third["unchanged"] == 4
    assert registry.item("000.00.32.H62")["active"] is False, "withdrawn: inactive, never deleted"
    log = [(c["subject"], c["change"]) for c in registry.changes_log]
    assert log == [("000.00.31.H62", "added"), ("000.00.32.H62", "added"), ("000.00.31.H62", "renamed"),
                   ("000.00.32.H62", "withdrawn")]
    assert all(c["organ_id"].startswith("CHANGE#") and c["sync_id"] for c in registry.changes_log)
    assert agency_sync.sync_registry()["withdrawn"] == [], "withdrawn once is not withdrawn again"


def test_sync_never_touches_a_served_agencys_local_settings(registry: MemoryRegistry,
                                                            directory: list[dict]) -> None:
    before = registry.item("000.00.12.H62")
    directory[0] = {"code": "000.00.12.H62", "name": "Sở Khoa học và Công nghệ"}
    del directory[1]  # UBND tỉnh (served) gone from the directory
    report = agency_sync.sync_registry()
    assert report["held"] == [
        {"organ_id": "000.00.12.H62", "change": "renamed", "from": before["name"], "to": "Sở Khoa học và Công nghệ"},
        {"organ_id": "000.00.00.H62", "change": "withdrawn"}]
    assert report["renamed"] == [] and report["withdrawn"] == []
    assert registry.item("000.00.12.H62") == before
    assert registry.item("000.00.00.H62")["served"] is True and registry.item("000.00.00.H62").get("active", True)


def test_a_directory_that_cannot_be_read_changes_nothing(registry: MemoryRegistry) -> None:
    def broken() -> list[dict]:
        raise ConnectionError("axis down")

    agency_sync.use_directory(None)
    before = registry.items()
    try:
        agency_sync.use_directory(broken)
        with pytest.raises(ConnectionError):
            agency_sync.sync_registry()
    finally:
        agency_sync.use_directory(None)
    assert registry.items() == before and registry.changes_log == []


def test_the_sync_scope_keeps_one_province(registry: MemoryRegistry, directory: list[dict],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.core import settings

    directory.append({"code": "000.00.07.H03", "name": "Sở Y tế Bắc Giang"})
    monkeypatch.setenv("AGENCY_SYNC_SCOPE", "H62,K62")
    settings.get_settings.cache_clear()
    try:
        report = agency_sync.sync_registry()
    finally:
        monkeypatch.delenv("AGENCY_SYNC_SCOPE")
        settings.get_settings.cache_clear()
    assert report["added"] == ["000.00.31.H62"] and registry.item("000.00.07.H03") is None
    assert report["withdrawn"] == [], "G22 is out of scope, not withdrawn"


def test_a_control_character_is_invalid_text_in_any_field_known_or_not(registry: MemoryRegistry) -> None:
    for call in (lambda: agencies.update_agency(ADMIN, "000.00.00.G22", {"reason": "a\u0001b"}),
                 lambda: agencies.update_agency(ADMIN, "000.00.00.G22", {"contact": {"address": "x\ud800"}}),
                 lambda: agency_sync.run_sync(ADMIN, {"scope": ["\u0085"]})):
        with pytest.raises(ValidationFailed) as info:
            call()
        assert info.value.code == "invalid_text"
    with pytest.raises(ValidationFailed) as extra:
        agency_sync.run_sync(ADMIN, {"scope": "H62"})
    assert extra.value.code == "invalid_request", "the sync takes no options"


def test_the_change_log_reads_newest_first_by_agency_or_sync(registry: MemoryRegistry, directory: list[dict]) -> None:
    first = agency_sync.sync_registry()
    directory[3] = {"code": "000.00.31.H62", "name": "Sở Xây dựng tỉnh Vĩnh Phúc"}
    second = agency_sync.sync_registry()
    log = agency_sync.list_changes(ADMIN, organ_id="000.00.31.H62")
    assert [(c["change"], c["sync_id"]) for c in log["items"]] == [("renamed", second["sync_id"]),
                                                                   ("added", first["sync_id"])]
    assert log["items"][0] | {"at": None} == {"organ_id": "000.00.31.H62", "change": "renamed", "from":
                                              "Sở Xây dựng Vĩnh Phúc", "to": "Sở Xây dựng tỉnh Vĩnh Phúc",
                                              "sync_id": second["sync_id"], "by": "schedule", "at": None}
    page = agency_sync.list_changes(ADMIN, limit="1")
    rest = agency_sync.list_changes(ADMIN, limit="1", cursor=page["next"])
    assert [c["change"] for c in page["items"] + rest["items"]] == ["renamed", "added"] and "next" not in rest
    assert agency_sync.list_changes(ADMIN, sync_id=first["sync_id"])["items"][0]["change"] == "added"
    with pytest.raises(ValidationFailed) as info:
        agency_sync.list_changes(ADMIN, cursor=base64.urlsafe_b64encode(b'{"before": "000.00.31.H62"}').decode())
    assert info.value.code == "invalid_cursor"
    with pytest.raises(Forbidden):
        agency_sync.list_changes(CLERK)
