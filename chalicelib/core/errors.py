"""The gateway's errors: a stable snake_case `code` clients branch on, a Vietnamese `message` people read.

Every code, its default message and its HTTP statuses are in one catalogue (`chalicelib.core.error_codes`,
rendered as docs/error-codes.md); these classes are the families the API maps to HTTP, once, in
`chalicelib.api.http`. Codes are part of the API contract: never rename one.
"""

from __future__ import annotations

from typing import Any

from chalicelib.core import error_codes

__all__ = [
    "CertificateRejected", "CertificateUnusable", "Conflict", "Forbidden", "GatewayError", "NotFound",
    "RecipientInactive", "SecretDocument", "SigningUnavailable", "Unauthorized", "UnknownRecipient", "UploadRejected",
    "ValidationFailed",
]


class GatewayError(Exception):
    """Base class. `status` is the HTTP status the API answers with.

    A subclass names its `code` and `status`; its `message` is the catalogue's for that code unless the class
    sets one. A raise site that gives a `code` but no message gets the catalogue's message for that code; a bare
    `GatewayError(code=...)` also takes its status from the catalogue (the first of the code's statuses).
    """

    status = 400
    code = "bad_request"
    message = error_codes.CODES["bad_request"].message

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        entry = error_codes.get(cls.__dict__.get("code", ""))
        if entry is not None and "message" not in cls.__dict__:
            cls.message = entry.message

    def __init__(self, message: str | None = None, *, code: str | None = None,
                 details: dict[str, Any] | None = None) -> None:
        entry = error_codes.get(code) if code else None
        if code:
            self.code = code
        if message:
            self.message = message
        elif entry is not None:
            self.message = entry.message
        if entry is not None and entry.statuses and type(self) is GatewayError:
            self.status = entry.statuses[0]
        self.details = details or {}
        super().__init__(f"{self.code}: {self.message}")

    def to_body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class ValidationFailed(GatewayError):
    status = 400
    code = "invalid_request"


class SecretDocument(GatewayError):
    status = 422
    code = "secret_document"


class UnknownRecipient(GatewayError):
    status = 422
    code = "unknown_recipient"


class RecipientInactive(GatewayError):
    """A recipient is in the agency registry but an administrator set it inactive (issue 9: its own code, so a
    clerk knows the address exists and is closed, not mistyped)."""

    status = 422
    code = "recipient_inactive"


class Unauthorized(GatewayError):
    status = 401
    code = "unauthorized"


class Forbidden(GatewayError):
    status = 403
    code = "forbidden"


class NotFound(GatewayError):
    status = 404
    code = "not_found"


class Conflict(GatewayError):
    status = 409
    code = "conflict"


class UploadRejected(GatewayError):
    """The uploaded object cannot be signed. The original stays in S3; the record goes `REJECTED` with `code`.

    Codes: `empty_file`, `file_too_large`, `not_a_pdf`, `malformed_pdf` (truncated or unparseable),
    `encrypted_pdf`, `locked_pdf` (certified with no changes allowed), `missing_upload`.
    """

    status = 422
    code = "upload_rejected"


class SigningUnavailable(GatewayError):
    """The agency has no usable signing key or certificate: not the uploader's fault; an admin fixes it."""

    status = 503
    code = "signing_key_unavailable"


class CertificateUnusable(SigningUnavailable):
    """The agency's active certificate cannot sign now (expired, not yet valid, revoked).

    A subclass of `SigningUnavailable` so the signing handler records `FAILED` with this `code` as the reason and
    keeps the original: an admin activates a valid certificate and retries. Codes: `certificate_expired`,
    `certificate_not_yet_valid`, `certificate_revoked`.
    """

    code = "certificate_expired"


class CertificateRejected(GatewayError):
    """An uploaded certificate chain the gateway will not attach to a key.

    Codes: `invalid_certificate` (not PEM X.509), `certificate_key_mismatch` (the certificate is for another key),
    `untrusted_chain` (does not chain to a configured trust root), `certificate_expired`,
    `certificate_not_yet_valid`, `certificate_key_usage` (not issued for signing).
    """

    status = 422
    code = "certificate_rejected"
