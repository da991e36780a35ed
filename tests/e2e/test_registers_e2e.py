"""The văn thư's registers on the embedded stack (issue 12, acceptance 2 and 3): a draft with blanks sent with
`"number": "auto"` is numbered at signing, reaches DISPATCHED, its edXML package and its signed PDF carry the number,
and `GET /v1/registers/outgoing` lists it in JSON and XLSX; an inbound document gets its số đến and is listed in
`GET /v1/registers/incoming`; a clerk reads only their own agency's registers, an admin any agency's."""

from __future__ import annotations

import io
import re
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from chalicelib.core.clock import VN_TZ
from chalicelib.standards.edxml import Business, Organ
from devstack.client import ApiError
from devstack.pdftools import pdfsig_report, pdftotext
from tests.e2e.helpers import eventually
from tests.support.axis import packages_for
from tests.support.axis import send_as as _send
from tests.support.nd30_pdf import CORPUS, render_nd30_pdf
from tests.support.organs import G22, H03, H62
from tests.support.packages import vpcp_header, vpcp_package
from tests.support.pki import person_sign

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SUBJECT = ("Kết luận của Giám đốc Sở tại cuộc họp giao ban tháng 5 năm 2020 về triển khai gửi, nhận văn bản điện "
           "tử có ký số")


def _metadata(notation: str) -> dict[str, Any]:
    return {"number": "auto", "notation": notation, "type": "TB", "subject": SUBJECT, "issued_on": "2020-06-03",
            "place": "Vĩnh Phúc", "recipients": [G22],
            "signer": {"full_name": "Hoàng Thị Lan", "position": "CHÁNH VĂN PHÒNG", "competence": "TL. GIÁM ĐỐC"}}


@pytest.fixture(scope="module")
def draft(tmp_path_factory: pytest.TempPathFactory, ca: Any) -> tuple[Path, str]:
    """A notice whose ký hiệu is new to this run, "Số:      /<ký hiệu>" and the day blank, signed by its author."""
    notation = f"TB-STTTT{uuid.uuid4().hex[:4].upper()}"
    folder = tmp_path_factory.mktemp("draft")
    text = (CORPUS / "tb-stttt-giao-ban-blank.txt").read_text(encoding="utf-8").replace("/TB-STTTT", f"/{notation}")
    blank = render_nd30_pdf(text, folder / "blank.pdf")
    person_sign(blank, folder / "person.pdf", ca)
    return folder / "person.pdf", notation


def _register(client: Any, token: str, direction: str, **params: str) -> list[dict[str, Any]]:
    items, cursor = [], None
    while True:
        page = client.call("GET", f"/v1/registers/{direction}", token,
                           params={**params, "limit": "200", **({"cursor": cursor} if cursor else {})})
        items += page["items"]
        cursor = page.get("next")
        if not cursor:
            return items


def _xlsx(client: Any, token: str, direction: str, **params: str) -> list[list[str]]:
    resp = client.session.get(client.info["api_url"].rstrip("/") + f"/v1/registers/{direction}",
                              params={**params, "format": "xlsx"},
                              headers={"Authorization": f"Bearer {token}", "Accept": XLSX}, timeout=30)
    assert resp.status_code == 200, resp.text[:500]
    assert resp.headers["Content-Type"].startswith(XLSX)
    sheet = openpyxl.load_workbook(io.BytesIO(resp.content)).active
    return [["" if c is None else str(c) for c in row] for row in sheet.iter_rows(values_only=True)]


def test_an_auto_numbered_draft_is_dispatched_with_its_number_and_listed_in_the_register(
        client, stack, draft, tmp_path) -> None:
    pdf, notation = draft
    token = client.login(client.user_for(H62))
    created = client.create_document(token, _metadata(notation))
    client.upload(created["upload"], pdf.read_bytes())
    doc = client.wait_for(token, created["document_id"], {"DISPATCHED", "REJECTED", "FAILED"}, timeout=120)
    assert doc["state"] == "DISPATCHED", doc
    number = doc["metadata"]["number"]
    assert re.fullmatch(r"\d{2,}", number) and doc["register"]["year"] == 2020

    # the signed PDF: the number and the day in the blanks, both signatures valid
    signed = tmp_path / "signed.pdf"
    signed.write_bytes(client.session.get(client.call("GET", f"/v1/documents/{doc['document_id']}/signed",
                                                      token)["url"], timeout=30).content)
    header = " ".join(pdftotext(signed, 1, 1).split("\n")[:4])
    assert re.search(rf"Số:\s*{number}\s*/{notation}", header), header
    assert re.search(r"ngày\s+03\s+tháng 6 năm 2020", header), header
    assert [s["valid"] for s in pdfsig_report(signed)] == [True, True]

    # the edXML package carries it (its DocumentId and Code)
    [(_, package, _)] = packages_for(client, G22, f"{H62},2020/06/03,{number}/{notation}")
    assert package.code_number == number and package.code_notation == notation

    # the register lists it, in JSON and XLSX
    entries = {e["document_id"]: e for e in _register(client, token, "outgoing", year="2020")}
    entry = entries[doc["document_id"]]
    assert (entry["number"], entry["notation"], entry["state"]) == (number, notation, "DISPATCHED")
    numbers = sorted(e["n"] for e in entries.values())
    assert numbers == list(range(1, len(numbers) + 1)), "consecutive from 01, no gap"
    rows = _xlsx(client, token, "outgoing", year="2020")
    assert "Sổ đăng ký văn bản đi năm 2020" in rows[0][0] and rows[1][0] == "Số"
    assert [number, notation, "2020-06-03"] in [r[:3] for r in rows[2:]]


def test_an_inbound_document_gets_its_so_den_and_is_listed_in_the_incoming_register(
        client, stack, stack_handle, sample_pdf, tmp_path) -> None:
    notation = f"VPCP-SD{uuid.uuid4().hex[:6].upper()}"
    header = vpcp_header("321", notation, "V/v thử sổ văn bản đến", content="Thử.")
    data = vpcp_package(tmp_path / "in.edxml", Organ(G22, "Văn phòng Chính phủ"),
                        [Organ(H62, "UBND tỉnh Vĩnh Phúc")], header, Business(), sample_pdf)
    _send(client.axis_system(G22), data, [H62], tmp_path)
    token = client.login(client.user_for(H62))

    def filed() -> dict:
        items = [i for i in client.call("GET", "/v1/inbox", token, params={"limit": "200"})["items"]
                 if i["notation"] == notation]
        assert len(items) == 1, items
        return client.call("GET", f"/v1/inbox/{items[0]['inbox_id']}", token)

    item = eventually(stack_handle, filed, what="the inbound document filed")
    year = datetime.fromisoformat(item["received_at"].replace("Z", "+00:00")).astimezone(VN_TZ).year
    assert item["arrival_year"] == year and re.fullmatch(r"\d{2,}", item["arrival_number"])
    entries = {e["inbox_id"]: e for e in _register(client, token, "incoming", year=str(year))}
    entry = entries[item["inbox_id"]]
    assert (entry["number"], entry["document_number"], entry["notation"], entry["from_organ_id"]) == (
        item["arrival_number"], "321", notation, G22)
    assert entry["status"] == "ARRIVED"
    rows = _xlsx(client, token, "incoming", year=str(year))
    assert rows[1][0] == "Số đến" and [item["arrival_number"], f"321/{notation}"] in [[r[0], r[4]] for r in rows[2:]]


def test_a_clerk_reads_only_their_agencys_registers_an_admin_any(client, stack) -> None:
    clerk = client.login(client.user_for(H62))
    with pytest.raises(ApiError) as refused:
        client.call("GET", "/v1/registers/outgoing", clerk, params={"organ_id": H03, "year": "2020"})
    assert (refused.value.status, refused.value.code) == (403, "forbidden")
    with pytest.raises(ApiError) as refused:
        client.call("GET", "/v1/registers/outgoing", clerk, params={"year": "20"})
    assert (refused.value.status, refused.value.code) == (400, "invalid_year")
    admin = client.login(client.user_for("000.00.01.H62", admin=True))
    own = _register(client, clerk, "outgoing", year="2020")
    assert _register(client, admin, "outgoing", year="2020", organ_id=H62) == own
