"""`edoc`, the command line (issue 10), run as a subprocess against the embedded stack, as an agency's system or an
administrator would run it: send with --wait, a batch with one bad file, download and verify, an inbox reply, the
monthly report as XLSX. Exit codes: 0 done, 1 the gateway said no (its code on stderr), 2 usage."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from devstack.client import GatewayClient
from devstack.demo_data import SAMPLES
from tests.e2e.helpers import eventually

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
CLERK, OTHER_CLERK = "clerk-ubnd-vp", "clerk-ubnd-bg"  # 000.00.00.H62 and 000.00.00.H03, both served


@pytest.fixture(scope="module")
def edoc(stack_handle, tmp_path_factory: pytest.TempPathFactory):
    """Run `python -m edoc_cli ARGS…` as a separate process, with its own config home, against this stack."""
    home = tmp_path_factory.mktemp("edoc-home")
    env = {**os.environ, "EDOC_STACK_FILE": str(Path(stack_handle.state_dir) / "stack.json"),
           "EDOC_HOME": str(home), "COLUMNS": "200"}
    env.pop("EDOC_PROFILE", None)

    def run(*args: str, stdin: str | None = None, timeout: float = 240) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "edoc_cli", *args], cwd=REPO, env=env, input=stdin,
                              capture_output=True, text=True, timeout=timeout)

    return run


def _meta(tmp: Path, name: str, **changes: Any) -> Path:
    meta = {**SAMPLES[0].metadata, "recipients": ["000.00.00.G22", "000.00.00.K62"], **changes}
    path = tmp / name
    path.write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    return path


def test_login_then_send_and_wait_until_dispatched(edoc, sample_pdf: Path, tmp_path: Path) -> None:
    login = edoc("--json", "login", CLERK)
    assert login.returncode == 0, login.stderr
    assert json.loads(login.stdout)["organ_id"] == "000.00.00.H62"

    sent = edoc("send", str(sample_pdf), "--meta", str(_meta(tmp_path, "m.json")), "--wait", "--json")

    assert sent.returncode == 0, sent.stderr
    lines = [json.loads(line) for line in sent.stdout.splitlines()]
    states = [line["state"] for line in lines[:-1]]
    record = lines[-1]  # with --json the last line is the document record
    assert states[-1] == "DISPATCHED" and record["state"] == "DISPATCHED"
    assert states == sorted(set(states), key=states.index)  # each state once, in the order reached
    assert sorted(d["organ_id"] for d in record["deliveries"]) == ["000.00.00.G22", "000.00.00.K62"]

    status = edoc("status", record["document_id"])
    assert status.returncode == 0 and "DISPATCHED" in status.stdout and "000.00.00.K62" in status.stdout


def test_usage_errors_exit_2_and_refusals_exit_1_with_the_code(edoc, sample_pdf: Path, tmp_path: Path) -> None:
    usage = edoc("reply", "some-inbox-id", "07")  # not a status a clerk may report
    assert usage.returncode == 2 and "07" in usage.stderr
    assert edoc("send").returncode == 2  # no file

    secret = edoc("--user", CLERK, "send", str(sample_pdf), "--meta", str(_meta(tmp_path, "s.json",
                                                                                   secrecy="secret")))
    assert secret.returncode == 1
    assert "secret_document" in secret.stderr  # the gateway's code and its Vietnamese message on stderr

    unknown = edoc("--user", CLERK, "--json", "status", "00000000-0000-4000-8000-000000000000")
    assert unknown.returncode == 1 and json.loads(unknown.stdout)["error"]["code"] == "document_not_found"


def test_send_dir_with_one_bad_pdf_names_it_and_exits_1(edoc, sample_pdf: Path, tmp_path: Path) -> None:
    batch = tmp_path / "lo"
    batch.mkdir()
    for n in (1, 2):
        (batch / f"cv-{n}.pdf").write_bytes(sample_pdf.read_bytes())
        _meta(batch, f"cv-{n}.json", number=str(900 + n))
    (batch / "hong.pdf").write_bytes(b"this is not a PDF at all\n" * 40)
    _meta(batch, "hong.json", number="903")
    (batch / "thieu.pdf").write_bytes(sample_pdf.read_bytes())  # no metadata beside it

    result = edoc("--user", CLERK, "send-dir", str(batch), "--json")

    assert result.returncode == 1, result.stderr
    summary = json.loads(result.stdout)
    by_file = {item["file"]: item for item in summary["items"]}
    assert by_file["cv-1.pdf"]["state"] == by_file["cv-2.pdf"]["state"] == "DISPATCHED"
    assert (by_file["hong.pdf"]["state"], by_file["hong.pdf"]["reason"]) == ("REJECTED", "not_a_pdf")
    assert by_file["thieu.pdf"]["error"]["code"] == "missing_metadata"
    assert (summary["sent"], summary["failed"]) == (2, 2)
    assert "hong.pdf" in result.stderr and "thieu.pdf" in result.stderr and "cv-1.pdf" not in result.stderr

    table = edoc("--user", CLERK, "send-dir", str(batch), "--no-wait")  # people get a table
    assert table.returncode == 1 and "hong.pdf" in table.stdout and "Kết quả" in table.stdout


def test_download_then_verify_the_signed_pdf(edoc, sample_pdf: Path, tmp_path: Path) -> None:
    sent = edoc("--user", CLERK, "--json", "send", str(sample_pdf), "--meta", str(_meta(tmp_path, "d.json")),
                "--wait")
    document_id = json.loads(sent.stdout.splitlines()[-1])["document_id"]
    target = tmp_path / "signed.pdf"

    got = edoc("--user", CLERK, "--json", "download", document_id, "-o", str(target))

    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout)["bytes"] == target.stat().st_size > sample_pdf.stat().st_size
    pdfsig = subprocess.run(["pdfsig", str(target)], capture_output=True, text=True)
    assert "Signature is Valid" in pdfsig.stdout
    report = json.loads(edoc("--user", CLERK, "--json", "verify", str(target)).stdout)
    (signature,) = report["signatures"]
    assert signature["intact"] and signature["valid"] and signature["trusted"]
    assert signature["pades_level"] == "B-LT"
    shown = edoc("--user", CLERK, "verify", str(target))
    assert shown.returncode == 0 and "UBND tỉnh Vĩnh Phúc" in shown.stdout


def test_inbox_and_reply(edoc, stack_handle, client: GatewayClient, sample_pdf: Path, tmp_path: Path) -> None:
    meta = _meta(tmp_path, "i.json", number="7777", recipients=["000.00.00.H03"])
    sent = edoc("--user", CLERK, "--json", "send", str(sample_pdf), "--meta", str(meta), "--wait")
    assert sent.returncode == 0, sent.stderr

    def arrived() -> dict[str, Any] | None:
        listed = edoc("--user", OTHER_CLERK, "--json", "inbox")
        assert listed.returncode == 0, listed.stderr
        return next((i for i in json.loads(listed.stdout)["items"] if i.get("number") == "7777"), None)

    item = eventually(stack_handle, arrived, what="the document in 000.00.00.H03's inbox")
    shown = edoc("--user", OTHER_CLERK, "inbox", item["inbox_id"])
    assert shown.returncode == 0 and "000.00.00.H62" in shown.stdout
    assert item["arrival_number"] and f"Số đến: {item['arrival_number']}" in shown.stdout  # issue 12

    refused = edoc("--user", OTHER_CLERK, "reply", item["inbox_id"], "02")  # 02 needs a reason
    assert refused.returncode == 1 and "reason" in refused.stderr.lower() + refused.stdout.lower()
    answered = edoc("--user", OTHER_CLERK, "--json", "reply", item["inbox_id"], "03")
    assert answered.returncode == 0, answered.stderr
    assert json.loads(answered.stdout)["status"] != item["status"]


def test_admin_report_to_xlsx_matches_the_api(edoc, client: GatewayClient, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    month = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=7)).strftime("%Y-%m")
    target = tmp_path / "bao-cao.xlsx"

    result = edoc("--user", "admin", "admin", "report", "--month", month, "--format", "xlsx", "-o", str(target))

    assert result.returncode == 0, result.stderr
    sheet = load_workbook(target).active
    rows = list(sheet.iter_rows(values_only=True))
    header = rows[0]
    from_file = {row[0]: dict(zip(header, row, strict=True)) for row in rows[1:] if row[0]}
    api = client.call("GET", "/v1/admin/reports/monthly", client.login("admin"), params={"month": month})
    assert set(from_file) == {row["organ_id"] for row in api["agencies"]}
    for row in api["agencies"]:
        assert (from_file[row["organ_id"]]["sent"], from_file[row["organ_id"]]["signed"]) == (row["sent"],
                                                                                             row["signed"])
    assert from_file["000.00.00.H62"]["sent"] >= 1

    clerk = edoc("--user", CLERK, "admin", "report", "--month", month)
    assert clerk.returncode == 1 and "forbidden" in clerk.stderr


LETTER = """UBND TỈNH VĨNH PHÚC | CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM
 | Độc lập - Tự do - Hạnh phúc
Số: 88/UBND-VX3 | Vĩnh Phúc, ngày 02 tháng 12 năm 2026
V/v thử nghiệm gửi văn bản |
từ dòng lệnh edoc |

^Kính gửi: Văn phòng Chính phủ.

Ủy ban nhân dân tỉnh gửi văn bản này để thử việc đọc thông tin từ chính văn bản.

Nơi nhận: | TL. CHỦ TỊCH
- Như trên; | CHÁNH VĂN PHÒNG
- Lưu: VT. |
 | Trần Văn An
"""


def test_send_without_meta_reads_the_document_itself(edoc, tmp_path: Path) -> None:
    """Issue 12: the metadata of a PDF in the NĐ 30 layout comes from /v1/documents/draft; --meta fields win."""
    from tests.support.nd30_pdf import render_nd30_pdf

    pdf = render_nd30_pdf(LETTER, tmp_path / "cv-88.pdf")
    draft = edoc("--user", CLERK, "--json", "draft", str(pdf))
    assert draft.returncode == 0, draft.stderr
    proposed = json.loads(draft.stdout)["metadata"]
    assert (proposed["number"], proposed["notation"], proposed["issued_on"], proposed["recipients"]) == (
        "88", "UBND-VX3", "2026-12-02", ["000.00.00.G22"])
    shown = edoc("--user", CLERK, "draft", str(pdf))
    assert shown.returncode == 0 and "Văn phòng Chính phủ" in shown.stdout and "UBND-VX3" in shown.stdout

    sent = edoc("--user", CLERK, "--json", "send", str(pdf), "--wait")
    assert sent.returncode == 0, sent.stderr
    record = json.loads(sent.stdout.splitlines()[-1])
    assert record["state"] == "DISPATCHED" and record["metadata"]["subject"] == proposed["subject"]
    assert record["metadata"]["signer"]["full_name"] == "Trần Văn An"

    blank = render_nd30_pdf(LETTER.replace("ngày 02 tháng 12", "ngày    tháng 12"), tmp_path / "blank.pdf")
    refused = edoc("--user", CLERK, "--json", "send", str(blank))
    assert refused.returncode == 1
    assert json.loads(refused.stdout)["error"]["details"]["missing"] == ["issued_on"]
    override = tmp_path / "day.json"
    override.write_text('{"issued_on": "2026-12-03"}', encoding="utf-8")
    given = edoc("--user", CLERK, "--json", "send", str(blank), "--meta", str(override))
    assert given.returncode == 0, given.stderr


def test_admin_commands_answer(edoc) -> None:
    for args in (("agencies", "--served"), ("keys", "--expiring", "3650"), ("dead-letters",),
                 ("audit", "--limit", "5"), ("search", "--organ-id", "000.00.00.H62", "--limit", "3")):
        result = edoc("--user", "admin", "--json", "admin", *args)
        assert result.returncode == 0, (args, result.stderr)
        assert "items" in json.loads(result.stdout)
    agencies = json.loads(edoc("--user", "admin", "--json", "admin", "agencies", "--served").stdout)["items"]
    assert "000.00.00.H62" in {a["organ_id"] for a in agencies}


def test_webhooks_register_list_test_and_deliveries(edoc, stack_handle) -> None:
    """Issue 14: `edoc webhooks` registers a subscription (its secret shown once), lists it, sends a test event that
    the receiver verifies, and shows the delivery attempts; another agency does not see it."""
    from devstack.webhook_receiver import WebhookReceiver

    receiver = WebhookReceiver()
    try:
        added = edoc("--user", CLERK, "--json", "webhooks", "add", receiver.url, "--event", "document.dispatched",
                     "--description", "hệ thống QLVB")
        assert added.returncode == 0, added.stderr
        hook = json.loads(added.stdout)
        assert hook["secret"].startswith("whsec_") and hook["events"] == ["document.dispatched"]
        receiver.secrets.append(hook["secret"])
        listed = json.loads(edoc("--user", CLERK, "--json", "webhooks", "list").stdout)["items"]
        assert hook["subscription_id"] in {h["subscription_id"] for h in listed}
        assert all("secret" not in h for h in listed)  # shown once, at registration
        other = edoc("--user", OTHER_CLERK, "webhooks", "show", hook["subscription_id"])
        assert other.returncode == 1 and "webhook_not_found" in other.stderr

        tested = edoc("--user", CLERK, "--json", "webhooks", "test", hook["subscription_id"])
        assert tested.returncode == 0, tested.stderr
        delivery_id = json.loads(tested.stdout)["delivery_id"]
        eventually(stack_handle, lambda: any(e.get("type") == "webhook.test" for e in receiver.events()),
                   what="the test event at the receiver")

        def delivered() -> bool:
            items = json.loads(edoc("--user", CLERK, "--json", "webhooks", "deliveries",
                                    hook["subscription_id"]).stdout)["items"]
            return any(d["delivery_id"] == delivery_id and d["status"] == "delivered" for d in items)

        eventually(stack_handle, delivered, what="the delivery listed as delivered")
        shown = edoc("--user", CLERK, "webhooks", "deliveries", hook["subscription_id"])
        assert shown.returncode == 0 and "webhook.test" in shown.stdout and "200" in shown.stdout
        removed = edoc("--user", CLERK, "--json", "webhooks", "remove", hook["subscription_id"])
        assert removed.returncode == 0 and json.loads(removed.stdout)["deleted"] is True
    finally:
        receiver.stop()


def test_a_number_left_to_the_gateway_is_in_the_outgoing_register_and_its_workbook(edoc, sample_pdf: Path,
                                                                                  tmp_path: Path) -> None:
    """Issue 12: `"number": "auto"` is issued at signing; `edoc registers outgoing` lists the document under that
    number, as JSON, as a table and in the year's workbook (the register of the year of its issued_on)."""
    from openpyxl import load_workbook

    today = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=7)).date()
    meta = _meta(tmp_path, "auto.json", number="auto", issued_on=today.isoformat(), recipients=["000.00.00.G22"])
    sent = edoc("--user", CLERK, "--json", "send", str(sample_pdf), "--meta", str(meta), "--wait")
    assert sent.returncode == 0, sent.stderr
    document_id = json.loads(sent.stdout.splitlines()[-1])["document_id"]
    status = edoc("--user", CLERK, "--json", "status", document_id)
    assert status.returncode == 0, status.stderr
    number = json.loads(status.stdout)["metadata"]["number"]
    assert number.isdigit()  # the register's number ("01", "02", …), not "auto"

    listed = edoc("--user", CLERK, "--json", "registers", "outgoing", "--all", "--limit", "200")
    assert listed.returncode == 0, listed.stderr
    register = json.loads(listed.stdout)
    assert (register["organ_id"], register["direction"], register["year"]) == ("000.00.00.H62", "outgoing",
                                                                               today.year)
    (entry,) = [i for i in register["items"] if i["document_id"] == document_id]
    assert entry["number"] == number and entry["state"] == "DISPATCHED"
    shown = edoc("--user", CLERK, "registers", "outgoing", "--all")
    assert shown.returncode == 0 and document_id in shown.stdout and "Sổ văn bản đi" in shown.stdout

    target = tmp_path / "so-di.xlsx"
    saved = edoc("--user", CLERK, "registers", "outgoing", "--year", str(today.year), "--format", "xlsx",
                 "-o", str(target))
    assert saved.returncode == 0, saved.stderr
    rows = list(load_workbook(target).active.iter_rows(values_only=True))
    assert any(row[0] == number and row[1] == entry["notation"] for row in rows[2:])

    other = edoc("--user", CLERK, "registers", "incoming", "--organ-id", "000.00.00.H03")
    assert other.returncode == 1 and "forbidden" in other.stderr  # a clerk reads their own agency's only
