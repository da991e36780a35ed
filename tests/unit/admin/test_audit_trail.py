"""The audit trail's rules (chalicelib.domain.audit) and use cases (chalicelib.admin.audit) against the in-memory
store: canonical hashing, a chain that finds an altered, removed or reordered entry, writers that race for the next
number without forking the chain, the search's days, filters and cursors, and the edge's rule."""

from __future__ import annotations

import copy
import datetime as dt
import threading
from typing import Any

import pytest

from chalicelib.admin import audit
from chalicelib.core.errors import Forbidden, ValidationFailed
from chalicelib.domain import audit as rules
from chalicelib.domain.caller import Caller
from tests.fakes.audit import FakeAuditStore

ADMIN = Caller("admin1", "000.00.01.H62", True)
CLERK = Caller("clerk1", "000.00.12.H62", False)


def _fields(at: str = "2026-12-03T02:00:00.000000Z", *, username: str = "clerk1", action: str = "create_document",
            resource_id: str = "d1", organ_id: str = "000.00.12.H62") -> dict[str, Any]:
    return rules.entry_fields(at=at, username=username, organ_id=organ_id, admin=False, action=action,
                              resource_type="document", resource_id=resource_id, result="ok", source_ip="10.0.0.1")


def _day(store: FakeAuditStore, n: int, day_at: str = "2026-12-03T02:00:00.000000Z") -> list[dict[str, Any]]:
    for i in range(n):
        audit.append(_fields(day_at, resource_id=f"d{i}"), store)
    return store.day_items(rules.day_of(day_at))


# -- hashing and the chain ------------------------------------------------------------------------------------
def test_canonical_text_is_sorted_compact_utf8_and_the_hash_covers_every_field() -> None:
    fields = _fields()
    fields["actor"]["username"] = "chuyên viên"
    text = rules.canonical_bytes("2026-12-03", 1, fields, rules.GENESIS)
    assert text.startswith(b'{"action":"create_document","actor":{"admin":false,"organ_id":"000.00.12.H62",')
    assert "chuyên viên".encode() in text and b" " not in text.replace("chuyên viên".encode(), b"")
    base = rules.entry_hash("2026-12-03", 1, fields, rules.GENESIS)
    assert len(base) == 64
    for change in ({"result": "forbidden"}, {"source_ip": "10.0.0.2"}, {"at": "2026-12-03T02:00:00.000001Z"}):
        assert rules.entry_hash("2026-12-03", 1, {**fields, **change}, rules.GENESIS) != base
    assert rules.entry_hash("2026-12-03", 2, fields, rules.GENESIS) != base
    assert rules.entry_hash("2026-12-04", 1, fields, rules.GENESIS) != base
    assert rules.entry_hash("2026-12-03", 1, fields, "1" * 64) != base


def test_the_day_is_vietnams_civil_day() -> None:
    assert rules.day_of("2026-12-03T16:59:59.000000Z") == "2026-12-03"
    assert rules.day_of("2026-12-03T17:00:00.000000Z") == "2026-12-04"


def test_a_day_chains_from_the_previous_days_last_hash_or_genesis() -> None:
    store = FakeAuditStore()
    first = _day(store, 2, "2026-12-02T03:00:00.000000Z")
    second = _day(store, 2)
    assert first[0]["prev_hash"] == rules.GENESIS and first[0]["sk"] == "SEQ#0000000001"
    assert first[1]["prev_hash"] == first[0]["hash"]
    assert second[0]["prev_hash"] == first[-1]["hash"]
    report = audit.verify_day(ADMIN, "2026-12-03", store)
    assert report == {"day": "2026-12-03", "entries": 2, "valid": True, "last_hash": second[-1]["hash"]}


def _tampered(items: list[dict[str, Any]], edit) -> dict[str, Any]:
    items = copy.deepcopy(items)
    edit(items)
    return rules.verify_chain("2026-12-03", items, None).as_dict()


def test_verify_names_an_altered_entry() -> None:
    items = _day(FakeAuditStore(), 4)

    def alter(items: list[dict[str, Any]]) -> None:
        items[2]["actor"]["username"] = "someone-else"

    report = _tampered(items, alter)
    assert report["valid"] is False and report["first_bad"]["seq"] == 3
    assert report["first_bad"]["problem"] == "altered"


def test_verify_names_a_removed_entry() -> None:
    report = _tampered(_day(FakeAuditStore(), 4), lambda items: items.pop(1))
    assert report["valid"] is False
    bad = report["first_bad"]
    assert (bad["seq"], bad["expected_seq"], bad["problem"]) == (3, 2, "missing_or_reordered")


def test_verify_names_reordered_entries_even_with_their_numbers_swapped() -> None:
    def swap(items: list[dict[str, Any]]) -> None:
        items[1], items[2] = items[2], items[1]
        items[1]["sk"], items[2]["sk"] = items[2]["sk"], items[1]["sk"]

    report = _tampered(_day(FakeAuditStore(), 4), swap)
    assert report["valid"] is False and report["first_bad"]["seq"] == 2
    assert report["first_bad"]["problem"] == "broken_link"


def test_verify_finds_a_rehashed_entry_by_the_next_link() -> None:
    """Someone who alters an entry and recomputes its hash breaks the next entry's link."""
    def rehash(items: list[dict[str, Any]]) -> None:
        items[0]["result"] = "forbidden"
        items[0]["hash"] = rules.entry_hash("2026-12-03", 1, items[0], items[0]["prev_hash"])

    report = _tampered(_day(FakeAuditStore(), 3), rehash)
    assert report["first_bad"]["seq"] == 2 and report["first_bad"]["problem"] == "broken_link"


def test_concurrent_writers_never_fork_the_chain() -> None:
    store = FakeAuditStore(slow_reads=0.002)
    threads = [threading.Thread(target=lambda n=n: audit.append(_fields(resource_id=f"t{n}"), store))
               for n in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    items = store.day_items("2026-12-03")
    assert [rules.seq_of(i["sk"]) for i in items] == list(range(1, 13))
    assert sorted(i["resource"]["id"] for i in items) == sorted(f"t{n}" for n in range(12))
    assert store.lost_races > 0, "the writers did race"
    assert audit.verify_day(ADMIN, "2026-12-03", store)["valid"] is True


def test_a_writer_that_keeps_losing_gives_up_and_fails_closed() -> None:
    class AlwaysTaken(FakeAuditStore):
        def put_new(self, item: dict[str, Any]) -> bool:
            return False

    with pytest.raises(audit.AuditUnavailable) as exc:
        audit.append(_fields(), AlwaysTaken())
    assert exc.value.status == 503 and exc.value.code == "audit_unavailable"


# -- search ------------------------------------------------------------------------------------------------------
@pytest.fixture()
def populated(monkeypatch: pytest.MonkeyPatch) -> FakeAuditStore:
    monkeypatch.setattr(audit, "utc_now", lambda: dt.datetime(2026, 12, 3, 5, tzinfo=dt.UTC))
    store = FakeAuditStore()
    for day in ("2026-11-30", "2026-12-01", "2026-12-03"):
        for n in range(3):
            audit.append(_fields(f"{day}T02:00:0{n}.000000Z", resource_id=f"{day}-{n}",
                                 username="clerk1" if n else "clerk2"), store)
    return store


def test_search_is_newest_first_and_pages_with_a_cursor_across_days(populated: FakeAuditStore) -> None:
    seen: list[str] = []
    page = audit.search(ADMIN, limit="2", store=populated)
    while True:
        seen += [i["resource"]["id"] for i in page["items"]]
        if "next" not in page:
            break
        page = audit.search(ADMIN, limit="2", cursor=page["next"], store=populated)
    assert seen == [f"{d}-{n}" for d in ("2026-12-03", "2026-12-01", "2026-11-30") for n in (2, 1, 0)]


def test_search_filters_and_days(populated: FakeAuditStore) -> None:
    only = audit.search(ADMIN, actor="clerk2", store=populated)["items"]
    assert [i["resource"]["id"] for i in only] == ["2026-12-03-0", "2026-12-01-0", "2026-11-30-0"]
    one = audit.search(ADMIN, resource_id="2026-12-01-1", store=populated)["items"]
    assert [(i["day"], i["seq"], i["actor"]["username"]) for i in one] == [("2026-12-01", 2, "clerk1")]
    bounded = audit.search(ADMIN, from_day="2026-12-01", to_day="2026-12-01", store=populated)["items"]
    assert {i["day"] for i in bounded} == {"2026-12-01"}
    assert audit.search(ADMIN, organ_id="000.00.99.H62", store=populated) == {"items": []}


@pytest.mark.parametrize("args, code", [
    ({"from_day": "2026-13-01"}, "invalid_date"), ({"to_day": "yesterday"}, "invalid_date"),
    ({"from_day": "2026-12-03", "to_day": "2026-12-01"}, "invalid_date_range"),
    ({"from_day": "2024-01-01", "to_day": "2026-12-01"}, "invalid_date_range"),
    ({"limit": "0"}, "invalid_limit"), ({"cursor": "not-a-cursor"}, "invalid_cursor"),
])
def test_search_refuses_bad_parameters(populated: FakeAuditStore, args: dict[str, str], code: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        audit.search(ADMIN, store=populated, **args)
    assert exc.value.code == code


def test_a_cursor_outside_the_asked_days_is_refused(populated: FakeAuditStore) -> None:
    page = audit.search(ADMIN, limit="1", store=populated)
    with pytest.raises(ValidationFailed) as exc:
        audit.search(ADMIN, limit="1", cursor=page["next"], from_day="2026-11-01", to_day="2026-11-30",
                     store=populated)
    assert exc.value.code == "invalid_cursor"


def test_only_admins_search_or_verify(populated: FakeAuditStore) -> None:
    with pytest.raises(Forbidden):
        audit.search(CLERK, store=populated)
    with pytest.raises(Forbidden):
        audit.verify_day(CLERK, "2026-12-03", populated)


# -- the edge's rule ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("rule, method, admin, expected", [
    (None, "POST", False, "h"), (None, "DELETE", True, "h"), (None, "GET", False, None), (None, "GET", True, "h"),
    ("named", "GET", False, "named"), (False, "POST", True, None),
])
def test_which_calls_are_audited(rule: Any, method: str, admin: bool, expected: str | None) -> None:
    assert rules.audit_action(rule, method=method, handler_name="h", caller_is_admin=admin) == expected


def test_the_resource_comes_from_the_path_then_the_answer() -> None:
    assert rules.resource_of("/v1/documents/{document_id}", {"document_id": "d9"}, None) == ("document", "d9")
    assert rules.resource_of("/v1/admin/keys/{organ_id}/{key_ref}", {"organ_id": "o", "key_ref": "k"}, {}) == \
        ("key", "o/k")
    assert rules.resource_of("/v1/documents", {}, {"document_id": "new", "upload": {}}) == ("document", "new")
    assert rules.resource_of("/v1/admin/audit", {}, {"items": []}) == ("audit", "")
    assert rules.resource_of("/v1/inbox/{inbox_id}/status", {"inbox_id": "i1"}, None) == ("inbox_item", "i1")


def test_a_container_chains_from_its_own_last_entry_without_reading() -> None:
    """Issue 11: the next entry of the same container needs no Query; when another container wrote meanwhile, the
    put loses, the day's end is read once, and the chain still verifies."""
    class Counting(FakeAuditStore):
        reads = 0

        def latest(self, day: str) -> dict[str, Any] | None:
            Counting.reads += 1
            return super().latest(day)

    store = Counting()
    audit.append(_fields(resource_id="a"), store)
    reads_first = Counting.reads
    audit.append(_fields(resource_id="b"), store)
    assert Counting.reads == reads_first, "the second entry was chained from the first without a read"
    # another container (no hint of ours) writes two entries: our hint is now two behind
    other = rules.chained_item(_fields(resource_id="x"), last=store.latest("2026-12-03"), previous_day_hash=None)
    assert store.put_new(other)
    other2 = rules.chained_item(_fields(resource_id="y"), last=other, previous_day_hash=None)
    assert store.put_new(other2)
    reads = Counting.reads
    item = audit.append(_fields(resource_id="c"), store)
    assert rules.seq_of(item["sk"]) == 5 and item["prev_hash"] == other2["hash"]
    assert Counting.reads == reads + 1  # the hint lost (x holds 3): one read (y is the end), then 5
    assert audit.verify_day(ADMIN, "2026-12-03", store)["valid"] is True
