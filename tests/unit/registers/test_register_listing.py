"""`GET /v1/registers/outgoing|incoming` (chalicelib.registers.listing) on a fake of its port: who reads which
register, the year and paging, each entry beside its current state, and the XLSX the văn thư prints."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from chalicelib.core.errors import Forbidden, ValidationFailed
from chalicelib.domain.caller import Caller
from chalicelib.domain.registers import INCOMING_COLUMNS, OUTGOING_COLUMNS, table_rows
from chalicelib.registers.listing import XLSX_TYPE, register_page
from tests.fakes.registers import MemoryRegisters
from tests.support.organs import H03, H62

CLERK = Caller("clerk-h62", H62, False)
ADMIN = Caller("admin", "", True)


@pytest.fixture
def store() -> MemoryRegisters:
    registers = MemoryRegisters()
    for k in range(1, 4):
        registers.add(H62, "outgoing", 2026, f"doc-{k}", document_id=f"doc-{k}", notation="UBND-VX", type="CV",
                      subject=f"Văn bản {k}", issued_on="2026-03-01", signer="Nguyễn Văn A",
                      recipients=["000.00.00.G22", "000.00.00.K62"], by="clerk-h62")
    registers.states = {"doc-1": {"state": "DISPATCHED"},
                        "doc-2": {"state": "REJECTED", "reason": "stamp_page_missing"}}
    registers.add(H62, "incoming", 2026, "inbox-1", inbox_id="inbox-1", from_organ_id="000.00.00.G22",
                  from_name="Văn phòng Chính phủ", document_number="123", notation="VPCP-KSTT",
                  subject="Về việc thử nghiệm", type_name="Công văn", issued_on="2026-02-27",
                  received_at="2026-03-01T02:00:00Z")
    registers.states["inbox-1"] = {"status": "ARRIVED", "status_code": "01", "revoked": False}
    registers.add(H03, "outgoing", 2026, "doc-h03", document_id="doc-h03", notation="UBND-KT")
    return registers


def test_a_clerk_reads_their_agencys_register_in_number_order_with_each_documents_state(store) -> None:
    page = register_page(CLERK, "outgoing", year="2026", store=store)
    assert (page["organ_id"], page["direction"], page["year"], page["next"]) == (H62, "outgoing", 2026, None)
    assert [(i["number"], i["document_id"], i.get("state"), i.get("reason")) for i in page["items"]] == [
        ("01", "doc-1", "DISPATCHED", None), ("02", "doc-2", "REJECTED", "stamp_page_missing"),
        ("03", "doc-3", None, None)]
    assert all("organ_id" not in i for i in page["items"])


def test_the_incoming_register_shows_the_inbox_items_status(store) -> None:
    [item] = register_page(CLERK, "incoming", year="2026", store=store)["items"]
    assert (item["number"], item["inbox_id"], item["status"], item["revoked"]) == ("01", "inbox-1", "ARRIVED", False)


def test_another_agencys_register_is_for_admins_only(store) -> None:
    with pytest.raises(Forbidden):
        register_page(CLERK, "outgoing", year="2026", organ_id=H03, store=store)
    [item] = register_page(ADMIN, "outgoing", year="2026", organ_id=H03, store=store)["items"]
    assert item["document_id"] == "doc-h03"
    with pytest.raises(ValidationFailed) as refused:
        register_page(ADMIN, "outgoing", year="2026", store=store)  # an admin acting for no agency names one
    assert refused.value.code == "invalid_organ_id"


def test_pages_follow_the_cursor_to_the_end(store) -> None:
    first = register_page(CLERK, "outgoing", year="2026", limit="2", store=store)
    assert [i["n"] for i in first["items"]] == [1, 2] and first["next"]
    rest = register_page(CLERK, "outgoing", year="2026", limit="2", cursor=first["next"], store=store)
    assert [i["n"] for i in rest["items"]] == [3] and rest["next"] is None


@pytest.mark.parametrize(("params", "code"), [({"year": "26"}, "invalid_year"), ({"limit": "many"}, "invalid_limit"),
                                             ({"fmt": "pdf"}, "invalid_format")])
def test_bad_parameters_have_their_codes(store, params, code) -> None:
    with pytest.raises(ValidationFailed) as refused:
        register_page(CLERK, "outgoing", store=store, **params)
    assert refused.value.code == code


def test_an_empty_year_is_an_empty_register(store) -> None:
    assert register_page(CLERK, "outgoing", year="2019", store=store)["items"] == []


def test_the_xlsx_is_the_whole_years_register_with_nd30_columns(store) -> None:
    body, content_type, name = register_page(CLERK, "outgoing", year="2026", fmt="xlsx", store=store)
    assert content_type == XLSX_TYPE and name == f"so-van-ban-di-{H62}-2026.xlsx"
    sheet = load_workbook(io.BytesIO(body)).active
    rows = [[c if c is not None else "" for c in r] for r in sheet.iter_rows(values_only=True)]
    assert "Sổ đăng ký văn bản đi năm 2026" in rows[0][0]
    assert rows[1] == [heading for heading, _ in OUTGOING_COLUMNS]
    assert [r[0] for r in rows[2:]] == ["01", "02", "03"]
    assert rows[2][6] == "000.00.00.G22; 000.00.00.K62" and rows[3][8:10] == ["REJECTED", "stamp_page_missing"]


def test_the_incoming_table_joins_the_documents_own_number_and_notation() -> None:
    rows = table_rows("incoming", [{"number": "07", "document_number": "123", "notation": "VPCP-KSTT",
                                    "from_name": "Văn phòng Chính phủ"}])
    assert rows[0] == [heading for heading, _ in INCOMING_COLUMNS]
    assert rows[1][0] == "07" and rows[1][4] == "123/VPCP-KSTT" and rows[1][2] == "Văn phòng Chính phủ"
