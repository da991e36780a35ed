"""The gateway's errors: a stable snake_case `code` clients branch on, a Vietnamese `message` people read.

Mapped to HTTP once, in app.py. Codes are part of the API contract: never rename one.
"""

from __future__ import annotations

from typing import Any


class GatewayError(Exception):
    """Base class. `status` is the HTTP status the API answers with."""

    status = 400
    code = "bad_request"
    message = "Yêu cầu không hợp lệ."

    def __init__(self, message: str | None = None, *, code: str | None = None,
                 details: dict[str, Any] | None = None) -> None:
        if code:
            self.code = code
        if message:
            self.message = message
        self.details = details or {}
        super().__init__(f"{self.code}: {self.message}")

    def to_body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class ValidationFailed(GatewayError):
    status = 400
    code = "invalid_request"
    message = "Dữ liệu gửi lên không hợp lệ."


class SecretDocument(GatewayError):
    status = 422
    code = "secret_document"
    message = "Văn bản mật không được gửi qua Trục liên thông văn bản quốc gia."


class UnknownRecipient(GatewayError):
    status = 422
    code = "unknown_recipient"
    message = "Cơ quan nhận không có trong danh bạ hoặc đã ngừng hoạt động."


class Unauthorized(GatewayError):
    status = 401
    code = "unauthorized"
    message = "Chưa xác thực hoặc mã truy cập không hợp lệ."


class Forbidden(GatewayError):
    status = 403
    code = "forbidden"
    message = "Không có quyền thực hiện thao tác này."


class NotFound(GatewayError):
    status = 404
    code = "not_found"
    message = "Không tìm thấy."


class Conflict(GatewayError):
    status = 409
    code = "conflict"
    message = "Trạng thái hiện tại không cho phép thao tác này."


class UploadRejected(GatewayError):
    """The uploaded object cannot be signed. The original stays in S3; the record goes `REJECTED` with `code`.

    Codes: `empty_file`, `file_too_large`, `not_a_pdf`, `malformed_pdf` (truncated or unparseable),
    `encrypted_pdf`, `locked_pdf` (certified with no changes allowed), `missing_upload`.
    """

    status = 422
    code = "upload_rejected"
    message = "Tệp tải lên không hợp lệ."


class SigningUnavailable(GatewayError):
    """The agency has no usable signing key or certificate: not the uploader's fault; an admin fixes it."""

    status = 503
    code = "signing_key_unavailable"
    message = "Cơ quan chưa có khóa ký số hoặc chứng thư số hợp lệ."


class CertificateUnusable(SigningUnavailable):
    """The agency's active certificate cannot sign now (expired, not yet valid, revoked).

    A subclass of `SigningUnavailable` so the signing handler records `FAILED` with this `code` as the reason and
    keeps the original: an admin activates a valid certificate and retries. Codes: `certificate_expired`,
    `certificate_not_yet_valid`, `certificate_revoked`.
    """

    code = "certificate_expired"
    message = "Chứng thư số của cơ quan đã hết hạn, không thể ký văn bản."


class CertificateRejected(GatewayError):
    """An uploaded certificate chain the gateway will not attach to a key.

    Codes: `invalid_certificate` (not PEM X.509), `certificate_key_mismatch` (the certificate is for another key),
    `untrusted_chain` (does not chain to a configured trust root), `certificate_expired`,
    `certificate_not_yet_valid`, `certificate_key_usage` (not issued for signing).
    """

    status = 422
    code = "certificate_rejected"
    message = "Chứng thư số không được chấp nhận."
