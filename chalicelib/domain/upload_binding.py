"""The binding between a record and the one upload its presigned POST was issued for (pure).

Why: the POST policy (key, size, type) is the first line, and only real S3 enforces it; moto ignores it, so on the
embedded stack agency A's POST fields could write agency B's key and B's document was signed with A's bytes. Each
presigned POST therefore carries a fresh random token as the form field `x-amz-meta-upload-token`, pinned by an
exact-match condition in the policy; S3 (and moto, which keeps a POST's `x-amz-meta-*` fields as the object's
metadata) stores it on the object. The record keeps only the token's SHA-256 (`upload_token_sha256`, and per phụ lục
on its entry), never the token, so reading a record gives nothing to forge an upload with. The signing handler
accepts an object only if its metadata token hashes to the record's: anything else at the record's key (another
agency's POST, a PutObject by anyone holding write access to `incoming/`) is a foreign upload, refused without
consuming the record.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping

__all__ = ["METADATA_KEY", "RECORD_FIELD", "digest", "form_field", "is_bound", "new_token"]

#: The object's user metadata key (S3 returns it as `Metadata["upload-token"]`).
METADATA_KEY = "upload-token"
#: The record field (and the phụ lục entry field) holding the token's SHA-256, hex.
RECORD_FIELD = "upload_token_sha256"


def form_field() -> str:
    """The presigned POST's form field that S3 stores as the object's `upload-token` metadata."""
    return f"x-amz-meta-{METADATA_KEY}"


def new_token() -> str:
    """A fresh per-upload token: 256 random bits, URL-safe (a form field value and an HTTP header)."""
    return secrets.token_urlsafe(32)


def digest(token: str) -> str:
    """What the record keeps of a token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def is_bound(metadata: Mapping[str, str] | None, expected_sha256: str | None) -> bool:
    """Whether an object with this user metadata is the upload the record (or phụ lục entry) was issued for.

    A record without a digest was created before uploads were bound (kept working during a deployment, and
    such records expire within minutes); every record created since has one, and an object without the token,
    or with another upload's, never matches it."""
    if not expected_sha256:
        return True
    token = (metadata or {}).get(METADATA_KEY)
    if not token:
        return False
    return hmac.compare_digest(digest(token), str(expected_sha256))
