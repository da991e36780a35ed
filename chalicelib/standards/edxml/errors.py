"""The exceptions of the edXML code: plain Python errors, mapped to HTTP (if ever) by the API layer, not here.

A small family in the manner of pyHanko's `PdfError` → `PdfReadError`: `EdxmlError` for any package that cannot be
built or read, `EdxmlReadError` for a received package (QCVN 102:2016 input that is not a readable edXML package,
`docs/edxml.md`), `EdxmlWriteError` for values that cannot go into one. Both are `ValueError`s: the input is wrong,
retrying the same input will not help.
"""

from __future__ import annotations

from typing import Any

__all__ = ["EdxmlError", "EdxmlReadError", "EdxmlWriteError"]


class EdxmlError(ValueError):
    """A package that cannot be built or read. `code` is stable snake_case, `message` Vietnamese (for people),
    `details` a small dict for logs and records.

    Codes: `malformed_xml`, `dtd_forbidden`, `not_edxml`, `missing_sender`, `missing_value`, `element_too_large`,
    `bad_base64`, `bad_attachment_zip`, `attachment_too_large`, `invalid_text`, `invalid_value`,
    `missing_attachment`; the reader's bounds (`limits`): `package_too_large`, `xml_too_deep`, `too_many_elements`,
    `text_too_large`, `xml_token_too_large`, `too_many_attachments`, `attachments_too_large`,
    `malformed_attachment`; ZIP entries (`unzip`): `zip_encrypted`, `zip_unsupported_method`, `zip_bad_deflate`,
    `zip_crc_mismatch`, `zip_multiple_entries`, `zip_ratio_exceeded`; and `unreadable_package` for any other
    failure on untrusted input.
    """

    code = "edxml_invalid"
    message = "Gói tin edXML không hợp lệ."

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        self.code, self.message = code or self.code, message or self.message
        self.details = details or {}
        super().__init__(f"{self.code}: {self.message}")


class EdxmlReadError(EdxmlError):
    """A received package that is not a readable edXML package (`parse_package`, `ParsedPackage.header`)."""


class EdxmlWriteError(EdxmlError):
    """Values a package cannot carry (`write_new_document_package`, `write_status_package`)."""
