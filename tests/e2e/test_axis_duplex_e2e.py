"""Full duplex with the axis on the embedded stack, driven only from outside: the API as agencies' clerks, the axis
as EXTERNAL agencies' own systems (Văn phòng Chính phủ, HĐND tỉnh Vĩnh Phúc), the simulator's loopback control API
to look at envelopes, and the stack's schedule trigger (what EventBridge does every minute) to run poll_axis now.

Given a document UBND tỉnh Vĩnh Phúc sent, when its recipients report 01, 03, 04, 05, 06 (and one 02 with a
reason), then the document's deliveries show that timeline per recipient. Given Văn phòng Chính phủ sends a signed
document to UBND tỉnh Vĩnh Phúc, then it lands in that agency's inbox (once, however many envelopes carried it),
verified, acknowledged on the axis, answered with 01, and the clerk's 03 travels back. Given packages nobody can
take (unparseable, for an agency not registered here, a status about no document of ours), then they are
acknowledged as the protocol says and listed for the administrator.
"""

from __future__ import annotations

import io
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import requests

from chalicelib.standards.edxml import (
    Business,
    Organ,
    ResponseFor,
    parse_package,
)
from devstack.client import ApiError
from devstack.demo_data import SAMPLES, UNREGISTERED_SYSTEMS
from tests.e2e.helpers import eventually
from tests.support.axis import send_as as _send
from tests.support.axis import sim as _sim
from tests.support.documents import fresh_metadata
from tests.support.organs import G22, H03, H62, K62
from tests.support.packages import status_package as _status
from tests.support.packages import vpcp_header, vpcp_package
from tests.support.pki import fresh_ca, local_identity

SAMPLE = SAMPLES[0]
assert SAMPLE.uploader == H62  # UBND tỉnh Vĩnh Phúc, served by the gateway; H03 is "another agency", served too
UNREGISTERED = UNREGISTERED_SYSTEMS[0]
VPCP = Organ(G22, "Văn phòng Chính phủ", email="vpcp@chinhphu.vn", address="Hà Nội")
UBND_VP = Organ(H62, "UBND tỉnh Vĩnh Phúc")


# -- helpers ---------------------------------------------------------------------------------------------------




def _envelopes(stack, **query: str) -> list[dict[str, Any]]:
    return _sim(stack, "/_sim/packages?" + "&".join(f"{k}={v}" for k, v in query.items()))["items"]


def _statuses_received(axis, edxml_document_id: str) -> list[str]:
    """Status codes an external system holds about one document (it never acknowledges them here)."""
    codes = []
    for entry in axis.get_received_edoc_list("status"):
        package = parse_package(io.BytesIO(axis.get_edoc(entry["docId"])))
        if package.response_for and package.response_for[0].document_id == edxml_document_id:
            codes.append(package.status_code)
    return codes


def _dispatched_document(client, sample_pdf, recipients: list[str], suffix: str) -> tuple[str, str, str]:
    token = client.login(client.user_for(H62))
    metadata = fresh_metadata(suffix, recipients)
    created = client.create_document(token, metadata)
    client.upload(created["upload"], sample_pdf)
    doc = client.wait_for(token, created["document_id"], {"DISPATCHED", "REJECTED", "FAILED"}, timeout=90)
    assert doc["state"] == "DISPATCHED", doc
    return token, created["document_id"], f"{H62},2019/09/20,7413/{metadata['notation']}"


def _take_package(axis, edxml_document_id: str) -> None:
    """What the recipient's software does first: fetch its package and acknowledge transport."""
    for entry in axis.get_received_edoc_list("edoc"):
        if parse_package(io.BytesIO(axis.get_edoc(entry["docId"]))).document_id == edxml_document_id:
            axis.update_status(entry["docId"], "done")
            return
    raise AssertionError(f"{axis.system_id} holds no package {edxml_document_id}")


# -- (a) statuses on a document we sent ------------------------------------------------------------------------


def test_recipients_statuses_show_as_each_deliverys_timeline(client, stack, stack_handle, sample_pdf, tmp_path):
    token, doc_id, header_id = _dispatched_document(client, sample_pdf, [G22, K62], "DUPLEX-A")
    g22, k62 = client.axis_system(G22), client.axis_system(K62)
    for axis in (g22, k62):
        _take_package(axis, header_id)
    ref = ResponseFor(H62, f"7413/{SAMPLE.metadata['notation']}-DUPLEX-A", header_id, date(2019, 9, 20))

    # Văn phòng Chính phủ's clerk works through it; the axis also delivers one report twice and an unknown code.
    packages = {code: _status(VPCP, ref, code) for code in ("01", "03", "04", "05", "06")}
    sent_ids = []
    for code in ("01", "03", "04", "05", "06"):
        sent_ids.append(_send(g22, packages[code], [H62], tmp_path, "status"))
    sent_ids.append(_send(g22, packages["03"], [H62], tmp_path, "status"))  # same package, second envelope
    sent_ids.append(_send(g22, _status(VPCP, ref, "99", "mã riêng của hệ thống"), [H62], tmp_path, "status"))
    # HĐND tỉnh refuses it, with a reason.
    reason = "Văn bản không thuộc thẩm quyền giải quyết của HĐND tỉnh."
    sent_ids.append(_send(k62, _status(Organ(K62, "HĐND tỉnh Vĩnh Phúc"), ref, "02", reason), [H62], tmp_path,
                          "status"))

    def deliveries() -> dict[str, dict]:
        doc = client.get_document(token, doc_id)
        found = {d["organ_id"]: d for d in doc["deliveries"]}
        assert [h.get("code") for h in found[G22]["history"]] == [None, "01", "03", "04", "05", "06", "99"]
        assert found[K62]["status"] == "REJECTED"
        return found

    found = eventually(stack_handle, deliveries, what="statuses on the deliveries")
    vpcp = found[G22]
    assert vpcp["status"] == "COMPLETED" and vpcp["status_code"] == "06"
    assert vpcp["status_meaning"] == "Hoàn thành"
    assert [h["status"] for h in vpcp["history"]] == ["SENT", "ARRIVED", "ACCEPTED", "ASSIGNED", "PROCESSING",
                                                      "COMPLETED", "STATUS_99"]
    assert vpcp["history"][2]["meaning"] == "Đã tiếp nhận"
    assert all(h["at"] for h in vpcp["history"])
    unknown = vpcp["history"][-1]
    assert unknown["meaning"] is None and unknown["reason"] == "mã riêng của hệ thống"
    assert {h["axis_doc_id"] for h in vpcp["history"][1:]} <= set(sent_ids)
    hdnd = found[K62]
    assert hdnd["status_code"] == "02" and hdnd["reason"] == reason
    assert [h.get("code") for h in hdnd["history"]] == [None, "02"]
    assert hdnd["history"][-1]["reason"] == reason and hdnd["history"][-1]["meaning"] == "Từ chối tiếp nhận"

    # Every report was taken off the axis (transport ack `done`), the duplicate included.
    # (The poller stores a report before it acknowledges it, so the ack may follow the delivery rows by a run.)
    def acknowledged() -> bool:
        envelopes = {e["docId"]: e for e in _envelopes(stack, to=H62, messagetype="status")}
        assert all(envelopes[i]["acknowledged"] and envelopes[i]["status"] == "done" for i in sent_ids)
        return True

    eventually(stack_handle, acknowledged, what="every status report acknowledged done")

    # Another run changes nothing: the same envelopes are gone, the history is as it was.
    stack_handle.run_schedules()
    time.sleep(1.0)
    again = {d["organ_id"]: d for d in client.get_document(token, doc_id)["deliveries"]}
    assert again[G22]["history"] == vpcp["history"]


# -- (b) an inbound document --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def vpcp_signed_pdf(tmp_path_factory, sample_pdf) -> Path:
    """A PDF signed by "Văn phòng Chính phủ" with pyHanko and a test CA of our own (not trusted by the gateway)."""
    from chalicelib.signing.pades import sign_pdf_file

    folder = tmp_path_factory.mktemp("vpcp")
    identity = local_identity(fresh_ca(folder / "ca"), G22, VPCP.name)
    out = folder / "vpcp-signed.pdf"
    sign_pdf_file(sample_pdf, out, identity)
    return out


def _vpcp_package(pdf: Path, to: list[Organ], notation: str, folder: Path) -> tuple[bytes, str]:
    header = vpcp_header("123", notation, "V/v đôn đốc triển khai văn bản điện tử liên thông",
                         content="Đôn đốc triển khai.")
    return vpcp_package(folder / f"{notation}.edxml", VPCP, to, header, Business(), pdf), header.document_id


def test_inbound_document_is_filed_once_verified_acknowledged_and_answered(client, stack, stack_handle, tmp_path,
                                                                            vpcp_signed_pdf):
    notation = f"VPCP-TH{uuid.uuid4().hex[:6].upper()}"
    data, header_id = _vpcp_package(vpcp_signed_pdf, [UBND_VP], notation, tmp_path)
    g22 = client.axis_system(G22)
    # The axis delivers it twice (two envelopes) and lists H62's envelopes twice once: still one item, one 01.
    _sim(stack, "/_sim/faults", "POST", {"kind": "duplicate", "count": 1, "paths": ["/sendEdoc"], "systems": [G22]})
    _sim(stack, "/_sim/faults", "POST", {"kind": "duplicate", "count": 1, "paths": ["/getReceivedEdocList"],
                                         "systems": [H62]})
    send_id = _send(g22, data, [H62], tmp_path)
    envelopes = [e for e in _envelopes(stack, to=H62, messagetype="edoc") if e["sendId"] == send_id]
    assert len(envelopes) == 2

    clerk = client.login(client.user_for(H62))

    def filed() -> dict:
        items = [i for i in client.call("GET", "/v1/inbox", clerk, params={"limit": "200"})["items"]
                 if i["notation"] == notation]
        assert len(items) == 1
        assert all(e["acknowledged"] for e in _envelopes(stack, to=H62, messagetype="edoc")
                   if e["sendId"] == send_id)
        assert _statuses_received(g22, header_id) == ["01"]
        return items[0]

    item = eventually(stack_handle, filed, what="inbound document filed, acknowledged and answered")
    assert {"inbox_id", "from_organ_id", "number", "notation", "subject", "received_at", "status",
            "revoked"} <= set(item)
    assert item["from_organ_id"] == G22 and item["number"] == "123" and item["status"] == "ARRIVED"
    # Not trusted (no root configured for the demo CA of VPCP): never summarised as valid (issue 8, trust counts).
    assert item["revoked"] is False and item["verification_summary"] == "untrusted"

    # Acknowledged `done` on the axis: no longer in H62's list (the simulator's record of both envelopes).
    assert {e["status"] for e in _envelopes(stack, to=H62, messagetype="edoc") if e["sendId"] == send_id} == {"done"}

    detail = client.call("GET", f"/v1/inbox/{item['inbox_id']}", clerk)
    assert detail["subject"] == "V/v đôn đốc triển khai văn bản điện tử liên thông"
    assert detail["edxml_document_id"] == header_id and detail["signer"]["full_name"] == "Nguyễn Văn A"
    (attachment,) = detail["attachments"]
    (signature,) = attachment["verification"]["signatures"]
    assert signature["intact"] and signature["valid"] and signature["covers_whole_document"]
    assert signature["trusted"] is False  # no trust roots configured yet
    assert signature["organisation"] == VPCP.name and signature["pades_level"] == "B-B"
    assert signature["signed_at"] and signature["revocation_checked"] is False
    downloaded = requests.get(attachment["download"]["url"], timeout=10)
    assert downloaded.status_code == 200 and downloaded.content == vpcp_signed_pdf.read_bytes()
    assert [h["code"] for h in detail["status_history"]] == ["01"]
    assert detail["status_history"][0]["axis_doc_id"]

    # Another agency sees nothing of it.
    other = client.login(client.user_for(H03))
    for method, path, body in (("GET", f"/v1/inbox/{item['inbox_id']}", None),
                               ("POST", f"/v1/inbox/{item['inbox_id']}/status", {"code": "03"})):
        with pytest.raises(ApiError) as info:
            client.call(method, path, other, json=body)
        assert info.value.status == 404 and info.value.code == "inbox_item_not_found"
    listed = client.call("GET", "/v1/inbox", other, params={"limit": "200"})["items"]
    assert item["inbox_id"] not in {i["inbox_id"] for i in listed}

    # The clerk's answers travel back: 02 needs a reason, 03 goes through once, and not backwards.
    with pytest.raises(ApiError) as info:
        client.call("POST", f"/v1/inbox/{item['inbox_id']}/status", clerk, json={"code": "02"})
    assert info.value.status == 400 and info.value.code == "reason_required"
    accepted = client.call("POST", f"/v1/inbox/{item['inbox_id']}/status", clerk, json={"code": "03"})
    assert accepted["status"] == "ACCEPTED" and accepted["status_code"] == "03"
    assert accepted["status_history"][-1]["code"] == "03" and accepted["status_history"][-1]["axis_doc_id"]
    for code in ("03", "01", "02"):
        with pytest.raises(ApiError) as info:
            client.call("POST", f"/v1/inbox/{item['inbox_id']}/status", clerk,
                        json={"code": code, "reason": "thử lại"})
        assert info.value.status in (400, 409), code
    assert _statuses_received(g22, header_id) == ["01", "03"]


def test_an_arrival_status_the_axis_refuses_at_first_is_sent_by_a_later_poll(client, stack, stack_handle, tmp_path,
                                                                             vpcp_signed_pdf):
    snv = "000.00.13.H62"  # Sở Nội vụ Vĩnh Phúc, served
    notation = f"VPCP-SNV{uuid.uuid4().hex[:6].upper()}"
    data, header_id = _vpcp_package(vpcp_signed_pdf, [Organ(snv, "Sở Nội vụ Vĩnh Phúc")], notation, tmp_path)
    g22 = client.axis_system(G22)
    # The axis answers 503 to the first status package Sở Nội vụ sends: the 01 waits in the outbox.
    _sim(stack, "/_sim/faults", "POST", {"kind": "5xx", "count": 1, "paths": ["/sendEdoc"], "systems": [snv]})
    _send(g22, data, [snv], tmp_path)
    clerk = client.login(client.user_for(snv))

    def answered() -> dict:
        items = [i for i in client.call("GET", "/v1/inbox", clerk)["items"] if i["notation"] == notation]
        assert len(items) == 1
        item = items[0]
        detail = client.call("GET", f"/v1/inbox/{item['inbox_id']}", clerk)
        assert "pending" not in detail["status_history"][0]
        assert _statuses_received(g22, header_id) == ["01"]
        return detail

    detail = eventually(stack_handle, answered, what="the 01 retried from the outbox")
    assert detail["status_history"][0]["axis_doc_id"]
    (fault,) = [f for f in _sim(stack, "/_sim/faults")["faults"] if f["kind"] == "5xx" and f["systems"] == [snv]]
    assert fault["count"] == 0, "the first attempt did meet the 503"


# -- (c) what nobody can take ----------------------------------------------------------------------------------------


def test_unparseable_unregistered_and_orphan_envelopes_are_acknowledged_and_recorded(client, stack, stack_handle,
                                                                                     tmp_path, vpcp_signed_pdf):
    g22 = client.axis_system(G22)
    data, _ = _vpcp_package(vpcp_signed_pdf, [Organ(UNREGISTERED, "Đơn vị chưa đăng ký")], "VPCP-UNREG", tmp_path)
    unregistered = _send(g22, data, [UNREGISTERED], tmp_path)
    garbage = _send(g22, b"<edXML><not-closed>", [H62], tmp_path)
    orphan_ref = ResponseFor(H62, "1/KHONG-CO", f"{H62},2019/09/20,1/KHONG-CO", date(2019, 9, 20))
    orphan = _send(g22, _status(VPCP, orphan_ref, "03"), [H62], tmp_path, "status")
    admin = client.login(client.user_for("000.00.01.H62", admin=True))

    def recorded() -> dict[str, dict]:
        state = {e["docId"]: e for e in _envelopes(stack, **{"from": G22})}
        assert state[unregistered]["acknowledged"] and state[unregistered]["status"] == "fail"
        assert state[garbage]["acknowledged"] and state[garbage]["status"] == "fail"
        assert state[orphan]["acknowledged"] and state[orphan]["status"] == "done"
        issues = {i["axis_doc_id"]: i for i in
                  client.call("GET", "/v1/admin/inbound-issues", admin, params={"limit": "200"})["items"]}
        assert {unregistered, garbage, orphan} <= set(issues)
        return issues

    issues = eventually(stack_handle, recorded, what="refused envelopes acknowledged and recorded")
    assert issues[unregistered]["outcome"] == "not_served" and issues[unregistered]["organ_id"] == UNREGISTERED
    assert issues[unregistered]["reason"] == "not_registered" and issues[unregistered]["ack"] == "fail"
    assert issues[garbage]["outcome"] == "unparseable" and issues[garbage]["reason"] == "malformed_xml"
    assert issues[orphan]["outcome"] == "orphan_status" and issues[orphan]["details"]["code"] == "03"
    assert all(issues[i]["raw_key"].startswith(f"inbound/{issues[i]['organ_id']}/") for i in (unregistered, garbage))

    clerk = client.login(client.user_for(H62))
    with pytest.raises(ApiError) as info:
        client.call("GET", "/v1/admin/inbound-issues", clerk)
    assert info.value.status == 403
