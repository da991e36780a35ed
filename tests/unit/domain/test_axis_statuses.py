"""Status codes (QCVN 102 `StatusCode`) and the decisions made on them: names and meanings, forward-only deliveries
whatever order or how many times reports arrive, what a clerk may report next, and the clerk's request body."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.core.errors import ValidationFailed
from chalicelib.domain import axis_statuses as s

PROGRESSION = ["01", "03", "04", "05", "06"]


@pytest.mark.parametrize(("code", "name", "meaning"), [
    ("01", "ARRIVED", "Đã đến"), ("02", "REJECTED", "Từ chối tiếp nhận"), ("03", "ACCEPTED", "Đã tiếp nhận"),
    ("04", "ASSIGNED", "Phân công"), ("05", "PROCESSING", "Đang xử lý"), ("06", "COMPLETED", "Hoàn thành"),
    ("15", "UPDATE_AGREED", "Đồng ý cập nhật/lấy lại"),
])
def test_known_codes_have_a_name_and_a_vietnamese_meaning(code, name, meaning):
    assert s.status_name(code) == name
    assert s.status_meaning(code) == meaning


def test_unknown_codes_are_kept_not_refused():
    assert s.status_name("99") == "STATUS_99"
    assert s.status_meaning("99") is None
    assert s.normalize_code(" 07 ") == "07"
    assert s.normalize_code("") == "invalid" and s.normalize_code("0<1") == "invalid" and s.normalize_code(None) \
        == "invalid"


def test_delivery_moves_forward_only():
    assert s.advances(None, "01") and s.advances("01", "03") and s.advances("03", "06")
    assert not s.advances("05", "03"), "a late 03 must not undo 05"
    assert not s.advances("06", "06")
    assert s.advances("03", "02") and not s.advances("02", "03"), "02 ends the handling"
    for other in ("13", "15", "16", "99", "invalid"):
        assert not s.advances("01", other) and not s.advances(None, other)


def test_delivery_update_keeps_everything_in_history_but_moves_status_only_forward():
    row = {"status": "PROCESSING", "status_code": "05"}
    late = s.delivery_update(row, code="03", description="", reported_at=None, at="T1", axis_doc_id="a" * 24)
    assert not late.moves_status and late.fields == {}
    assert late.entry == {"status": "ACCEPTED", "code": "03", "meaning": "Đã tiếp nhận", "at": "T1",
                          "axis_doc_id": "a" * 24}

    rejected = s.delivery_update({"status_code": "01"}, code="02", description="  Không đúng thẩm quyền  ",
                                 reported_at="2026-11-25T10:00:00+07:00", at="T2", axis_doc_id="b" * 24)
    assert rejected.moves_status
    assert rejected.fields == {"status": "REJECTED", "status_code": "02", "status_meaning": "Từ chối tiếp nhận",
                               "status_at": "T2", "reason": "Không đúng thẩm quyền"}
    assert rejected.entry["reason"] == "Không đúng thẩm quyền"
    assert rejected.entry["reported_at"] == "2026-11-25T10:00:00+07:00"

    # A description on a progress code is the sender's free text, not a reason; on an unknown code it is all we have.
    assert "reason" not in s.delivery_update({}, code="03", description="ok", reported_at=None, at="T",
                                             axis_doc_id="c").entry
    assert s.delivery_update({}, code="99", description="x" * 5000, reported_at=None, at="T",
                             axis_doc_id="c").entry["reason"] == "x" * s.MAX_REASON_CHARS


def test_a_report_is_applied_once_by_envelope_and_by_package_hash():
    row = {"applied_envelopes": {"env1", "sha256:abc"}}
    assert s.already_applied(row, "env1", "zzz")
    assert s.already_applied(row, "env2", "abc"), "the same package in a second envelope"
    assert not s.already_applied(row, "env2", "def")
    assert not s.already_applied({}, "env1", "abc")


@given(st.lists(st.sampled_from(PROGRESSION + ["02", "13", "15", "99"]), max_size=30))
def test_any_order_and_any_duplicates_end_at_the_furthest_report(reports):
    """Property: applying reports in any order, each possibly twice, leaves the delivery at the most advanced
    progression code reported (02 and 06 both end it), and every distinct envelope in its history."""
    row: dict = {"history": [], "applied_envelopes": set()}
    for i, code in enumerate(reports):
        for envelope in (f"env{i}", f"env{i}"):  # each envelope delivered twice
            if s.already_applied(row, envelope, f"hash{i}"):
                continue
            update = s.delivery_update(row, code=code, description="lý do", reported_at=None, at=str(i),
                                       axis_doc_id=envelope)
            row["history"].append(update.entry)
            row.update(update.fields)
            row["applied_envelopes"] |= {envelope, f"sha256:hash{i}"}
    assert len(row["history"]) == len(reports)
    rank = {"01": 1, "03": 2, "04": 3, "05": 4, "06": 5, "02": 5}
    ranked = [rank[c] for c in reports if c in rank]
    if not ranked:
        assert "status_code" not in row
    else:
        assert rank[row["status_code"]] == max(ranked)


def test_clerk_transitions():
    assert s.clerk_status_allowed("01", "03") and s.clerk_status_allowed("01", "02")
    assert s.clerk_status_allowed("03", "04") and s.clerk_status_allowed("04", "06")
    assert not s.clerk_status_allowed("03", "02"), "refusing comes before registering"
    assert not s.clerk_status_allowed("03", "03") and not s.clerk_status_allowed("06", "05")
    assert not s.clerk_status_allowed("02", "03")
    assert not s.clerk_status_allowed("01", "01") and not s.clerk_status_allowed("01", "13")


def test_clerk_report_body():
    assert s.validate_clerk_report({"code": "03"}) == ("03", "")
    assert s.validate_clerk_report({"code": "02", "reason": "  Sai nơi nhận "}) == ("02", "Sai nơi nhận")
    for body, code in (({"code": "02"}, "reason_required"), ({"code": "02", "reason": "   "}, "reason_required"),
                       ({"code": "01"}, "invalid_status_code"), ({"code": "3"}, "invalid_status_code"),
                       ({}, "invalid_status_code"), ({"code": "03", "reason": 5}, "invalid_reason"),
                       (["03"], "invalid_request")):
        with pytest.raises(ValidationFailed) as info:
            s.validate_clerk_report(body)
        assert info.value.code == code, body
