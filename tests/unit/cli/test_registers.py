"""`edoc registers outgoing|incoming` (edoc_cli.registers, issue 12) against a fake gateway: the query it sends, the
cursor followed with --all, one JSON document with --json, the Vietnamese table, the workbook saved with the
Accept header the API needs, and usage errors as exit status 2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from edoc_cli.main import Context, cli

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
OUTGOING = [{"n": 1, "number": "01", "holder_id": "d1", "document_id": "d1", "notation": "UBND-VX3", "type": "CV",
             "subject": "V/v [thử] số tự động", "issued_on": "2026-12-04", "signer": "Trần Văn An",
             "recipients": ["000.00.00.G22"], "by": "clerk", "state": "DISPATCHED",
             "issued_at": "2026-12-04T01:00:00Z"},
            {"n": 2, "number": "02", "holder_id": "d2", "document_id": "d2", "notation": "UBND-VX3", "type": "TB",
             "subject": "Thông báo", "issued_on": "2026-12-04", "signer": "Trần Văn An", "recipients": [],
             "by": "clerk", "state": "REJECTED", "reason": "not_a_pdf", "issued_at": "2026-12-04T02:00:00Z"}]


class FakeGateway:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any], dict[str, str] | None]] = []

    def call(self, method: str, path: str, *, params: dict[str, Any] | None = None,
             headers: dict[str, str] | None = None, raw: bool = False, **_: Any) -> Any:
        params = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        self.calls.append((path, params, headers))
        if raw:
            return b"PK\x03\x04 workbook"
        direction = path.rsplit("/", 1)[-1]
        if direction == "incoming":
            return {"organ_id": "000.00.13.H62", "direction": direction, "year": 2026, "items": [
                {"n": 1, "number": "01", "inbox_id": "i1", "from_organ_id": "000.00.00.H62", "from_name": "UBND tỉnh",
                 "document_number": "7413", "notation": "UBND-VX3", "subject": "Về việc", "issued_on": "2019-09-20",
                 "received_at": "2026-12-04T03:00:00Z", "status": "ACCEPTED", "status_code": "03", "revoked": False}]}
        first = "cursor" not in params
        return {"organ_id": "000.00.00.H62", "direction": direction, "year": 2026,
                "items": OUTGOING[:1] if first else OUTGOING[1:], "next": "c1" if first else None}


@pytest.fixture
def gateway(monkeypatch: pytest.MonkeyPatch) -> FakeGateway:
    fake = FakeGateway()
    monkeypatch.setattr(Context, "gateway", property(lambda self: fake))
    monkeypatch.setenv("COLUMNS", "200")
    return fake


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_all_follows_the_cursor_into_one_json_document(gateway: FakeGateway) -> None:
    result = run("--json", "registers", "outgoing", "--year", "2026", "--all", "--limit", "1")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert [i["number"] for i in answer["items"]] == ["01", "02"] and "next" not in answer
    assert (answer["organ_id"], answer["direction"], answer["year"]) == ("000.00.00.H62", "outgoing", 2026)
    assert [c[1] for c in gateway.calls] == [{"year": 2026, "limit": 1}, {"year": 2026, "limit": 1, "cursor": "c1"}]


def test_one_page_keeps_next_and_the_table_speaks_vietnamese(gateway: FakeGateway) -> None:
    page = json.loads(run("registers", "outgoing", "--json").stdout)
    assert page["next"] == "c1" and len(gateway.calls) == 1

    shown = run("registers", "outgoing", "--organ-id", "000.00.00.H62")
    assert shown.exit_code == 0
    assert "Sổ văn bản đi năm 2026" in shown.stdout and "Trích yếu" in shown.stdout
    assert "01" in shown.stdout and "V/v [thử] số tự động" in shown.stdout  # a bracket is text, not markup
    assert "--all" in shown.stderr  # more pages: said to people, on stderr
    assert gateway.calls[-1][1]["organ_id"] == "000.00.00.H62"

    incoming = run("registers", "incoming")
    assert "Số đến" in incoming.stdout and "03 Đã tiếp nhận" in incoming.stdout and "7413/UBND-VX3" in incoming.stdout


def test_xlsx_is_saved_with_the_accept_header_the_api_needs(gateway: FakeGateway, tmp_path: Path) -> None:
    target = tmp_path / "so.xlsx"
    result = run("--json", "registers", "incoming", "--format", "xlsx", "-o", str(target), "--year", "2025")
    assert result.exit_code == 0, result.output
    path, params, headers = gateway.calls[-1]
    assert path == "/v1/registers/incoming" and params == {"year": 2025, "format": "xlsx"}
    assert headers == {"Accept": XLSX}
    assert target.read_bytes().startswith(b"PK") and json.loads(result.stdout)["file"] == str(target)


@pytest.mark.parametrize("args", [("--limit", "0"), ("--limit", "201"), ("--year", "26"), ("-o", "x.xlsx"),
                                  ("--all", "--cursor", "c1"), ("--format", "csv")])
def test_usage_errors_exit_2_before_any_call(gateway: FakeGateway, args: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, ["registers", "outgoing", *args])
    assert result.exit_code == 2 and gateway.calls == []
