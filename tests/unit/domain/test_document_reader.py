"""The pure NĐ 30 reader on text (issue 12): lines built from plain rows (chalicelib.domain.page_text.lines_from_rows,
"left | right" for the two columns), no PDF; and the recipients' resolution against a small registry."""

from __future__ import annotations

from chalicelib.domain.document_codes import DOCUMENT_TYPES
from chalicelib.domain.document_reader import fill_from_issuer, issuer_abbreviation, read_document
from chalicelib.domain.page_text import lines_from_rows
from chalicelib.domain.recipient_names import Known, canonical, resolve_recipients
from chalicelib.standards.nd30_layout import TYPE_NAMES

HEAD = ["UBND TỈNH VĨNH PHÚC | CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "SỞ NỘI VỤ | Độc lập - Tự do - Hạnh phúc"]
REGISTRY = [Known("000.00.00.H62", "UBND tỉnh Vĩnh Phúc"), Known("000.00.00.K62", "HĐND tỉnh Vĩnh Phúc"),
            Known("000.00.12.H62", "Sở Thông tin và Truyền thông Vĩnh Phúc"),
            Known("000.00.13.H62", "Sở Nội vụ Vĩnh Phúc"), Known("000.00.20.H62", "Sở Tài chính Vĩnh Phúc"),
            Known("000.00.40.H62", "UBND thành phố Vĩnh Yên"), Known("000.00.42.H62", "UBND huyện Bình Xuyên"),
            Known("000.00.21.H62", "Sở Xây dựng Vĩnh Phúc", active=False),
            Known("000.00.00.G22", "Văn phòng Chính phủ"), Known("000.00.20.H03", "Sở Tài chính Bắc Giang")]


def _read(rows: list[str]):
    return read_document(lines_from_rows(rows))


def test_the_type_table_is_phu_luc_iii_as_the_metadata_model_has_it() -> None:
    assert DOCUMENT_TYPES is TYPE_NAMES  # one table: the API validates the types the reader recognises
    assert len(TYPE_NAMES) == 28 and TYPE_NAMES["QĐ"] == "Quyết định" and TYPE_NAMES["CV"] == "Công văn"


def test_a_decision_with_its_header_title_and_two_line_subject() -> None:
    reading = _read(HEAD + ["Số: 05/QĐ-SNV | Vĩnh Phúc, ngày 03 tháng 02 năm 2021", "",
                            "QUYẾT ĐỊNH", "Về việc ban hành Quy chế văn thư", "của Sở Nội vụ", "",
                            "GIÁM ĐỐC SỞ NỘI VỤ", "Căn cứ Nghị định số 30/2020/NĐ-CP;"])
    assert reading.header
    assert reading.metadata == {"number": "05", "notation": "QĐ-SNV", "type": "QĐ", "issued_on": "2021-02-03",
                                "place": "Vĩnh Phúc", "subject": "Về việc ban hành Quy chế văn thư của Sở Nội vụ"}
    assert reading.confidence["type"] >= 0.9
    assert {w["code"] for w in reading.warnings} == {"signer_missing"}


def test_blanks_stay_blank_and_say_so() -> None:
    reading = _read(HEAD + ["Số:      / TB-SNV | Vĩnh Phúc, ngày    tháng 6 năm 2020", "THÔNG BÁO", "Lịch họp"])
    assert (reading.metadata["number"], reading.metadata["notation"], reading.metadata["issued_on"]) == \
        ("", "TB-SNV", "2020-06")
    assert {"number_blank", "date_incomplete"} <= {w["code"] for w in reading.warnings}
    year_only = _read(["Số: /UBND-VP", "Vĩnh Phúc, ngày tháng năm 2019", "V/v lịch công tác"])
    assert year_only.metadata["issued_on"] == "2019"
    assert year_only.metadata["type"] == "CV"


def test_the_type_comes_from_the_notation_when_no_title_is_printed_and_a_mismatch_warns() -> None:
    assert _read(["Số: 7/KH-SNV", "Vĩnh Phúc, ngày 01 tháng 3 năm 2021", "Triển khai"]).metadata["type"] == "KH"
    mismatch = _read(["Số: 7/KH-SNV", "Vĩnh Phúc, ngày 01 tháng 3 năm 2021", "THÔNG BÁO", "Lịch"])
    assert mismatch.metadata["type"] == "TB"
    assert mismatch.confidence["type"] < 0.9
    assert "type_mismatch" in {w["code"] for w in mismatch.warnings}


def test_a_date_that_does_not_exist_is_kept_partial_with_a_warning() -> None:
    reading = _read(["Số: 7/UBND-VP", "Vĩnh Phúc, ngày 31 tháng 02 năm 2021", "V/v a"])
    assert reading.metadata["issued_on"] == "2021-02"
    assert "date_invalid" in {w["code"] for w in reading.warnings}


def test_the_foot_two_columns_lists_and_signer() -> None:
    reading = _read(HEAD + ["Số: 9/UBND-VP | Vĩnh Phúc, ngày 01 tháng 3 năm 2021", "V/v lịch |", "",
                            "Kính gửi: Sở Tài chính.", "", "Nội dung.", "",
                            "Nơi nhận: VB | TM. ỦY BAN NHÂN DÂN", "- Văn phòng Chính phủ; | KT. CHỦ TỊCH",
                            "- Lưu: VT. | PHÓ CHỦ TỊCH", "Bản điện tử: |", "- Như trên; |", "- Các sở, ban, ngành. |",
                            " | Nguyễn Văn An"])
    assert reading.metadata["signer"] == {"full_name": "Nguyễn Văn An", "position": "PHÓ CHỦ TỊCH",
                                          "competence": "TM. ỦY BAN NHÂN DÂN, KT. CHỦ TỊCH"}
    assert [(r.text, r.list, r.paper, r.note) for r in reading.recipients] == [
        ("Sở Tài chính", "kinh_gui", False, ""), ("Văn phòng Chính phủ", "noi_nhan", True, ""),
        ("Lưu: VT", "noi_nhan", False, "archive"), ("Như trên", "ban_dien_tu", False, "as_above"),
        ("Các sở, ban, ngành", "ban_dien_tu", False, "")]


def test_a_text_without_the_layout_gives_nothing_but_a_warning() -> None:
    reading = _read(["Tin tức", "Vĩnh Phúc triển khai thí điểm ký số.", "Nguyễn Trọng Lịch"])
    assert reading.metadata == {} and not reading.header
    assert "not_nd30_layout" in {w["code"] for w in reading.warnings}


def test_a_header_less_document_gets_notation_and_place_from_its_issuer() -> None:
    reading = _read(["CHỈ THỊ", "Về việc tăng cường sử dụng văn bản điện tử", "", "Trong thời gian qua."])
    fill_from_issuer(reading, issuer_name="UBND tỉnh Bắc Giang", place="Bắc Giang")
    assert (reading.metadata["notation"], reading.metadata["place"]) == ("CT-UBND", "Bắc Giang")
    assert reading.confidence["notation"] <= 0.5
    assert {"notation_inferred", "place_inferred"} <= {w["code"] for w in reading.warnings}
    assert issuer_abbreviation("Sở Thông tin và Truyền thông Vĩnh Phúc", "Vĩnh Phúc") == "STTTT"
    assert issuer_abbreviation("Sở Nội vụ Vĩnh Phúc", "Vĩnh Phúc") == "SNV"


def test_names_abbreviations_and_groups_resolve_in_the_callers_province() -> None:
    reading = _read(["Số: 9/UBND-VP", "Vĩnh Phúc, ngày 01 tháng 3 năm 2021", "V/v a", "",
                     "Kính gửi:", "- Sở TT&TT;", "- So noi vu;", "- Các sở, ban, ngành;",
                     "- UBND các huyện, thành phố;", "- UBND huyện Bình Xuyên;", "- TT HĐND tỉnh, Tỉnh ủy;",
                     "- Văn phòng Chính phủ (b/c);", "- Sở Xây dựng;", "- Ban Tuyên giáo."])
    resolved = {r.text: (r.organ_ids, r.note) for r in resolve_recipients(reading.recipients, REGISTRY,
                                                                         "000.00.00.H62")}
    assert resolved == {
        "Sở TT&TT": (["000.00.12.H62"], ""), "So noi vu": (["000.00.13.H62"], ""),
        "Các sở, ban, ngành": (["000.00.12.H62", "000.00.13.H62", "000.00.20.H62"], "group"),
        "UBND các huyện, thành phố": (["000.00.40.H62", "000.00.42.H62"], "group"),
        "UBND huyện Bình Xuyên": (["000.00.42.H62"], ""),
        "TT HĐND tỉnh, Tỉnh ủy": (["000.00.00.K62"], ""),
        "Văn phòng Chính phủ (b/c)": (["000.00.00.G22"], ""),
        "Sở Xây dựng": ([], "unresolved"),  # registered but inactive
        "Ban Tuyên giáo": ([], "unresolved"),
    }
    assert canonical("Sở KH&ĐT") == "so ke hoach va dau tu"


def test_the_sender_is_never_in_its_own_group() -> None:
    reading = _read(["Số: 9/SNV-VP", "Vĩnh Phúc, ngày 01 tháng 3 năm 2021", "V/v a", "",
                     "Kính gửi: Các sở, ban, ngành."])
    resolved = resolve_recipients(reading.recipients, REGISTRY, "000.00.13.H62")
    assert resolved[0].organ_ids == ["000.00.12.H62", "000.00.20.H62"]
