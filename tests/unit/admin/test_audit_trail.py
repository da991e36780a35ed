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
CLERK_ORGAN, OTHER_ORGAN = CLERK.organ_id, "000.00.13.H62"


def _fields(at: str = "2026-12-03T02:00:00.000000Z", *, username: str = "clerk1", action: str = "create_document",
            resource_id: str = "d1", organ_id: str = CLERK_ORGAN) -> dict[str, Any]:
    return rules.entry_fields(at=at, username=username, organ_id=organ_id, admin=False, action=action,
                              resource_type="document", resource_id=resource_id, result="ok", source_ip="10.0.0.1")


def _day(store: FakeAuditStore, n: int, day_at: str = "2026-12-03T02:00:00.000000Z",
         organ_id: str = CLERK_ORGAN) -> list[dict[str, Any]]:
    for i in range(n):
        audit.append(_fields(day_at, resource_id=f"d{i}", organ_id=organ_id), store)
    return store.chain_day(organ_id, rules.day_of(day_at))


def _run(*targets: Any) -> None:
    threads = [threading.Thread(target=t) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


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


def test_an_entry_goes_to_its_agencys_chain_numbered_per_day_and_indexed_by_day() -> None:
    item = audit.append(_fields(), FakeAuditStore())
    assert item["pk"] == "CHAIN#000.00.12.H62" and item["sk"] == "DAY#2026-12-03#SEQ#0000000001"
    assert item["day_pk"] == "DAY#2026-12-03"
    assert item["day_sk"] == "2026-12-03T02:00:00.000000Z#000.00.12.H62#0000000001"
    assert rules.parse_entry_key(item["sk"]) == ("2026-12-03", 1)
    assert rules.parse_entry_key("SEQ#0000000001") is None


def test_a_chain_runs_across_days_from_genesis_and_days_without_entries_are_skipped() -> None:
    store = FakeAuditStore()
    first = _day(store, 2, "2026-11-30T03:00:00.000000Z")
    second = _day(store, 2)  # 2026-12-03: nothing on 12-01 and 12-02
    assert first[0]["prev_hash"] == rules.GENESIS and first[0]["sk"] == "DAY#2026-11-30#SEQ#0000000001"
    assert first[1]["prev_hash"] == first[0]["hash"]
    assert second[0]["prev_hash"] == first[-1]["hash"] and second[0]["sk"].endswith("#SEQ#0000000001")
    report = audit.verify_day(ADMIN, "2026-12-03", store)
    assert report == {"day": "2026-12-03", "entries": 2, "valid": True, "chains": [
        {"organ_id": CLERK_ORGAN, "entries": 2, "valid": True, "last_hash": second[-1]["hash"]}]}
    assert audit.verify_day(ADMIN, "2026-12-02", store) == {"day": "2026-12-02", "entries": 0, "valid": True,
                                                             "chains": []}


def test_an_admins_entries_go_to_the_admins_agency_and_verify_covers_every_chain_of_the_day() -> None:
    store = FakeAuditStore()
    _day(store, 3)
    _day(store, 2, organ_id=OTHER_ORGAN)
    admin_entry = rules.entry_fields(at="2026-12-03T04:00:00.000000Z", username="admin1", organ_id=ADMIN.organ_id,
                                     admin=True, action="get_document", resource_type="document", resource_id="d1",
                                     result="ok", source_ip="10.0.0.9")
    assert audit.append(admin_entry, store)["pk"] == f"CHAIN#{ADMIN.organ_id}"
    report = audit.verify_day(ADMIN, "2026-12-03", store)
    assert report["valid"] is True and report["entries"] == 6
    assert [(c["organ_id"], c["entries"]) for c in report["chains"]] == [
        (ADMIN.organ_id, 1), (CLERK_ORGAN, 3), (OTHER_ORGAN, 2)]


def _verify(items: list[dict[str, Any]], edit, previous: dict[str, Any] | None = None) -> dict[str, Any]:
    items = copy.deepcopy(items)
    edit(items)
    return rules.verify_chain("2026-12-03", CLERK_ORGAN, items, previous).as_dict()


def test_verify_names_an_altered_entry() -> None:
    items = _day(FakeAuditStore(), 4)

    def alter(items: list[dict[str, Any]]) -> None:
        items[2]["actor"]["username"] = "someone-else"

    report = _verify(items, alter)
    assert report["valid"] is False and report["first_bad"]["seq"] == 3
    assert report["first_bad"]["problem"] == "altered"


def test_verify_names_a_removed_entry() -> None:
    report = _verify(_day(FakeAuditStore(), 4), lambda items: items.pop(1))
    assert report["valid"] is False
    bad = report["first_bad"]
    assert (bad["seq"], bad["expected_seq"], bad["problem"]) == (3, 2, "missing_or_reordered")


def test_verify_names_a_removed_first_entry_of_a_day() -> None:
    store = FakeAuditStore()
    before = _day(store, 2, "2026-12-02T03:00:00.000000Z")
    items = _day(store, 3)
    report = _verify(items, lambda items: items.pop(0), previous=before[-1])
    assert report["first_bad"]["seq"] == 2 and report["first_bad"]["problem"] == "missing_or_reordered"
    # … and one that renumbers the rest still breaks the link to the chain's previous day
    def renumber(items: list[dict[str, Any]]) -> None:
        items.pop(0)
        for n, item in enumerate(items, start=1):
            item["sk"] = rules.entry_key("2026-12-03", n)

    report = _verify(items, renumber, previous=before[-1])
    assert report["first_bad"]["seq"] == 1 and report["first_bad"]["problem"] == "broken_link"


def test_verify_finds_a_removed_previous_day_by_the_first_link() -> None:
    store = FakeAuditStore()
    _day(store, 2, "2026-12-01T03:00:00.000000Z")
    _day(store, 2, "2026-12-02T03:00:00.000000Z")
    _day(store, 2)
    kept = [i for i in store.chain_items(CLERK_ORGAN) if not i["sk"].startswith("DAY#2026-12-02#")]
    store.replace(kept, CLERK_ORGAN)
    report = audit.verify_day(ADMIN, "2026-12-03", store)
    assert report["valid"] is False
    assert report["first_bad"] == {"organ_id": CLERK_ORGAN, "seq": 1, "sk": "DAY#2026-12-03#SEQ#0000000001",
                                   "at": "2026-12-03T02:00:00.000000Z", "problem": "broken_link"}


def test_verify_names_reordered_entries_even_with_their_numbers_swapped() -> None:
    def swap(items: list[dict[str, Any]]) -> None:
        items[1], items[2] = items[2], items[1]
        items[1]["sk"], items[2]["sk"] = items[2]["sk"], items[1]["sk"]

    report = _verify(_day(FakeAuditStore(), 4), swap)
    assert report["valid"] is False and report["first_bad"]["seq"] == 2
    assert report["first_bad"]["problem"] == "broken_link"


def test_verify_finds_a_rehashed_entry_by_the_next_link() -> None:
    """Someone who alters an entry and recomputes its hash breaks the next entry's link."""
    def rehash(items: list[dict[str, Any]]) -> None:
        items[0]["result"] = "forbidden"
        items[0]["hash"] = rules.entry_hash("2026-12-03", 1, items[0], items[0]["prev_hash"])

    report = _verify(_day(FakeAuditStore(), 3), rehash)
    assert report["first_bad"]["seq"] == 2 and report["first_bad"]["problem"] == "broken_link"


def test_verify_names_an_entry_moved_to_another_chain_or_out_of_the_day_index() -> None:
    def moved(items: list[dict[str, Any]]) -> None:
        items[1]["pk"] = f"CHAIN#{OTHER_ORGAN}"

    def unindexed(items: list[dict[str, Any]]) -> None:
        items[2]["day_pk"] = "DAY#2026-12-04"

    assert _verify(_day(FakeAuditStore(), 3), moved)["first_bad"]["problem"] == "misindexed"
    assert _verify(_day(FakeAuditStore(), 3), unindexed)["first_bad"]["problem"] == "misindexed"


def test_one_tampered_chain_leaves_the_others_valid_and_is_named() -> None:
    store = FakeAuditStore()
    _day(store, 3)
    _day(store, 3, organ_id=OTHER_ORGAN)
    items = store.chain_items(OTHER_ORGAN)
    items[1]["resource"]["id"] = "forged"
    store.replace(items, OTHER_ORGAN)
    report = audit.verify_day(ADMIN, "2026-12-03", store)
    assert report["valid"] is False and report["entries"] == 6
    assert report["first_bad"]["organ_id"] == OTHER_ORGAN and report["first_bad"]["seq"] == 2
    by_organ = {c["organ_id"]: c for c in report["chains"]}
    assert by_organ[CLERK_ORGAN]["valid"] is True
    assert by_organ[OTHER_ORGAN]["valid"] is False and by_organ[OTHER_ORGAN]["first_bad"]["problem"] == "altered"


def test_concurrent_writers_of_one_agency_never_fork_the_chain() -> None:
    store = FakeAuditStore(slow_reads=0.002, racing_readers=4)  # the first four surely race (a barrier)
    _run(*(lambda n=n: audit.append(_fields(resource_id=f"t{n}"), store) for n in range(12)))
    items = store.chain_day(CLERK_ORGAN, "2026-12-03")
    assert [rules.parse_entry_key(i["sk"])[1] for i in items] == list(range(1, 13))
    assert sorted(i["resource"]["id"] for i in items) == sorted(f"t{n}" for n in range(12))
    assert store.lost_races > 0, "the writers did race"
    assert audit.verify_day(ADMIN, "2026-12-03", store)["valid"] is True


def test_writers_of_different_agencies_never_lose_to_each_other() -> None:
    """Issue 11: a burst from many agencies at once, each writer reading slowly: not one lost put, every entry kept,
    every chain numbered 1..n and valid."""
    store = FakeAuditStore(slow_reads=0.005)
    organs = [f"000.00.{n:02d}.H62" for n in range(20, 30)]
    _run(*(lambda o=o: audit.append(_fields(resource_id=o, organ_id=o), store) for o in organs))
    assert store.lost_races == 0
    report = audit.verify_day(ADMIN, "2026-12-03", store)
    assert report["valid"] is True and [c["organ_id"] for c in report["chains"]] == organs
    assert all(c["entries"] == 1 for c in report["chains"])


def test_a_mixed_burst_loses_only_within_an_agency_and_keeps_every_entry() -> None:
    store = FakeAuditStore(slow_reads=0.002)
    organs = [f"000.00.{n:02d}.H62" for n in range(40, 45)]
    _run(*(lambda o=o, n=n: audit.append(_fields(resource_id=f"{o}-{n}", organ_id=o), store)
           for o in organs for n in range(6)))
    report = audit.verify_day(ADMIN, "2026-12-03", store)
    assert report["valid"] is True and report["entries"] == 30
    for organ in organs:
        items = store.chain_day(organ, "2026-12-03")
        assert [rules.parse_entry_key(i["sk"])[1] for i in items] == list(range(1, 7))
        assert sorted(i["resource"]["id"] for i in items) == sorted(f"{organ}-{n}" for n in range(6))
    assert set(store.lost_by_chain) <= set(organs)


def test_a_writer_that_keeps_losing_gives_up_and_fails_closed() -> None:
    class AlwaysTaken(FakeAuditStore):
        def put_new(self, item: dict[str, Any]) -> tuple[bool, dict[str, Any] | None]:
            return False, None

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
                                 username="clerk1" if n else "clerk2",
                                 organ_id=OTHER_ORGAN if n == 1 else CLERK_ORGAN), store)
    return store


def test_search_is_newest_first_and_pages_with_a_cursor_across_days(populated: FakeAuditStore) -> None:
    """Newest first across agencies (the day index orders by time, whichever chain an entry is in)."""
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
    assert [(i["day"], i["seq"], i["actor"]["username"]) for i in one] == [("2026-12-01", 1, "clerk1")]
    other = audit.search(ADMIN, organ_id=OTHER_ORGAN, store=populated)["items"]
    assert [i["resource"]["id"] for i in other] == ["2026-12-03-1", "2026-12-01-1", "2026-11-30-1"]
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
    """Issue 11: the next entry of the same container and chain needs no Query; when another container wrote
    meanwhile, each lost put names its winner, the next try chains from it, and the chain still verifies; a new day
    reads once."""
    store = FakeAuditStore()
    audit.append(_fields(resource_id="a"), store)
    reads_first = store.reads[CLERK_ORGAN]
    audit.append(_fields(resource_id="b"), store)
    assert store.reads[CLERK_ORGAN] == reads_first, "the second entry was chained from the first without a read"
    # another container (no hint of ours) writes two entries: our hint is now two behind
    other = rules.chained_item(_fields(resource_id="x"), last=store.last_before(CLERK_ORGAN, "DAY#2026-12-03$"))
    assert store.put_new(other)[0]
    other2 = rules.chained_item(_fields(resource_id="y"), last=other)
    assert store.put_new(other2)[0]
    reads = store.reads[CLERK_ORGAN]
    item = audit.append(_fields(resource_id="c"), store)
    assert rules.parse_entry_key(item["sk"]) == ("2026-12-03", 5) and item["prev_hash"] == other2["hash"]
    # the hint lost (x holds 3) and the lost put named x: 4 chained from it, lost again (y), then 5, without a read
    assert store.reads[CLERK_ORGAN] == reads
    # the next day: one read, which finds the chain's last entry (c) to link number 1 to
    reads = store.reads[CLERK_ORGAN]
    nxt = audit.append(_fields("2026-12-04T02:00:00.000000Z", resource_id="d"), store)
    assert store.reads[CLERK_ORGAN] == reads + 1 and nxt["prev_hash"] == item["hash"]
    assert rules.parse_entry_key(nxt["sk"]) == ("2026-12-04", 1)
    assert audit.verify_day(ADMIN, "2026-12-03", store)["valid"] is True
    assert audit.verify_day(ADMIN, "2026-12-04", store)["valid"] is True


@pytest.mark.parametrize("key", [
    {"pk": "CHAIN#x", "sk": "DAY#2026-12-01#SEQ#0000000001", "day_pk": "DAY#2026-12-03", "day_sk": "t"},
    {"pk": "DOC#x", "sk": "DAY#2026-12-03#SEQ#0000000001", "day_pk": "DAY#2026-12-03", "day_sk": "t"},
    {"pk": "START", "sk": "START", "day_pk": "DAY#2026-12-03", "day_sk": "t"},
    {"pk": "CHAIN#x", "sk": "DAY#2026-12-03#SEQ#0000000001", "day_pk": "DAY#2026-12-03", "day_sk": "START"},
])
def test_a_forged_cursor_is_refused(populated: FakeAuditStore, key: dict[str, str]) -> None:
    """A cursor names the index key it goes on from: each attribute must be where our own cursors put it."""
    from chalicelib.adapters.dynamo import encode_cursor

    with pytest.raises(ValidationFailed) as exc:
        audit.search(ADMIN, cursor=encode_cursor(key), store=populated)
    assert exc.value.code == "invalid_cursor"
