"""The trust roots certificate chains are checked against: the configured PEM bundle, cached per container.

Where they come from: `TRUST_ROOTS` (a PEM bundle; the embedded stack sets its demo root) or else the S3 object
`trust/roots.pem` in the documents bucket. Read once per five minutes per container, so an admin's new bundle is
picked up without a deployment and a signing or polling burst does not read S3 for every document.

Why an adapter of its own: key administration (certificate checks), the inbound poll (verifying what arrives) and
`POST /v1/verify` all need the same roots, and they sit in areas that must not import each other (the layers in
pyproject.toml); the S3 read belongs at the edge.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from chalicelib.adapters import aws
from chalicelib.core.settings import get_settings
from chalicelib.keys.certificates import parse_certificates

__all__ = ["TRUST_ROOTS_KEY", "reset_caches", "trust_roots"]

TRUST_ROOTS_KEY = "trust/roots.pem"
_TRUST_TTL_SECONDS = 300

_trust_lock = threading.Lock()
_trust_cache: tuple[float, list[Any]] | None = None


def reset_caches() -> None:
    """Forget the cached trust roots (tests that change them)."""
    global _trust_cache
    with _trust_lock:
        _trust_cache = None


def trust_roots() -> list[Any]:
    """The configured trust roots (asn1crypto certificates), cached per container for five minutes."""
    global _trust_cache
    with _trust_lock:
        if _trust_cache is not None and time.monotonic() - _trust_cache[0] < _TRUST_TTL_SECONDS:
            return _trust_cache[1]
    settings = get_settings()
    text = settings.trust_roots_pem
    if not text.strip():
        s3 = aws.client("s3")
        try:
            text = s3.get_object(Bucket=settings.documents_bucket, Key=TRUST_ROOTS_KEY)["Body"].read().decode("ascii")
        except s3.exceptions.NoSuchKey:
            text = ""
    roots = parse_certificates(text)
    with _trust_lock:
        _trust_cache = (time.monotonic(), roots)
    return roots
