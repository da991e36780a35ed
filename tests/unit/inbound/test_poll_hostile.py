"""poll_axis against a hostile axis (issue 8), with in-memory fakes (tests/fakes/inbound.py): forged senders refused
and listed, statuses and revocations only from who may send them, poison envelopes acknowledged `fail` once and
listed after a bounded number of attempts, one agency's failure never stopping the others, status packages that
cannot be built never blocking the outbox, and records that always fit DynamoDB."""

from __future__ import annotations

import io
import json
import uuid
from collections import Counter
from dataclasses import replace as dataclass_replace
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from chalicelib.domain.inbound_rules import ITEM_BYTES_BUDGET, MAX_ATTEMPTS, record_bytes
from chalicelib.inbound import poll as poll_module
from chalicelib.inbound.outbox import outbox_item, send_pending_statuses
from chalicelib.standards.edxml import AttachmentSource, Business, Organ, ResponseFor, parse_package
from tests.fakes.inbound import FakeAxisSystem, FakeObjects, MemoryInboundStore
from tests.support.organs import G22, H03, H62, K62
from tests.support.packages import about, status_package, vpcp_header, vpcp_package, write_package

VPCP = Organ(G22, "Văn phòng Chính phủ")
HDND = Organ(K62, "HĐND tỉnh Vĩnh Phúc")
UBND_VP = Organ(H62, "UBND tỉnh Vĩnh Phúc")
AGENCY = SimpleNamespace(organ_id=H62, name="UBND tỉnh Vĩnh Phúc", served=True, active=True)


@pytest.fixture
def store() -> MemoryInboundStore:
    return MemoryInboundStore()


@pytest.fixture
def axis() -> FakeAxisSystem:
    return FakeAxisSystem()


@pytest.fixture
def files() -> FakeObjects:
    return FakeObjects()


@pytest.fixture
def pdf(tmp_path: Path) -> Path:
    path = tmp_path / "plain.pdf"
    path.write_bytes(b"%PDF-1.4\n1 0 obj<<>>endobj\n%%EOF\n")
    return path


def _poll(store: MemoryInboundStore, axis: FakeAxisSystem, files: FakeObjects) -> Counter[str]:
    counts: Counter[str] = Counter()
    poll_module._Poll(H62, AGENCY, counts, lambda: False, client=axis, store=store, files=files,
                      roots=lambda: []).run()
    return counts


def _document(folder: Path, pdf: Path | None, *, sender: Organ = VPCP, notation: str | None = None,
              business: Business | None = None, header: Any = None) -> tuple[bytes, Any]:
    header = header or vpcp_header("12", notation or f"VPCP-{uuid.uuid4().hex[:6].upper()}", "V/v thử nghiệm")
    data = vpcp_package(folder / f"{uuid.uuid4().hex}.edxml", sender, [UBND_VP], header, business or Business(), pdf)
    return data, header


def _issues(store: MemoryInboundStore) -> dict[str, dict[str, Any]]:
    return {i["axis_doc_id"]: i for i in store.list_issues(limit=200, cursor=None)[0] if "axis_doc_id" in i}


# -- sender binding ------------------------------------------------------------------------------------------------


def test_a_document_in_another_agencys_name_is_refused_and_listed(store, axis, files, tmp_path, pdf):
    data, _ = _document(tmp_path, pdf, sender=VPCP)
    forged = axis.deliver(data, sender=K62)  # HĐND's system writes From/OrganId = Văn phòng Chính phủ
    counts = _poll(store, axis, files)
    assert counts["forged_sender"] == 1 and counts["filed"] == 0
    assert store.items == {}, "nothing filed in VPCP's name"
    assert axis.acks == [(forged, "fail")]
    issue = _issues(store)[forged]
    assert issue["outcome"] == "forged_sender" and issue["reason"] == "sender_mismatch" and issue["ack"] == "fail"
    assert issue["details"] == {"claimed": G22, "authenticated": K62, "message_type": "edoc"}
    assert files.objects[issue["raw_key"]] == data, "the raw bytes are kept"
    assert not [o for o in store.outbox.values() if o["to"] == G22], "no 01 to the organ named"


def test_an_envelope_the_axis_lists_without_its_sender_is_refused(store, axis, files, tmp_path, pdf):
    data, _ = _document(tmp_path, pdf)
    doc_id = axis.deliver(data, sender="")
    _poll(store, axis, files)
    assert _issues(store)[doc_id]["reason"] == "sender_unauthenticated" and store.items == {}


def test_the_authenticated_sender_is_filed_as_before(store, axis, files, tmp_path, pdf):
    data, header = _document(tmp_path, pdf)
    doc_id = axis.deliver(data, sender=G22)
    counts = _poll(store, axis, files)
    assert counts["filed"] == 1 and axis.acks == [(doc_id, "done")]
    (item,) = store.items.values()
    assert item["from_organ_id"] == G22 and item["edxml_document_id"] == header.document_id
    assert [p["to"] for p in axis.sent] == [[G22]], "answered with its 01"
    assert store.attempts == {}, "a handled envelope leaves no attempt count behind"


def test_each_filed_document_gets_the_next_so_den_and_a_second_envelope_of_it_none(store, axis, files, tmp_path,
                                                                                     pdf):
    # NĐ 30 Art. 22: the incoming register numbers each document once, consecutively (issue 12)
    first, _ = _document(tmp_path, pdf)
    second, _ = _document(tmp_path, pdf)
    axis.deliver(first, sender=G22)
    axis.deliver(second, sender=G22)
    axis.deliver(first, sender=G22)  # the same document again, in another envelope: one item, one number
    counts = _poll(store, axis, files)
    assert counts["filed"] == 2
    numbers = sorted((i["arrival_number"], i["arrival_year"]) for i in store.items.values())
    year = numbers[0][1]
    assert numbers == [("01", year), ("02", year)]
    [held] = store.arrivals.values()
    assert sorted(held) == sorted(store.items)
    entry = store.arrival_entries[held[0]]
    assert entry["from_organ_id"] == G22 and entry["inbox_id"] == held[0] and entry["document_number"] == "12"


def _our_document(store: MemoryInboundStore, recipients: list[str]) -> ResponseFor:
    edxml_id = f"{H62},2019/09/20,7413/UBND-VX3-{uuid.uuid4().hex[:4]}"
    store.add_sent_document(edxml_id, "doc-1", H62, recipients)
    return ResponseFor(H62, "7413/UBND-VX3", edxml_id, date(2019, 9, 20))


def test_a_status_in_another_agencys_name_is_not_applied_and_is_listed(store, axis, files):
    ref = _our_document(store, [G22, K62])
    forged = axis.deliver(status_package(VPCP, ref, "06"), sender=K62, messagetype="status")
    counts = _poll(store, axis, files)
    assert counts["forged_sender"] == 1 and counts["status_applied"] == 0
    assert store.deliveries[("doc-1", G22)]["history"] == [] and store.deliveries[("doc-1", G22)]["status"] == "SENT"
    assert _issues(store)[forged]["reason"] == "sender_mismatch" and axis.acks == [(forged, "fail")]


def test_a_status_about_a_delivery_to_another_agency_changes_nothing(store, axis, files):
    ref = _our_document(store, [K62])  # sent to HĐND only; VPCP reports on it under its own name
    doc_id = axis.deliver(status_package(VPCP, ref, "02", "Từ chối"), sender=G22, messagetype="status")
    counts = _poll(store, axis, files)
    assert counts["status_applied"] == 0 and store.deliveries[("doc-1", K62)]["history"] == []
    assert _issues(store)[doc_id]["outcome"] == "orphan_status"


def test_the_recipients_own_status_is_applied(store, axis, files):
    ref = _our_document(store, [G22])
    axis.deliver(status_package(VPCP, ref, "03"), sender=G22, messagetype="status")
    assert _poll(store, axis, files)["status_applied"] == 1
    assert [h["code"] for h in store.deliveries[("doc-1", G22)]["history"]] == ["03"]


def _filed_from_vpcp(store, axis, files, tmp_path, pdf) -> tuple[dict[str, Any], Any]:
    data, header = _document(tmp_path, pdf)
    axis.deliver(data, sender=G22)
    _poll(store, axis, files)
    (item,) = store.items.values()
    return item, header


def _revocation(tmp_path: Path, header: Any, sender: Organ) -> bytes:
    data, _ = _document(tmp_path, None, sender=sender, header=dataclass_replace(header, response_for=[about(header)]),
                        business=Business(doc_type=1, reason="Gửi nhầm.", document_id=header.document_id))
    return data


@pytest.mark.parametrize("claimed", [VPCP, HDND], ids=["in VPCP's name", "in its own name"])
def test_a_revocation_from_another_system_never_revokes_the_item(store, axis, files, tmp_path, pdf, claimed):
    item, header = _filed_from_vpcp(store, axis, files, tmp_path, pdf)
    doc_id = axis.deliver(_revocation(tmp_path, header, claimed), sender=K62)
    _poll(store, axis, files)
    assert store.items[item["inbox_id"]]["revoked"] is False
    if claimed is VPCP:
        assert _issues(store)[doc_id]["reason"] == "sender_mismatch" and (doc_id, "fail") in axis.acks
    else:  # HĐND's own revocation names no item of HĐND's: it waits, then is listed as an orphan
        assert store.envelopes[(doc_id, H62)]["outcome"] == "waiting"


def test_a_status_13_in_the_senders_name_from_another_system_never_revokes(store, axis, files, tmp_path, pdf):
    item, header = _filed_from_vpcp(store, axis, files, tmp_path, pdf)
    doc_id = axis.deliver(status_package(VPCP, about(header), "13", "Lấy lại"), sender=K62, messagetype="status")
    _poll(store, axis, files)
    assert store.items[item["inbox_id"]]["revoked"] is False and _issues(store)[doc_id]["reason"] == "sender_mismatch"


def test_the_senders_own_revocation_still_revokes(store, axis, files, tmp_path, pdf):
    item, header = _filed_from_vpcp(store, axis, files, tmp_path, pdf)
    axis.deliver(_revocation(tmp_path, header, VPCP), sender=G22)
    _poll(store, axis, files)
    assert store.items[item["inbox_id"]]["revoked"] is True


# -- nothing poisons the poller ----------------------------------------------------------------------------------


def test_an_envelope_whose_handling_raises_any_error_is_acknowledged_fail_once_and_listed(
        store, axis, files, tmp_path, pdf, monkeypatch):
    data, _ = _document(tmp_path, pdf)
    poison = axis.deliver(data, sender=G22)

    def explode(*args: object, **kwargs: object) -> None:
        raise TypeError("a field of an unexpected type")

    monkeypatch.setattr(poll_module, "build_inbox_item", explode)
    counts = _poll(store, axis, files)
    assert counts["unprocessable"] == 1 and axis.acks == [(poison, "fail")]
    issue = _issues(store)[poison]
    assert issue["outcome"] == "unprocessable" and issue["reason"] == "unprocessable_content"
    assert issue["details"] == {"error": "TypeError"} and issue["attempts"] == 1
    assert files.objects[issue["raw_key"]] == data
    for _ in range(3):  # later polls: never downloaded again
        _poll(store, axis, files)
    assert axis.downloads == [poison] and axis.acks == [(poison, "fail")]


def test_a_package_past_the_download_cap_is_refused_at_once_not_retried(store, axis, files, tmp_path, pdf):
    from chalicelib.adapters.axis.errors import AxisPackageTooLarge

    data, _ = _document(tmp_path, pdf)
    doc_id = axis.deliver(data, sender=G22)
    original = axis.get_edoc

    def too_large(doc: str, dest: str) -> None:
        axis.downloads.append(doc)
        raise AxisPackageTooLarge(details={"path": "/getEdoc", "max_bytes": 1024})

    axis.get_edoc = too_large  # type: ignore[method-assign]
    counts = _poll(store, axis, files)
    assert counts["unparseable"] == 1 and axis.acks == [(doc_id, "fail")]
    issue = _issues(store)[doc_id]
    assert issue["reason"] == "package_too_large" and issue["details"] == {"max_bytes": 1024}
    assert "raw_key" not in issue and files.objects == {}
    axis.get_edoc = original  # type: ignore[method-assign]
    _poll(store, axis, files)
    assert axis.downloads == [doc_id], "refused once, never downloaded again"


def test_a_transient_failure_is_retried_within_the_bound_then_given_up(store, axis, files, tmp_path, pdf):
    data, _ = _document(tmp_path, pdf)
    doc_id = axis.deliver(data, sender=G22)
    files.fail_uploads = 100  # our S3 keeps failing
    for n in range(1, MAX_ATTEMPTS):
        counts = _poll(store, axis, files)
        assert counts["envelope_retry"] == 1 and axis.acks == [], f"attempt {n} is retried"
    _poll(store, axis, files)
    assert axis.acks == [(doc_id, "fail")] and len(axis.downloads) == MAX_ATTEMPTS
    issue = _issues(store)[doc_id]
    assert issue["reason"] == "attempts_exhausted" and issue["details"] == {"error": "OSError"}
    _poll(store, axis, files)
    assert len(axis.downloads) == MAX_ATTEMPTS


def test_a_transient_failure_that_clears_is_filed(store, axis, files, tmp_path, pdf):
    data, _ = _document(tmp_path, pdf)
    doc_id = axis.deliver(data, sender=G22)
    files.fail_uploads = 1
    _poll(store, axis, files)
    assert _poll(store, axis, files)["filed"] == 1 and axis.acks == [(doc_id, "done")]


def test_runs_killed_mid_envelope_count_and_the_next_gives_up_without_downloading(store, axis, files, tmp_path, pdf):
    data, _ = _document(tmp_path, pdf)
    doc_id = axis.deliver(data, sender=G22)
    for _ in range(MAX_ATTEMPTS):  # what a Lambda killed by its timeout or memory leaves: counted, nothing else
        store.begin_attempt(doc_id, H62, MAX_ATTEMPTS)
    store.note_attempt(doc_id, H62, {"raw_key": f"inbound/{H62}/{doc_id}.edxml", "sha256": "ab", "size": 9})
    _poll(store, axis, files)
    assert axis.downloads == [] and axis.acks == [(doc_id, "fail")]
    issue = _issues(store)[doc_id]
    assert issue["reason"] == "attempts_exhausted" and issue["raw_key"] == f"inbound/{H62}/{doc_id}.edxml"


def test_a_give_up_whose_acknowledgement_fails_is_acknowledged_by_the_next_poll(
        store, axis, files, tmp_path, monkeypatch):
    doc_id = axis.deliver(b"<edXML><not-closed>", sender=G22)
    real = axis.update_status
    calls = []

    def flaky(doc: str, status: str) -> None:
        calls.append(status)
        if len(calls) == 1:
            from chalicelib.adapters.axis.errors import AxisTransientError
            raise AxisTransientError()
        real(doc, status)

    monkeypatch.setattr(axis, "update_status", flaky)
    _poll(store, axis, files)
    _poll(store, axis, files)
    assert axis.acks == [(doc_id, "fail")] and axis.downloads == [doc_id]
    assert _issues(store)[doc_id]["reason"] == "malformed_xml"


def test_a_waiting_amendment_is_not_counted_as_a_failed_attempt(store, axis, files, tmp_path):
    header = vpcp_header("99", "VPCP-CHUA-DEN", "Chưa đến")
    doc_id = axis.deliver(_revocation(tmp_path, header, VPCP), sender=G22)
    for _ in range(MAX_ATTEMPTS + 2):
        _poll(store, axis, files)
    assert store.envelopes[(doc_id, H62)]["outcome"] == "waiting" and axis.acks == []


def test_a_document_without_document_id_is_refused_before_anything_is_filed(store, axis, files, tmp_path, pdf):
    data, header = _document(tmp_path, pdf)
    data = data.replace(f"<edXML:DocumentId>{header.document_id}</edXML:DocumentId>".encode(),
                        b"<edXML:DocumentId></edXML:DocumentId>")
    doc_id = axis.deliver(data, sender=G22)
    _poll(store, axis, files)
    assert store.items == {} and store.outbox == {} and axis.acks == [(doc_id, "fail")]
    assert _issues(store)[doc_id]["reason"] == "missing_document_id"
    _poll(store, axis, files)
    assert axis.downloads == [doc_id]


# -- the outbox ----------------------------------------------------------------------------------------------------


def _waiting(store: MemoryInboundStore, reason: str, n: int) -> dict[str, Any]:
    item = {"inbox_id": str(uuid.uuid4()), "organ_id": H62, "from_organ_id": G22, "number": str(n),
            "notation": "VPCP", "edxml_document_id": f"{G22},2026/11/25,{n}/VPCP", "issued_on": "2026-11-25",
            "received_at": f"2026-11-25T03:00:0{n}.000000Z"}
    store.items[item["inbox_id"]] = {**item, "sent_statuses": {}}
    out = outbox_item(item, "02", reason, item["received_at"], reporter_name="UBND")
    store.outbox[(out["pk"], out["sk"])] = out
    return out


def test_a_status_package_that_cannot_be_built_is_marked_failed_and_never_blocks_the_outbox(store, axis):
    bad = _waiting(store, "lý do có \x01 ký tự điều khiển", 1)
    good = _waiting(store, "Không đúng thẩm quyền", 2)
    broken = _waiting(store, "x", 3)
    del store.outbox[(broken["pk"], broken["sk"])]["response_for"]  # a record an older version wrote
    counts: Counter[str] = Counter()
    send_pending_statuses(axis, H62, store, counts)
    assert len(axis.sent) == 1 and parse_package(io.BytesIO(axis.sent[0]["package"])).status_description == \
        "Không đúng thẩm quyền"
    assert (good["pk"], good["sk"]) not in store.outbox
    failed = {o["sk"]: o for o in store.outbox.values()}
    assert failed[bad["sk"]]["failed_at"] and failed[bad["sk"]]["last_error"] == "status_unbuildable"
    assert failed[broken["sk"]]["last_error"] == "status_unbuildable"
    assert {i["sk"] for i in store.issues} == {bad["sk"], broken["sk"]}, "listed for an administrator"
    send_pending_statuses(axis, H62, store, Counter())
    assert len(axis.sent) == 1, "never retried"


def test_a_garbled_outbox_item_never_stops_the_agencys_poll(store, axis, files, tmp_path, pdf):
    out = _waiting(store, "ok", 1)
    store.outbox[(out["pk"], out["sk"])]["lease_until"] = "soon"
    data, _ = _document(tmp_path, pdf)
    axis.deliver(data, sender=G22)
    assert _poll(store, axis, files)["filed"] == 1


# -- each agency in isolation --------------------------------------------------------------------------------------


def test_one_agencys_poll_raising_any_error_never_stops_the_others(monkeypatch, store, files, tmp_path, pdf):
    systems = {H03: FakeAxisSystem(), H62: FakeAxisSystem()}
    data, _ = _document(tmp_path, pdf)
    systems[H62].deliver(data, sender=G22)
    systems[H03].list_error = KeyError("a list the client could not read")
    agencies = {o: SimpleNamespace(organ_id=o, name=o, served=True, active=True) for o in systems}
    monkeypatch.setattr(poll_module, "axis_credentials", lambda: {"systems": dict.fromkeys(systems, "s")})
    monkeypatch.setattr(poll_module, "AgencyRegistry", lambda: SimpleNamespace(get_many=lambda codes: agencies))
    monkeypatch.setattr(poll_module, "axis_client_for", systems.__getitem__)
    monkeypatch.setattr(poll_module, "inbound_store", lambda: store)
    monkeypatch.setattr(poll_module, "get_objects", lambda: files)
    monkeypatch.setattr(poll_module, "trust_roots", lambda: [])
    for turn in range(2):  # whichever agency comes first this minute
        monkeypatch.setattr(poll_module.time, "time", lambda t=turn: t * 60.0)
        counts = poll_module.poll_axis()
        assert counts["organ_errors"] == 1, counts
    assert len(store.items) == 1 and systems[H62].acks[0][1] == "done"


# -- records fit DynamoDB ------------------------------------------------------------------------------------------


def _report(n_sigs: int, text: int) -> dict[str, Any]:
    sig = {"field": "S" * text, "signer_subject": "C" * text, "organisation": "O" * text, "signed_at": None,
           "timestamped": False, "intact": True, "valid": True, "trusted": True, "covers_whole_document": True,
           "pades_level": "B-B", "revocation_checked": False, "note": "N" * text}
    return {"signatures": [dict(sig) for _ in range(n_sigs)]}


def test_a_huge_verification_report_never_fails_the_filing(monkeypatch, store, axis, files, tmp_path, pdf):
    from chalicelib.signing import verification

    monkeypatch.setattr(verification, "verify_pdf", lambda path, trust_roots=None: _report(5000, 100_000))
    header = vpcp_header("12", "VPCP-LON", "V/v báo cáo lớn")
    data = write_package(tmp_path / "big.edxml", sender=VPCP, recipients=[UBND_VP], header=header,
                         attachments=[AttachmentSource(f"{n}.pdf", "application/pdf", pdf) for n in range(6)]
                         ).read_bytes()
    axis.deliver(data, sender=G22)
    assert _poll(store, axis, files)["filed"] == 1
    (item,) = store.items.values()
    print("item bytes", record_bytes(item))
    assert record_bytes(item) < ITEM_BYTES_BUDGET
    assert item["verification_summary"] == "valid", "trusted, intact, whole: the verdict survives the cut"
    for att in item["attachments"]:
        assert att["verification_summary"] == "valid"
        stored = att["verification"]
        assert stored["report_key"] in files.objects and stored["signatures_total"] == 5000
        kept = json.loads(files.objects[stored["report_key"]])
        assert len(kept["signatures"]) == poll_module.MAX_REPORTED_SIGNATURES
        assert all(len(v) <= 1000 for s in kept["signatures"] for v in s.values() if isinstance(v, str))


def test_reports_that_still_do_not_fit_move_to_s3_beside_the_attachment(tmp_path):
    from chalicelib.inbound.attachments import fit_item

    files = FakeObjects()
    item = {"inbox_id": "i", "attachments": [{"key": f"inbound/{H62}/i/0{n}-a.pdf", "verification": _report(20, 1000)}
                                             for n in range(5)]}
    assert record_bytes(item) > ITEM_BYTES_BUDGET
    assert fit_item(files, item, str(tmp_path))
    assert record_bytes(item) < 10_000
    assert set(files.objects) == {f"inbound/{H62}/i/0{n}-a.pdf.verification.json" for n in range(5)}
    assert item["attachments"][0]["verification"]["signatures_total"] == 20


def test_a_verifier_that_raises_files_the_document_as_unreadable(monkeypatch, store, axis, files, tmp_path, pdf):
    from chalicelib.signing import verification

    def broken(path: str, trust_roots: Any = None) -> dict[str, Any]:
        raise AttributeError("'int' object has no attribute 'get'")  # a signature value that is no dictionary

    monkeypatch.setattr(verification, "verify_pdf", broken)
    data, _ = _document(tmp_path, pdf)
    axis.deliver(data, sender=G22)
    assert _poll(store, axis, files)["filed"] == 1
    (item,) = store.items.values()
    assert item["verification_summary"] == "unreadable" and item["verification_reasons"] == ["verification_failed"]
