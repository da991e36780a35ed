"""How an administrative document is laid out on its first and last page (Nghị định 30/2020/NĐ-CP, Phụ lục I:
"Thể thức, kỹ thuật trình bày văn bản hành chính"; Phụ lục III: the document types and their abbreviations), as
the patterns a reader of the page's text needs. Pure data and regular expressions; the reader that applies them is
chalicelib.domain.document_reader.

Phụ lục I, the parts a reader looks for (numbers are the positions of its diagram):
- ① quốc hiệu and tiêu ngữ, top right: "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" / "Độc lập - Tự do - Hạnh phúc";
- ② the issuing body, top left ("UBND TỈNH VĨNH PHÚC" / "SỞ NỘI VỤ");
- ③ số and ký hiệu under it: "Số: 7413/UBND-VX3" (Art. 15: numbers from 01 each year, so the văn thư may leave
  "Số:      /TB-UBND" blank until issuance; the ký hiệu of a công văn is issuer-unit, of other types
  type-issuer, e.g. "TB-UBND");
- ④ place and date, right: "Vĩnh Phúc, ngày 20 tháng 9 năm 2019" (Art. 16: day and month below 10 written with a
  leading zero in issued documents, blanks before issuance);
- ⑤a the type's name, centred, upper case ("THÔNG BÁO"), with the trích yếu under it; ⑤b a công văn has no type
  name: its trích yếu stands under the số as "V/v …" (về việc);
- ⑨a "Kính gửi:" and the addressees (a công văn's, sometimes a tờ trình's); ⑨b "Nơi nhận:" and the list at the foot,
  left, each line "- …;", the last "- Lưu: VT, …" (the issuer's own file, not a recipient); provinces add a
  separate "Bản điện tử:" list when the "Nơi nhận:" one is the paper list ("Nơi nhận: VB");
- ⑦ the signature block, foot right: the competence (Art. 13: "TM." on behalf of a collective, "KT." deputising,
  "TL." / "TUQ." by delegation, "Q." acting), the position, upper case, then the signer's full name.
"""

from __future__ import annotations

import re

__all__ = ["ARCHIVE", "AS_ABOVE", "COMPETENCE", "DATE_LINE", "ELECTRONIC_LIST", "KINH_GUI", "MOTTO",
           "NATIONAL_TITLE", "NOI_NHAN", "NUMBER_LINE", "PAPER_MARK", "SUBJECT_PREFIX", "TYPE_NAMES"]

#: Phụ lục III: abbreviation → the type's name as printed (upper case on the page). A công văn has no name printed
#: and no abbreviation (`CV` here, as clients send it). chalicelib.domain.document_codes serves this same table.
TYPE_NAMES: dict[str, str] = {
    "NQ": "Nghị quyết", "QĐ": "Quyết định", "CT": "Chỉ thị", "QC": "Quy chế", "QyĐ": "Quy định",
    "TC": "Thông cáo", "TB": "Thông báo", "HD": "Hướng dẫn", "CTr": "Chương trình", "KH": "Kế hoạch",
    "PA": "Phương án", "ĐA": "Đề án", "DA": "Dự án", "BC": "Báo cáo", "BB": "Biên bản", "TTr": "Tờ trình",
    "HĐ": "Hợp đồng", "CĐ": "Công điện", "BGN": "Bản ghi nhớ", "BTT": "Bản thỏa thuận", "GUQ": "Giấy ủy quyền",
    "GM": "Giấy mời", "GGT": "Giấy giới thiệu", "GNP": "Giấy nghỉ phép", "PG": "Phiếu gửi", "PC": "Phiếu chuyển",
    "PB": "Phiếu báo", "CV": "Công văn",
}

#: ③ "Số: 7413/UBND-VX3", "Số:      / TB-UBND" (blank number), "Số 15/QĐ-UBND". The number is digits or nothing;
#: the ký hiệu letters, digits, "-", "&" and "." (chalicelib.domain.metadata's rule). Legal documents' "15/2021/QĐ-…"
#: keep the year in `year`.
NUMBER_LINE = re.compile(
    r"^\s*Số\s*[:.]?\s*(?P<number>\d{0,7})\s*/\s*(?:(?P<year>\d{4})\s*/\s*)?"
    r"(?P<notation>[0-9A-Za-zĐđ][0-9A-Za-zĐđ.\-&]*(?:\s*-\s*[0-9A-Za-zĐđ.&]+)*)\s*$")

#: ④ "<Địa danh>, ngày 20 tháng 9 năm 2019", blanks allowed for day and month ("ngày   tháng 6 năm 2020").
DATE_LINE = re.compile(
    r"^\s*(?P<place>[^\W\d_][^,\d]{0,60}?)\s*,\s*ngày\s*(?P<day>\d{1,2})?\s*tháng\s*(?P<month>\d{1,2})?\s*"
    r"năm\s*(?P<year>\d{4})\b", re.IGNORECASE)

#: ① quốc hiệu and tiêu ngữ, compared after folding (accents, case: "CỘNG HOÀ" and "CỘNG HÒA" alike).
NATIONAL_TITLE = "cong hoa xa hoi chu nghia viet nam"
MOTTO = "doc lap - tu do - hanh phuc"

#: ⑤b the trích yếu of a công văn.
SUBJECT_PREFIX = re.compile(r"^\s*(V/v|Về việc)\b", re.IGNORECASE)

#: ⑨a, ⑨b and the province's electronic list; each may carry its first entry on the same line.
KINH_GUI = re.compile(r"^\s*Kính\s+gửi\s*:?\s*(?P<rest>.*)$", re.IGNORECASE)
NOI_NHAN = re.compile(r"^\s*Nơi\s+nhận\s*:?\s*(?P<rest>.*)$", re.IGNORECASE)
ELECTRONIC_LIST = re.compile(r"^\s*Bản\s+điện\s+tử\s*:?\s*(?P<rest>.*)$", re.IGNORECASE)
#: What follows "Nơi nhận:" when that list is the paper one (văn bản giấy).
PAPER_MARK = re.compile(r"^\s*\(?\s*(VB|bản giấy|văn bản giấy)\s*\)?\s*:?\s*$", re.IGNORECASE)
#: "- Lưu: VT, TPKT." / "- VT, (H: 45 b)." / "- Lưu VT,VX3.": the issuer's own file, not a recipient.
ARCHIVE = re.compile(r"^\s*(Lưu\b|VT\b)", re.IGNORECASE)
#: "- Như trên;" / "- Như kg;" / "- Như Điều 3;": the addressees already named (Kính gửi, or the articles).
AS_ABOVE = re.compile(r"^\s*Như\s+(trên|kg|kính gửi|điều\s*\d+)\b", re.IGNORECASE)

#: ⑦ Art. 13: the competence words that open the signature block ("KT.CHỦ TỊCH" without its space too).
COMPETENCE = re.compile(r"^\s*(?P<word>TM|KT|TL|TUQ|Q)\s*\.\s*(?P<rest>\S.*)$")
