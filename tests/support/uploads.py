"""Uploads as a client makes them from the API's presigned POST, for tests that write the object with PutObject
(moto in this process): the POST's `x-amz-meta-upload-token` field is what S3 keeps as the object's `upload-token`
metadata, and what the signing handler checks against the record (chalicelib.domain.upload_binding)."""

from __future__ import annotations

from typing import Any

__all__ = ["metadata", "remember"]

#: S3 key → the upload token its presigned POST carried.
_TOKENS: dict[str, str] = {}


def remember(created: dict[str, Any]) -> dict[str, Any]:
    """Keep the tokens of a `create_document` answer (the document and each phụ lục); returns the answer."""
    for upload in [created["upload"], *created.get("attachment_uploads", [])]:
        fields = upload["fields"]
        _TOKENS[fields["key"]] = fields["x-amz-meta-upload-token"]
    return created


def metadata(key: str) -> dict[str, str]:
    """The user metadata the client's POST to `key` would have stored (none for a key no POST was issued for)."""
    return {"upload-token": _TOKENS[key]} if key in _TOKENS else {}
