"""The month indexes on moto's DynamoDB (issue 9): a record is in its creation month's `by_month` partition with its
folded subject, each DISPATCHED/REJECTED/FAILED transition puts it in `by_done_month` for the month it happened, a
retried FAILED record leaves it, and the search's filters and the report targets work against the real table."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.moto_tables import mocked_aws
from tests.support.organs import G22, H62, K62

TABLE = "edoc-documents-test-reports"


@pytest.fixture
def stores(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any]]:
    with mocked_aws(monkeypatch, documents_table=TABLE):
        from chalicelib.adapters.document_store import DocumentStore
        from chalicelib.adapters.report_store import ReportStore

        yield DocumentStore(TABLE), ReportStore(TABLE)


def _create(store: Any, document_id: str, subject: str, at: str, organ_id: str = H62) -> None:
    from chalicelib.domain.text_search import fold

    store.create({"document_id": document_id, "organ_id": organ_id, "state": "AWAITING_UPLOAD",
                  "metadata": {"subject": subject, "recipients": [G22, K62], "number": "12", "notation": "UBND-VX"},
                  "created_at": at, "updated_at": at, "subject_folded": fold(subject)})


def _ids(items: list[dict[str, Any]]) -> list[str]:
    return [i["document_id"] for i in items]


def test_search_pages_read_the_month_and_filter(stores):
    documents, reports = stores
    _create(documents, "a", "Về việc kiểm thử hệ thống", "2026-12-02T01:00:00.000000Z")
    _create(documents, "b", "Báo cáo tháng", "2026-12-03T01:00:00.000000Z")
    _create(documents, "c", "Kiểm thử lần hai", "2026-11-20T01:00:00.000000Z", organ_id="000.00.12.H62")
    lo, hi = "2026-11-30T17:00:00.000000Z", "2026-12-31T17:00:00.000000Z"
    base = {"state": None, "recipient": None, "number": None, "notation": None, "words": []}
    items, last = reports.search_page(organ_id=None, month="2026-12", lo=lo, hi=hi, filters=base, limit=10)
    assert _ids(items) == ["b", "a"] and last is None
    items, _ = reports.search_page(organ_id=None, month="2026-12", lo=lo, hi=hi, limit=10,
                                   filters={**base, "words": ["kiem", "thu"]})
    assert _ids(items) == ["a"]
    items, _ = reports.search_page(organ_id=None, month="2026-12", lo=lo, hi=hi, limit=10,
                                   filters={**base, "recipient": K62, "number": "12", "notation": "UBND-VX"})
    assert _ids(items) == ["b", "a"]
    items, _ = reports.search_page(organ_id=None, month="2026-12", lo=lo, hi=hi, limit=10,
                                   filters={**base, "recipient": "000.00.00.H49"})
    assert items == []
    items, last = reports.search_page(organ_id=None, month="2026-12", lo=lo, hi=hi, filters=base, limit=1)
    assert _ids(items) == ["b"] and set(last) == {"pk", "sk", "gsi2pk", "gsi2sk"}
    items, last = reports.search_page(organ_id=None, month="2026-12", lo=lo, hi=hi, filters=base, limit=1,
                                      start=last)
    assert _ids(items) == ["a"]
    items, _ = reports.search_page(organ_id="000.00.12.H62", month=None, lo="2026-11-01", hi="2026-12-01",
                                   filters={**base, "words": ["kiem"]}, limit=10)
    assert _ids(items) == ["c"]


def test_terminal_transitions_index_the_month_they_happen_in(stores):
    documents, reports = stores
    for document_id in ("d", "r", "f"):
        _create(documents, document_id, "x", "2026-12-02T01:00:00.000000Z")
    documents.transition("r", "REJECTED", fields={"reason": "not_a_pdf"})
    documents.transition("d", "UPLOADED")
    documents.transition("d", "SIGNED")
    documents.transition("d", "DISPATCHED", fields={"dispatched_at": "2026-12-02T01:00:09Z"})
    documents.transition("f", "UPLOADED")
    documents.transition("f", "FAILED", fields={"reason": "signing_unavailable"})
    from chalicelib.core.clock import now_iso
    from chalicelib.domain.report_months import month_of

    month = month_of(now_iso())
    assert sorted(i["document_id"] for i in reports.done_in_month(month)) == ["d", "f", "r"]
    # a FAILED record retried leaves the month's failures
    documents.transition("f", "SIGNED")
    assert sorted(i["document_id"] for i in reports.done_in_month(month)) == ["d", "r"]
    assert reports.done_in_month("2001-01") == []


def test_deliveries_and_config(stores):
    documents, reports = stores
    _create(documents, "d", "x", "2026-12-02T01:00:00.000000Z")
    documents.put_delivery_intent("d", G22)
    documents.mark_delivery_sent("d", G22, "a" * 24, paper=False)
    documents.put_delivery_intent("d", K62)
    documents.mark_delivery_sent("d", K62, "b" * 24, paper=True)
    rows = reports.deliveries("d")
    assert {r["organ_id"]: r["paper"] for r in rows} == {G22: False, K62: True}
    assert reports.get_config("report_targets") is None
    reports.put_config("report_targets", {"levels": {"2": {"signed": [{"from_year": 2020, "share": 0.85}]}}},
                       by="admin")
    stored = reports.get_config("report_targets")
    assert stored["value"]["levels"]["2"]["signed"][0]["share"] == 0.85 and stored["updated_by"] == "admin"
