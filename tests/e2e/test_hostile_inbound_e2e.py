"""The inbound poller against a hostile axis, on the embedded stack (issue 8), driven only from outside: EXTERNAL
agencies' own systems on the axis (credentials in stack.json `axis.systems`), the API as clerks and the
administrator, the simulator's control API, and the stack's schedule trigger (poll_axis now).

Given HĐND tỉnh Vĩnh Phúc's system sends a document, a status and a revocation written in Văn phòng Chính phủ's
name, then none of them is taken as VPCP's: the document is refused, the status is not applied, the inbox item is
not revoked, and each is acknowledged `fail` and listed for the administrator. Given a PDF signed under a CA
nobody trusts, then the inbox item is not `valid` and says why. Given poison envelopes, then each is acknowledged
`fail` once and listed, and never comes back. Given one agency's outbox holds status packages that cannot be
built, then every agency is still served.
"""

from __future__ import annotations

import io
import time
import uuid
from dataclasses import replace as dataclass_replace
from datetime import date
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.standards.edxml import Business, Organ, ResponseFor, parse_package
from devstack.demo_data import SAMPLES
from tests.e2e.helpers import eventually
from tests.support.axis import send_as as _send
from tests.support.axis import sim as _sim
from tests.support.documents import fresh_metadata
from tests.support.organs import G22, H03, H62, K62
from tests.support.packages import about, status_package, vpcp_header, vpcp_package
from tests.support.pki import fresh_ca, local_identity

VPCP = Organ(G22, "Văn phòng Chính phủ")
UBND_VP = Organ(H62, "UBND tỉnh Vĩnh Phúc")
UBND_BG = Organ(H03, "UBND tỉnh Bắc Giang")
ADMIN_ORGAN = "000.00.01.H62"


# -- helpers -------------------------------------------------------------------------------------------------------


def _envelopes(stack: dict, **query: str) -> dict[str, dict[str, Any]]:
    found = _sim(stack, "/_sim/packages?" + "&".join(f"{k}={v}" for k, v in query.items()))["items"]
    return {e["docId"]: e for e in found}


def _issues(client: Any) -> dict[str, list[dict[str, Any]]]:
    admin = client.login(client.user_for(ADMIN_ORGAN, admin=True))
    issues: dict[str, list[dict[str, Any]]] = {}
    for issue in client.call("GET", "/v1/admin/inbound-issues", admin, params={"limit": "200"})["items"]:
        if "axis_doc_id" in issue:
            issues.setdefault(issue["axis_doc_id"], []).append(issue)
    return issues


def _inbox(client: Any, organ_id: str, notation: str) -> list[dict[str, Any]]:
    clerk = client.login(client.user_for(organ_id))
    return [i for i in client.call("GET", "/v1/inbox", clerk, params={"limit": "200"})["items"]
            if i["notation"] == notation]


def _package(folder: Path, pdf: Path | None, *, sender: Organ = VPCP, to: list[Organ] | None = None,
             notation: str | None = None, header: Any = None, business: Business | None = None) -> tuple[bytes, Any]:
    header = header or vpcp_header("21", notation or f"VPCP-HOS{uuid.uuid4().hex[:6].upper()}",
                                   "V/v kiểm thử gói tin giả mạo")
    data = vpcp_package(folder / f"{uuid.uuid4().hex}.edxml", sender, to or [UBND_VP], header, business or Business(),
                        pdf)
    return data, header


def _refused(stack: dict, client: Any, doc_id: str, reason: str) -> dict[str, Any]:
    envelope = _envelopes(stack, to=H62)[doc_id]
    assert envelope["acknowledged"] and envelope["status"] == "fail"
    (issue,) = _issues(client)[doc_id]
    assert issue["reason"] == reason and issue["ack"] == "fail"
    return issue


@pytest.fixture(scope="module")
def untrusted_pdf(tmp_path_factory: pytest.TempPathFactory, sample_pdf: Path) -> Path:
    """A PDF signed as Văn phòng Chính phủ under a CA of its own that the gateway does not trust."""
    from chalicelib.signing.pades import sign_pdf_file

    folder = tmp_path_factory.mktemp("self-signed")
    out = folder / "self-signed.pdf"
    sign_pdf_file(sample_pdf, out, local_identity(fresh_ca(folder / "ca"), G22, VPCP.name))
    return out


# -- sender binding ------------------------------------------------------------------------------------------------


def test_a_document_in_vpcps_name_from_another_system_is_refused_and_listed(client, stack, stack_handle, tmp_path,
                                                                             untrusted_pdf):
    hdnd = client.axis_system(K62)
    data, header = _package(tmp_path, untrusted_pdf, sender=VPCP)
    forged = _send(hdnd, data, [H62], tmp_path)

    issue = eventually(stack_handle, lambda: _refused(stack, client, forged, "sender_mismatch"),
                       what="forged document refused and listed")
    assert issue["outcome"] == "forged_sender"
    assert issue["details"]["claimed"] == G22 and issue["details"]["authenticated"] == K62
    assert issue["raw_key"] == f"inbound/{H62}/{forged}.edxml", "the raw bytes are kept"
    assert _inbox(client, H62, header.code_notation) == [], "nothing filed in VPCP's name"
    assert not [e for e in hdnd.get_received_edoc_list("status")
                if parse_package(io.BytesIO(hdnd.get_edoc(e["docId"]))).response_for[0].document_id
                == header.document_id], "no 01 answered to anyone"


def test_a_status_in_vpcps_name_from_another_system_is_not_applied_and_listed(client, stack, stack_handle,
                                                                              sample_pdf, tmp_path):
    token = client.login(client.user_for(H62))
    metadata = fresh_metadata(f"HOS{uuid.uuid4().hex[:4].upper()}", [G22, K62])
    created = client.create_document(token, metadata)
    client.upload(created["upload"], sample_pdf)
    doc = client.wait_for(token, created["document_id"], {"DISPATCHED", "REJECTED", "FAILED"}, timeout=90)
    assert doc["state"] == "DISPATCHED", doc
    sample = SAMPLES[0]
    edxml_id = f"{H62},2019/09/20,{sample.metadata['number']}/{metadata['notation']}"
    ref = ResponseFor(H62, f"{sample.metadata['number']}/{metadata['notation']}", edxml_id, date(2019, 9, 20))

    hdnd = client.axis_system(K62)
    forged = _send(hdnd, status_package(VPCP, ref, "06"), [H62], tmp_path, "status")
    issue = eventually(stack_handle, lambda: _refused(stack, client, forged, "sender_mismatch"),
                       what="forged status refused and listed")
    assert issue["outcome"] == "forged_sender"
    vpcp = {d["organ_id"]: d for d in client.get_document(token, created["document_id"])["deliveries"]}[G22]
    assert vpcp["status"] == "SENT" and [h.get("code") for h in vpcp["history"]] == [None], "not applied"

    # The recipient's own report is applied; the same report from HĐND about VPCP's row never is.
    g22 = client.axis_system(G22)
    _send(g22, status_package(VPCP, ref, "03"), [H62], tmp_path, "status")

    def applied() -> dict[str, Any]:
        rows = {d["organ_id"]: d for d in client.get_document(token, created["document_id"])["deliveries"]}
        assert rows[G22]["status_code"] == "03"
        return rows

    rows = eventually(stack_handle, applied, what="VPCP's own status applied")
    assert [h.get("code") for h in rows[G22]["history"]] == [None, "03"]


def test_a_revocation_in_vpcps_name_from_another_system_never_revokes(client, stack, stack_handle, tmp_path,
                                                                       untrusted_pdf):
    g22, hdnd = client.axis_system(G22), client.axis_system(K62)
    data, header = _package(tmp_path, untrusted_pdf)
    _send(g22, data, [H62], tmp_path)
    (item,) = eventually(stack_handle, lambda: _inbox(client, H62, header.code_notation), what="document filed")

    revocation, _ = _package(tmp_path, None, header=dataclass_replace(header, response_for=[about(header)]),
                             business=Business(doc_type=1, reason="Thu hồi giả.", document_id=header.document_id))
    forged = _send(hdnd, revocation, [H62], tmp_path)
    issue = eventually(stack_handle, lambda: _refused(stack, client, forged, "sender_mismatch"),
                       what="forged revocation refused and listed")
    assert issue["outcome"] == "forged_sender"
    (again,) = _inbox(client, H62, header.code_notation)
    assert again["revoked"] is False and again["inbox_id"] == item["inbox_id"]


# -- trust ---------------------------------------------------------------------------------------------------------


def test_a_pdf_signed_under_an_untrusted_ca_is_not_valid_and_the_item_says_why(client, stack_handle, tmp_path,
                                                                                untrusted_pdf):
    data, header = _package(tmp_path, untrusted_pdf)
    _send(client.axis_system(G22), data, [H62], tmp_path)
    (item,) = eventually(stack_handle, lambda: _inbox(client, H62, header.code_notation), what="document filed")
    assert item["verification_summary"] == "untrusted"
    clerk = client.login(client.user_for(H62))
    detail = client.call("GET", f"/v1/inbox/{item['inbox_id']}", clerk)
    assert detail["verification_summary"] == "untrusted" and detail["verification_reasons"] == ["untrusted"]
    (attachment,) = detail["attachments"]
    assert attachment["verification_summary"] == "untrusted"
    (signature,) = attachment["verification"]["signatures"]
    assert signature["intact"] and signature["valid"] and signature["trusted"] is False
    assert signature["reasons"] == ["untrusted"]


# -- poison ----------------------------------------------------------------------------------------------------------


def test_poison_envelopes_are_acknowledged_fail_once_listed_and_never_come_back(client, stack, stack_handle,
                                                                                 tmp_path, sample_pdf):
    g22 = client.axis_system(G22)
    no_id, header = _package(tmp_path, sample_pdf)
    no_id = no_id.replace(f"<edXML:DocumentId>{header.document_id}</edXML:DocumentId>".encode(),
                          b"<edXML:DocumentId></edXML:DocumentId>")
    poison = {
        _send(g22, b"<edXML><not-closed>", [H62], tmp_path): "malformed_xml",
        _send(g22, b"<?xml version='1.0'?><html><body>tr\xc3\xa1i lo\xe1\xba\xa1i</body></html>", [H62],
              tmp_path): "not_edxml",
        _send(g22, b"\x00\x01\x02 binary, not XML \xff\xfe", [H62], tmp_path, "status"): "malformed_xml",
        _send(g22, no_id, [H62], tmp_path): "missing_document_id",
    }

    def listed() -> dict[str, list[dict[str, Any]]]:
        envelopes = _envelopes(stack, to=H62)
        assert all(envelopes[d]["acknowledged"] and envelopes[d]["status"] == "fail" for d in poison)
        issues = _issues(client)
        assert set(poison) <= set(issues)
        return issues

    issues = eventually(stack_handle, listed, what="poison envelopes acknowledged fail and listed")
    for doc_id, reason in poison.items():
        (issue,) = issues[doc_id]
        assert issue["reason"] == reason and issue["outcome"] == "unparseable", issue
        assert issue["raw_key"] == f"inbound/{H62}/{doc_id}.edxml"
    assert _inbox(client, H62, header.code_notation) == []
    first = {d: issues[d][0]["acked_at"] for d in poison}

    for _ in range(3):  # later polls: acknowledged once, never taken again
        stack_handle.run_schedules()
        time.sleep(1.0)
    again = _issues(client)
    assert {d: [i["acked_at"] for i in again[d]] for d in poison} == {d: [at] for d, at in first.items()}
    assert all(e["status"] == "fail" for d, e in _envelopes(stack, to=H62).items() if d in poison)


# -- each agency in isolation --------------------------------------------------------------------------------------


def _table(stack: dict) -> Any:
    return boto3.resource("dynamodb", endpoint_url=stack["aws_endpoint_url"], region_name=stack["region"],
                          aws_access_key_id=stack["aws_admin"]["access_key_id"],
                          aws_secret_access_key=stack["aws_admin"]["secret_access_key"]).Table("edoc-local-documents")


def test_status_packages_that_cannot_be_built_never_stop_any_agencys_poll(client, stack, stack_handle, tmp_path,
                                                                          untrusted_pdf):
    """What used to stop every later poll_axis run: an outbox item an older version wrote that cannot be built
    (a reason with U+0001, an inbound document without DocumentId) or is garbled."""
    table = _table(stack)
    bad = []
    for n, fields in enumerate(({"reason": "lý do \x01"},
                                {"response_for": {"organ_id": G22, "code": "/", "document_id": "",
                                                  "promulgation_date": None}},
                                {"lease_until": "không phải số"})):
        inbox_id = str(uuid.uuid4())
        item = {"pk": f"OUTBOX#{H62}", "sk": f"STATUS#{inbox_id}#02", "inbox_id": inbox_id, "code": "02",
                "reason": "Sai thẩm quyền", "reported_at": "2026-11-25T03:00:00+00:00",
                "created_at": f"2000-01-01T00:00:0{n}Z", "organ_id": H62, "reporter_name": "UBND", "to": G22,
                "response_for": {"organ_id": G22, "code": "1/X", "document_id": f"{G22},2026/11/25,1/X",
                                 "promulgation_date": "2026-11-25"}, **fields}
        table.put_item(Item=item)
        bad.append(item)

    g22 = client.axis_system(G22)
    mine, mine_header = _package(tmp_path, untrusted_pdf)
    theirs, theirs_header = _package(tmp_path, untrusted_pdf, to=[UBND_BG])
    _send(g22, mine, [H62], tmp_path)
    _send(g22, theirs, [H03], tmp_path)

    def served() -> bool:
        assert len(_inbox(client, H62, mine_header.code_notation)) == 1
        assert len(_inbox(client, H03, theirs_header.code_notation)) == 1
        return True

    eventually(stack_handle, served, what="both agencies served despite the broken outbox")
    unbuildable = [table.get_item(Key={"pk": b["pk"], "sk": b["sk"]})["Item"] for b in bad[:2]]
    assert all(u.get("failed_at") and u["last_error"] == "status_unbuildable" for u in unbuildable), unbuildable
    admin = client.login(client.user_for(ADMIN_ORGAN, admin=True))
    listed = {i.get("inbox_id") for i in client.call("GET", "/v1/admin/inbound-issues", admin,
                                                     params={"limit": "200"})["items"]}
    assert {b["inbox_id"] for b in bad[:2]} <= listed
    for b in bad:  # tidy: the shared stack's outbox is left as other tests expect it
        table.delete_item(Key={"pk": b["pk"], "sk": b["sk"]})
