"""The monthly report's maths (chalicelib.domain.kpi, issue 9): medians, p90, shares, targets by level and year,
below_target, totals, and the CSV and XLSX files carrying the same numbers as the JSON."""

from __future__ import annotations

import csv
import io

import pytest

from chalicelib.admin.report_files import SHEET_TITLE, xlsx_bytes
from chalicelib.domain import kpi
from chalicelib.domain.kpi import InboxFacts, SentFact
from chalicelib.domain.text_search import fold, words


def test_median_of_odd_and_even_counts_and_of_nothing():
    assert kpi.median([5, 1, 3]) == 3
    assert kpi.median([4, 1, 3, 2]) == 2.5
    assert kpi.median([]) is None


def test_p90_is_the_nearest_rank():
    assert kpi.p90(range(1, 11)) == 9  # ceil(0.9 * 10) = 9th smallest
    assert kpi.p90(range(1, 12)) == 10  # ceil(9.9) = 10th
    assert kpi.p90([7]) == 7
    assert kpi.p90([]) is None


def test_share_is_null_when_nothing_was_sent():
    assert kpi.share(2, 3) == 0.6667
    assert kpi.share(0, 0) is None


def test_default_targets_step_by_year_and_level():
    targets = kpi.default_targets()
    assert targets.target(2, "electronic_only", 2025) == 0.80
    assert targets.target(2, "electronic_only", 2026) == 0.90
    assert targets.target(1, "electronic_only", 2027) == 0.90
    assert targets.target(3, "electronic_only", 2025) == 0.75
    assert targets.target(3, "electronic_only", 2026) == 0.85
    assert targets.target(4, "electronic_only", 2030) == 0.85
    assert targets.target(3, "signed", 2026) == 0.85
    assert targets.target(2, "signed", 2019) == 0.85  # before every step: the first step's
    assert targets.target(None, "signed", 2026) is None


def test_targets_are_validated_whole():
    good = kpi.default_targets().as_json()
    assert kpi.parse_targets(good).target(2, "electronic_only", 2026) == 0.9
    missing = {"levels": {k: v for k, v in good["levels"].items() if k != "4"}}
    with pytest.raises(kpi.TargetsInvalid):
        kpi.parse_targets(missing)
    too_high = {"levels": {**good["levels"], "2": {"electronic_only": [{"from_year": 2020, "share": 1.5}],
                                                   "signed": [{"from_year": 2020, "share": 0.85}]}}}
    with pytest.raises(kpi.TargetsInvalid) as refused:
        kpi.parse_targets(too_high)
    assert refused.value.errors[0]["field"] == "levels.2.electronic_only.0.share"
    twice = {"levels": {**good["levels"], "3": {"electronic_only": [{"from_year": 2020, "share": 0.5},
                                                                    {"from_year": 2020, "share": 0.6}],
                                                "signed": [{"from_year": 2020, "share": 0.85}]}}}
    with pytest.raises(kpi.TargetsInvalid):
        kpi.parse_targets(twice)


def _facts() -> list[SentFact]:
    organ = "000.00.12.H62"
    return [
        SentFact(organ, "sent", signed=True, paper_recipients=0, seconds_to_dispatch=10, seconds_to_accept=60),
        SentFact(organ, "sent", signed=True, paper_recipients=1, seconds_to_dispatch=20),
        SentFact(organ, "sent", signed=False, paper_recipients=0, seconds_to_dispatch=30, seconds_to_accept=100),
        SentFact(organ, "sent", signed=True, paper_recipients=0, seconds_to_dispatch=40),
        SentFact(organ, "rejected"), SentFact(organ, "failed"), SentFact(organ, "failed"),
    ]


def test_an_agency_row_has_every_field_and_the_right_numbers():
    row = kpi.agency_row("000.00.12.H62", "Sở TTTT", 2, _facts(), InboxFacts(5, 3), kpi.default_targets(), 2026)
    assert list(row) == list(kpi.AGENCY_FIELDS)
    assert row == {
        "organ_id": "000.00.12.H62", "name": "Sở TTTT", "level": 2, "sent": 4, "signed": 3, "electronic_only": 3,
        "paper_in_parallel": 1, "rejected": 1, "failed": 2, "electronic_only_share": 0.75, "signed_share": 0.75,
        "target_electronic_only_share": 0.9, "target_signed_share": 0.85, "below_target": True,
        "median_seconds_to_dispatch": 25.0, "p90_seconds_to_dispatch": 40, "received": 5, "answered": 3,
        "median_seconds_to_accept": 80.0}


def test_below_target_only_when_a_share_is_under_its_target():
    targets = kpi.default_targets()
    all_good = [SentFact("000.46.24.H44", "sent", signed=True) for _ in range(10)]
    assert kpi.agency_row("000.46.24.H44", "Xã", 3, all_good, InboxFacts(), targets, 2026)["below_target"] is False
    nothing = kpi.agency_row("000.46.24.H44", "Xã", 3, [], InboxFacts(), targets, 2026)
    assert nothing["below_target"] is False and nothing["electronic_only_share"] is None
    # 17 of 20 electronic only = 85%: at the xã target in 2026, under the sở one
    mixed = [SentFact("x", "sent", signed=True, paper_recipients=int(i < 3)) for i in range(20)]
    assert kpi.agency_row("x", "Xã", 3, mixed, InboxFacts(), targets, 2026)["below_target"] is False
    assert kpi.agency_row("x", "Sở", 2, mixed, InboxFacts(), targets, 2026)["below_target"] is True
    assert kpi.agency_row("x", "Sở", 2, mixed, InboxFacts(), targets, 2025)["below_target"] is False


def _report() -> dict:
    targets = kpi.default_targets()
    facts = _facts()
    other = [SentFact("000.00.13.H62", "sent", signed=True, seconds_to_dispatch=5)]
    rows = [kpi.agency_row("000.00.12.H62", "Sở Thông tin và Truyền thông", 2, facts, InboxFacts(5, 3), targets,
                           2026),
            kpi.agency_row("000.00.13.H62", "Sở Nội vụ", 2, other, InboxFacts(1, 0), targets, 2026)]
    totals = kpi.totals_row(rows, facts + other, [InboxFacts(5, 3), InboxFacts(1, 0)])
    return {"month": "2026-12", "agencies": rows, "totals": totals}


def test_totals_are_over_all_documents_not_an_average_of_shares():
    totals = _report()["totals"]
    assert list(totals) == list(kpi.TOTAL_FIELDS)
    assert totals["sent"] == 5 and totals["signed"] == 4 and totals["electronic_only"] == 4
    assert totals["signed_share"] == 0.8 and totals["electronic_only_share"] == 0.8
    assert totals["agencies"] == 2 and totals["agencies_below_target"] == 1
    assert totals["median_seconds_to_dispatch"] == 20 and totals["received"] == 6 and totals["answered"] == 3


def test_csv_has_a_bom_a_header_one_row_per_agency_and_totals():
    data = kpi.csv_bytes(_report())
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == list(kpi.AGENCY_FIELDS)
    assert len(rows) == 4
    first = dict(zip(rows[0], rows[1], strict=True))
    assert first["name"] == "Sở Thông tin và Truyền thông" and first["sent"] == "4"
    assert first["electronic_only_share"] == "0.75" and first["below_target"] == "true"
    assert first["median_seconds_to_accept"] == "80.0"
    totals = dict(zip(rows[0], rows[3], strict=True))
    assert totals["name"] == kpi.TOTALS_LABEL and totals["sent"] == "5" and totals["below_target"] == "1"
    assert totals["target_signed_share"] == ""


def test_xlsx_is_readable_by_openpyxl_with_the_same_numbers():
    import openpyxl  # a runtime dependency (requirements.txt), imported where the workbook is read back

    report = _report()
    workbook = openpyxl.load_workbook(io.BytesIO(xlsx_bytes(report)))
    sheet = workbook[SHEET_TITLE]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[0] == list(kpi.AGENCY_FIELDS)
    assert len(rows) == 4
    assert rows[1:] == [[None if v is None else v for v in row] for row in kpi.table_rows(report)[1:]]
    assert rows[1][kpi.AGENCY_FIELDS.index("signed_share")] == 0.75
    assert rows[3][kpi.AGENCY_FIELDS.index("sent")] == 5


@pytest.mark.parametrize(("text", "folded"), [
    ("Kiểm thử", "kiem thu"), ("ĐƠN VỊ  kiểm\tTHỬ ", "don vi kiem thu"), ("Quyết định", "quyet dinh"),
    ("Nghị quyết về việc", "nghi quyet ve viec"), ("", ""),
])
def test_fold(text, folded):
    assert fold(text) == folded


def test_search_words_are_folded_and_distinct():
    assert words("Kiem THỬ kiểm") == ["kiem", "thu"]
    assert "kiem thu" in fold("Về việc kiểm thử hệ thống")
