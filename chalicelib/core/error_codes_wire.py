"""The error codes of the national standards' wire formats: edXML packages that cannot be built or read
(QCVN 102:2016, chalicelib.standards.edxml) and axis request signatures (chalicelib.standards.axis_protocol).

Why a module of its own: they are the longest areas of the catalogue (chalicelib.core.error_codes, which merges
them into `AREAS` in their place) and change only with the standards, not with the gateway's own routes.
"""

from __future__ import annotations

from chalicelib.core.error_entry import NA, ErrorCode

__all__ = ["WIRE_AREAS"]

E = ErrorCode

WIRE_AREAS: dict[str, tuple[ErrorCode, ...]] = {
    # -- edXML packages that cannot be built or read (chalicelib.standards.edxml, EdxmlError) --------------------
    "edXML packages": (
        E("edxml_invalid", NA, "Gói tin edXML không hợp lệ.", "EdxmlError's default.", True),
        E("malformed_xml", NA, "Gói tin không phải XML hợp lệ.", "Not well-formed XML.", True),
        E("dtd_forbidden", NA, "Gói tin không được chứa khai báo DTD/thực thể.", "A DTD or entity declaration.", True),
        E("not_edxml", NA, "Không phải gói tin edXML (phần tử gốc phải là edXML).", "Another root element.", True),
        E("missing_sender", NA, "Gói tin thiếu thông tin cơ quan gửi (From/OrganId).", "No From/OrganId.", True),
        E("element_too_large", NA, "Một phần tử của gói tin quá lớn.", "An element over the reader's limit.", True),
        E("bad_base64", NA, "Tệp đính kèm không giải mã được (base64 lỗi).", "An attachment is not base64.", True),
        E("bad_attachment_zip", NA, "Tệp nén đính kèm bị lỗi, không giải nén được.",
          "A truncated or inconsistent zip (short header, sizes that do not match).", True),
        E("attachment_too_large", NA, "Tệp đính kèm vượt quá dung lượng cho phép.",
          "One attachment's decoded bytes over the limit (counted while inflating).", True),
        E("package_too_large", NA, "Gói tin vượt quá dung lượng cho phép.",
          "A package over the reader's byte limit, or an axis download past the client's cap (AxisPackageTooLarge).",
          True),
        E("xml_too_deep", NA, "Gói tin có cấu trúc lồng nhau quá sâu.", "Elements nested past the depth limit.",
          True),
        E("too_many_elements", NA, "Gói tin có quá nhiều phần tử.", "More elements than the reader accepts.", True),
        E("text_too_large", NA, "Tổng nội dung văn bản của gói tin quá lớn.",
          "All element texts together over the limit.", True),
        E("xml_token_too_large", NA, "Gói tin có một thẻ XML quá lớn.",
          "A tag, comment or processing instruction larger than the parser may buffer.", True),
        E("too_many_attachments", NA, "Gói tin có quá nhiều tệp đính kèm.", "More attachments than the limit.", True),
        E("attachments_too_large", NA, "Tổng dung lượng các tệp đính kèm vượt quá mức cho phép.",
          "All attachments' decoded bytes together over the limit.", True),
        E("malformed_attachment", NA, "Tệp đính kèm trong gói tin không đúng cấu trúc.",
          "Two contents in one Attachment, or elements inside ContentTransferEncoded.", True),
        E("zip_encrypted", NA, "Tệp nén đính kèm được mã hóa, không giải nén được.",
          "An encrypted zip entry (traditional or AES).", True),
        E("zip_unsupported_method", NA, "Tệp nén đính kèm dùng phương thức nén không được hỗ trợ.",
          "A zip method other than stored or deflated (`details.method`).", True),
        E("zip_bad_deflate", NA, "Dữ liệu nén của tệp đính kèm bị hỏng.", "A deflate stream that does not inflate.",
          True),
        E("zip_crc_mismatch", NA, "Tệp nén đính kèm sai mã kiểm tra (CRC), dữ liệu không toàn vẹn.",
          "The inflated bytes' CRC-32 differs from the archive's.", True),
        E("zip_multiple_entries", NA, "Tệp nén đính kèm phải chứa đúng một tệp.",
          "More than the one entry the standard allows.", True),
        E("zip_ratio_exceeded", NA, "Tệp nén đính kèm có tỷ lệ nén bất thường (nghi là bom nén).",
          "A zip entry inflating past the ratio limit (a zip bomb).", True),
        E("unsupported_encoding", NA, "Gói tin dùng bảng mã không được hỗ trợ.",
          "An XML encoding expat cannot read (an unknown name, a multi-byte codec other than UTF-8/16).", True),
        E("unreadable_package", NA, "Gói tin không đọc được.",
          "Any other failure while reading untrusted input (`details.error` names it); a test hunts these.", True),
        E("invalid_value", NA, "Giá trị không hợp lệ.", "A field value the schema refuses (writing)."),
        E("missing_value", NA, "Gói tin thiếu ngày ban hành (PromulgationDate).", "A required value (writing)."),
        E("missing_attachment", NA, "Văn bản mới phải có ít nhất một tệp đính kèm.", "No or a missing attachment."),
    ),
    # -- axis request signatures (chalicelib.standards.axis_protocol, SignatureError: plain, a `reason`) ---------
    "Axis request signatures": (
        E("missing_headers", NA, "Thiếu tiêu đề xác thực XroadVnpt.", "A request without the XroadVnpt-* headers."),
        E("malformed_sign_header", NA, "Tiêu đề chữ ký không đúng định dạng.", "An unparseable sign header."),
        E("unknown_system", NA, "Mã hệ thống không được biết.", "No secret for that system id."),
        E("bad_signature", NA, "Chữ ký của yêu cầu không đúng.", "The HMAC does not verify."),
        E("key_list_mismatch", NA, "Danh sách tiêu đề được ký không khớp.", "Signed header names differ."),
        E("header_mismatch", NA, "Một tiêu đề được ký không khớp với yêu cầu.", "A signed header's value differs."),
        E("stale_timestamp", NA, "Thời điểm ký của yêu cầu đã quá cũ.", "The timestamp is outside the window."),
        E("replayed_request", NA, "Yêu cầu này đã được gửi trước đó.",
          "The same signed request seen again within the window (ReplayCache)."),
    ),
}
