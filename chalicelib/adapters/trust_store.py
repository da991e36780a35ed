"""The trust roots certificate chains are checked against: the configured PEM bundle and the admins' bundle.

Where they come from, both at once: `TRUST_ROOTS` (a PEM bundle in the environment, set by the operator; the
embedded stack sets its demo root there) and the S3 object `trust/roots.pem` in the documents bucket, the bundle
`/v1/admin/trust-roots` edits (issue 9). Read once per five minutes per container, so an admin's new root is picked
up without a deployment and a signing or polling burst does not read S3 for every document; the container that
made the change forgets its cache at once.

The admins' bundle is one object, changed by read-modify-write with S3 conditional writes (`IfMatch` on the ETag
it was read at, `IfNoneMatch: *` when there was none): two admins editing at once cannot lose each other's root,
the later write fails and is retried on the new bundle. One object rather than one per root: every function that
checks chains (sign_document, poll_axis, the API) already reads exactly this key and no other.

Why an adapter of its own: key administration (certificate checks), the inbound poll (verifying what arrives) and
`POST /v1/verify` all need the same roots, and they sit in areas that must not import each other (the layers in
pyproject.toml); the S3 read belongs at the edge.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from chalicelib.adapters import aws
from chalicelib.adapters.dynamo import ConditionFailed
from chalicelib.core.settings import get_settings
from chalicelib.keys.certificates import parse_certificates

__all__ = ["TRUST_ROOTS_KEY", "TrustBundle", "configured_roots", "get_trust_bundle", "reset_caches", "trust_roots",
           "use_trust_bundle"]

TRUST_ROOTS_KEY = "trust/roots.pem"
_TRUST_TTL_SECONDS = 300

_trust_lock = threading.Lock()
_trust_cache: tuple[float, list[Any]] | None = None


def reset_caches() -> None:
    """Forget the cached trust roots (tests that change them, and the admin routes after an edit)."""
    global _trust_cache
    with _trust_lock:
        _trust_cache = None


class TrustBundle:
    """The admins' PEM bundle, `trust/roots.pem` in the documents bucket, read and written with its ETag."""

    def __init__(self, bucket: str | None = None) -> None:
        self.bucket = bucket or get_settings().documents_bucket

    def read(self) -> tuple[str, str | None]:
        """The bundle's text and ETag; ("", None) when there is none yet."""
        s3 = aws.client("s3")
        try:
            resp = s3.get_object(Bucket=self.bucket, Key=TRUST_ROOTS_KEY)
        except s3.exceptions.NoSuchKey:
            return "", None
        return resp["Body"].read().decode("ascii"), resp["ETag"]

    def write(self, text: str, etag: str | None) -> None:
        """Replace the bundle if it is still the one read at `etag` (None: if there is still none);
        ConditionFailed when another admin changed it meanwhile."""
        s3 = aws.client("s3")
        condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
        try:
            s3.put_object(Bucket=self.bucket, Key=TRUST_ROOTS_KEY, Body=text.encode("ascii"),
                          ContentType="application/x-pem-file", **condition)
        except s3.exceptions.ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("PreconditionFailed", "ConditionalRequestConflict", "NoSuchKey", "412", "409"):
                raise ConditionFailed(code) from exc
            raise


_override: Any = None


def get_trust_bundle() -> Any:
    """The admins' bundle (the `TrustBundleStore` port), or the test's fake."""
    return _override if _override is not None else TrustBundle()


def use_trust_bundle(bundle: Any) -> None:
    """Point the trust roots at `bundle` (tests/fakes/trust.py), or back at S3 with None."""
    global _override
    _override = bundle
    reset_caches()


def configured_roots() -> list[Any]:
    """The roots the operator configured in `TRUST_ROOTS` (not editable through the API)."""
    return parse_certificates(get_settings().trust_roots_pem)


def trust_roots() -> list[Any]:
    """Every trust root (asn1crypto certificates): the configured ones, then the admins' bundle; cached per
    container for five minutes."""
    global _trust_cache
    with _trust_lock:
        if _trust_cache is not None and time.monotonic() - _trust_cache[0] < _TRUST_TTL_SECONDS:
            return _trust_cache[1]
    roots = configured_roots()
    seen = {r.sha256 for r in roots}
    text, _ = get_trust_bundle().read()
    roots += [r for r in parse_certificates(text) if r.sha256 not in seen]
    with _trust_lock:
        _trust_cache = (time.monotonic(), roots)
    return roots
