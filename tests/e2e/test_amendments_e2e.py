"""Revocation, update of recipients and replacement round trips, both directions, on the embedded stack, driven
only from outside: the API as agencies' clerks, the axis as EXTERNAL agencies' own systems (Văn phòng Chính phủ
G22, HĐND tỉnh Vĩnh Phúc K62 with paper-in-parallel, UBND tỉnh Quảng Ninh H49), and the stack's schedule trigger
to run poll_axis now.

Given a document UBND tỉnh Vĩnh Phúc sent, when its clerk revokes it, updates its recipients or sends a document
replacing it, then each recipient's own system receives exactly one package of BussinessDocType 1, 2 or 3 naming
it (Paper=1 for the paper recipient only), and their 15/16 answers show on the deliveries. Given Văn phòng Chính
phủ revokes, updates or replaces a document it sent to agencies this gateway serves, then their inbox items show
it and Văn phòng Chính phủ receives the 15.
"""

from __future__ import annotations

import io
import json
import time
import uuid
from collections import Counter
from dataclasses import replace as dataclass_replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from chalicelib.standards.edxml import (
    Business,
    DocumentHeader,
    DocumentInfoUpdate,
    Organ,
    Receiver,
    ReplacementInfo,
    ResponseFor,
    parse_package,
)
from devstack.client import ApiError
from devstack.demo_data import SAMPLES
from tests.e2e.helpers import eventually
from tests.support.axis import send_as as _send
from tests.support.documents import fresh_metadata
from tests.support.organs import G22, H03, H49, H62, K62
from tests.support.packages import about as _about
from tests.support.packages import status_package as _status
from tests.support.packages import vpcp_header, vpcp_package

SAMPLE = SAMPLES[0]
assert SAMPLE.uploader == H62  # UBND tỉnh Vĩnh Phúc, served
VPCP = Organ(G22, "Văn phòng Chính phủ", address="Hà Nội")
HDND = Organ(K62, "HĐND tỉnh Vĩnh Phúc")
QUANG_NINH = Organ(H49, "UBND tỉnh Quảng Ninh")


# -- helpers ---------------------------------------------------------------------------------------------------------




def _packages(axis, edxml_document_id: str, doc_type: int | None = None) -> list[tuple[dict, Any]]:
    """(list entry, parsed package) of every edoc package `axis`'s system holds about a document: its own
    DocumentId, or naming it in ResponseFor. Acknowledged ones are no longer listed, so tests leave them there."""
    found = []
    for entry in axis.get_received_edoc_list("edoc"):
        package = parse_package(io.BytesIO(axis.get_edoc(entry["docId"])))
        about = {package.document_id, *(r.document_id for r in package.response_for)}
        if edxml_document_id in about and (doc_type is None or (package.business_doc_type or 0) == doc_type):
            found.append((entry, package))
    return found


def _statuses(axis, edxml_document_id: str) -> Counter[tuple[str, str]]:
    """(reporter, code) of the status packages an external system holds about one document."""
    found: Counter[tuple[str, str]] = Counter()
    for entry in axis.get_received_edoc_list("status"):
        package = parse_package(io.BytesIO(axis.get_edoc(entry["docId"])))
        if package.response_for and package.response_for[0].document_id == edxml_document_id:
            found[(package.sender.organ_id, package.status_code)] += 1
    return found


def _metadata(suffix: str, recipients: list[str]) -> dict[str, Any]:
    return fresh_metadata(suffix, recipients)


def _dispatch(client, token: str, metadata: dict[str, Any], pdf: Path) -> dict[str, Any]:
    created = client.create_document(token, metadata)
    client.upload(created["upload"], pdf)
    doc = client.wait_for(token, created["document_id"], {"DISPATCHED", "REJECTED", "FAILED"}, timeout=90)
    assert doc["state"] == "DISPATCHED", doc
    return doc


def _header_id(metadata: dict[str, Any]) -> str:
    return f"{H62},2019/09/20,{metadata['number']}/{metadata['notation']}"


def _ref(metadata: dict[str, Any]) -> ResponseFor:
    return ResponseFor(H62, f"{metadata['number']}/{metadata['notation']}", _header_id(metadata), date(2019, 9, 20))


def _deliveries(client, token: str, doc_id: str) -> dict[str, dict]:
    return {d["organ_id"]: d for d in client.get_document(token, doc_id)["deliveries"]}


def _g22_header(notation: str) -> DocumentHeader:
    return vpcp_header("45", notation, f"V/v thử nghiệm {notation}")


def _g22_package(header: DocumentHeader, to: list[Organ], business: Business, pdf: Path | None,
                 folder: Path) -> bytes:
    """A package as Văn phòng Chính phủ's own system writes it (the same edXML writer: the format is the contract)."""
    return vpcp_package(folder / f"{uuid.uuid4().hex}.edxml", VPCP, to, header, business, pdf)


def _inbox_item(client, token: str, notation: str) -> dict[str, Any]:
    items = [i for i in client.call("GET", "/v1/inbox", token, params={"limit": "200"})["items"]
             if i["notation"] == notation]
    assert len(items) == 1, items
    return client.call("GET", f"/v1/inbox/{items[0]['inbox_id']}", token)


# -- (1) we revoke a document; recipients agree or refuse ------------------------------------------------------------


def test_our_revocation_reaches_each_recipient_once_and_their_answers_are_recorded(client, stack_handle, sample_pdf,
                                                                                    tmp_path):
    token = client.login(client.user_for(H62))
    metadata = _metadata("AMD-REVOKE", [G22, K62])
    doc_id = _dispatch(client, token, metadata, sample_pdf)["document_id"]
    header_id = _header_id(metadata)
    reason = "Văn bản ban hành sai thể thức, đề nghị thu hồi."

    # Only the owner agency revokes, and says why.
    other = client.login(client.user_for(H03))
    with pytest.raises(ApiError) as info:
        client.call("POST", f"/v1/documents/{doc_id}/revoke", other, json={"reason": reason})
    assert info.value.status == 404 and info.value.code == "document_not_found"
    with pytest.raises(ApiError) as info:
        client.call("POST", f"/v1/documents/{doc_id}/revoke", token, json={"reason": " "})
    assert info.value.status == 400 and info.value.code == "reason_required"

    answer = client.call("POST", f"/v1/documents/{doc_id}/revoke", token, json={"reason": reason})
    assert answer["state"] == "REVOKED" and answer["revocation_reason"] == reason
    assert answer["amendment"]["kind"] == "revoke" and answer["amendment"]["targets"] == [G22, K62]
    again = client.call("POST", f"/v1/documents/{doc_id}/revoke", token, json={"reason": reason})
    assert again["amendment"]["amendment_id"] == answer["amendment"]["amendment_id"], "a retry is the same request"

    g22, k62 = client.axis_system(G22), client.axis_system(K62)

    def received() -> tuple[Any, Any]:
        g, k = _packages(g22, header_id, 1), _packages(k62, header_id, 1)
        assert len(g) == 1 and len(k) == 1
        return g[0][1], k[0][1]

    to_g22, to_k62 = eventually(stack_handle, received, what="revocation packages on the axis")
    for package in (to_g22, to_k62):
        assert package.business_reason == reason and package.business_document_id == header_id
        assert [r.document_id for r in package.response_for] == [header_id]
        assert package.sender.organ_id == H62 and package.attachments == []
    assert (to_g22.paper, to_k62.paper) == (0, 1), "Paper=1 for the paper-in-parallel recipient only"

    # Văn phòng Chính phủ agrees (15); HĐND tỉnh refuses (16) and says why.
    refusal = "Văn bản đã được trình tại kỳ họp, không thể thu hồi."
    _send(g22, _status(VPCP, _ref(metadata), "15"), [H62], tmp_path, "status")
    _send(k62, _status(HDND, _ref(metadata), "16", refusal), [H62], tmp_path, "status")

    def answered() -> dict[str, dict]:
        found = _deliveries(client, token, doc_id)
        assert found[G22]["revocation"]["status"] == "AGREED" and found[K62]["revocation"]["status"] == "REFUSED"
        return found

    found = eventually(stack_handle, answered, what="15/16 on the deliveries")
    assert found[G22]["revocation"]["answer_code"] == "15" and found[K62]["revocation"]["answer_code"] == "16"
    assert found[K62]["revocation"]["refusal_reason"] == refusal
    assert found[G22]["history"][-1]["code"] == "15" and found[K62]["history"][-1]["reason"] == refusal
    assert found[G22]["status"] == "SENT", "an answer to a revocation is not a handling status"

    doc = client.get_document(token, doc_id)
    assert doc["state"] == "REVOKED" and doc["timeline"][-1]["state"] == "REVOKED"
    (amendment,) = doc["amendments"]
    assert amendment["status"] == "SENT" and set(amendment["sent"]) == {G22, K62}
    assert len(_packages(g22, header_id, 1)) == 1 and len(_packages(k62, header_id, 1)) == 1, "exactly once"

    # A revoked document is final.
    with pytest.raises(ApiError) as info:
        client.call("POST", f"/v1/documents/{doc_id}/update", token,
                    json={"recipients_added": [H49], "reason": "bổ sung"})
    assert info.value.status == 409 and info.value.code == "not_dispatched"


# -- (2) another agency revokes a document it sent us -----------------------------------------------------------------


def test_a_document_revoked_by_its_sender_is_marked_revoked_in_the_inbox_and_answered(client, stack_handle,
                                                                                      sample_pdf, tmp_path):
    g22 = client.axis_system(G22)
    clerk = client.login(client.user_for(H62))
    notation = f"VPCP-TH{uuid.uuid4().hex[:6].upper()}"
    header = _g22_header(notation)
    _send(g22, _g22_package(header, [Organ(H62, "UBND tỉnh Vĩnh Phúc")], Business(), sample_pdf, tmp_path), [H62],
          tmp_path)
    item = eventually(stack_handle, lambda: _inbox_item(client, clerk, notation), what="document filed")
    assert item["revoked"] is False

    reason = "Văn bản gửi nhầm nơi nhận."
    revocation = _g22_package(dataclass_replace(header, response_for=[_about(header)]), [Organ(H62, "UBND")],
                              Business(doc_type=1, reason=reason, document_id=header.document_id), None, tmp_path)
    _send(g22, revocation, [H62], tmp_path)

    def revoked() -> dict[str, Any]:
        detail = _inbox_item(client, clerk, notation)
        assert detail["revoked"] is True
        assert _statuses(g22, header.document_id)[(H62, "15")] == 1
        assert detail["status_history"][-1]["axis_doc_id"], "the 15 is recorded as sent"
        return detail

    detail = eventually(stack_handle, revoked, what="revoked in the inbox, 15 sent back")
    assert detail["revocation"]["reason"] == reason
    assert detail["status_history"][-1]["code"] == "15"
    listed = [i for i in client.call("GET", "/v1/inbox", clerk, params={"limit": "200"})["items"]
              if i["inbox_id"] == detail["inbox_id"]]
    assert listed[0]["revoked"] is True
    with pytest.raises(ApiError) as info:
        client.call("POST", f"/v1/inbox/{detail['inbox_id']}/status", clerk, json={"code": "03"})
    assert info.value.status == 409 and info.value.code == "inbox_item_revoked"

    # A revocation that arrives before its document waits on the axis, then applies once the document is filed.
    early = f"VPCP-TS{uuid.uuid4().hex[:6].upper()}"
    early_header = _g22_header(early)
    _send(g22, _g22_package(dataclass_replace(early_header, response_for=[_about(early_header)]),
                            [Organ(H62, "UBND")], Business(doc_type=1, reason=reason,
                                                           document_id=early_header.document_id), None, tmp_path),
          [H62], tmp_path)
    stack_handle.run_schedules()
    time.sleep(2.0)
    _send(g22, _g22_package(early_header, [Organ(H62, "UBND")], Business(), sample_pdf, tmp_path), [H62], tmp_path)
    later = eventually(stack_handle, lambda: _inbox_item(client, clerk, early)["revoked"] and
                        _inbox_item(client, clerk, early), what="a revocation that came first")
    assert later["revocation"]["reason"] == reason

    # A sender's status 13 ("asks to take the document back") revokes it as well.
    asked = f"VPCP-LL{uuid.uuid4().hex[:6].upper()}"
    asked_header = _g22_header(asked)
    _send(g22, _g22_package(asked_header, [Organ(H62, "UBND")], Business(), sample_pdf, tmp_path), [H62], tmp_path)
    eventually(stack_handle, lambda: _inbox_item(client, clerk, asked), what="document filed")
    _send(g22, _status(VPCP, _about(asked_header), "13", "Đề nghị trả lại văn bản."), [H62], tmp_path, "status")
    taken_back = eventually(stack_handle, lambda: _inbox_item(client, clerk, asked)["revoked"] and
                             _inbox_item(client, clerk, asked), what="revoked by a status 13")
    assert taken_back["revocation"] == {**taken_back["revocation"], "reason": "Đề nghị trả lại văn bản.",
                                        "source": "status_13"}


# -- (3) updates of recipients, both ways ------------------------------------------------------------------------------


def test_our_update_of_recipients_reaches_old_and_new_recipients(client, stack_handle, sample_pdf, tmp_path):
    token = client.login(client.user_for(H62))
    metadata = _metadata("AMD-UPDATE", [G22, K62])
    doc_id = _dispatch(client, token, metadata, sample_pdf)["document_id"]
    header_id = _header_id(metadata)
    reason = "Bổ sung UBND tỉnh Quảng Ninh, HĐND tỉnh không cần nhận."

    for body, code in (({"recipients_added": [G22], "reason": reason}, "invalid_recipient_change"),
                       ({"recipients_added": ["000.00.77.H62"], "reason": reason}, "unknown_recipient"),
                       ({"recipients_removed": [H49], "reason": reason}, "invalid_recipient_change")):
        with pytest.raises(ApiError) as info:
            client.call("POST", f"/v1/documents/{doc_id}/update", token, json=body)
        assert info.value.code == code

    answer = client.call("POST", f"/v1/documents/{doc_id}/update", token,
                         json={"recipients_added": [H49], "recipients_removed": [K62], "reason": reason})
    assert answer["state"] == "DISPATCHED" and answer["metadata"]["recipients"] == [G22, H49]
    assert answer["amendment"]["kind"] == "update" and answer["amendment"]["document_to"] == [H49]

    g22, k62, h49 = client.axis_system(G22), client.axis_system(K62), client.axis_system(H49)

    def received() -> tuple[Any, Any, Any]:
        g, k, q = _packages(g22, header_id, 2), _packages(k62, header_id, 2), _packages(h49, header_id, 0)
        assert len(g) == 1 and len(k) == 1 and len(q) == 1
        return g[0][1], k[0][1], q[0][1]

    to_g22, to_k62, to_h49 = eventually(stack_handle, received, what="update packages and the new recipient's copy")
    for package in (to_g22, to_k62):
        assert package.business_document_id == header_id and package.business_reason == reason
        info = package.document_info
        assert (info.document_info, info.document_receiver) == (0, 1)
        assert [(r.organ_id, r.receiver_type) for r in info.receivers] == [(G22, 0), (H49, 1), (K62, 2)]
    assert (to_g22.paper, to_k62.paper, to_h49.paper) == (0, 1, 0)
    assert [r.organ_id for r in to_h49.recipients] == [G22, H49] and len(to_h49.attachments) == 1
    assert Path(to_h49.attachments[0].path).read_bytes() == client.download_signed(token, doc_id)

    _send(g22, _status(VPCP, _ref(metadata), "15"), [H62], tmp_path, "status")
    _send(h49, _status(QUANG_NINH, _ref(metadata), "01"), [H62], tmp_path, "status")

    def answered() -> dict[str, dict]:
        found = _deliveries(client, token, doc_id)
        assert found[G22]["update"]["status"] == "AGREED" and found[H49]["status"] == "ARRIVED"
        return found

    found = eventually(stack_handle, answered, what="the update agreed, the new recipient's 01")
    assert found[K62]["removed"] is True and found[K62]["update"]["change"] == "removed"
    assert found[K62]["update"]["status"] == "REQUESTED"
    assert found[H49]["added_by_amendment"] == answer["amendment"]["amendment_id"]
    assert found[G22]["update"]["change"] == "kept" and "removed" not in found[G22]
    doc = client.get_document(token, doc_id)
    assert doc["metadata"]["recipients"] == [G22, H49]
    assert doc["amendments"][0]["status"] == "SENT"
    assert doc["amendments"][0]["sent"][H49]["package"] == "document"


def test_an_update_from_the_sender_changes_the_recipients_on_our_inbox_items(client, stack_handle, sample_pdf,
                                                                             tmp_path):
    g22 = client.axis_system(G22)
    notation = f"VPCP-CN{uuid.uuid4().hex[:6].upper()}"
    header = _g22_header(notation)
    to = [Organ(H62, "UBND tỉnh Vĩnh Phúc"), Organ(H03, "UBND tỉnh Bắc Giang")]
    _send(g22, _g22_package(header, to, Business(), sample_pdf, tmp_path), [H62, H03], tmp_path)
    vinh_phuc, bac_giang = client.login(client.user_for(H62)), client.login(client.user_for(H03))
    eventually(stack_handle, lambda: _inbox_item(client, vinh_phuc, notation) and
                _inbox_item(client, bac_giang, notation), what="filed in both inboxes")

    reason = "Văn bản không gửi UBND tỉnh Bắc Giang; bổ sung UBND tỉnh Quảng Ninh."
    info = DocumentInfoUpdate(0, 1, [Receiver(H62, 0), Receiver(H49, 1), Receiver(H03, 2)])
    update = _g22_package(dataclass_replace(header, response_for=[_about(header)]), to,
                          Business(doc_type=2, reason=reason, document_id=header.document_id, document_info=info),
                          None, tmp_path)
    _send(g22, update, [H62, H03], tmp_path)

    def updated() -> tuple[dict, dict]:
        ours, theirs = _inbox_item(client, vinh_phuc, notation), _inbox_item(client, bac_giang, notation)
        assert ours.get("updates") and theirs.get("removed_as_recipient") is True
        assert _statuses(g22, header.document_id)[(H62, "15")] == 1
        assert _statuses(g22, header.document_id)[(H03, "15")] == 1
        return ours, theirs

    ours, theirs = eventually(stack_handle, updated, what="updates recorded, 15s sent")
    (change,) = ours["updates"]
    assert change["reason"] == reason and change["added"] == [H49] and change["removed"] == [H03]
    assert ours["recipients"] == [H62, H49] and "removed_as_recipient" not in ours
    assert theirs["revoked"] is False and theirs["status_history"][-1]["code"] == "15"


# -- (4) replacements, both ways ---------------------------------------------------------------------------------------


def test_a_document_replacing_ours_is_sent_as_type_3_and_the_old_record_notes_it(client, stack_handle, sample_pdf,
                                                                                 tmp_path):
    token = client.login(client.user_for(H62))
    old_md = _metadata("AMD-OLD", [G22])
    old_id = _dispatch(client, token, old_md, sample_pdf)["document_id"]

    new_md = {**_metadata("AMD-NEW", [G22, K62]), "replaces": old_id}
    old_number = client.get_document(token, old_id)["metadata"]["number"]  # issued at signing (issue 12)
    same = {**new_md, "notation": old_md["notation"], "number": old_number}
    for body, status, code in ((same, 400, "replacement_same_document_id"),
                               ({**new_md, "replaces": str(uuid.uuid4())}, 404, "replaced_document_not_found")):
        with pytest.raises(ApiError) as info:
            client.create_document(token, body)
        assert (info.value.status, info.value.code) == (status, code)
    other = client.login(client.user_for(H03))
    with pytest.raises(ApiError) as info:
        client.create_document(other, {**new_md, "place": "Bắc Giang"})
    assert info.value.status == 404, "another agency's document cannot be replaced (nor probed)"

    new = _dispatch(client, token, new_md, sample_pdf)
    assert new["replaces"]["document_id"] == old_id and new["metadata"]["replaces"] == old_id
    old = client.get_document(token, old_id)
    assert old["replaced_by"] == new["document_id"] and old["state"] == "DISPATCHED"
    with pytest.raises(ApiError) as info:
        client.create_document(token, {**_metadata("AMD-NEW2", [G22]), "replaces": old_id})
    assert info.value.status == 409 and info.value.code == "already_replaced"

    g22, k62 = client.axis_system(G22), client.axis_system(K62)
    for axis, paper in ((g22, 0), (k62, 1)):
        (entry, package), = _packages(axis, _header_id(new_md), 3)
        assert package.paper == paper and len(package.attachments) == 1
        assert [(r.document_id, r.organ_ids) for r in package.replacements] == [(_header_id(old_md), [G22])]


def test_a_replacement_from_the_sender_links_the_two_inbox_items(client, stack_handle, sample_pdf, tmp_path):
    g22 = client.axis_system(G22)
    clerk = client.login(client.user_for(H62))
    old_notation, new_notation = (f"VPCP-{kind}{uuid.uuid4().hex[:6].upper()}" for kind in ("CU", "MOI"))
    old_header, new_header = _g22_header(old_notation), _g22_header(new_notation)
    _send(g22, _g22_package(old_header, [Organ(H62, "UBND")], Business(), sample_pdf, tmp_path), [H62], tmp_path)
    old = eventually(stack_handle, lambda: _inbox_item(client, clerk, old_notation), what="old document filed")

    replacing = Business(doc_type=3, reason="Thay thế do sai số liệu",
                         replacements=[ReplacementInfo(old_header.document_id, [H62])])
    _send(g22, _g22_package(new_header, [Organ(H62, "UBND")], replacing, sample_pdf, tmp_path), [H62], tmp_path)

    def linked() -> tuple[dict, dict]:
        new, old_now = _inbox_item(client, clerk, new_notation), _inbox_item(client, clerk, old_notation)
        assert old_now.get("replaced_by") == new["inbox_id"]
        return new, old_now

    new, old_now = eventually(stack_handle, linked, what="replacement filed and linked")
    assert new["replaces"] == [{"edxml_document_id": old_header.document_id, "inbox_id": old["inbox_id"]}]
    assert new["business_doc_type"] == 3 and new["status"] == "ARRIVED" and len(new["attachments"]) == 1
    assert old_now["revoked"] is False
    assert _statuses(g22, new_header.document_id)[(H62, "01")] == 1


# -- (6) an amendment the axis refuses ends FAILED in the DLQ; a redrive sends it once ---------------------------------


def test_a_refused_revocation_is_dead_lettered_and_a_redrive_sends_it_once(client, stack, stack_handle, sample_pdf):
    import requests

    bac_giang = SAMPLES[2]  # UBND tỉnh Bắc Giang's chỉ thị, to G22 and H49: a sender no other test here uses
    token = client.login(client.user_for(bac_giang.uploader))
    metadata = json.loads(json.dumps(bac_giang.metadata))
    metadata["notation"] = f"{metadata['notation']}-AMD-DLQ{uuid.uuid4().hex[:4].upper()}"
    doc_id = _dispatch(client, token, metadata, sample_pdf)["document_id"]
    number = client.get_document(token, doc_id)["metadata"]["number"]  # issued at signing (issue 12)
    header_id = f"{bac_giang.uploader},2014/01/01,{number}/{metadata['notation']}"
    requests.post(stack["axis"]["url"] + "/_sim/faults", timeout=10, json={
        "kind": "business_error", "count": 1, "paths": ["/sendEdoc"], "systems": [bac_giang.uploader],
        "error_code": "1003", "error_desc": "Đơn vị nhận không hợp lệ."}).raise_for_status()

    client.call("POST", f"/v1/documents/{doc_id}/revoke", token, json={"reason": "Ban hành nhầm."})

    def failed() -> dict:
        (amendment,) = client.get_document(token, doc_id)["amendments"]
        assert amendment["status"] == "FAILED"
        return amendment

    amendment = eventually(stack_handle, failed, what="the refused revocation FAILED")
    assert amendment["reason_code"] == "axis_rejected" and amendment["axis_error_code"] == "1003"
    admin = client.login(client.user_for("000.00.01.H62", admin=True))
    letters = client.call("GET", "/v1/admin/dead-letters", admin, params={"queue": "dispatch"})["items"]
    assert any(i["document_id"] == doc_id and i.get("message_amendment_id") == amendment["amendment_id"]
               for i in letters)

    client.call("POST", "/v1/admin/dead-letters/redrive", admin, json={"queue": "dispatch", "document_ids": [doc_id]})

    def sent() -> dict:
        doc = client.get_document(token, doc_id)
        assert doc["amendments"][0]["status"] == "SENT"
        return doc

    doc = eventually(stack_handle, sent, what="the redriven revocation sent")
    assert doc["state"] == "REVOKED" and set(doc["amendments"][0]["sent"]) == {G22, H49}
    for system in (G22, H49):
        assert len(_packages(client.axis_system(system), header_id, 1)) == 1, system
