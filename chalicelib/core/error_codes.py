"""The catalogue of the gateway's stable error codes: one entry per code, grouped by area.

A code is part of the API contract (clients branch on it) and of the records (a document's `reason` when it goes
`REJECTED` or `FAILED`, an amendment's `reason_code`, an inbound envelope's `reason`): never rename one. Each entry
gives the HTTP statuses the API answers it with (none when it is only ever recorded or logged), the default
Vietnamese message people read, and one line on what it means. `GatewayError(code=...)` takes its message from
here when the raise site gives none (`chalicelib.core.errors`); a raise site may still say something more precise.

`tests/unit/core/test_error_catalogue.py` reads every code literal in chalicelib and fails on one missing here.
`python -m chalicelib.core.error_codes` prints the table kept in `docs/error-codes.md`.
"""

from __future__ import annotations

from chalicelib.core.error_codes_wire import WIRE_AREAS
from chalicelib.core.error_entry import NA, ErrorCode

__all__ = ["AREAS", "CODES", "ErrorCode", "get", "markdown"]


E = ErrorCode

AREAS: dict[str, tuple[ErrorCode, ...]] = {
    # -- requests and authentication (chalicelib.api, chalicelib.core.errors) --------------------------------------
    "Requests and authentication": (
        E("bad_request", (400,), "Yêu cầu không hợp lệ.", "GatewayError's own default: a request the gateway refuses."),
        E("invalid_request", (400,), "Dữ liệu gửi lên không hợp lệ.", "ValidationFailed's default: a field is wrong."),
        E("invalid_json", (400,), "Nội dung yêu cầu không phải JSON hợp lệ.", "The request body is not JSON."),
        E("invalid_limit", (400,), "Tham số limit phải là số nguyên.", "The `limit` query parameter of a list."),
        E("invalid_cursor", (400,), "Con trỏ phân trang không hợp lệ.",
          "The `cursor` of a list was not ours: not base64 JSON, the wrong keys or types, or another list's."),
        E("json_too_deep", (400,), "Nội dung JSON lồng nhau quá sâu.",
          "The JSON body nests more than 32 levels (`details.max_depth`)."),
        E("json_not_object", (400,), "Nội dung yêu cầu phải là một đối tượng JSON.",
          "The JSON body is an array, a string or a number where the route takes an object."),
        E("body_too_large", (413,), "Nội dung yêu cầu quá lớn.",
          "The JSON body is over 1 MiB (`details.max_bytes`)."),
        E("invalid_text", (400,), "Văn bản gửi lên chứa ký tự không hợp lệ hoặc độ dài không đúng.",
          "A text field has a character XML 1.0 cannot carry (C0/C1 control, lone surrogate, U+FFFE/U+FFFF, a "
          "noncharacter; tab or line break in a one-line field) or a length out of bounds after NFC; "
          "`details.field` names it, `details.reason` says why (chalicelib.domain.text). Also the edXML writer's "
          "refusal of text XML cannot carry (never reached for what the API checked)."),
        E("unauthorized", (401,), "Chưa xác thực hoặc mã truy cập không hợp lệ.",
          "No or a bad bearer token; `details.reason` says which check failed (never the token)."),
        E("token_expired", (401,), "Mã truy cập đã hết hạn.", "The ID token is past its `exp`."),
        E("forbidden", (403,), "Không có quyền thực hiện thao tác này.", "The caller may not do this."),
        E("no_organ", (403,), "Tài khoản chưa được gắn với cơ quan nào.", "The token has no `custom:organ_id`."),
        E("admin_only", (403,), "Chỉ quản trị viên được xem mục này.", "An admin route called by a clerk."),
        E("mfa_required", (403,), "Tài khoản quản trị phải bật xác thực hai yếu tố (ứng dụng tạo mã OTP).",
          "An `admins` user whose Cognito account has no software-token MFA: every request refused until it is set."),
        E("mfa_check_unavailable", (503,), "Chưa kiểm tra được xác thực hai yếu tố, vui lòng thử lại sau.",
          "Cognito did not answer whether an admin has MFA; refused (fail closed), retry later."),
        E("not_found", (404,), "Không tìm thấy.", "NotFound's default."),
        E("conflict", (409,), "Trạng thái hiện tại không cho phép thao tác này.", "Conflict's default."),
        E("internal_error", (500,), "Lỗi hệ thống, vui lòng thử lại sau.",
          "An unexpected error; logged with its traceback, never shown."),
        E("route_not_found", (404,), "Không có địa chỉ (đường dẫn) này trong API.",
          "No route has this path (API Gateway's MISSING_AUTHENTICATION_TOKEN, answered 404 in this shape)."),
        E("method_not_allowed", (405,), "Đường dẫn này không nhận phương thức HTTP đã dùng.",
          "The path exists but not with this method (Chalice's 405); `details.allowed` lists the methods."),
        E("unsupported_media_type", (415,), "Kiểu nội dung (Content-Type) của yêu cầu không được hỗ trợ.",
          "A `Content-Type` the route does not take (Chalice's or API Gateway's 415); `details.content_type`."),
        E("too_many_requests", (429,), "Quá nhiều yêu cầu, vui lòng thử lại sau ít phút.",
          "API Gateway's throttling (stage or account limits)."),
        E("service_unavailable", (502, 503, 504), "Dịch vụ tạm thời không phản hồi, vui lòng thử lại sau.",
          "API Gateway's own 5xx (the function failed to answer, timed out, or was throttled)."),
    ),
    # -- outgoing documents (chalicelib.outbound.documents) -------------------------------------------------------
    "Outgoing documents": (
        E("agency_not_served", (403, 400), "Cơ quan của tài khoản không được cổng này phục vụ.",
          "The agency is not in the registry or not active (403 for the caller's own, 400 for an admin's organ_id)."),
        E("secret_document", (422,), "Văn bản mật không được gửi qua Trục liên thông văn bản quốc gia.",
          "A secret document cannot travel over the axis."),
        E("unknown_recipient", (422,), "Cơ quan nhận không có trong danh bạ hoặc đã ngừng hoạt động.",
          "A recipient is not in the agency registry (`details.recipients`)."),
        E("recipient_inactive", (422,), "Cơ quan nhận đã ngừng hoạt động trong danh bạ, không gửi văn bản đến được.",
          "A recipient is registered but inactive (set so by an admin, or withdrawn from the axis directory); "
          "`details.recipients`."),
        E("document_not_found", (404,), "Không tìm thấy văn bản.", "No such document of the caller's agency."),
        E("invalid_state", (400,), "Trạng thái lọc không hợp lệ.", "The `state` filter names no state."),
        E("not_signed_yet", (404,), "Văn bản chưa được ký số.", "The signed PDF asked for does not exist yet."),
        E("attachment_not_found", (404,), "Không tìm thấy phụ lục của văn bản.", "No attachment by that part/index."),
    ),
    # -- the upload and its signature: a document's reason when it goes REJECTED or FAILED (signing, outbound) --
    "Uploads and signing": (
        E("upload_rejected", NA, "Tệp tải lên không hợp lệ.", "UploadRejected's default: the upload cannot be signed.",
          True),
        E("empty_file", (400,), "Tệp tải lên rỗng.", "The upload (or the PDF sent to /v1/verify) is empty.", True),
        E("file_too_large", NA, "Tệp vượt quá dung lượng cho phép.", "The upload is over the size limit.", True),
        E("not_a_pdf", (400,), "Tệp không phải PDF.", "The file does not start with `%PDF-`.", True),
        E("malformed_pdf", (400,), "Tệp PDF bị hỏng hoặc không đầy đủ.",
          "Truncated or unparseable PDF; `details.reason` is `truncated`, `no_pages` or the parser's error.", True),
        E("encrypted_pdf", (400,), "Tệp PDF đã bị mã hóa, không thể ký.", "The PDF is encrypted.", True),
        E("pdf_too_complex", (400,), "Tệp PDF có cấu trúc quá phức tạp, không thể xử lý an toàn.",
          "The PDF declares or needs more than the parse limits (chalicelib.signing.pdf_limits): `details.reason` is "
          "`xref_too_large`, `xref_width`, `too_many_revisions`, `object_stream_too_large`, `page_tree_loop`, "
          "`page_tree_too_deep`, `too_many_pages`, `nesting_too_deep`, `cpu_time`, `memory`, `parser_crashed` or "
          "`answer_too_large`.", True),
        E("locked_pdf", NA, "Tệp PDF đã được chứng thực không cho phép thay đổi, không thể ký thêm.",
          "The PDF is certified with no changes allowed.", True),
        E("blanks_locked", NA, "Văn bản đã được chứng thực với quyền chỉ cho phép điền biểu mẫu và ký: không thể "
          "điền số và ngày ban hành vào chỗ trống. Hãy ghi số, ngày trước khi ký chứng thực, hoặc ký lại cho phép "
          "thêm chú thích.",
          "The first page has blanks for the number and date (NĐ 30 Art. 15) but a certification (DocMDP P=2) "
          "forbids the annotations that fill them (chalicelib/signing/marks.py); no number is issued.", True),
        E("missing_upload", NA, "Không tìm thấy tệp đã tải lên.", "The uploaded object is gone from S3.", True),
        E("stamp_page_missing", NA, "Trang đặt chữ ký số của cơ quan không có trong văn bản.",
          "The stamp's page is past the document's last page.", True),
        E("stamp_outside_page", NA, "Vị trí chữ ký số của cơ quan nằm ngoài trang.",
          "The stamp's box does not fit on its page.", True),
        E("signing_key_unavailable", (503,), "Cơ quan chưa có khóa ký số hoặc chứng thư số hợp lệ.",
          "SigningUnavailable's default: no usable key (KMS key disabled, pending deletion...).", True),
        E("certificate_expired", (422,), "Chứng thư số của cơ quan đã hết hạn, không thể ký văn bản.",
          "The certificate is past its notAfter (refused at upload or activation; FAILED at signing).", True),
        E("certificate_not_yet_valid", (422,), "Chứng thư số của cơ quan chưa đến thời hạn hiệu lực.",
          "The certificate is before its notBefore.", True),
        E("certificate_revoked", (422,), "Chứng thư số của cơ quan đã bị thu hồi.",
          "The certificate, or one above it, is revoked (OCSP or CRL).", True),
        E("tsa_certificate_revoked", NA, "Chứng thư số của dịch vụ cấp dấu thời gian đã bị thu hồi.",
          "The timestamp authority's certificate is revoked.", True),
        E("seal_unavailable", NA, "Ảnh con dấu của cơ quan không dùng được.",
          "The agency's registered seal image cannot be read or decoded.", True),
        E("signing_error", NA, "Ký số thất bại sau nhiều lần thử.", "Signing kept failing; the message dead-lettered.",
          True),
        E("foreign_upload", NA, "Tệp tại vị trí của văn bản không phải tệp được cấp phép tải lên cho văn bản này.",
          "The object at the record's key lacks the record's upload token (another agency's POST, a foreign write): "
          "refused and noted on the timeline; the record keeps waiting for its own upload.", True),
    ),
    # -- nothing stays in limbo: a document's reason when the sweep (chalicelib.outbound.sweep) ends it ---------------
    "Overdue documents": (
        E("upload_expired", NA, "Đã quá hạn tải tệp lên; vui lòng tạo văn bản mới.",
          "No upload came before the presigned POST expired (plus a grace period): EXPIRED.", True),
        E("stuck_uploaded", NA, "Ký số không hoàn tất sau nhiều lần thử lại.",
          "UPLOADED past its bound (the signer was killed: timeout, out of memory) and retried by the sweep "
          "until its retries ran out: FAILED, retryable by an administrator.", True),
        E("stuck_signed", NA, "Gửi văn bản lên Trục không hoàn tất sau nhiều lần thử lại.",
          "SIGNED past its bound (dispatch was killed or its message lost) and retried by the sweep until its "
          "retries ran out: FAILED, retryable by an administrator.", True),
    ),
    # -- signing keys and certificates (chalicelib.admin.keys, chalicelib.keys) ----------------------------------
    "Signing keys and certificates": (
        E("certificate_rejected", (422,), "Chứng thư số không được chấp nhận.", "CertificateRejected's default."),
        E("invalid_certificate", (422, 400), "Chứng thư số phải ở định dạng PEM.",
          "Not a PEM X.509 certificate (400 when the field is not even text)."),
        E("certificate_key_mismatch", (422,), "Chứng thư số không được cấp cho khóa này (khóa công khai không khớp).",
          "The certificate is for another key."),
        E("certificate_key_usage", (422,), "Chứng thư số không dùng để ký số.", "Not issued for signing."),
        E("untrusted_chain", (422,), "Chuỗi chứng thư số không dẫn tới chứng thư gốc tin cậy.",
          "Does not chain to a configured trust root (`details.reason` `no_trust_roots` when none is set)."),
        E("invalid_subject", (400,), "Thông tin chủ thể của yêu cầu chứng thư không hợp lệ.", "A bad CSR subject."),
        E("unknown_agency", (404,), "Không tìm thấy cơ quan.", "No such agency in the registry."),
        E("missing_organ_id", (400,), "Thiếu mã định danh cơ quan (organ_id).", "The request names no agency."),
        E("unknown_key", (404,), "Không tìm thấy khóa.", "No such key of that agency."),
        E("unsupported_key_backend", (400, 503), "Loại khóa phải là kms hoặc pkcs11.",
          "A key backend other than `kms` or `pkcs11` (503 when a stored key names one).", True),
        E("invalid_pkcs11_key", (400, 503), "Khóa PKCS#11 không hợp lệ.",
          "A PKCS#11 key description (URI, token, label, PIN secret) that cannot be used.", True),
        E("pin_not_allowed", (400,),
          "Không gửi mã PIN qua API: lưu mã PIN trong Secrets Manager và gửi tên bí mật (pin_secret).",
          "A PIN sent in the request instead of a secret's name."),
        E("key_already_registered", (409,), "Khóa PKCS#11 này đã được đăng ký cho cơ quan.", "Registered twice."),
        E("pkcs11_key_pair_mismatch", (400,), "Khóa bí mật và khóa công khai tìm thấy trên HSM không cùng một cặp.",
          "The HSM's private and public objects are not one pair."),
        E("key_mismatch", (503,), "Khóa ký không khớp với khóa công khai đã ghi nhận.",
          "The key signs with another public key than the one recorded."),
        E("key_retired", (409,), "Khóa đã ngừng sử dụng.", "The key is retired."),
        E("key_not_certified", (409,), "Khóa chưa có chứng thư số đã kiểm tra, chưa thể kích hoạt.",
          "Activation before a checked certificate."),
        E("key_state_changed", (409,), "Khóa đã thay đổi trạng thái, vui lòng tải lại.", "A concurrent change."),
        E("concurrent_key_change", (409,),
          "Khóa ký số của cơ quan vừa được thay đổi bởi thao tác khác, vui lòng thử lại.",
          "The agency's active key changed during activation or rotation."),
        E("pkcs11_not_configured", (503,), "Hệ thống chưa cấu hình thư viện PKCS#11.", "No PKCS#11 module set.",
          True),
        E("pkcs11_module_not_allowed", (503,), "Thư viện PKCS#11 của khóa không nằm trong danh sách cho phép.",
          "The key's module path is not in the allow-list.", True),
        E("pkcs11_module_unavailable", (503,), "Không nạp được thư viện PKCS#11.", "The module did not load.", True),
        E("pkcs11_pin_missing", (503,), "Bí mật chứa mã PIN của HSM rỗng hoặc sai định dạng.",
          "No PIN source, or the PIN secret is empty or malformed.", True),
        E("pkcs11_public_key_missing", (503,), "Không tìm thấy khóa công khai EC trên HSM.",
          "An EC key with no public object on the token.", True),
        E("unsupported_key_type", (503,), "Loại khóa trên HSM không được hỗ trợ (chỉ RSA hoặc EC).",
          "The HSM key is neither RSA nor EC.", True),
    ),
    # -- the agency registry and the axis directory sync (chalicelib.admin.agencies, chalicelib.admin.agency_sync) --
    "Agency registry": (
        E("agency_exists", (409,), "Cơ quan đã có trong danh bạ.", "POST /v1/admin/agencies for a registered code."),
        E("agency_changed", (409,), "Thông tin cơ quan vừa được thay đổi bởi thao tác khác, vui lòng tải lại.",
          "A concurrent change of the agency (another admin, or the directory sync) won; read it again."),
        E("invalid_filter", (400,), "Tham số lọc không hợp lệ.",
          "A list filter out of its domain: `level` not 1–4, `served`/`active` not true/false, `parent` not a "
          "strict code (`details.filter`)."),
        E("invalid_seal", (422,), "Ảnh con dấu không hợp lệ: phải là PNG có nền trong suốt, tối đa 512 KB và "
          "2000 x 2000 điểm ảnh.",
          "The seal uploaded for an agency is not a usable transparent PNG within bounds; `details.reason` says why."),
        E("seal_not_uploaded", (404,), "Chưa tải ảnh con dấu lên.", "PUT .../seal names a key with no object."),
        E("invalid_seal_key", (400,), "Khóa ảnh con dấu không phải của cơ quan này.",
          "PUT .../seal with a `key` other than `seals/<organ_id>/<token>.png` of the agency."),
        E("directory_unavailable", (503,), "Chưa lấy được danh bạ từ Trục liên thông, vui lòng thử lại sau.",
          "getAgenciesList failed or no system credentials can call it; nothing was changed."),
    ),
    # -- POST /v1/verify (chalicelib.api.verify) ------------------------------------------------------------------
    "Signature reports": (
        E("payload_too_large", (413,),
          "Tệp quá lớn để gửi trực tiếp (tối đa 5 MB): hãy dùng document_id hoặc inbox_id.",
          "A PDF body over API Gateway's payload limit."),
        E("nothing_to_verify", (400,), "Cần gửi tệp PDF, hoặc document_id, hoặc inbox_id.",
          "The JSON body names nothing to verify."),
    ),
    # -- POST /v1/documents/draft and the agree-or-say-why check (chalicelib.outbound.draft, issue 12) -------------
    "Reading documents": (
        E("no_text_layer", (422,), "Tệp PDF không có lớp chữ (bản quét): không đọc được thông tin văn bản, hãy nhập "
          "thông tin hoặc gửi bản PDF xuất từ phần mềm soạn thảo.",
          "The PDF's pages carry no text (a scan without OCR): the reader has nothing to read; `details.pages`."),
        E("metadata_mismatch", NA, "Thông tin văn bản đăng ký không khớp với nội dung văn bản (số, ký hiệu, ngày, "
          "loại hoặc trích yếu).",
          "The first page has the NĐ 30 header and says something else than the record (`details.fields`: each "
          "field with what the document and the metadata say); refused before signing unless the agency's "
          "`metadata_check` is `warn` (then noted on the SIGNED event) or `off`.", True),
    ),
    # -- revocations, recipient updates, replacements (chalicelib.outbound.amendments) ---------------------------
    "Amendments": (
        E("reason_required", (400,), "Phải nêu lý do.", "A revocation, update or 02 refusal without its reason."),
        E("invalid_recipients", (400,), "Mã định danh không hợp lệ.", "A recipients list that is not valid ids."),
        E("no_recipient_change", (400,), "Phải thêm hoặc bớt ít nhất một nơi nhận.", "An update that changes nothing."),
        E("invalid_recipient_change", (400,), "Danh sách nơi nhận thay đổi không hợp lệ.",
          "Adding a current recipient, or removing one that is not."),
        E("no_recipient_left", (400,), "Văn bản phải còn ít nhất một nơi nhận.", "An update removing everyone."),
        E("not_dispatched", (409,), "Chỉ thu hồi được văn bản đã gửi đi.", "The document is not DISPATCHED."),
        E("already_revoked", (409,), "Văn bản đã bị thu hồi.", "Revoked before."),
        E("state_changed", (409,), "Trạng thái văn bản vừa thay đổi, vui lòng tải lại.", "A concurrent change."),
        E("replaced_document_not_found", (404,), "Không tìm thấy văn bản.", "`replaces` names no own document."),
        E("replaced_not_dispatched", (409,), "Chỉ thay thế được văn bản đã gửi đi và chưa bị thu hồi.",
          "The replaced document is not DISPATCHED."),
        E("replacement_same_document_id", (400,),
          "Văn bản thay thế phải có số, ký hiệu hoặc ngày ban hành khác văn bản bị thay thế.",
          "The replacement would carry the replaced document's edXML DocumentId."),
        E("already_replaced", (409,), "Văn bản đã được thay thế bởi văn bản khác.", "Replaced before."),
    ),
    # -- dead letters and retries (chalicelib.outbound.dead_letters) ---------------------------------------------
    "Dead letters": (
        E("invalid_queue", (400,), "Hàng đợi phải là \"dispatch\", \"upload\" hoặc \"webhooks\".",
          "An unknown queue name."),
        E("invalid_document_ids", (400,), "document_ids phải là danh sách mã văn bản (UUID), tối đa 100.",
          "A bad redrive list."),
        E("not_retryable", (409,), "Chỉ văn bản ở trạng thái FAILED mới gửi lại được.", "Retry of a non-FAILED one."),
    ),
    # -- the administrators' search and reports (chalicelib.admin.search, chalicelib.admin.reports; issue 9) -----
    "Search and reports": (
        E("invalid_organ_id", (400,), "Mã định danh cơ quan không đúng dạng.",
          "An `organ_id` or `recipient` filter that is not a strict code (`000.00.00.H62`); `details.field`. Also "
          "POST /v1/admin/agencies with such an `organ_id` (`details.organ_id`)."),
        E("invalid_date", (400,), "Ngày phải có dạng YYYY-MM-DD.",
          "A `from`/`to` date of a search or of the audit trail, or the audit verify's `day`, that is no ISO "
          "calendar date (`details.field`)."),
        E("invalid_date_range", (400,), "Khoảng ngày tìm kiếm không hợp lệ (từ ≤ đến, không quá dài).",
          "`from` after `to`, or more than `details.max_days` apart (a document search: 3 years; the audit "
          "trail: 366 days)."),
        E("invalid_month", (400,), "Tháng báo cáo phải có dạng YYYY-MM.", "The monthly report's `month`."),
        E("invalid_year", (400,), "Năm báo cáo phải có dạng YYYY.", "The yearly report's `year`."),
        E("invalid_format", (400,), "Định dạng báo cáo phải là json, csv hoặc xlsx.",
          "The monthly report's `format`."),
        E("register_too_large", (400,), "Sổ quá lớn để xuất một tệp; hãy xem theo trang.",
          "A register's `format=xlsx` past MAX_FILE_ENTRIES (chalicelib/registers/listing.py): page the JSON."),
        E("invalid_targets", (400,), "Mục tiêu báo cáo không hợp lệ.",
          "A `PUT /v1/admin/reports/targets` body: `details.errors` lists each field and why (every level 1–4, "
          "shares 0..1, one step per year)."),
    ),
    # -- the audit trail and the trust roots (chalicelib.admin.audit, chalicelib.admin.trust_roots; issue 9) ------
    "Audit and trust roots": (
        E("audit_unavailable", (503,),
          "Không ghi được nhật ký kiểm tra; thao tác chưa được xác nhận, vui lòng thử lại.",
          "The audit entry of this request could not be written (the audit trail fails closed: the answer is "
          "withheld); `details.reason` is `store` or `contention`. A change the handler made stays made and its "
          "entry is in the error log."),
        E("not_a_ca_certificate", (422,), "Chứng thư số không phải của tổ chức chứng thực (CA).",
          "A trust root must have basicConstraints cA = true."),
        E("trust_root_exists", (409,), "Chứng thư số gốc này đã được tin cậy.",
          "The root is already trusted (`details.source`: `configured` or `admin`)."),
        E("trust_root_configured", (409,), "Chứng thư số gốc do cấu hình hệ thống quy định, không xóa qua API được.",
          "A root from the TRUST_ROOTS setting: the operator removes it."),
        E("trust_roots_changed", (409,), "Danh sách chứng thư số gốc vừa thay đổi, vui lòng thử lại.",
          "Concurrent edits of the bundle kept winning over this one."),
        E("unknown_trust_root", (404,), "Không tìm thấy chứng thư số gốc.",
          "No admin-managed root has this fingerprint."),
        E("invalid_fingerprint", (400,), "Dấu vân tay phải là SHA-256 dạng hex (64 ký tự).",
          "The path's fingerprint is not 64 hex digits."),
    ),
    # -- the inbox and the clerk's status reports (chalicelib.inbound.inbox, chalicelib.domain.axis_statuses) ----
    "Inbox": (
        E("inbox_item_not_found", (404,), "Không tìm thấy văn bản đến.", "No such item in the caller's inbox."),
        E("inbox_item_revoked", (409,), "Văn bản đã bị thu hồi, không báo trạng thái được nữa.",
          "A status report on a revoked item."),
        E("status_not_allowed", (409,), "Không thể chuyển sang trạng thái này từ trạng thái hiện tại.",
          "A status the item cannot move to."),
        E("status_changed", (409,), "Trạng thái văn bản vừa thay đổi, vui lòng tải lại.", "A concurrent report."),
        E("invalid_status_code", (400,), "Mã trạng thái phải là một trong 02, 03, 04, 05, 06.",
          "A clerk may report 02–06 only."),
        E("invalid_reason", (400,), "Lý do phải là chuỗi ký tự.", "`reason` is not a string."),
        E("status_package_invalid", (400,), "Không lập được gói tin trạng thái từ nội dung đã nhập.",
          "A clerk's report whose status package cannot be built (e.g. a control character in the reason); "
          "`details.reason` gives the edXML code. Nothing is recorded."),
    ),
    # -- the axis adapter: a document's or amendment's reason when delivery fails (chalicelib.adapters.axis) -----
    "Axis delivery": (
        E("axis_error", NA, "Lỗi khi trao đổi với Trục liên thông văn bản quốc gia.", "AxisError's default."),
        E("axis_unavailable", NA, "Trục liên thông tạm thời không phản hồi, sẽ thử lại sau.",
          "5xx, 429, timeouts, garbled answers; FAILED once the retries run out.", True),
        E("axis_rejected", NA, "Trục liên thông từ chối yêu cầu.",
          "The axis answered FAIL or an ErrorCode ≠ 0 (kept as `axis_error_code`); permanent.", True),
        E("axis_auth_failed", NA, "Trục liên thông từ chối xác thực (mã hệ thống hoặc khóa bí mật không đúng).",
          "Our system id or signature refused; an operator fixes the credentials."),
        E("axis_answer_too_large", NA, "Trục liên thông trả về dữ liệu quá lớn.",
          "An answer (a list, an error body) past the client's byte cap; the call is not retried as is."),
        E("axis_send_unconfirmed", NA,
          "Không xác định được gói tin đã lên Trục hay chưa; cần kiểm tra trước khi gửi lại.",
          "A send whose arrival is unknown; nothing more is sent until someone checks.", True),
    ),
    # -- inbound envelopes the poller refuses or sets aside: the envelope's reason (chalicelib.inbound) ----------
    "Inbound envelopes": (
        E("unknown_document", NA, "Không tìm thấy văn bản mà gói tin nhắc tới.",
          "A status or amendment about a document we do not know (outcome orphan_status / orphan_amendment).", True),
        E("not_registered", NA, "Cơ quan nhận chưa đăng ký với cổng.", "The receiving agency is not in the registry.",
          True),
        E("not_active", NA, "Cơ quan nhận đã ngừng hoạt động trên cổng.", "The receiving agency is not active.", True),
        E("business_doc_type_{n}", NA, "Loại nghiệp vụ của gói tin chưa được hỗ trợ.",
          "A BussinessDocType other than 0–3 (n is the type).", True),
        E("sender_mismatch", NA, "Cơ quan gửi ghi trong gói tin không phải hệ thống đã gửi gói tin lên Trục.",
          "From/OrganId is not the system the axis authenticated for the envelope (outcome forged_sender).", True),
        E("sender_unauthenticated", NA, "Trục không cho biết hệ thống đã gửi gói tin.",
          "The axis listed the envelope without its sender (`from`), so no sender can be trusted.", True),
        E("not_document_sender", NA, "Chỉ cơ quan đã gửi văn bản mới được thu hồi hoặc cập nhật văn bản đó.",
          "A revocation or update from another agency than the document's sender (outcome forged_sender).", True),
        E("missing_document_id", NA, "Văn bản đến thiếu mã định danh (DocumentId), không thể báo trạng thái lại.",
          "A new document without an edXML DocumentId: its 01 could never be built.", True),
        E("status_unbuildable", NA, "Không lập được gói tin trạng thái để gửi lại cơ quan gửi.",
          "An outbox item whose status package cannot be built; marked failed and listed, never retried.", True),
        E("unprocessable_content", NA, "Gói tin gây lỗi khi xử lý; đã dừng xử lý và báo cho quản trị viên.",
          "Handling the envelope raised an unexpected error (`details.error` names it); outcome unprocessable.",
          True),
        E("attempts_exhausted", NA, "Gói tin đã được thử xử lý quá số lần cho phép.",
          "An envelope whose handling failed or died (timeout, memory) MAX_ATTEMPTS times; outcome unprocessable.",
          True),
        E("verification_failed", NA, "Không kiểm tra được chữ ký số của tệp.",
          "Verifying a PDF's signatures raised; the attachment is filed as unreadable.", True),
    ),
    **WIRE_AREAS,  # edXML packages and axis request signatures (chalicelib.core.error_codes_wire)
    # -- webhooks (chalicelib.webhooks, chalicelib.domain.webhook_urls; issue 14) ------------------------------------
    "Webhooks": (
        E("webhook_not_found", (404,), "Không tìm thấy đăng ký webhook.", "No such subscription of the agency."),
        E("webhook_url_invalid", (422, 400), "Địa chỉ nhận webhook không hợp lệ.", "Not an http(s) URL with a host."),
        E("webhook_url_insecure", (422,), "Địa chỉ nhận webhook phải dùng HTTPS.", "http outside loopback/local."),
        E("webhook_url_forbidden_address", (422,), "Địa chỉ nhận webhook trỏ tới mạng nội bộ hoặc địa chỉ bị cấm.",
          "Private, loopback, link-local, CGNAT, multicast, reserved or metadata (`details.reason`)."),
        E("webhook_url_unresolvable", (422,), "Không phân giải được tên miền của địa chỉ nhận webhook.", "No DNS."),
        E("invalid_webhook_events", (400,), "Danh sách loại sự kiện webhook không hợp lệ.", "Unknown `events`."),
        E("too_many_webhooks", (409,), "Cơ quan đã có quá nhiều đăng ký webhook.", "Over the agency's maximum."),
        E("webhook_changed", (409,), "Đăng ký webhook vừa được thay đổi; hãy thử lại.", "A concurrent change."),
        E("webhook_delivery_not_found", (404,), "Không tìm thấy lần gửi webhook.", "No such `delivery_id`."),
    ),
}

#: Every code, to its entry.
CODES: dict[str, ErrorCode] = {entry.code: entry for entries in AREAS.values() for entry in entries}


def get(code: str) -> ErrorCode | None:
    """The catalogue's entry for `code`, or None."""
    return CODES.get(code)


_INTRO = """\
Generated from `chalicelib/core/error_codes.py` by `python -m chalicelib.core.error_codes`; do not edit by hand.

Every error the API answers is `{"error": {"code", "message", "details"}}`: clients branch on `code` (stable,
snake_case, never renamed) and show `message` (Vietnamese). A raise site may give a more precise message than the
default below. *Recorded*: the code is also written on a record as its reason (a document's `reason`, an
amendment's `reason_code`, an inbound envelope's `reason`). HTTP "–": never an API answer, only recorded or logged."""


def markdown() -> str:
    """The catalogue as the Markdown page `docs/error-codes.md` (a test keeps the file equal to this)."""
    lines = ["# Error codes", "", _INTRO, ""]
    for area, entries in AREAS.items():
        lines += [f"## {area}", "", "| Code | HTTP | Recorded | Message | Meaning |", "|---|---|---|---|---|"]
        for e in entries:
            http = ", ".join(str(s) for s in e.statuses) or "–"
            cells = (f"`{e.code}`", http, "yes" if e.recorded else "", e.message, e.meaning)
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(), end="")
