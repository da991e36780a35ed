"""The inbox use cases (chalicelib.inbound.inbox) through in-memory ports: what an agency sees of its inbound
documents, the tenant rules (another agency's item is a 404), and the clerk's report recorded with its status
package, sent at once or left in the outbox for poll_axis when the axis does not take it."""

from __future__ import annotations

import io
import uuid

import pytest

from chalicelib.adapters.axis.errors import AxisBusinessError, AxisTransientError
from chalicelib.api.auth import Caller
from chalicelib.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from chalicelib.core.settings import DOWNLOAD_URL_TTL_SECONDS
from chalicelib.inbound import inbox
from chalicelib.inbound.outbox import status_package_bytes
from chalicelib.standards.edxml import parse_package
from tests.fakes.inbound import FakeAgency, FakeAxis, FakeLinks, MemoryAgencies, MemoryInboxStore

H62, G22, H03 = "000.00.00.H62", "000.00.00.G22", "000.00.00.H03"
CLERK = Caller(username="clerk", organ_id=H62, is_admin=False)
OTHER_CLERK = Caller(username="other", organ_id=H03, is_admin=False)
ADMIN = Caller(username="admin", organ_id=H03, is_admin=True)


def _item(n: int = 0, *, organ_id: str = H62, **extra: object) -> dict:
    inbox_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{organ_id}/{n}"))
    return {"inbox_id": inbox_id, "organ_id": organ_id, "from_organ_id": G22, "from_name": "Bộ Nội vụ",
            "edxml_document_id": f"{G22},2026/11/25,{n}/BNV", "number": str(n), "notation": "BNV",
            "subject": f"Văn bản {n}", "type_name": "Công văn", "issued_on": "2026-11-25", "place": "Hà Nội",
            "signer": {"full_name": "A", "position": "B", "competence": ""}, "priority": 0, "due_date": None,
            "steering_type": None, "paper": 0, "to_places": [], "received_at": f"2026-11-25T08:00:0{n}+07:00",
            "updated_at": f"2026-11-25T08:00:0{n}+07:00", "status": "ARRIVED", "status_code": "01",
            "status_history": [{"status": "ARRIVED", "code": "01", "meaning": "Đã đến", "at": "T", "by": "system"}],
            "sent_statuses": {"01": {"axis_doc_id": "a" * 24, "sent_at": "T"}}, "revoked": False,
            "verification_summary": "valid", "warnings": [],
            "attachments": [{"name": "công văn.pdf", "content_type": "application/pdf", "size": 10, "sha256": "s",
                             "key": f"inbound/{organ_id}/{inbox_id}/00-cong_van.pdf", "is_pdf": True,
                             "verification": {"signatures": []}}],
            **extra}


@pytest.fixture
def store() -> MemoryInboxStore:
    return MemoryInboxStore()


@pytest.fixture
def axis() -> FakeAxis:
    return FakeAxis()


@pytest.fixture
def ports(store: MemoryInboxStore, axis: FakeAxis) -> inbox.InboxPorts:
    return inbox.InboxPorts(store=store, agencies=MemoryAgencies(FakeAgency(H62, "UBND tỉnh Hà Giang")),
                            links=FakeLinks(), axis=axis.client)


# -- list ------------------------------------------------------------------------------------------------------


def test_the_inbox_lists_only_the_callers_agency_newest_first_in_pages(store, ports):
    for n in range(3):
        store.add_item(_item(n))
    store.add_item(_item(9, organ_id=H03))
    first = inbox.list_items(CLERK, limit="2", cursor=None, ports=ports)
    assert [i["subject"] for i in first["items"]] == ["Văn bản 2", "Văn bản 1"] and first["next"]
    rest = inbox.list_items(CLERK, limit="2", cursor=first["next"], ports=ports)
    assert [i["subject"] for i in rest["items"]] == ["Văn bản 0"] and "next" not in rest
    assert set(first["items"][0]) == {"inbox_id", "from_organ_id", "from_name", "number", "notation", "subject",
                                      "type_name", "issued_on", "received_at", "status", "status_code", "revoked",
                                      "verification_summary", "priority", "arrival_number", "arrival_year"}, \
        "the list shape carries no detail"
    with pytest.raises(ValidationFailed) as exc:
        inbox.list_items(OTHER_CLERK, limit="2", cursor=first["next"], ports=ports)
    assert exc.value.code == "invalid_cursor", "a cursor stays in its agency's list"


def test_a_limit_that_is_no_number_is_the_clients_error(ports):
    with pytest.raises(ValidationFailed) as exc:
        inbox.list_items(CLERK, limit="many", cursor=None, ports=ports)
    assert exc.value.code == "invalid_limit"


# -- get -------------------------------------------------------------------------------------------------------


def test_one_item_shows_its_attachments_with_a_short_lived_link_and_which_reports_reached_the_axis(store, ports):
    item = store.add_item(_item(1, status_code="03", status="ACCEPTED", status_history=[
        {"status": "ARRIVED", "code": "01", "meaning": "Đã đến", "at": "T1", "by": "system"},
        {"status": "ACCEPTED", "code": "03", "meaning": "Đã tiếp nhận", "at": "T2", "by": "clerk"}]))
    body = inbox.get_item(CLERK, item["inbox_id"], ports=ports)
    att = body["attachments"][0]
    assert att["download"]["url"].startswith(f"https://files.example/{item['attachments'][0]['key']}")
    assert att["download"]["expires_at"] and att["verification"] == {"signatures": []}
    asked = ports.links.asked[0]
    assert asked["content_type"] == "application/pdf" and asked["expires_in"] == DOWNLOAD_URL_TTL_SECONDS
    assert asked["disposition"] == "attachment; filename*=UTF-8''c%C3%B4ng%20v%C4%83n.pdf"
    history = body["status_history"]
    assert history[0]["axis_doc_id"] == "a" * 24 and history[1] == {**item["status_history"][1], "pending": True}


def test_another_agencys_item_or_a_malformed_id_is_not_found_but_an_admin_may_read_it(store, ports):
    item = store.add_item(_item(1))
    for caller, inbox_id in ((OTHER_CLERK, item["inbox_id"]), (CLERK, "not-a-uuid"), (CLERK, str(uuid.uuid4()))):
        with pytest.raises(NotFound) as exc:
            inbox.get_item(caller, inbox_id, ports=ports)
        assert exc.value.code == "inbox_item_not_found"
    assert inbox.get_item(ADMIN, item["inbox_id"], ports=ports)["inbox_id"] == item["inbox_id"]
    assert inbox.get_own_item(ADMIN, item["inbox_id"], ports=ports)["organ_id"] == H62


# -- report_status ---------------------------------------------------------------------------------------------


def test_the_clerks_report_is_recorded_and_sent_to_the_sender_at_once(store, axis, ports):
    item = store.add_item(_item(1))
    body = inbox.report_status(CLERK, item["inbox_id"], {"code": "03"}, ports=ports)
    assert body["status_code"] == "03" and body["status"] == "ACCEPTED"
    entry = body["status_history"][-1]
    assert entry["code"] == "03" and entry["by"] == "clerk" and entry["axis_doc_id"] == f"{1:024x}"
    assert axis.clients_for == [H62], "spoken as the recipient agency"
    (sent,) = axis.sent
    assert sent["to"] == [G22] and sent["messagetype"] == "status"
    status = parse_package(io.BytesIO(sent["package"]))
    assert status.status_code == "03" and status.sender.name == "UBND tỉnh Hà Giang"
    assert status.response_for[0].document_id == item["edxml_document_id"]
    assert store.outbox == {}, "sent: nothing waits in the outbox"


def test_a_refusal_carries_its_reason_in_the_package(store, axis, ports):
    item = store.add_item(_item(1))
    inbox.report_status(CLERK, item["inbox_id"], {"code": "02", "reason": "  Sai thẩm quyền  "}, ports=ports)
    assert parse_package(io.BytesIO(axis.sent[0]["package"])).status_description == "Sai thẩm quyền"


@pytest.mark.parametrize("error", [AxisTransientError("axis down"), PermissionError("no axis credentials"),
                                   OSError("network")])
def test_when_the_axis_does_not_take_the_report_it_waits_in_the_outbox_for_poll_axis(store, axis, ports, error):
    item = store.add_item(_item(1))
    axis.error = error
    body = inbox.report_status(CLERK, item["inbox_id"], {"code": "05"}, ports=ports)
    assert body["status_code"] == "05" and body["status_history"][-1]["pending"] is True
    (waiting,) = store.pending_outbox(H62)
    assert waiting["code"] == "05" and "lease_until" not in waiting, "released for the next poll"
    assert parse_package(io.BytesIO(status_package_bytes(waiting))).status_code == "05"


def test_a_report_the_axis_refuses_for_good_is_listed_for_an_administrator(store, axis, ports):
    item = store.add_item(_item(1))
    axis.error = AxisBusinessError("AXIS_REFUSED", "recipient unknown")
    inbox.report_status(CLERK, item["inbox_id"], {"code": "04"}, ports=ports)
    issues = inbox.list_issues(ADMIN, limit=None, cursor=None, ports=ports)["items"]
    assert [(i["code"], i["last_error"], i["outcome"]) for i in issues] == [("04", "AXIS_REFUSED",
                                                                            "status_send_refused")]
    with pytest.raises(Forbidden) as exc:
        inbox.list_issues(CLERK, limit=None, cursor=None, ports=ports)
    assert exc.value.code == "admin_only"


def test_only_the_recipient_agency_reports_and_never_on_a_revoked_item(store, axis, ports):
    item = store.add_item(_item(1))
    revoked = store.add_item(_item(2, revoked=True))
    with pytest.raises(NotFound):
        inbox.report_status(ADMIN, item["inbox_id"], {"code": "03"}, ports=ports)
    with pytest.raises(Conflict) as exc:
        inbox.report_status(CLERK, revoked["inbox_id"], {"code": "03"}, ports=ports)
    assert exc.value.code == "inbox_item_revoked"
    assert axis.sent == [] and store.outbox == {}


def test_a_report_the_status_table_does_not_allow_or_decided_on_a_stale_status_is_a_conflict(store, axis, ports):
    item = store.add_item(_item(1, status_code="06", status="COMPLETED"))
    with pytest.raises(Conflict) as exc:
        inbox.report_status(CLERK, item["inbox_id"], {"code": "03"}, ports=ports)
    assert exc.value.code == "status_not_allowed" and exc.value.details == {"current": "06", "requested": "03"}
    fresh = store.add_item(_item(3))
    store.fail_next_clerk_status = True  # another clerk's report landed between the read and the write
    with pytest.raises(Conflict) as exc:
        inbox.report_status(CLERK, fresh["inbox_id"], {"code": "03"}, ports=ports)
    assert exc.value.code == "status_changed" and axis.sent == []


def test_a_report_without_a_valid_code_is_refused_before_anything_is_written(store, ports):
    item = store.add_item(_item(1))
    with pytest.raises(ValidationFailed) as exc:
        inbox.report_status(CLERK, item["inbox_id"], {"code": "01"}, ports=ports)
    assert exc.value.code == "invalid_status_code" and store.outbox == {}


@pytest.mark.parametrize("reason", ["lý do có \x01 ký tự điều khiển", "ngắt\x0btrang"])
def test_a_report_whose_package_cannot_be_built_is_refused_before_anything_is_written(store, axis, ports, reason):
    item = store.add_item(_item(1))
    with pytest.raises(ValidationFailed) as exc:
        inbox.report_status(CLERK, item["inbox_id"], {"code": "02", "reason": reason}, ports=ports)
    # The API's client-text rule (chalicelib.domain.text) refuses it first; the package check stays behind it.
    assert exc.value.status == 400 and exc.value.code in ("invalid_text", "status_package_invalid")
    assert store.outbox == {} and axis.sent == [] and store.items[item["inbox_id"]]["status_code"] == "01"


def test_the_detail_says_why_an_item_is_not_valid_and_links_a_report_kept_in_s3(store, ports):
    report_key = f"inbound/{H62}/x/00-cong_van.pdf.verification.json"
    item = store.add_item(_item(1, verification_summary="untrusted", verification_reasons=["untrusted"],
                                attachments=[{"name": "a.pdf", "key": f"inbound/{H62}/x/00-a.pdf", "is_pdf": True,
                                              "verification": {"signatures": [], "stored_in": "s3",
                                                               "report_key": report_key, "signatures_total": 900},
                                              "verification_summary": "untrusted",
                                              "verification_reasons": ["untrusted"]}]))
    detail = inbox.get_item(CLERK, item["inbox_id"], ports=ports)
    assert detail["verification_summary"] == "untrusted" and detail["verification_reasons"] == ["untrusted"]
    (att,) = detail["attachments"]
    assert att["verification_summary"] == "untrusted" and att["verification_reasons"] == ["untrusted"]
    assert report_key in att["verification_report"]["url"]
