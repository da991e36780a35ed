"""The agency registry's writes on moto's DynamoDB (chalicelib.adapters.agency_registry): the conditional put of a
new code, the version condition of every change, a change and its log item in one transaction, and a Scan of the
agencies that never returns the change log."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.adapters.dynamo import ConditionFailed
from chalicelib.core import settings
from tests.support.moto_tables import create_table, mocked_aws

TABLE = "edoc-agencies-test-registry"


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from chalicelib.adapters.agency_registry import AgencyRegistry

    with mocked_aws(monkeypatch, AGENCIES_TABLE=TABLE):
        create_table(settings.AGENCIES_TABLE, as_name=TABLE)
        settings.get_settings.cache_clear()
        yield AgencyRegistry(TABLE)
    settings.get_settings.cache_clear()


def _change(code: str, kind: str, n: int = 1) -> dict[str, Any]:
    return {"organ_id": f"CHANGE#2026-12-03T00:00:0{n}Z#s1#{code}", "subject": code, "change": kind}


def test_create_is_once_per_code_with_its_change_log(registry: Any) -> None:
    registry.create({"organ_id": "000.00.20.H62", "name": "Sở Tài chính"}, change=_change("000.00.20.H62", "added"))
    with pytest.raises(ConditionFailed):
        registry.create({"organ_id": "000.00.20.H62", "name": "again"}, change=_change("000.00.20.H62", "added", 2))
    with pytest.raises(ConditionFailed):
        registry.create({"organ_id": "000.00.20.H62", "name": "again"})
    assert registry.item("000.00.20.H62")["name"] == "Sở Tài chính" and registry.item("000.00.20.H62")["version"] == 1
    assert [i["organ_id"] for i in registry.items()] == ["000.00.20.H62"], "the change log is not an agency"
    assert registry.item("CHANGE#2026-12-03T00:00:01Z#s1#000.00.20.H62") is None
    assert [(c["subject"], c["change"]) for c in registry.changes()] == [("000.00.20.H62", "added")]


def test_updates_hold_the_version_and_log_atomically(registry: Any) -> None:
    from chalicelib.adapters import aws

    aws.table(TABLE).put_item(Item={"organ_id": "000.00.21.H62", "name": "Sở cũ", "stamp": {"page": 1}})  # unversioned
    registry.update("000.00.21.H62", {"name": "Sở mới"}, version=0, remove=("stamp",),
                    change=_change("000.00.21.H62", "renamed"))
    item = registry.item("000.00.21.H62")
    assert item["name"] == "Sở mới" and item["version"] == 1 and "stamp" not in item
    with pytest.raises(ConditionFailed):  # a stale read: nothing written, not even the log item
        registry.update("000.00.21.H62", {"active": False}, version=0, change=_change("000.00.21.H62", "withdrawn", 2))
    assert registry.item("000.00.21.H62").get("active", True) is True
    registry.update("000.00.21.H62", {"active": False}, version=1)
    assert registry.item("000.00.21.H62")["version"] == 2
    with pytest.raises(ConditionFailed):
        registry.update("000.00.99.H62", {"name": "x"}, version=0)
    logged = aws.table(TABLE).scan()["Items"]
    assert sorted(i["organ_id"] for i in logged if i.get("record_type")) == [
        "CHANGE#2026-12-03T00:00:01Z#s1#000.00.21.H62"]


def test_items_pages_through_the_whole_table(registry: Any) -> None:
    from chalicelib.adapters import aws

    table = aws.table(TABLE)
    filler = "x" * 20_000
    for n in range(70):  # ~1.4 MB: more than one Scan page
        table.put_item(Item={"organ_id": f"000.{n:02d}.40.H62", "name": f"UBND xã {n}", "note": filler})
    assert len(registry.items()) == 70
