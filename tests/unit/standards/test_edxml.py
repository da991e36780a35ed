"""edXML packages (QCVN 102:2016): exact shape, namespaces, formats, round trips, tolerance, flat memory."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import tempfile
import tracemalloc
import xml.etree.ElementTree as ET
import zipfile
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.core.errors import GatewayError
from chalicelib.standards.edxml import (
    NS,
    VN_TZ,
    AttachmentSource,
    Business,
    DocumentHeader,
    DocumentInfoUpdate,
    EdxmlError,
    EdxmlReadError,
    EdxmlWriteError,
    Organ,
    Receiver,
    ReplacementInfo,
    ResponseFor,
    SignerInfo,
    StaffInfo,
    build_status_package,
    document_id,
    parse_package,
    split_document_id,
    status_meaning,
    write_new_document_package,
)
from devstack.demo_data import SAMPLES

Q = "{" + NS + "}"
SENDER = Organ("000.00.00.H62", "UBND tỉnh Vĩnh Phúc", organization_in_charge="UBND tỉnh Vĩnh Phúc",
               address="Vĩnh Yên, Vĩnh Phúc", email="ubnd@vinhphuc.gov.vn", telephone="0211 3862 480",
               fax="0211 3862 774", website="https://vinhphuc.gov.vn")
RECIPIENTS = [Organ("000.00.00.G22", "Văn phòng Chính phủ", email="vpcp@chinhphu.vn"),
              Organ("000.00.00.K62", "HĐND tỉnh Vĩnh Phúc", address="Vĩnh Yên")]
TRACE_AT = datetime(2019, 9, 20, 2, 15, 30, tzinfo=UTC)  # 09:15:30 in Vietnam


def sample_header(**changes: object) -> DocumentHeader:
    md = SAMPLES[0].metadata  # công văn 7413/UBND-VX3 of UBND tỉnh Vĩnh Phúc
    issued = date.fromisoformat(md["issued_on"])
    values: dict[str, object] = dict(
        document_id=document_id("000.00.00.H62", issued, md["number"], md["notation"]),
        code_number=md["number"], code_notation=md["notation"], place=md["place"], promulgation_date=issued,
        type_code=1, type_detail=0, type_name="Công văn", subject=md["subject"], content="Tóm tắt: triển khai.",
        signer=SignerInfo(md["signer"]["competence"], md["signer"]["position"], md["signer"]["full_name"]),
        due_date=date(2019, 10, 15), priority=1, steering_type=1,
        to_places=["Như trên", "CT, các PCT UBND tỉnh", "Lưu: VT, VX3"], page_amount=3,
        appendixes=["Phụ lục I: Danh mục nhiệm vụ"],
    )
    values.update(changes)
    return DocumentHeader(**values)  # type: ignore[arg-type]


@pytest.fixture()
def pdf(tmp_path: Path) -> Path:
    path = tmp_path / "7413-UBND-VX3.pdf"
    path.write_bytes(b"%PDF-1.7\n" + os.urandom(50_000) + b"\n%%EOF\n")
    return path


def build(pdf: Path, *, header: DocumentHeader | None = None, business: Business | None = None,
          attachments: list[AttachmentSource] | None = None) -> bytes:
    out = io.BytesIO()
    write_new_document_package(
        out, sender=SENDER, recipients=RECIPIENTS, header=header or sample_header(),
        business=business or Business(reason="Văn bản điện tử mới", paper=1,
                                      staff=StaffInfo("Văn phòng", "Nguyễn Văn A", "a@vinhphuc.gov.vn", "0912345678")),
        attachments=attachments if attachments is not None else [
            AttachmentSource("7413-UBND-VX3.pdf", "application/pdf", pdf, "Bản ký số")],
        trace_timestamp=TRACE_AT)
    return out.getvalue()


def xml(raw: bytes | str) -> ET.Element:
    """ElementTree as an independent reader of what the writer produced (our own output, not untrusted input)."""
    return ET.fromstring(raw)  # noqa: S314


def local_names(element: ET.Element) -> list[str]:
    return [child.tag.split("}")[-1] for child in element]


# -- shape --------------------------------------------------------------------------------------------------------


def test_document_id_format() -> None:
    assert document_id("000.00.00.H62", date(2019, 9, 20), "7413", "UBND-VX3") == (
        "000.00.00.H62,2019/09/20,7413/UBND-VX3")
    assert split_document_id("000.00.00.H62,2019/09/20,7413/UBND-VX3") == (
        "000.00.00.H62", date(2019, 9, 20), "7413", "UBND-VX3")
    assert split_document_id("not-a-document-id") is None


def test_element_order_and_the_standards_spelling(pdf: Path) -> None:
    root = xml(build(pdf))
    assert root.tag == Q + "edXML"
    assert local_names(root) == ["edXMLEnvelope", "AttachmentEncoded"]  # attachments outside the envelope
    envelope = root[0]
    assert local_names(envelope) == ["edXMLHeader", "edXMLBody"]
    header = envelope.find(Q + "edXMLHeader")
    assert local_names(header) == ["MessageHeader", "TraceHeaderList"]  # no Signature by default
    message = header.find(Q + "MessageHeader")
    assert local_names(message) == [
        "From", "To", "To", "DocumentId", "Code", "PromulgationInfo", "DocumentType", "Subject", "Content",
        "SignerInfo", "DueDate", "OtherInfo", "SteeringType", "ToPlaces"]
    organ_children = ["OrganId", "OrganizationInCharge", "OrganName", "OrganAdd", "Email", "Telephone", "Fax",
                      "Website"]
    assert local_names(message.find(Q + "From")) == organ_children
    assert all(local_names(to) == organ_children for to in message.findall(Q + "To"))
    assert local_names(message.find(Q + "Code")) == ["CodeNumber", "CodeNotation"]
    assert local_names(message.find(Q + "PromulgationInfo")) == ["Place", "PromulgationDate"]
    assert local_names(message.find(Q + "DocumentType")) == ["Type", "TypeDetail", "TypeName"]
    assert local_names(message.find(Q + "SignerInfo")) == ["Competence", "Position", "FullName"]
    assert local_names(message.find(Q + "OtherInfo")) == [
        "Priority", "SphereOfPromulgation", "TyperNotation", "PromulgationAmount", "PageAmount", "Direction",
        "Appendixes"]
    assert local_names(message.find(f"{Q}OtherInfo/{Q}Appendixes")) == ["Appendix"]
    assert local_names(message.find(Q + "ToPlaces")) == ["Place", "Place", "Place"]
    trace = header.find(Q + "TraceHeaderList")
    assert local_names(trace) == ["TraceHeader", "Bussiness"]
    assert local_names(trace.find(Q + "TraceHeader")) == ["OrganId", "Timestamp"]
    assert local_names(trace.find(Q + "Bussiness")) == ["BussinessDocType", "BussinessDocReason", "Paper",
                                                        "StaffInfo"]
    assert local_names(trace.find(f"{Q}Bussiness/{Q}StaffInfo")) == ["Department", "Staff", "Email", "Mobile"]
    manifest = envelope.find(f"{Q}edXMLBody/{Q}edXMLManifest")
    assert manifest.get("version") == "1.0"
    assert local_names(manifest) == ["Reference"]
    assert local_names(manifest[0]) == ["ContentId", "ContentType", "Description", "AttachmentName"]
    attachment = root.find(f"{Q}AttachmentEncoded/{Q}Attachment")
    assert local_names(attachment) == ["ContentId", "AttachmentName", "Description", "ContentType",
                                       "ContentTransferEncoded"]
    assert manifest[0].findtext(Q + "ContentId") == attachment.findtext(Q + "ContentId")
    assert attachment.findtext(Q + "ContentId").startswith("cid:")


def test_update_and_replacement_blocks_are_in_order(pdf: Path) -> None:
    business = Business(doc_type=2, reason="Cập nhật nơi nhận", document_id="000.00.00.H62,2019/09/20,7413/UBND-VX3",
                        document_info=DocumentInfoUpdate(0, 1, [Receiver("000.00.00.H03", 1)]),
                        replacements=[ReplacementInfo("000.00.00.H62,2019/09/01,7000/UBND-VX3", ["000.00.00.G22"])])
    root = xml(build(pdf, business=business))
    block = root.find(f"{Q}edXMLEnvelope/{Q}edXMLHeader/{Q}TraceHeaderList/{Q}Bussiness")
    assert local_names(block) == ["DocumentId", "BussinessDocType", "BussinessDocReason", "Paper", "StaffInfo",
                                  "BussinessDocumentInfo", "ReplacementInfoList"]
    assert local_names(block.find(Q + "BussinessDocumentInfo")) == ["DocumentInfo", "DocumentReceiver",
                                                                    "ReceiverList"]
    assert local_names(block.find(f"{Q}BussinessDocumentInfo/{Q}ReceiverList/{Q}Receiver")) == [
        "OrganId", "ReceiverType"]
    assert local_names(block.find(f"{Q}ReplacementInfoList/{Q}ReplacementInfo")) == ["DocumentId", "OrganIdList"]


def test_namespace_default_on_root_prefix_on_envelope(pdf: Path) -> None:
    raw = build(pdf).decode("utf-8")
    assert raw.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    assert f'<edXML xmlns="{NS}">' in raw
    assert f'<edXML:edXMLEnvelope xmlns:edXML="{NS}">' in raw
    envelope = raw[raw.index("<edXML:edXMLEnvelope"):raw.index("</edXML:edXMLEnvelope>")]
    tags = re.findall(r"</?([A-Za-z:]+)", envelope)
    assert tags and all(t.startswith("edXML:") for t in tags)  # every header/body element carries the prefix
    attachments = raw[raw.index("<AttachmentEncoded>"):]
    assert not re.search(r"<edXML:", attachments)  # the attachment block uses the root's default namespace
    root = xml(raw)
    assert all(el.tag.startswith(Q) for el in root.iter())  # ... and everything is in the edXML namespace


def test_formats_dates_and_vietnam_local_timestamps(pdf: Path) -> None:
    root = xml(build(pdf))
    message = root.find(f"{Q}edXMLEnvelope/{Q}edXMLHeader/{Q}MessageHeader")
    assert message.findtext(f"{Q}PromulgationInfo/{Q}PromulgationDate") == "2019/09/20"
    assert message.findtext(Q + "DueDate") == "2019/10/15"
    assert message.findtext(Q + "DocumentId") == "000.00.00.H62,2019/09/20,7413/UBND-VX3"
    assert message.findtext(f"{Q}OtherInfo/{Q}Direction") == "false"
    stamp = root.findtext(f"{Q}edXMLEnvelope/{Q}edXMLHeader/{Q}TraceHeaderList/{Q}TraceHeader/{Q}Timestamp")
    assert stamp == "2019/09/20 09:15:30"  # 02:15:30 UTC written as UTC+7, no zone


def test_naive_trace_timestamp_is_refused(pdf: Path) -> None:
    with pytest.raises(ValueError):
        write_new_document_package(io.BytesIO(), sender=SENDER, recipients=RECIPIENTS, header=sample_header(),
                                   business=Business(), attachments=[AttachmentSource("a.pdf", "application/pdf", pdf)],
                                   trace_timestamp=datetime(2019, 9, 20, 9, 0))


def test_attachment_is_base64_of_a_zip_holding_the_file(pdf: Path) -> None:
    root = xml(build(pdf))
    encoded = root.findtext(f"{Q}AttachmentEncoded/{Q}Attachment/{Q}ContentTransferEncoded")
    raw = base64.b64decode(encoded, validate=True)
    assert raw.startswith(b"PK\x03\x04")
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        assert zf.namelist() == ["7413-UBND-VX3.pdf"]
        assert zf.read("7413-UBND-VX3.pdf") == pdf.read_bytes()


def test_same_input_gives_the_same_bytes(pdf: Path) -> None:
    # A rebuilt package keeps its hash-file, which makes retries recognisable.
    assert build(pdf) == build(pdf)


def test_text_is_escaped_and_survives_exactly(pdf: Path) -> None:
    subject = 'V/v <thẩm định> & "phê duyệt" \'dự án\'\r\nTrích yếu ]]> dòng 2\ttab'
    raw = build(pdf, header=sample_header(subject=subject))
    assert b"&lt;th\xe1\xba\xa9m \xc4\x91\xe1\xbb\x8bnh&gt; &amp;" in raw
    with parse_package(io.BytesIO(raw)) as parsed:
        assert parsed.subject == subject


@pytest.mark.parametrize("bad", ["\x00", "\x0b", "\x1f", "\ufffe"])
def test_characters_xml_cannot_carry_are_refused(pdf: Path, bad: str) -> None:
    with pytest.raises(EdxmlError) as caught:
        build(pdf, header=sample_header(subject=f"trích yếu{bad}"))
    assert caught.value.code == "invalid_text"


@pytest.mark.parametrize(("changes", "field"), [({"priority": 5}, "Priority"), ({"steering_type": 3}, "SteeringType")])
def test_out_of_range_values_are_refused(pdf: Path, changes: dict, field: str) -> None:
    with pytest.raises(EdxmlError) as caught:
        build(pdf, header=sample_header(**changes))
    assert caught.value.details["field"] == field


def test_a_new_document_needs_an_attachment(pdf: Path) -> None:
    with pytest.raises(EdxmlError) as caught:
        build(pdf, attachments=[])
    assert caught.value.code == "missing_attachment"


# -- round trip ---------------------------------------------------------------------------------------------------


def test_round_trip_document_package(pdf: Path, tmp_path: Path) -> None:
    second = tmp_path / "phu-luc.docx"
    second.write_bytes(os.urandom(10_000))
    header = sample_header(response_for=[ResponseFor("000.00.00.H62", "7000/UBND-VX3",
                                                     "000.00.00.H62,2019/09/01,7000/UBND-VX3", date(2019, 9, 1))])
    raw = build(pdf, header=header, attachments=[
        AttachmentSource("7413-UBND-VX3.pdf", "application/pdf", pdf, "Bản ký số"),
        AttachmentSource("Phụ lục I.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                         second)])
    out_dir = tmp_path / "parsed"
    out_dir.mkdir()
    parsed = parse_package(io.BytesIO(raw), tmp_dir=str(out_dir))
    assert parsed.message_type == "edoc"
    assert parsed.warnings == []
    assert parsed.sender == SENDER
    assert parsed.recipients == RECIPIENTS
    assert parsed.header() == header
    assert parsed.business_doc_type == 0
    assert parsed.business_reason == "Văn bản điện tử mới"
    assert parsed.paper == 1
    assert parsed.staff == StaffInfo("Văn phòng", "Nguyễn Văn A", "a@vinhphuc.gov.vn", "0912345678")
    assert [(t.organ_id, t.timestamp) for t in parsed.trace] == [("000.00.00.H62", TRACE_AT.astimezone(VN_TZ))]
    assert [a.name for a in parsed.attachments] == ["7413-UBND-VX3.pdf", "Phụ lục I.docx"]
    assert parsed.attachments[0].content_type == "application/pdf"
    assert parsed.attachments[0].description == "Bản ký số"
    assert Path(parsed.attachments[0].path).read_bytes() == pdf.read_bytes()
    assert Path(parsed.attachments[1].path).read_bytes() == second.read_bytes()
    assert parsed.attachments[0].size == pdf.stat().st_size
    parsed.cleanup()
    assert list(out_dir.iterdir()) == []


def test_round_trip_update_package(pdf: Path) -> None:
    business = Business(doc_type=2, reason="Cập nhật", document_id="000.00.00.H62,2019/09/20,7413/UBND-VX3",
                        document_info=DocumentInfoUpdate(1, 1, [Receiver("000.00.00.H03", 1),
                                                               Receiver("000.00.00.G22", 0)]),
                        replacements=[ReplacementInfo("000.00.00.H62,2019/09/01,7000/UBND-VX3",
                                                      ["000.00.00.G22", "000.00.00.K62"])])
    with parse_package(io.BytesIO(build(pdf, business=business))) as parsed:
        assert parsed.business_doc_type == 2
        assert parsed.business_document_id == business.document_id
        assert parsed.document_info == business.document_info
        assert parsed.replacements == business.replacements


def test_round_trip_from_a_file_path(pdf: Path, tmp_path: Path) -> None:
    package = tmp_path / "package.edxml"
    package.write_bytes(build(pdf))
    with parse_package(str(package)) as parsed:
        assert Path(parsed.attachments[0].path).read_bytes() == pdf.read_bytes()


_xml_text = st.text(st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from("\t\n\r"), max_size=60)
_codes = st.builds(lambda y, top: f"000.00.{y:02d}.H{top:02d}", st.integers(0, 99), st.integers(1, 63))


#: ký hiệu as DocumentMetadata admits it (whitespace-only never reaches edXML: the API refuses it).
_notations = st.from_regex(r"[0-9A-Za-zĐđ][0-9A-Za-zĐđ.\-&]{0,30}", fullmatch=True)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(subject=_xml_text, content=_xml_text, place=_xml_text, notation=_notations, name=_xml_text,
       places=st.lists(_xml_text, max_size=3), appendixes=st.lists(_xml_text, max_size=2),
       priority=st.integers(0, 4), steering=st.integers(0, 2), paper=st.integers(0, 1),
       issued=st.dates(date(1990, 1, 1), date(2100, 12, 31)), due=st.none() | st.dates(date(1990, 1, 1)),
       recipients=st.lists(_codes, min_size=1, max_size=3), data=st.binary(max_size=2_000),
       at=st.datetimes(datetime(2000, 1, 1), datetime(2090, 1, 1), timezones=st.just(UTC)))
def test_property_build_then_parse_gives_back_the_input(subject: str, content: str, place: str, notation: str,
                                                        name: str, places: list[str], appendixes: list[str],
                                                        priority: int, steering: int, paper: int, issued: date,
                                                        due: date | None, recipients: list[str], data: bytes,
                                                        at: datetime) -> None:
    at = at.replace(microsecond=0)
    header = sample_header(
        document_id=document_id("000.00.00.H62", issued, "12", notation), code_notation=notation,
        code_number="12", place=place, promulgation_date=issued, subject=subject, content=content,
        signer=SignerInfo(name, name, name), due_date=due, priority=priority, steering_type=steering,
        to_places=places, appendixes=appendixes)
    sender = Organ("000.00.00.H62", name, address=place)
    organs = [Organ(code, name) for code in recipients]
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp, "f.bin")
        source.write_bytes(data)
        out = io.BytesIO()
        write_new_document_package(out, sender=sender, recipients=organs, header=header,
                                   business=Business(paper=paper, reason=content),
                                   attachments=[AttachmentSource("tệp.pdf", "application/pdf", source)],
                                   trace_timestamp=at)
        out.seek(0)
        with parse_package(out, tmp_dir=tmp) as parsed:
            assert parsed.header() == header
            assert parsed.sender == sender
            assert parsed.recipients == organs
            assert parsed.paper == paper
            assert parsed.business_reason == content
            assert parsed.trace[0].timestamp == at
            assert Path(parsed.attachments[0].path).read_bytes() == data


# -- status packages ----------------------------------------------------------------------------------------------


def status_package(code: str = "02", description: str = "Sai nơi nhận: văn bản không thuộc thẩm quyền.") -> bytes:
    return build_status_package(
        reporter=Organ("000.00.00.G22", "Văn phòng Chính phủ"),
        response_for=ResponseFor("000.00.00.H62", "7413/UBND-VX3", "000.00.00.H62,2019/09/20,7413/UBND-VX3",
                                 date(2019, 9, 20)),
        status_code=code, description=description, staff=StaffInfo("Phòng Văn thư", "Lê Thị B", "b@chinhphu.vn"),
        timestamp=datetime(2019, 9, 21, 8, 0, tzinfo=VN_TZ))


def test_status_package_shape() -> None:
    root = xml(status_package())
    assert local_names(root) == ["edXMLEnvelope"]  # no attachments
    assert local_names(root[0]) == ["edXMLHeader"]  # no body
    message = root.find(f"{Q}edXMLEnvelope/{Q}edXMLHeader/{Q}MessageHeader")
    assert local_names(message) == ["From", "ResponseFor", "StaffInfo", "StatusCode", "Description", "Timestamp"]
    assert local_names(message.find(Q + "ResponseFor")) == ["OrganId", "Code", "DocumentId", "PromulgationDate"]
    assert message.findtext(Q + "Timestamp") == "2019/09/21 08:00:00"
    assert message.findtext(f"{Q}ResponseFor/{Q}PromulgationDate") == "2019/09/20"


def test_status_package_round_trip() -> None:
    with parse_package(io.BytesIO(status_package())) as parsed:
        assert parsed.message_type == "status"
        assert parsed.sender.organ_id == "000.00.00.G22"
        assert parsed.status_code == "02"
        assert status_meaning(parsed.status_code) == "Từ chối tiếp nhận"
        assert parsed.status_description == "Sai nơi nhận: văn bản không thuộc thẩm quyền."
        assert parsed.status_timestamp == datetime(2019, 9, 21, 8, 0, tzinfo=VN_TZ)
        assert parsed.response_for == [ResponseFor("000.00.00.H62", "7413/UBND-VX3",
                                                   "000.00.00.H62,2019/09/20,7413/UBND-VX3", date(2019, 9, 20))]
        assert parsed.staff.staff == "Lê Thị B"
        assert parsed.attachments == []


def test_unknown_status_codes_are_kept() -> None:
    with parse_package(io.BytesIO(status_package(code="99", description=""))) as parsed:
        assert parsed.status_code == "99"
        assert status_meaning("99") is None


# -- tolerance on input -------------------------------------------------------------------------------------------


def test_dashed_dates_are_accepted(pdf: Path) -> None:
    raw = build(pdf).replace(b"2019/09/20</edXML:PromulgationDate>", b"2019-09-20</edXML:PromulgationDate>")
    with parse_package(io.BytesIO(raw)) as parsed:
        assert parsed.promulgation_date == date(2019, 9, 20)


def test_unreadable_optional_values_become_warnings(pdf: Path) -> None:
    raw = build(pdf).replace(b"2019/10/15</edXML:DueDate>", b"mai</edXML:DueDate>")
    with parse_package(io.BytesIO(raw)) as parsed:
        assert parsed.due_date is None
        assert any("DueDate" in w for w in parsed.warnings)


def _replace_encoded(raw: bytes, encoded: bytes) -> bytes:
    return re.sub(rb"<ContentTransferEncoded>[^<]*</ContentTransferEncoded>",
                  b"<ContentTransferEncoded>" + encoded + b"</ContentTransferEncoded>", raw)


def test_unzipped_attachment_is_taken_as_it_is(pdf: Path) -> None:
    raw = _replace_encoded(build(pdf), base64.b64encode(pdf.read_bytes()))
    with parse_package(io.BytesIO(raw)) as parsed:
        assert Path(parsed.attachments[0].path).read_bytes() == pdf.read_bytes()


def test_base64_with_line_breaks_is_decoded(pdf: Path) -> None:
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as zf:
        zf.writestr("x.pdf", pdf.read_bytes())
    raw = _replace_encoded(build(pdf), base64.encodebytes(zipped.getvalue()).replace(b"\n", b"\r\n"))
    with parse_package(io.BytesIO(raw)) as parsed:
        assert Path(parsed.attachments[0].path).read_bytes() == pdf.read_bytes()


def test_prefixless_package_from_another_producer_is_read(pdf: Path) -> None:
    raw = build(pdf).replace(b"edXML:", b"").replace(f' xmlns:edXML="{NS}"'.encode(), b"")
    with parse_package(io.BytesIO(raw)) as parsed:
        assert parsed.sender == SENDER
        assert Path(parsed.attachments[0].path).read_bytes() == pdf.read_bytes()


# -- refusals -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "code"), [
    (b"not xml at all", "malformed_xml"),
    (b"<edXML><unclosed></edXML>", "malformed_xml"),
    (b"<html><body/></html>", "not_edxml"),
    (b'<?xml version="1.0"?><!DOCTYPE edXML [<!ENTITY a "aaaa">]><edXML>&a;</edXML>', "dtd_forbidden"),
    (b'<edXML xmlns="' + NS.encode() + b'"><edXMLEnvelope/></edXML>', "missing_sender"),
])
def test_unreadable_input_raises_edxml_error(raw: bytes, code: str) -> None:
    with pytest.raises(EdxmlError) as caught:
        parse_package(io.BytesIO(raw))
    assert caught.value.code == code
    assert caught.value.message  # Vietnamese, for people


@pytest.mark.parametrize(("encoded", "code"), [
    (b"@@@not base64@@@", "bad_base64"),
    (base64.b64encode(b"PK\x03\x04 but not really a zip archive"), "bad_attachment_zip"),
])
def test_broken_attachments_raise_and_leave_no_temp_files(pdf: Path, tmp_path: Path, encoded: bytes,
                                                          code: str) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(EdxmlError) as caught:
        parse_package(io.BytesIO(_replace_encoded(build(pdf), encoded)), tmp_dir=str(out_dir))
    assert caught.value.code == code
    assert list(out_dir.iterdir()) == []


def test_attachment_over_the_limit_is_refused(pdf: Path, tmp_path: Path) -> None:
    with pytest.raises(EdxmlError) as caught:
        parse_package(io.BytesIO(build(pdf)), tmp_dir=str(tmp_path), max_attachment_bytes=10_000)
    assert caught.value.code == "attachment_too_large"
    assert list(tmp_path.glob("edxml-*")) == []


def test_edxml_errors_are_plain_value_errors_read_or_write(pdf: Path) -> None:
    """Standards code raises plain exceptions (issue 7): what a client sees is the API layer's decision."""
    with pytest.raises(EdxmlReadError) as read:
        parse_package(io.BytesIO(b"<html/>"))
    with pytest.raises(EdxmlWriteError) as write:
        build(pdf, attachments=[])
    for error in (read.value, write.value):
        assert isinstance(error, EdxmlError)
        assert isinstance(error, ValueError)
        assert not isinstance(error, GatewayError)
        assert str(error) == f"{error.code}: {error.message}"
        assert isinstance(error.details, dict)


# -- memory -------------------------------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def test_20_mb_attachment_round_trip_in_small_constant_memory(tmp_path: Path) -> None:
    size = 20 * 1024 * 1024
    big = tmp_path / "big.pdf"
    with open(big, "wb") as fh:
        for _ in range(size // (1 << 20)):
            fh.write(os.urandom(1 << 20))  # incompressible: the package is ~27 MB of base64
    package = tmp_path / "big.edxml"
    out_dir = tmp_path / "out"
    out_dir.mkdir()

    tracemalloc.start()
    try:
        with open(package, "wb") as out:
            write_new_document_package(out, sender=SENDER, recipients=RECIPIENTS, header=sample_header(),
                                       business=Business(), trace_timestamp=TRACE_AT,
                                       attachments=[AttachmentSource("big.pdf", "application/pdf", big)],
                                       tmp_dir=str(tmp_path))
        _, build_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        parsed = parse_package(str(package), tmp_dir=str(out_dir))
        _, parse_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert package.stat().st_size > size * 4 // 3  # the whole file really went through
    assert _sha256(Path(parsed.attachments[0].path)) == _sha256(big)
    assert build_peak < 4 * 1024 * 1024, build_peak
    assert parse_peak < 4 * 1024 * 1024, parse_peak
    parsed.cleanup()


def test_timestamps_in_any_zone_are_written_in_vietnam_time(pdf: Path) -> None:
    at = datetime(2019, 12, 31, 20, 0, tzinfo=timezone(timedelta(hours=-5)))  # = 2020/01/01 08:00 in Hà Nội
    out = io.BytesIO()
    write_new_document_package(out, sender=SENDER, recipients=RECIPIENTS, header=sample_header(), business=Business(),
                               attachments=[AttachmentSource("a.pdf", "application/pdf", pdf)], trace_timestamp=at)
    assert b"<edXML:Timestamp>2020/01/01 08:00:00</edXML:Timestamp>" in out.getvalue()
