"""The pure parts of poll_axis and the inbox: which envelope to process, the identity of an inbox item, attachment
keys, the inbox item built from a parsed package, the status packages we answer with, and signature reports."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from chalicelib.domain.inbound_rules import canonical_document_id, envelope_action, inbox_id_for, safe_name
from chalicelib.inbound.items import build_inbox_item
from chalicelib.inbound.outbox import outbox_item, status_package_bytes
from chalicelib.signing.verification import summary, verify_pdf
from chalicelib.standards.edxml import (
    VN_TZ,
    AttachmentSource,
    Business,
    DocumentHeader,
    Organ,
    SignerInfo,
    parse_package,
    write_new_document_package,
)

H62, G22 = "000.00.00.H62", "000.00.00.G22"


def test_document_ids_match_however_the_sender_wrote_the_date():
    assert canonical_document_id(" 000.00.00.H62,2019-09-20,7413/UBND-VX3 ") == "000.00.00.H62,2019/09/20,7413/UBND-VX3"
    assert canonical_document_id("000.00.00.H62,2019/9/20, 7413 / UBND-VX3") == "000.00.00.H62,2019/09/20,7413/UBND-VX3"
    assert canonical_document_id("không phải mã") == "không phải mã"
    assert canonical_document_id("") == ""


def test_one_inbox_item_per_document_sender_and_recipient():
    a = inbox_id_for(H62, G22, "000.00.00.G22,2026/11/25,123/VPCP-TH", 0)
    assert a == inbox_id_for(H62, G22, "000.00.00.G22,2026-11-25,123/VPCP-TH", 0), "a duplicate is the same item"
    assert a != inbox_id_for("000.00.00.H03", G22, "000.00.00.G22,2026/11/25,123/VPCP-TH", 0)
    assert a != inbox_id_for(H62, G22, "000.00.00.G22,2026/11/25,124/VPCP-TH", 0)
    assert a != inbox_id_for(H62, G22, "000.00.00.G22,2026/11/25,123/VPCP-TH", 1), "a revocation is not the document"


def test_attachment_keys_are_ascii_and_never_paths():
    assert safe_name("Công văn số 123.pdf", 0) == "00-C_ng_v_n_s_123.pdf"
    assert safe_name("../../etc/passwd", 3) == "03-passwd"
    assert safe_name("..\\x.pdf", 1) == "01-x.pdf"
    assert safe_name("", 2) == "02-attachment"
    assert len(safe_name("a" * 500 + ".pdf", 9)) <= 3 + 120


@pytest.mark.parametrize(("record", "action"), [
    (None, "process"),
    ({"outcome": "filed", "ack": "done"}, "ack_done"),
    ({"outcome": "unparseable", "ack": "fail"}, "ack_fail"),
    ({"outcome": "deferred"}, "process"),  # recorded by an earlier version: revocations etc. are handled now
    ({"outcome": "waiting"}, "process"),  # an amendment waiting for its document: tried again
    ({"outcome": "filed"}, "skip"),  # recorded, acknowledgement not decided: left alone
])
def test_what_to_do_with_a_listed_envelope(record, action):
    assert envelope_action(record) == action


@pytest.fixture
def package(tmp_path: Path, sample_pdf: Path):
    header = DocumentHeader(
        document_id=f"{G22},2026/11/25,123/VPCP-TH", code_number="123", code_notation="VPCP-TH", place="Hà Nội",
        promulgation_date=date(2026, 11, 25), type_name="Công văn", subject="V/v " + "rất dài " * 1000,
        signer=SignerInfo("KT. BỘ TRƯỞNG", "PHÓ CHỦ NHIỆM", "Nguyễn Văn A"), to_places=["Như trên"], priority=1)
    buf = io.BytesIO()
    write_new_document_package(buf, sender=Organ(G22, "Văn phòng Chính phủ"), recipients=[Organ(H62, "UBND")],
                               header=header, business=Business(paper=1),
                               attachments=[AttachmentSource("123.pdf", "application/pdf", sample_pdf)],
                               trace_timestamp=datetime(2026, 11, 25, 3, 0, tzinfo=UTC))
    buf.seek(0)
    with parse_package(buf, tmp_dir=str(tmp_path)) as parsed:
        yield parsed


def test_inbox_item_from_a_package(package):
    base = {"axis_doc_id": "a" * 24, "received_at": "2026-11-25T03:00:01.000000Z", "raw_key": "inbound/x/a.edxml",
            "sha256": "f" * 64}
    attachments = [{"name": "123.pdf", "key": "k", "is_pdf": True, "verification": {"signatures": []}}]
    item = build_inbox_item("id-1", H62, base, package, attachments)
    wire = {"inbox_id", "from_organ_id", "number", "notation", "subject", "received_at", "status", "revoked"}
    assert wire <= set(item)
    assert item["from_organ_id"] == G22 and item["organ_id"] == H62
    assert (item["number"], item["notation"], item["issued_on"]) == ("123", "VPCP-TH", "2026-11-25")
    assert item["status"] == "ARRIVED" and item["status_code"] == "01" and item["revoked"] is False
    assert item["status_history"] == [{"status": "ARRIVED", "code": "01", "meaning": "Đã đến",
                                       "at": base["received_at"], "by": "system"}]
    assert item["sent_statuses"] == {} and item["paper"] == 1 and item["priority"] == 1
    assert len(item["subject"]) == 2000, "free text is cut to keep the item small"
    assert item["verification_summary"] == "unsigned"


def test_status_package_we_send_is_deterministic_and_reads_back(package):
    base = {"axis_doc_id": "a" * 24, "received_at": "2026-11-25T03:00:01.000000Z", "raw_key": "k", "sha256": "0"}
    item = build_inbox_item("id-1", H62, base, package, [])
    arrival = outbox_item(item, "01", "", item["received_at"], reporter_name="UBND tỉnh Vĩnh Phúc")
    assert arrival["to"] == G22 and arrival["pk"] == f"OUTBOX#{H62}" and arrival["sk"] == "STATUS#id-1#01"
    data = status_package_bytes(arrival)
    assert data == status_package_bytes(dict(arrival)), "a re-send is the same package byte for byte"
    back = parse_package(io.BytesIO(data))
    assert back.message_type == "status" and back.status_code == "01" and back.sender.organ_id == H62
    assert back.status_description == "Đã đến"
    (ref,) = back.response_for
    assert (ref.organ_id, ref.code, ref.document_id) == (G22, "123/VPCP-TH", f"{G22},2026/11/25,123/VPCP-TH")
    assert ref.promulgation_date == date(2026, 11, 25)
    assert back.status_timestamp == datetime(2026, 11, 25, 10, 0, 1, tzinfo=VN_TZ)

    rejected = outbox_item(item, "02", "Không đúng thẩm quyền", "2026-11-25T04:00:00.000000Z", reporter_name="UBND")
    assert parse_package(io.BytesIO(status_package_bytes(rejected))).status_description == "Không đúng thẩm quyền"


def test_signature_reports_on_unsigned_broken_and_non_pdf_files(tmp_path: Path, sample_pdf: Path):
    assert verify_pdf(sample_pdf) == {"signatures": []}
    assert summary(verify_pdf(sample_pdf)) == "unsigned"
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\n" + b"\x00" * 100)
    assert verify_pdf(broken)["error"] == "malformed_pdf" and summary(verify_pdf(broken)) == "unreadable"
    other = tmp_path / "note.docx"
    other.write_bytes(b"PK\x03\x04 not a pdf")
    assert verify_pdf(other) == {"signatures": [], "error": "not_a_pdf"}


def test_signature_report_on_a_signed_then_modified_pdf(tmp_path: Path, sample_pdf: Path):
    from asn1crypto import x509
    from cryptography.hazmat.primitives.asymmetric import rsa

    from chalicelib.keys.backends import LocalKeySigner
    from chalicelib.signing.pades import SigningIdentity, sign_pdf_file
    from devstack.pki import DemoCA

    ca = DemoCA.load_or_create(tmp_path / "ca")
    raw = LocalKeySigner(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    cert = x509.Certificate.load(ca.issue_org_certificate(raw.public_key_der(), G22, "Văn phòng Chính phủ"))
    signed = tmp_path / "signed.pdf"
    sign_pdf_file(sample_pdf, signed, SigningIdentity(G22, "Văn phòng Chính phủ", cert,
                                                      [x509.Certificate.load(ca.root_cert_der)], raw))
    (sig,) = verify_pdf(signed)["signatures"]
    assert sig["intact"] and sig["valid"] and sig["covers_whole_document"] and sig["pades_level"] == "B-B"
    assert sig["trusted"] is False and sig["organ_id"] == G22 and sig["timestamped"] is False
    assert set(sig) >= {"field", "signer_subject", "organisation", "signed_at", "timestamped", "intact", "valid",
                        "trusted", "covers_whole_document", "pades_level", "revocation_checked"}
    trusted = verify_pdf(signed, trust_roots=[x509.Certificate.load(ca.root_cert_der)])["signatures"][0]
    assert trusted["trusted"] is True

    # Bytes changed inside the signed range: no longer intact.
    data = bytearray(signed.read_bytes())
    at = data.index(b"/MediaBox")
    data[at + 1:at + 2] = b"X"
    tampered = tmp_path / "tampered.pdf"
    tampered.write_bytes(bytes(data))
    report = verify_pdf(tampered)
    assert summary(report) in ("invalid", "unreadable")
    assert not any(s["intact"] for s in report["signatures"])


# -- trust counts (issue 8) ---------------------------------------------------------------------------------------

def _sig(**fields: object) -> dict:
    return {"intact": True, "valid": True, "trusted": True, "covers_whole_document": True, **fields}


@pytest.mark.parametrize(("report", "word", "reasons"), [
    ({"signatures": [_sig()]}, "valid", []),
    ({"signatures": [_sig(trusted=False)]}, "untrusted", ["untrusted"]),
    ({"signatures": [_sig(valid=False, trusted=False)]}, "invalid", ["invalid", "untrusted"]),
    ({"signatures": [_sig(intact=False)]}, "invalid", ["not_intact"]),
    ({"signatures": [_sig(), _sig(covers_whole_document=False)]}, "invalid", ["not_whole_document"]),
    ({"signatures": [_sig(covers_whole_document=False), _sig()]}, "valid", []),
    ({"signatures": [_sig(error="ValueError")]}, "unreadable", ["unreadable"]),
    ({"signatures": []}, "unsigned", ["unsigned"]),
    ({"signatures": [], "error": "malformed_pdf"}, "unreadable", ["malformed_pdf"]),
    ({"signatures": "garbage"}, "unreadable", ["unreadable"]),
])
def test_an_attachment_is_valid_only_when_every_signature_is_intact_valid_trusted_and_the_last_covers_all(
        report, word, reasons):
    from chalicelib.inbound.items import annotate, attachment_verdict

    assert attachment_verdict(report) == (word, reasons)
    annotated, again, _ = annotate(report)
    if isinstance(report["signatures"], list) and report["signatures"]:
        assert [bool(s["reasons"]) for s in annotated["signatures"]] != [] and again == word


def test_the_item_is_the_worst_of_its_attachments_and_says_why(package):
    from chalicelib.inbound.items import annotate

    base = {"axis_doc_id": "a" * 24, "received_at": "2026-11-25T03:00:01.000000Z", "raw_key": "k", "sha256": "0"}
    attachments = []
    for report in ({"signatures": [_sig()]}, {"signatures": [_sig(trusted=False)]}):
        annotated, word, reasons = annotate(report)
        attachments.append({"name": "a.pdf", "key": "k", "is_pdf": True, "verification": annotated,
                            "verification_summary": word, "verification_reasons": reasons})
    item = build_inbox_item("id-1", H62, base, package, attachments)
    assert item["verification_summary"] == "untrusted" and item["verification_reasons"] == ["untrusted"]
    assert attachments[1]["verification"]["signatures"][0]["reasons"] == ["untrusted"]


def test_a_self_signed_pdf_is_never_summarised_valid(tmp_path: Path, sample_pdf: Path):
    from chalicelib.inbound.items import attachment_verdict
    from chalicelib.signing.pades import sign_pdf_file
    from tests.support.pki import fresh_ca, local_identity

    identity = local_identity(fresh_ca(tmp_path / "ca"), G22, "Văn phòng Chính phủ")
    signed = tmp_path / "signed.pdf"
    sign_pdf_file(sample_pdf, signed, identity)
    report = verify_pdf(signed, trust_roots=[])
    assert report["signatures"][0]["intact"] and report["signatures"][0]["valid"]
    assert attachment_verdict(report) == ("untrusted", ["untrusted"])


def test_sender_binding_and_bounds_are_pure_rules():
    from chalicelib.domain.inbound_rules import bounded, record_bytes, sender_problem

    assert sender_problem(G22, G22) is None and sender_problem(f" {G22} ", G22) is None
    assert sender_problem(H62, G22) == "sender_mismatch" and sender_problem("", G22) == "sender_unauthenticated"
    assert sender_problem(G22, None) == "sender_mismatch"
    hostile = {"a" * 500: ["x" * 10_000] * 1000, "deep": [[[[[[[[[["bottom"]]]]]]]]]], "obj": object()}
    cut = bounded(hostile)
    assert record_bytes(cut) < 60_000 and len(next(iter(cut))) == 100
    assert isinstance(cut["obj"], str)
