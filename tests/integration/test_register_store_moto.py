"""Numbers from a register (chalicelib.adapters.register_store) on moto's DynamoDB: concurrent issuers in one
agency get consecutive numbers with no gap and no repeat, a retried issue answers the number already held, and the
registers of two agencies, directions or years never share a counter (NĐ 30/2020 Art. 15, issue 12)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.moto_tables import mocked_aws
from tests.support.organs import H62, K62

TABLE = "edoc-documents-test-registers"


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    from devstack import moto_fixes

    moto_fixes.apply()  # transactions isolated as on DynamoDB (moto restores a whole-table copy on a failed one)
    with mocked_aws(monkeypatch, documents_table=TABLE):
        from chalicelib.adapters.register_store import RegisterStore

        yield RegisterStore()


def test_concurrent_issuers_get_consecutive_numbers_without_gap_or_repeat(store) -> None:
    holders = [f"doc-{i:02d}" for i in range(24)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        issued = list(pool.map(lambda h: store.issue(H62, "outgoing", 2026, h, {"subject": h}), holders))

    assert sorted(i["n"] for i in issued) == list(range(1, 25))
    entries, cursor = store.page(H62, "outgoing", 2026, limit=100)
    assert cursor is None
    assert [e["n"] for e in entries] == list(range(1, 25))  # in number order
    assert [e["number"] for e in entries[:10]] == ["01", "02", "03", "04", "05", "06", "07", "08", "09", "10"]
    by_holder = {i["n"]: h for h, i in zip(holders, issued, strict=True)}
    assert all(e["holder_id"] == by_holder[e["n"]] for e in entries)


def test_a_retry_answers_the_number_already_held(store) -> None:
    first = store.issue(H62, "outgoing", 2026, "doc-a")
    again = store.issue(H62, "outgoing", 2026, "doc-a")
    with ThreadPoolExecutor(max_workers=6) as pool:  # at-least-once delivery: the same document, six times at once
        racing = list(pool.map(lambda _: store.issue(H62, "outgoing", 2026, "doc-b"), range(6)))

    assert (first["n"], first["reused"], again["n"], again["reused"]) == (1, False, 1, True)
    assert {r["n"] for r in racing} == {2} and sum(not r["reused"] for r in racing) == 1
    assert [e["n"] for e in store.page(H62, "outgoing", 2026)[0]] == [1, 2]


def test_each_agency_direction_and_year_counts_from_01(store) -> None:
    store.issue(H62, "outgoing", 2026, "a")
    store.issue(H62, "outgoing", 2026, "b")
    assert store.issue(K62, "outgoing", 2026, "c")["number"] == "01"
    assert store.issue(H62, "incoming", 2026, "d")["number"] == "01"
    assert store.issue(H62, "outgoing", 2027, "e")["number"] == "01"


def test_a_failed_document_keeps_its_number_and_the_register_says_so(store) -> None:
    issued = store.issue(H62, "outgoing", 2026, "doc-x", {"state": "SIGNED"})
    store.note(H62, "outgoing", 2026, issued["n"], {"state": "FAILED", "reason": "axis_unreachable"})
    (entry,), _ = store.page(H62, "outgoing", 2026)
    assert (entry["number"], entry["holder_id"], entry["state"], entry["reason"]) == ("01", "doc-x", "FAILED",
                                                                                      "axis_unreachable")
    assert store.issue(H62, "outgoing", 2026, "doc-y")["n"] == 2  # never reissued


def test_pages_and_their_cursor(store) -> None:
    from chalicelib.core.errors import ValidationFailed

    for i in range(5):
        store.issue(H62, "outgoing", 2026, f"p{i}")
    first, cursor = store.page(H62, "outgoing", 2026, limit=3)
    rest, end = store.page(H62, "outgoing", 2026, limit=3, cursor=cursor)
    assert [e["n"] for e in first + rest] == [1, 2, 3, 4, 5] and cursor and end is None
    with pytest.raises(ValidationFailed):
        store.page(K62, "outgoing", 2026, cursor=cursor)  # another agency's cursor
