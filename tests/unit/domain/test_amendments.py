"""Revocation, update of recipients and replacement: the pure decisions on both sides.

The sender's side (chalicelib.outbound.amendments): what an update request may change and who gets which package, the
packages themselves as the other side reads them, and which request a recipient's 15/16 answers. The receiving side
(chalicelib.inbound.amendments): which document a package is about, what a ReceiverList says about us, how long an
amendment waits for its document, and the 15 we answer with.
"""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pytest

from chalicelib.adapters.agency_registry import Agency
from chalicelib.core.errors import ValidationFailed
from chalicelib.domain import axis_statuses as s
from chalicelib.inbound import amendments as ia
from chalicelib.inbound.outbox import status_package_bytes
from chalicelib.outbound import amendments as a
from chalicelib.standards.edxml import (
    DocumentInfoUpdate,
    Receiver,
    ResponseFor,
    parse_package,
)

H62, G22, K62, H49, H03 = "000.00.00.H62", "000.00.00.G22", "000.00.00.K62", "000.00.00.H49", "000.00.00.H03"
DOC = "3f0a4c1e-2b7d-4e55-9a3c-7d1e0b2a6c44"


# -- the sender's side: requests -------------------------------------------------------------------------------------


def test_an_update_keeps_order_adds_last_and_tells_every_earlier_recipient():
    plan = a.plan_update([G22, K62], {"recipients_added": [H49], "recipients_removed": [K62], "reason": " sai "},
                         sender=H62, delivered={G22, K62})
    assert plan.reason == "sai"
    assert plan.recipients == [G22, H49]
    assert plan.targets == [G22, K62], "the update package goes to the recipients before the change"
    assert plan.document_to == [H49], "a new recipient gets the document itself"


def test_re_adding_a_recipient_that_holds_the_document_sends_it_the_update_not_a_second_copy():
    plan = a.plan_update([G22], {"recipients_added": [K62], "reason": "bổ sung lại"}, sender=H62,
                         delivered={G22, K62})
    assert plan.document_to == [] and plan.targets == [G22, K62] and plan.recipients == [G22, K62]


@pytest.mark.parametrize(("body", "code"), [
    ({"recipients_added": [H49]}, "reason_required"),
    ({"recipients_added": [H49], "reason": "   "}, "reason_required"),
    ({"reason": "x"}, "no_recipient_change"),
    ({"recipients_added": [], "recipients_removed": [], "reason": "x"}, "no_recipient_change"),
    ({"recipients_added": [G22], "reason": "x"}, "invalid_recipient_change"),
    ({"recipients_removed": [H49], "reason": "x"}, "invalid_recipient_change"),
    ({"recipients_added": [H62], "reason": "x"}, "invalid_recipient_change"),
    ({"recipients_removed": [G22, K62], "reason": "x"}, "no_recipient_left"),
    ({"recipients_added": ["not-a-code"], "reason": "x"}, "invalid_recipients"),
    ({"recipients_added": [H49, H49], "reason": "x"}, "invalid_recipients"),
    ({"recipients_added": H49, "reason": "x"}, "invalid_recipients"),
    ({"recipients_added": [H03] * 101, "reason": "x"}, "invalid_recipients"),
])
def test_update_requests_that_make_no_sense_are_refused_with_a_stable_code(body, code):
    with pytest.raises(ValidationFailed) as info:
        a.plan_update([G22, K62], body, sender=H62)
    assert info.value.code == code
    assert info.value.message  # Vietnamese, for the clerk


def test_the_reason_is_required_trimmed_and_cut():
    assert a.validate_reason({"reason": "  Sai trích yếu  "}) == "Sai trích yếu"
    assert len(a.validate_reason({"reason": "x" * 5000})) == a.MAX_REASON_CHARS
    for body in ({}, {"reason": 3}, [], None):
        with pytest.raises(ValidationFailed):
            a.validate_reason(body)


def test_a_document_has_one_revocation_whose_id_a_retry_finds_again():
    assert a.revocation_id(DOC) == a.revocation_id(DOC)
    assert a.revocation_id(DOC) != a.revocation_id("5b6c1e0a-2b7d-4e55-9a3c-7d1e0b2a6c44")


def test_amendment_messages_share_the_dispatch_queue_but_are_told_apart():
    import json

    body = json.loads(a.message_body(DOC, "aid"))
    assert a.is_amendment_message(body) and body["document_id"] == DOC
    assert not a.is_amendment_message({"document_id": DOC}), "a plain dispatch message"


def test_update_receiver_list_gives_the_new_list_and_the_change():
    amendment = {"recipients": [G22, H49], "added": [H49], "removed": [K62]}
    assert a.update_receivers(amendment) == [(G22, a.RECEIVER_KEPT), (H49, a.RECEIVER_ADDED),
                                             (K62, a.RECEIVER_REMOVED)]


def test_what_a_delivery_row_shows_until_the_recipient_answers():
    amendment = {"amendment_id": "u1", "kind": a.UPDATE, "created_at": "T0", "reason": "r", "removed": [K62],
                 "added": [H49]}
    assert a.delivery_request(amendment, K62) == {"amendment_id": "u1", "status": "REQUESTED", "requested_at": "T0",
                                                  "reason": "r", "change": "removed"}
    assert a.delivery_request(amendment, G22)["change"] == "kept"
    assert "change" not in a.delivery_request({**amendment, "kind": a.REVOKE}, G22)


def test_a_replacement_is_claimed_once_unless_the_claimant_never_went_out():
    assert a.replacement_claim_stale(None)
    assert a.replacement_claim_stale({"state": "EXPIRED"}) and a.replacement_claim_stale({"state": "REJECTED"})
    for state in ("AWAITING_UPLOAD", "SIGNED", "DISPATCHED", "FAILED"):
        assert not a.replacement_claim_stale({"state": state})


def test_a_replacing_document_is_sent_as_type_3_naming_the_old_one():
    plain = a.new_document_business({"document_id": DOC}, paper=True)
    assert (plain.doc_type, plain.paper, plain.replacements) == (0, 1, [])
    replacing = a.new_document_business({"replaces": {"document_id": DOC, "edxml_document_id": "X,2019/09/20,1/A",
                                                      "recipients": [G22, K62]}}, paper=False)
    assert replacing.doc_type == 3 and replacing.paper == 0
    assert [(r.document_id, r.organ_ids) for r in replacing.replacements] == [("X,2019/09/20,1/A", [G22, K62])]


# -- the sender's side: packages -----------------------------------------------------------------------------------


RECORD = {
    "document_id": DOC, "organ_id": H62, "page_count": 2,
    "metadata": {"number": "7413", "notation": "UBND-VX3", "type": "CV", "subject": "V/v thử", "issued_on":
                 "2019-09-20", "place": "Vĩnh Phúc", "signer": {"full_name": "Trần Thị Minh Lợi", "position": "PCVP",
                                                                "competence": "TL. CHỦ TỊCH"},
                 "recipients": [G22, H49]},
}


def _package(tmp_path: Path, amendment: dict, paper: bool):
    path = str(tmp_path / "p.edxml")
    to = [Agency(c, c) for c in amendment["targets"]]
    a.write_amendment_package(path, RECORD, amendment, Agency(H62, "UBND tỉnh Vĩnh Phúc"), to, paper,
                              a.amendment_trace_time(amendment))
    return Path(path).read_bytes(), parse_package(path)


def test_a_revocation_package_names_the_document_and_carries_the_reason(tmp_path):
    amendment = {"amendment_id": "r1", "kind": a.REVOKE, "reason": "Sai thể thức", "created_at":
                 "2026-11-25T03:00:00.000000Z", "targets": [G22, K62]}
    data, package = _package(tmp_path, amendment, paper=True)
    assert package.business_doc_type == 1 and package.business_reason == "Sai thể thức" and package.paper == 1
    (ref,) = package.response_for
    assert ref.document_id == f"{H62},2019/09/20,7413/UBND-VX3" == package.business_document_id
    assert ref.code == "7413/UBND-VX3" and ref.promulgation_date == date(2019, 9, 20)
    assert [r.organ_id for r in package.recipients] == [G22, K62] and package.attachments == []
    assert data == _package(tmp_path, amendment, paper=True)[0], "rebuilt byte for byte on a retry"
    assert b"<edXML:Bussiness>" in data and b"<edXML:BussinessDocType>1<" in data


def test_an_update_package_carries_the_receiver_list(tmp_path):
    amendment = {"amendment_id": "u1", "kind": a.UPDATE, "reason": "Bổ sung nơi nhận", "created_at":
                 "2026-11-25T03:00:00.000000Z", "targets": [G22, K62], "recipients": [G22, H49], "added": [H49],
                 "removed": [K62]}
    _, package = _package(tmp_path, amendment, paper=False)
    assert package.business_doc_type == 2 and package.paper == 0
    info = package.document_info
    assert (info.document_info, info.document_receiver) == (0, 1)
    assert [(r.organ_id, r.receiver_type) for r in info.receivers] == [(G22, 0), (H49, 1), (K62, 2)]
    assert ia.receiver_change(K62, info)["removed_self"] is True, "our own reader understands it"


# -- the sender's side: answers ------------------------------------------------------------------------------------


def test_a_15_agrees_to_the_open_request_and_a_16_refuses_with_its_reason():
    row = {"status": "ACCEPTED", "status_code": "03",
           "revocation": {"amendment_id": "r1", "status": "REQUESTED", "requested_at": "T5"}}
    agreed = s.delivery_update(row, code="15", description="", reported_at=None, at="T6", axis_doc_id="e1")
    assert not agreed.moves_status, "the handling status stays where it was"
    assert agreed.fields == {"revocation": {"amendment_id": "r1", "status": "AGREED", "requested_at": "T5",
                                            "answer_code": "15", "answered_at": "T6", "answer_axis_doc_id": "e1"}}
    assert agreed.entry["status"] == "UPDATE_AGREED"

    refused = s.delivery_update(row, code="16", description=" Đã phát hành nội bộ ", reported_at=None, at="T7",
                                axis_doc_id="e2")
    assert refused.fields["revocation"]["status"] == "REFUSED"
    assert refused.fields["revocation"]["refusal_reason"] == "Đã phát hành nội bộ"
    assert refused.entry["reason"] == "Đã phát hành nội bộ"


def test_an_answer_goes_to_the_latest_open_request_and_without_one_only_to_history():
    row = {"update": {"amendment_id": "u1", "status": "AGREED", "requested_at": "T1", "answer_code": "15"},
           "revocation": {"amendment_id": "r1", "status": "REQUESTED", "requested_at": "T2"}}
    assert set(s.amendment_answer(row, code="16", reason="", at="T3", axis_doc_id="e")) == {"revocation"}
    both_open = {"update": {"status": "REQUESTED", "requested_at": "T4"},
                 "revocation": {"status": "REQUESTED", "requested_at": "T2"}}
    assert set(s.amendment_answer(both_open, code="15", reason="", at="T5", axis_doc_id="e")) == {"update"}
    changed_mind = s.amendment_answer({"revocation": {"status": "REFUSED", "requested_at": "T1",
                                                      "refusal_reason": "x"}}, code="15", reason="", at="T9",
                                      axis_doc_id="e")
    assert changed_mind["revocation"]["status"] == "AGREED" and "refusal_reason" not in changed_mind["revocation"]
    assert s.amendment_answer({}, code="15", reason="", at="T", axis_doc_id="e") == {}
    assert s.amendment_answer(row, code="03", reason="", at="T", axis_doc_id="e") == {}
    assert s.delivery_update({}, code="15", description="", reported_at=None, at="T", axis_doc_id="e").fields == {}


# -- the receiving side --------------------------------------------------------------------------------------------


class _Pkg:
    def __init__(self, response_for=(), business_document_id="", document_id=""):
        self.response_for = list(response_for)
        self.business_document_id = business_document_id
        self.document_id = document_id


def test_the_document_an_amendment_is_about():
    ref = ResponseFor(G22, "1/A", f"{G22},2026-11-25,1/A", None)
    assert ia.target_document_id(_Pkg([ref], "other", "third")) == f"{G22},2026/11/25,1/A", "canonical form"
    assert ia.target_document_id(_Pkg([], f"{G22},2026/11/25,2/B", "x")) == f"{G22},2026/11/25,2/B"
    assert ia.target_document_id(_Pkg([], " ", f"{G22},2026/11/25,3/C")) == f"{G22},2026/11/25,3/C"
    assert ia.target_document_id(_Pkg()) == ""


def test_what_a_receiver_list_says_about_us():
    info = DocumentInfoUpdate(0, 1, [Receiver(H62, 0), Receiver(H49, 1), Receiver(H03, 2)])
    assert ia.receiver_change(H62, info) == {"recipients": [H62, H49], "added": [H49], "removed": [H03],
                                             "removed_self": False}
    assert ia.receiver_change(H03, info)["removed_self"] is True
    assert ia.receiver_change(K62, info)["removed_self"] is None, "not mentioned: nothing said about us"
    assert ia.receiver_change(H62, None)["recipients"] == []


def test_an_amendment_waits_an_hour_for_its_document():
    assert not ia.waited_long_enough("2026-11-25T03:00:00.000000Z", "2026-11-25T03:59:00.000000Z")
    assert ia.waited_long_enough("2026-11-25T03:00:00.000000Z", "2026-11-25T04:00:00.000000Z")
    assert ia.waited_long_enough("garbage", "2026-11-25T04:00:00.000000Z"), "a bad record never blocks for ever"


def test_the_automatic_15_names_the_document_and_each_amendment_has_its_own_outbox_entry():
    item = {"inbox_id": "i1", "organ_id": H62, "from_organ_id": G22, "number": "123", "notation": "VPCP-TH",
            "edxml_document_id": f"{G22},2026/11/25,123/VPCP-TH", "issued_on": "2026-11-25"}
    first = ia.answer_outbox(item, "2026-11-25T03:00:00.000000Z", "env1", "UBND tỉnh Vĩnh Phúc")
    second = ia.answer_outbox(item, "2026-11-25T03:00:00.000000Z", "env2", "UBND tỉnh Vĩnh Phúc")
    assert first["code"] == "15" and first["to"] == G22 and first["sk"] != second["sk"]
    back = parse_package(io.BytesIO(status_package_bytes(first)))
    assert back.status_code == "15" and back.response_for[0].document_id == item["edxml_document_id"]
    assert ia.answer_entry("T", "revocation") == {"status": "UPDATE_AGREED", "code": "15",
                                                  "meaning": "Đồng ý cập nhật/lấy lại", "at": "T", "by": "system",
                                                  "answers": "revocation"}
