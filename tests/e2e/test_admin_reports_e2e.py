"""Issue 9 on its own embedded stack: the administrators' search, revoke and monthly report.

Given Sở Thông tin và Truyền thông Vĩnh Phúc (level 2) sending a known set this month — two documents to Văn phòng
Chính phủ only, one also to HĐND tỉnh Vĩnh Phúc (which still takes paper in parallel: Paper 1), one whose upload is
not a PDF (REJECTED) and one the axis refuses (a business error: FAILED) — when an admin asks for this month's
report in JSON, CSV and XLSX, then all three carry the same numbers, the ones expected; an accent-free search finds
the document by its trích yếu, the filters by agency, state, recipient and date narrow it down, an admin's revoke
reaches the clerk's own view (recorded as the admin's), and a clerk is refused every one of these routes.

Own stack (module scope): the axis fault for the FAILED document and the exact counts need an axis and a table no
other test writes to.
"""

from __future__ import annotations

import csv
import io
import secrets
from datetime import datetime
from pathlib import Path

import pytest

from chalicelib.core.clock import VN_TZ
from devstack.client import ApiError, GatewayClient
from tests.e2e.helpers import eventually
from tests.support.axis import sim as _sim
from tests.support.documents import fresh_metadata
from tests.support.organs import G22, K62

SENDER = "000.00.12.H62"
OTHER = "000.00.13.H62"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TOKEN = f"xyzq{secrets.token_hex(3)}"  # a word of this run's subjects only
DONE = {"DISPATCHED", "REJECTED", "FAILED"}


@pytest.fixture(scope="module")
def report_handle(tmp_path_factory: pytest.TempPathFactory):
    from devstack.stack import start_stack

    handle = start_stack(Path(tmp_path_factory.mktemp("reports-stack")), ports=0)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture(scope="module")
def report_stack(report_handle) -> dict:
    return report_handle.info


@pytest.fixture(scope="module")
def sent(report_stack, tmp_path_factory) -> dict:
    """The known set, sent and settled: {"ids": {name: document_id}, "docs": {name: view}, "tokens": {...}}."""
    from devstack.sample_pdf import render_text_pdf

    client = GatewayClient(report_stack)
    clerk = client.login(client.user_for(SENDER))
    pdf = render_text_pdf("Sở TTTT", "Nội dung ngắn.", tmp_path_factory.mktemp("pdf") / "short.pdf").read_bytes()
    plan = {
        "kiem-thu": ([G22], f"Về việc kiểm thử hệ thống {TOKEN}", pdf),
        "bao-cao": ([G22], f"Báo cáo tháng {TOKEN}", pdf),
        "giay": ([G22, K62], f"Đề nghị phối hợp {TOKEN}", pdf),
        "sai-tep": ([G22], f"Tệp sai {TOKEN}", "Đây không phải PDF\n".encode() * 20),
    }
    ids: dict[str, str] = {}
    for n, (name, (recipients, subject, content)) in enumerate(plan.items()):
        created = client.create_document(clerk, fresh_metadata(f"RPT{n}", recipients, subject=subject,
                                                               number=str(800 + n)))
        client.upload(created["upload"], content)
        ids[name] = created["document_id"]
        client.wait_for(clerk, ids[name], DONE, timeout=120)
    # the axis refuses this sender's next package with a business error: FAILED at once
    _sim(report_stack, "/_sim/faults", "POST", {"kind": "business_error", "paths": ["/sendEdoc"],
                                                "systems": [SENDER], "error_code": "1010",
                                                "error_desc": "Cơ quan gửi chưa được cấp phép (giả lập)."})
    try:
        created = client.create_document(clerk, fresh_metadata("RPT9", [G22], subject=f"Bị từ chối {TOKEN}"))
        client.upload(created["upload"], pdf)
        ids["truc-tu-choi"] = created["document_id"]
        client.wait_for(clerk, ids["truc-tu-choi"], DONE, timeout=120)
    finally:
        _sim(report_stack, "/_sim/faults", "DELETE")
    docs = {name: client.get_document(clerk, i) for name, i in ids.items()}
    return {"ids": ids, "docs": docs, "clerk": clerk, "admin": client.login(client.user_for("000.00.01.H62",
                                                                                             admin=True))}


def _month(iso: str) -> str:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(VN_TZ).strftime("%Y-%m")


def _download(client: GatewayClient, token: str, month: str, fmt: str, accept: str) -> bytes:
    resp = client.session.get(client.info["api_url"].rstrip("/") + "/v1/admin/reports/monthly",
                              params={"month": month, "format": fmt},
                              headers={"Authorization": f"Bearer {token}", "Accept": accept}, timeout=30)
    assert resp.status_code == 200, resp.text[:500]
    return resp.content


def test_the_known_set_settled_as_planned(sent):
    states = {name: d["state"] for name, d in sent["docs"].items()}
    assert states == {"kiem-thu": "DISPATCHED", "bao-cao": "DISPATCHED", "giay": "DISPATCHED",
                      "sai-tep": "REJECTED", "truc-tu-choi": "FAILED"}, states
    paper = {d["organ_id"]: d.get("paper") for d in sent["docs"]["giay"]["deliveries"]}
    assert paper == {G22: False, K62: True}


def test_monthly_report_in_json_csv_and_xlsx_has_the_expected_numbers(report_stack, sent):
    import openpyxl

    client = GatewayClient(report_stack)
    month = _month(sent["docs"]["kiem-thu"]["dispatched_at"])
    if any(_month(d.get("dispatched_at") or d["updated_at"]) != month for d in sent["docs"].values()):
        pytest.skip("the known set straddles a month boundary")
    report = client.call("GET", "/v1/admin/reports/monthly", sent["admin"], params={"month": month})
    assert report["month"] == month
    rows = {r["organ_id"]: r for r in report["agencies"]}
    row = rows[SENDER]
    year = int(month[:4])
    expected = {
        "organ_id": SENDER, "name": "Sở Thông tin và Truyền thông Vĩnh Phúc", "level": 2, "sent": 3, "signed": 3,
        "electronic_only": 2, "paper_in_parallel": 1, "rejected": 1, "failed": 1, "electronic_only_share": 0.6667,
        "signed_share": 1.0, "target_electronic_only_share": 0.9 if year >= 2026 else 0.8,
        "target_signed_share": 0.85, "below_target": True, "received": 0, "answered": 0,
        "median_seconds_to_accept": None}
    assert {k: row[k] for k in expected} == expected
    times = sorted(
        (datetime.fromisoformat(d["dispatched_at"].replace("Z", "+00:00"))
         - datetime.fromisoformat(next(e["at"] for e in d["timeline"] if e["state"] == "UPLOADED")
                                  .replace("Z", "+00:00"))).total_seconds()
        for d in sent["docs"].values() if d["state"] == "DISPATCHED")
    assert row["median_seconds_to_dispatch"] == pytest.approx(times[1], abs=0.15)
    assert row["p90_seconds_to_dispatch"] == pytest.approx(times[2], abs=0.15)
    # every served agency has a row; one that sent nothing is not below target
    assert rows[OTHER]["sent"] == 0 and rows[OTHER]["below_target"] is False
    assert report["totals"]["sent"] == 3 and report["totals"]["agencies_below_target"] == 1
    assert K62 not in rows  # neither served nor sending

    # CSV: BOM, header, one row per agency, totals; the same numbers
    data = _download(client, sent["admin"], month, "csv", "text/csv")
    assert data.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    header = table[0]
    assert header[:4] == ["organ_id", "name", "level", "sent"] and len(table) == len(report["agencies"]) + 2
    by_organ = {r[0]: dict(zip(header, r, strict=True)) for r in table[1:-1]}
    line = by_organ[SENDER]
    for field in ("sent", "signed", "electronic_only", "paper_in_parallel", "rejected", "failed", "level"):
        assert int(line[field]) == row[field], field
    for field in ("electronic_only_share", "signed_share", "median_seconds_to_dispatch", "p90_seconds_to_dispatch"):
        assert float(line[field]) == row[field], field
    assert line["below_target"] == "true" and line["median_seconds_to_accept"] == ""
    assert table[-1][header.index("sent")] == "3"

    # XLSX: the same table, numbers as numbers
    workbook = openpyxl.load_workbook(io.BytesIO(_download(client, sent["admin"], month, "xlsx", XLSX)))
    cells = [list(r) for r in workbook.active.iter_rows(values_only=True)]
    assert cells[0] == header and len(cells) == len(table)
    sheet_row = dict(zip(header, next(r for r in cells if r[0] == SENDER), strict=True))
    assert {k: sheet_row[k] for k in expected} == expected
    assert cells[-1][header.index("sent")] == 3

    # the yearly view carries the month
    yearly = client.call("GET", "/v1/admin/reports/yearly", sent["admin"], params={"year": month[:4]})
    trend = next(a for a in yearly["agencies"] if a["organ_id"] == SENDER)["months"]
    assert next(m for m in trend if m["month"] == month)["sent"] == 3


def test_the_first_acceptance_gives_the_median_time_to_accept(report_stack, report_handle, sent, tmp_path):
    """Văn phòng Chính phủ's system takes the "kiem-thu" package and reports 03 (đã tiếp nhận): the report's
    `median_seconds_to_accept` is that report's time on the delivery less the dispatch time."""
    from datetime import date

    from chalicelib.standards.edxml import Organ, ResponseFor
    from tests.support.axis import send_as
    from tests.support.packages import status_package

    client = GatewayClient(report_stack)
    doc = sent["docs"]["kiem-thu"]
    number, notation = doc["metadata"]["number"], doc["metadata"]["notation"]
    header_id = f"{SENDER},{doc['metadata']['issued_on'].replace('-', '/')},{number}/{notation}"
    issued = date.fromisoformat(doc["metadata"]["issued_on"])
    g22 = client.axis_system(G22)
    ref = ResponseFor(SENDER, f"{number}/{notation}", header_id, issued)
    send_as(g22, status_package(Organ(G22, "Văn phòng Chính phủ"), ref, "03"), [SENDER], tmp_path, "status")

    def accepted() -> str:
        view = client.get_document(sent["clerk"], doc["document_id"])
        [delivery] = view["deliveries"]
        return next(h["at"] for h in delivery["history"] if h.get("code") == "03")

    at = eventually(report_handle, accepted, what="the 03 on the delivery")
    expected = (datetime.fromisoformat(at.replace("Z", "+00:00"))
                - datetime.fromisoformat(doc["dispatched_at"].replace("Z", "+00:00"))).total_seconds()
    month = _month(doc["dispatched_at"])
    row = next(r for r in client.call("GET", "/v1/admin/reports/monthly", sent["admin"],
                                      params={"month": month})["agencies"] if r["organ_id"] == SENDER)
    assert row["median_seconds_to_accept"] == pytest.approx(expected, abs=0.15)


def test_targets_can_be_changed_and_change_below_target(report_stack, sent):
    client = GatewayClient(report_stack)
    month = _month(sent["docs"]["kiem-thu"]["dispatched_at"])
    targets = client.call("GET", "/v1/admin/reports/targets", sent["admin"])
    assert targets["source"] == "default"
    levels = {k: v for k, v in targets["levels"].items()}
    levels["2"] = {"electronic_only": [{"from_year": 2020, "share": 0.5}], "signed": [{"from_year": 2020,
                                                                                      "share": 0.85}]}
    try:
        answer = client.call("PUT", "/v1/admin/reports/targets", sent["admin"], json={"levels": levels})
        assert answer["source"] == "stored" and answer["updated_by"] == "admin"
        row = next(r for r in client.call("GET", "/v1/admin/reports/monthly", sent["admin"],
                                          params={"month": month})["agencies"] if r["organ_id"] == SENDER)
        assert row["target_electronic_only_share"] == 0.5 and row["below_target"] is False
        with pytest.raises(ApiError) as refused:
            client.call("PUT", "/v1/admin/reports/targets", sent["admin"], json={"levels": {"2": {}}})
        assert refused.value.status == 400 and refused.value.code == "invalid_targets"
    finally:
        client.call("PUT", "/v1/admin/reports/targets", sent["admin"],
                    json={"levels": {k: v for k, v in targets["levels"].items()}})


def _search(client: GatewayClient, token: str, **params: str) -> list[str]:
    return [i["document_id"] for i in client.call("GET", "/v1/admin/documents", token, params=params)["items"]]


def test_search_by_accent_free_words_and_by_each_filter(report_stack, sent):
    client = GatewayClient(report_stack)
    admin, ids = sent["admin"], sent["ids"]
    today = datetime.now(VN_TZ).date().isoformat()
    assert _search(client, admin, q=f"KIEM thu {TOKEN}") == [ids["kiem-thu"]]
    assert _search(client, admin, q=f"de nghi phoi hop {TOKEN}") == [ids["giay"]]
    mine = set(_search(client, admin, q=TOKEN))
    assert mine == set(ids.values())
    assert set(_search(client, admin, q=TOKEN, organ_id=SENDER, state="DISPATCHED")) == {
        ids["kiem-thu"], ids["bao-cao"], ids["giay"]}
    assert _search(client, admin, q=TOKEN, recipient=K62) == [ids["giay"]]
    assert _search(client, admin, q=TOKEN, state="FAILED") == [ids["truc-tu-choi"]]
    assert set(_search(client, admin, q=TOKEN, **{"from": today, "to": today})) == mine
    assert _search(client, admin, q=TOKEN, to="2020-01-31", **{"from": "2020-01-01"}) == []
    assert _search(client, admin, q=TOKEN, organ_id=OTHER) == []
    item = client.call("GET", "/v1/admin/documents", admin, params={"q": f"kiem thu {TOKEN}"})["items"][0]
    assert item["organ_id"] == SENDER and item["state"] == "DISPATCHED" and "metadata" in item
    # paging: one at a time, the same set, newest first
    seen, cursor = [], None
    for _ in range(20):
        page = client.call("GET", "/v1/admin/documents", admin,
                           params={"q": TOKEN, "limit": "1", **({"cursor": cursor} if cursor else {})})
        seen.extend(i["document_id"] for i in page["items"])
        cursor = page.get("next")
        if not cursor:
            break
    assert sorted(seen) == sorted(mine) and len(seen) == len(mine)
    with pytest.raises(ApiError) as refused:
        client.call("GET", "/v1/admin/documents", admin, params={"cursor": "bm90LW91cnM"})
    assert refused.value.status == 400 and refused.value.code == "invalid_cursor"


def test_an_admin_revokes_a_clerks_document_and_the_clerk_sees_it(report_stack, sent):
    client = GatewayClient(report_stack)
    document_id = sent["ids"]["bao-cao"]
    answer = client.call("POST", f"/v1/admin/documents/{document_id}/revoke", sent["admin"],
                         json={"reason": "Ban hành nhầm, thu hồi theo đề nghị của Sở"})
    assert answer["state"] == "REVOKED"
    doc = client.get_document(sent["clerk"], document_id)
    assert doc["state"] == "REVOKED" and doc["revocation_reason"] == "Ban hành nhầm, thu hồi theo đề nghị của Sở"
    event = doc["timeline"][-1]
    assert event["state"] == "REVOKED" and event["by"] == "admin" and event["by_admin"] is True
    [amendment] = doc["amendments"]
    assert amendment["created_by"] == "admin" and amendment["by_admin"] is True
    # a revoked document was still sent that month
    month = _month(doc["dispatched_at"])
    row = next(r for r in client.call("GET", "/v1/admin/reports/monthly", sent["admin"],
                                      params={"month": month})["agencies"] if r["organ_id"] == SENDER)
    assert row["sent"] == 3


def test_a_clerk_is_refused_every_admin_route(report_stack, sent):
    client = GatewayClient(report_stack)
    clerk = sent["clerk"]
    document_id = sent["ids"]["giay"]
    for method, path, body in (("GET", "/v1/admin/documents", None),
                               ("POST", f"/v1/admin/documents/{document_id}/revoke", {"reason": "x"}),
                               ("GET", "/v1/admin/reports/monthly?month=2026-12", None),
                               ("GET", "/v1/admin/reports/monthly?month=2026-12&format=csv", None),
                               ("GET", "/v1/admin/reports/yearly?year=2026", None),
                               ("GET", "/v1/admin/reports/targets", None),
                               ("PUT", "/v1/admin/reports/targets", {"levels": {}})):
        with pytest.raises(ApiError) as refused:
            client.call(method, path, clerk, json=body)
        assert refused.value.status == 403 and refused.value.code == "forbidden", path
    assert client.get_document(clerk, document_id)["state"] == "DISPATCHED"
    # and an admin's malformed parameters are 400s with their own codes
    for params, code in (({"month": "2026-13"}, "invalid_month"), ({"month": "2026-12", "format": "pdf"},
                                                                    "invalid_format")):
        with pytest.raises(ApiError) as refused:
            client.call("GET", "/v1/admin/reports/monthly", sent["admin"], params=params)
        assert refused.value.status == 400 and refused.value.code == code
