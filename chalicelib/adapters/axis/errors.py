"""Axis errors, split by what the caller should do next (docs/axis-protocol.md#answers-and-errors).

- `AxisTransientError`: HTTP 5xx, 429, timeouts, connection errors, garbled answers. Retry with backoff; the
  package may or may not have reached the axis, so the sender relies on its own idempotency.
- `AxisBusinessError`: the axis answered `status` FAIL or an `ErrorCode` other than "0" (unknown recipient, bad
  package, `from` ≠ system id...). Permanent: retrying the same request gives the same answer.
- `AxisAuthError`: the axis refused our system id or signature. Neither retryable as is nor the document's fault:
  an operator has to fix the credentials, after which a retry succeeds.
- `AxisAnswerTooLarge`: an answer past the client's byte cap (issue 8, bounds on all untrusted input): what the
  peer sends is not read further. `AxisPackageTooLarge`, its kind for getEdoc (`package_too_large`), is about one
  envelope: the same download stops at the same place every time, so the receiver refuses that envelope
  (acknowledged `fail`) instead of retrying it.
"""

from __future__ import annotations

from chalicelib.core.errors import GatewayError

__all__ = ["AxisAnswerTooLarge", "AxisAuthError", "AxisBusinessError", "AxisError", "AxisPackageTooLarge",
           "AxisTransientError"]


class AxisError(GatewayError):
    """Base class of everything the axis adapter raises."""

    status = 502
    code = "axis_error"
    message = "Lỗi khi trao đổi với Trục liên thông văn bản quốc gia."


class AxisTransientError(AxisError):
    """The axis could not be reached or did not answer properly; try again later."""

    status = 503
    code = "axis_unavailable"
    message = "Trục liên thông tạm thời không phản hồi, sẽ thử lại sau."


class AxisBusinessError(AxisError):
    """The axis refused the request (`status` FAIL / `ErrorCode` ≠ "0"); `error_code`/`error_desc` are the axis's."""

    status = 502
    code = "axis_rejected"
    message = "Trục liên thông từ chối yêu cầu."

    def __init__(self, error_code: str, error_desc: str = "", *, path: str = "") -> None:
        self.error_code = str(error_code)
        self.error_desc = str(error_desc or "")
        self.path = path
        super().__init__(f"Trục liên thông từ chối yêu cầu (mã lỗi {self.error_code}).",
                         details={"error_code": self.error_code, "error_desc": self.error_desc[:500], "path": path})


class AxisAuthError(AxisError):
    """The axis refused the credentials (unknown system id or a signature that does not verify)."""

    status = 502
    code = "axis_auth_failed"
    message = "Trục liên thông từ chối xác thực (mã hệ thống hoặc khóa bí mật không đúng)."


class AxisAnswerTooLarge(AxisError):
    """An axis answer (a list, an error body) larger than the client accepts; nothing past the cap was read."""

    status = 502
    code = "axis_answer_too_large"


class AxisPackageTooLarge(AxisAnswerTooLarge):
    """getEdoc: the package is past the download cap (`details.max_bytes`); the partial file is deleted."""

    status = 502
    code = "package_too_large"
