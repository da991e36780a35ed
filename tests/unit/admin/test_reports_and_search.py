"""The admin search and report use cases (chalicelib.admin.search, chalicelib.admin.reports; issue 9) on in-memory
ports: who may call them, what a month's records count for, how the search pages through months and checks its
cursor."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.admin import reports, search
from chalicelib.core.errors import Forbidden, ValidationFailed
from chalicelib.domain.caller import Caller
from chalicelib.domain.text_search import fold

ADMIN = Caller("admin", "000.00.01.H62", True)
CLERK = Caller("clerk-stttt-vp", "000.00.12.H62", False)
SO = "000.00.12.H62"
XA = "000.46.24.H44"


def _record(document_id: str, organ_id: str, state: str, **fields: Any) -> dict[str, Any]:
    return {"document_id": document_id, "organ_id": organ_id, "state": state, "metadata": {"subject": "x"},
            "created_at": "2026-12-01T01:00:00.000000Z", "updated_at": "2026-12-01T01:00:00.000000Z", **fields}


class Store:
    """The report ports in memory: a month's records, deliveries, inboxes, agencies, targets."""

    def __init__(self) -> None:
        self.done: dict[str, list[dict[str, Any]]] = {}
        self.rows: dict[str, list[dict[str, Any]]] = {}
        self.inbox: dict[str, list[dict[str, Any]]] = {}
        self.config: dict[str, dict[str, Any]] = {}
        self.agencies = {SO: ("Sở TTTT", True), "000.00.13.H62": ("Sở Nội vụ", True), XA: ("Xã", False),
                         "000.00.00.K62": ("HĐND", False)}

    def ports(self) -> reports.ReportPorts:
        return reports.ReportPorts(
            done_in_month=lambda m: self.done.get(m, []), deliveries=lambda d: self.rows.get(d, []),
            inbox_between=lambda o, lo, hi: [i for i in self.inbox.get(o, []) if lo <= i["received_at"] < hi],
            agencies=lambda: self.agencies, get_config=self.config.get,
            put_config=lambda name, value, by: self.config.__setitem__(name, {"value": value, "updated_by": by,
                                                                             "updated_at": "now"}))


def _month_store() -> Store:
    store = Store()
    signed = {"signed_sha256": "ab" * 32, "pades_level": "B-LT"}
    store.done["2026-12"] = [
        _record("d1", SO, "DISPATCHED", uploaded_at="2026-12-01T01:00:00Z", dispatched_at="2026-12-01T01:00:10Z",
                **signed),
        _record("d2", SO, "REVOKED", uploaded_at="2026-12-01T01:00:00Z", dispatched_at="2026-12-01T01:00:30Z",
                **signed),
        _record("d3", SO, "REJECTED"), _record("d4", SO, "FAILED"),
        _record("d5", SO, "SIGNED"),  # a FAILED one being retried: counts for nothing
        # dispatched on 30 November in Vietnam (UTC+7: 16:59Z is 23:59 there): November's, not December's
        _record("d6", XA, "DISPATCHED", dispatched_at="2026-11-30T16:59:00Z"),
        _record("d7", XA, "DISPATCHED", dispatched_at="2026-11-30T17:00:01Z"),
    ]
    store.rows = {
        "d1": [{"organ_id": "000.00.00.G22", "paper": False,
                "history": [{"code": "01", "at": "2026-12-01T01:00:20Z"},
                            {"code": "03", "at": "2026-12-01T01:01:10Z"}]},
               {"organ_id": "000.00.00.K62", "paper": True, "history": [{"code": "03", "at": "2026-12-01T01:02:10Z"}]}],
        "d2": [{"organ_id": "000.00.00.G22", "paper": False, "history": []}],
    }
    store.inbox[SO] = [
        {"received_at": "2026-12-02T00:00:00Z", "status_history": [{"code": "01"}, {"code": "03", "by": "clerk"}]},
        {"received_at": "2026-12-03T00:00:00Z", "status_history": [{"code": "01"}]},
        {"received_at": "2026-11-03T00:00:00Z", "status_history": [{"code": "01"}]},
    ]
    return store


def test_a_clerk_gets_the_one_forbidden_answer_on_every_admin_route():
    store = Store()
    calls = [lambda: reports.monthly(CLERK, month="2026-12", fmt=None, ports=store.ports()),
             lambda: reports.yearly(CLERK, year="2026", ports=store.ports()),
             lambda: reports.get_targets(CLERK, store.ports()),
             lambda: reports.put_targets(CLERK, {}, store.ports()),
             lambda: search.search_documents(CLERK, {}, store=object()),
             lambda: search.revoke_document(CLERK, "x", {"reason": "x"})]
    for call in calls:
        with pytest.raises(Forbidden) as refused:
            call()
        assert refused.value.code == "forbidden" and refused.value.status == 403


def test_the_month_counts_what_the_index_holds_by_its_rules():
    report = reports.monthly(ADMIN, month="2026-12", fmt="json", ports=_month_store().ports())
    rows = {r["organ_id"]: r for r in report["agencies"]}
    # served agencies, and the xã that dispatched this month; not K62 (neither served nor sending)
    assert sorted(rows) == ["000.00.12.H62", "000.00.13.H62", XA]
    so = rows[SO]
    assert (so["sent"], so["signed"], so["electronic_only"], so["paper_in_parallel"]) == (2, 2, 1, 1)
    assert (so["rejected"], so["failed"]) == (1, 1)
    assert so["electronic_only_share"] == 0.5 and so["below_target"] is True
    assert so["median_seconds_to_dispatch"] == 20.0 and so["p90_seconds_to_dispatch"] == 30
    assert so["median_seconds_to_accept"] == 60.0  # d1: dispatched 01:00:10, first 03 at 01:01:10
    assert (so["received"], so["answered"]) == (2, 1)
    assert rows[XA]["sent"] == 1 and rows[XA]["level"] == 3 and rows[XA]["signed"] == 0
    assert rows["000.00.13.H62"]["sent"] == 0 and rows["000.00.13.H62"]["below_target"] is False
    assert report["totals"]["sent"] == 3 and report["totals"]["agencies"] == 3


def test_csv_and_xlsx_answers_and_bad_parameters():
    ports = _month_store().ports()
    body, content_type, name = reports.monthly(ADMIN, month="2026-12", fmt="csv", ports=ports)
    assert body.startswith(b"\xef\xbb\xbf") and content_type.startswith("text/csv") and name.endswith(".csv")
    body, content_type, _ = reports.monthly(ADMIN, month="2026-12", fmt="XLSX", ports=ports)
    assert body[:2] == b"PK" and content_type == reports.XLSX_TYPE
    for month, fmt, code in (("2026-13", None, "invalid_month"), ("12-2026", None, "invalid_month"),
                             ("2026-12", "pdf", "invalid_format")):
        with pytest.raises(ValidationFailed) as refused:
            reports.monthly(ADMIN, month=month, fmt=fmt, ports=ports)
        assert refused.value.code == code
    with pytest.raises(ValidationFailed) as refused:
        reports.yearly(ADMIN, year="26", ports=ports)
    assert refused.value.code == "invalid_year"


def test_yearly_has_twelve_months_per_agency_and_the_year():
    out = reports.yearly(ADMIN, year="2026", ports=_month_store().ports())
    assert out["months"][0] == "2026-01" and len(out["months"]) == 12
    so = next(a for a in out["agencies"] if a["organ_id"] == SO)
    assert [m["month"] for m in so["months"]] == out["months"]
    assert so["months"][11]["sent"] == 2 and so["months"][0]["sent"] == 0
    assert so["year"]["sent"] == 2 and so["year"]["signed_share"] == 1.0
    assert out["totals"]["year"]["sent"] == 3


def test_targets_default_then_stored_and_used():
    store = _month_store()
    got = reports.get_targets(ADMIN, store.ports())
    assert got["source"] == "default" and got["levels"]["2"]["electronic_only"][-1] == {"from_year": 2026,
                                                                                         "share": 0.9}
    changed = {"levels": {**{k: v for k, v in got["levels"].items()},
                          "2": {"electronic_only": [{"from_year": 2020, "share": 0.4}],
                                "signed": [{"from_year": 2020, "share": 0.5}]}}}
    answer = reports.put_targets(ADMIN, changed, store.ports())
    assert answer["source"] == "stored" and answer["updated_by"] == "admin"
    report = reports.monthly(ADMIN, month="2026-12", fmt=None, ports=store.ports())
    so = next(r for r in report["agencies"] if r["organ_id"] == SO)
    assert so["target_electronic_only_share"] == 0.4 and so["below_target"] is False
    with pytest.raises(ValidationFailed) as refused:
        reports.put_targets(ADMIN, {"levels": {"2": {}}}, store.ports())
    assert refused.value.code == "invalid_targets" and refused.value.details["errors"]


class SearchStore:
    """`search_page` over records in memory, with DynamoDB's paging: at most `limit` evaluated per call."""

    def __init__(self, records: list[dict[str, Any]]) -> None:
        self.records = records
        self.calls: list[tuple[str | None, str | None]] = []

    def search_page(self, *, organ_id, month, lo, hi, filters, limit, start):
        self.calls.append((organ_id, month))
        pool = [r for r in self.records if lo <= r["created_at"] < hi
                and (r["organ_id"] == organ_id if organ_id else r["month"] == month)]
        pool.sort(key=lambda r: r["created_at"], reverse=True)
        if start:
            pool = [r for r in pool if r["created_at"] < start["gsi2sk" if not organ_id else "gsi1sk"]]
        page = pool[:limit]
        more = len(pool) > limit
        hits = [r for r in page if all(w in r["subject_folded"] for w in filters["words"])
                and (not filters["state"] or r["state"] == filters["state"])]
        last = None
        if more:
            last = ({"pk": "p", "sk": "META", "gsi1pk": f"ORG#{organ_id}", "gsi1sk": page[-1]["created_at"]}
                    if organ_id else
                    {"pk": "p", "sk": "META", "gsi2pk": f"MONTH#{month}", "gsi2sk": page[-1]["created_at"]})
        return hits, last


def _searchable() -> list[dict[str, Any]]:
    out = []
    for n, (month, day) in enumerate([("2026-10", "2026-10-05"), ("2026-11", "2026-11-05"),
                                      ("2026-11", "2026-11-06"), ("2026-12", "2026-12-01")]):
        subject = "Về việc kiểm thử" if n % 2 == 0 else "Báo cáo tháng"
        out.append({**_record(f"s{n}", SO, "DISPATCHED"), "created_at": f"{day}T03:00:00.000000Z", "month": month,
                    "metadata": {"subject": subject}, "subject_folded": fold(subject)})
    return out


def test_search_pages_month_by_month_newest_first_with_a_cursor():
    store = SearchStore(_searchable())
    params = {"from": "2026-10-01", "to": "2026-12-31", "limit": "1"}
    seen, cursor, pages = [], None, 0
    while True:
        page = search.search_documents(ADMIN, {**params, "cursor": cursor}, store=store)
        seen.extend(i["document_id"] for i in page["items"])
        pages += 1
        cursor = page.get("next")
        if not cursor:
            break
        assert pages < 20
    assert seen == ["s3", "s2", "s1", "s0"]
    found = search.search_documents(ADMIN, {**params, "q": "KIEM thu", "limit": "50"}, store=store)
    assert [i["document_id"] for i in found["items"]] == ["s2", "s0"] and "next" not in found
    assert {m for _, m in store.calls} == {"2026-10", "2026-11", "2026-12"}


def test_search_refuses_bad_parameters_and_foreign_cursors():
    store = SearchStore(_searchable())
    bad = [({"cursor": "not-a-cursor"}, "invalid_cursor"), ({"from": "2026-13-01"}, "invalid_date"),
           ({"from": "2026-12-02", "to": "2026-12-01"}, "invalid_date_range"),
           ({"from": "2020-01-01", "to": "2026-12-01"}, "invalid_date_range"),
           ({"organ_id": "H62"}, "invalid_organ_id"), ({"recipient": "x"}, "invalid_organ_id"),
           ({"state": "NOPE"}, "invalid_state"), ({"limit": "many"}, "invalid_limit")]
    for params, code in bad:
        with pytest.raises(ValidationFailed) as refused:
            search.search_documents(ADMIN, params, store=store)
        assert refused.value.code == code, params
    # a cursor of a month outside this search's range, or of the agency index in a month search
    page = search.search_documents(ADMIN, {"from": "2026-10-01", "to": "2026-12-31", "limit": "1"}, store=store)
    with pytest.raises(ValidationFailed) as refused:
        search.search_documents(ADMIN, {"from": "2026-12-01", "to": "2026-12-31", "cursor": page["next"]},
                                store=store)
    assert refused.value.code == "invalid_cursor"
    with pytest.raises(ValidationFailed):
        search.search_documents(ADMIN, {"organ_id": SO, "cursor": page["next"]}, store=store)


def test_targets_as_get_answers_them_can_be_put_back_unchanged():
    store = _month_store()
    stored = reports.put_targets(ADMIN, reports.get_targets(ADMIN, store.ports()), store.ports())
    again = reports.put_targets(ADMIN, stored, store.ports())  # carries source, updated_at, updated_by
    assert again["levels"] == stored["levels"] and again["source"] == "stored"
