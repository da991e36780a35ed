"""Standard Webhooks signatures (https://www.standardwebhooks.com, spec v1.0.0, "Signature scheme"): what the
gateway puts on every webhook so that an agency's system can check it with any of that specification's libraries.

- `webhook-id`: the message's id, the same on every retry of one event to one subscription (receivers deduplicate
  on it);
- `webhook-timestamp`: integer Unix seconds of this attempt (receivers refuse ones too far from their clock);
- `webhook-signature`: space-separated `v1,<base64 HMAC-SHA256(secret, "<id>.<timestamp>.<body>")>`, one per valid
  secret (the spec: "multiple signatures ... e.g. during secret rotation").
- secrets are `whsec_<base64 of 24–64 random bytes>`; the HMAC key is the base64-decoded part.

Pure: standard library only (hmac, hashlib, base64). Tests check it against the `standardwebhooks` library.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets as _random

__all__ = ["SECRET_PREFIX", "TOLERANCE_SECONDS", "InvalidSignature", "headers", "new_secret", "sign", "verify"]

SECRET_PREFIX = "whsec_"  # noqa: S105  the spec's prefix, not a secret
#: The spec's suggested tolerance for `webhook-timestamp` (5 minutes either way).
TOLERANCE_SECONDS = 300
_SECRET_BYTES = 32


class InvalidSignature(Exception):
    """A message whose headers do not prove it (bad secret, changed body, stale timestamp)."""


def new_secret() -> str:
    """A fresh signing secret, `whsec_` + base64 of 32 random bytes (the spec allows 24 to 64)."""
    return SECRET_PREFIX + base64.b64encode(_random.token_bytes(_SECRET_BYTES)).decode("ascii")


def _key(secret: str) -> bytes:
    raw = secret[len(SECRET_PREFIX):] if secret.startswith(SECRET_PREFIX) else secret
    return base64.b64decode(raw)


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """One `v1,<base64>` signature of `body` (the exact bytes sent) for `msg_id` at `timestamp`."""
    content = f"{msg_id}.{int(timestamp)}.".encode() + body
    digest = hmac.new(_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def headers(secrets: list[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three headers of one attempt, signed with every secret given (current first, then those still in their
    rotation grace period)."""
    if not secrets:
        raise ValueError("at least one secret")
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(timestamp)),
            "webhook-signature": " ".join(sign(s, msg_id, timestamp, body) for s in secrets)}


def verify(secret: str, received: dict[str, str], body: bytes, *, now: int,
           tolerance: int = TOLERANCE_SECONDS) -> None:
    """The receiver's check (the devstack demo receiver and the tests use it): one of the signatures matches and the
    timestamp is within `tolerance` of `now`; raises InvalidSignature otherwise."""
    lowered = {k.lower(): v for k, v in received.items()}
    msg_id, stamp, signatures = (lowered.get(h, "") for h in ("webhook-id", "webhook-timestamp", "webhook-signature"))
    try:
        timestamp = int(stamp)
    except ValueError:
        raise InvalidSignature("bad timestamp") from None
    if abs(now - timestamp) > tolerance:
        raise InvalidSignature("timestamp out of tolerance")
    expected = sign(secret, msg_id, timestamp, body)
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures.split()):
        raise InvalidSignature("no matching signature")
