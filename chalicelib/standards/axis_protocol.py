"""The axis's request authentication (VXP connector 2.0.1, `XroadVnpt-*` headers), pure and shared.

Every parameter of a call travels as an HTTP header. The client builds a map of `timestamp`
(`ddMMyyyy'T'HHmmss+` then four-digit milliseconds), `systemid`, `Content-Type` and the call's own parameters,
then sends:

- each entry as `XroadVnpt-<key>: <value>` (and `Content-Type` also as itself);
- `XroadVnpt-sign-header`: the compact JSON object `{"XroadVnpt-<key>": value, ...}`;
- `XroadVnpt-sign-header-key`: the `;`-joined keys (without the prefix);
- `XroadVnpt-hash-header`: lower-case hex HMAC-SHA256(secret, that JSON as UTF-8);
- `XroadVnpt-version: 3.0.201608`.

The server recomputes the HMAC over the JSON exactly as transmitted, so key order never matters. The client
(`adapters.axis.client`) signs with `sign_headers`; the local simulator verifies with `verify_headers`, so both
sides of the tests run the same rules but neither tests itself: the HTTP in between is real.

Freshness, as the real axis enforces it: a verifier refuses a signed timestamp further than `max_skew` from its own
clock (±5 minutes by default, `DEFAULT_MAX_SKEW`: `stale_timestamp`) and, with a `ReplayCache`, a signature it
has already accepted within that window (`replayed_request`), so a captured request cannot be sent again, not even
byte for byte. The timestamp is the protocol's only nonce: a client signs every request anew, a retry included,
with a timestamp later than its previous one.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import json
import os
import re
import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from chalicelib.core.clock import VN_TZ

__all__ = ["DEFAULT_MAX_SKEW", "HASH_HEADER", "PREFIX", "SIGN_HEADER", "SIGN_HEADER_KEY", "ReplayCache",
    "SignatureError", "VERSION", "VERSION_HEADER", "format_timestamp", "parse_timestamp", "sha256_file",
    "sign_headers", "verify_headers"]

PREFIX = "XroadVnpt-"
VERSION = "3.0.201608"
SIGN_HEADER = "XroadVnpt-sign-header"
SIGN_HEADER_KEY = "XroadVnpt-sign-header-key"
HASH_HEADER = "XroadVnpt-hash-header"
VERSION_HEADER = "XroadVnpt-version"
#: How far a signed timestamp may be from the verifier's clock: the real axis's window (±5 minutes).
DEFAULT_MAX_SKEW = timedelta(minutes=5)

#: The axis client formats its timestamp in Vietnam local time (UTC+7), as the reference Java library does.

_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_VALUE = re.compile(r"[\x20-\x7e]*")  # printable ASCII: no CR/LF (header injection), nothing a proxy may re-encode
_TIMESTAMP = re.compile(r"(\d{2})(\d{2})(\d{4})T(\d{2})(\d{2})(\d{2})\+(\d{4})", re.ASCII)
# Set by the protocol itself, or the names of its own headers (`XroadVnpt-version`...): never a call parameter.
_RESERVED = frozenset({"timestamp", "systemid", "sign-header", "sign-header-key", "hash-header", "version"})


class SignatureError(Exception):
    """A request whose `XroadVnpt-*` headers do not authenticate. `reason` is a stable code for the answer/logs:
    `missing_headers`, `malformed_sign_header`, `unknown_system`, `bad_signature`, `key_list_mismatch`,
    `header_mismatch`, `stale_timestamp`, `replayed_request`."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        super().__init__(f"{reason}: {detail}" if detail else reason)


def format_timestamp(now: datetime) -> str:
    """`ddMMyyyy'T'HHmmss+SSSS` (Java `SimpleDateFormat`: the `+` is literal, `SSSS` the milliseconds on four digits).

    An aware datetime is converted to Vietnam local time; a naive one is taken as already local.
    """
    if now.tzinfo is not None:
        now = now.astimezone(VN_TZ)
    return now.strftime("%d%m%YT%H%M%S+") + f"{now.microsecond // 1000:04d}"


def parse_timestamp(value: str) -> datetime | None:
    """Inverse of `format_timestamp` (as an aware datetime in UTC+7), or None."""
    match = _TIMESTAMP.fullmatch(value.strip())
    if not match:
        return None
    d, mo, y, h, mi, s, ms = (int(g) for g in match.groups())
    try:
        return datetime(y, mo, d, h, mi, s, min(ms, 999) * 1000, tzinfo=VN_TZ)
    except ValueError:
        return None


def _check(key: str, value: str) -> None:
    if not _KEY.fullmatch(key):
        raise ValueError(f"axis parameter name not allowed in a header: {key!r}")
    if not isinstance(value, str) or not _VALUE.fullmatch(value):
        raise ValueError(f"axis parameter {key!r} must be printable ASCII (HTTP header value)")


def sign_headers(params: Mapping[str, str], system_id: str, secret: str, now: datetime) -> dict[str, str]:
    """The HTTP headers that authenticate one axis call.

    `params` are the call's own parameters (`from`, `to`, `docId`, `hash-file`...) and optionally `Content-Type`
    (default `application/json`; `application/octet-stream` for sendEdoc). Values must be printable ASCII: they
    are header values, and the JSON the HMAC covers must be what the server receives.
    """
    signed: dict[str, str] = {"timestamp": format_timestamp(now), "systemid": system_id,
                              "Content-Type": params.get("Content-Type", "application/json")}
    for key, value in params.items():
        if key.lower() in _RESERVED:
            raise ValueError(f"{key!r} is set by the protocol, not by the caller")
        signed[key] = value
    for key, value in signed.items():
        _check(key, value)
    if len({k.lower() for k in signed}) != len(signed):
        raise ValueError("axis parameter names must differ in more than letter case (HTTP headers do not)")
    body = json.dumps({PREFIX + k: v for k, v in signed.items()}, separators=(",", ":"), ensure_ascii=True)
    headers = {PREFIX + k: v for k, v in signed.items()}
    headers["Content-Type"] = signed["Content-Type"]
    headers[SIGN_HEADER] = body
    headers[SIGN_HEADER_KEY] = ";".join(signed)
    headers[HASH_HEADER] = hmac.new(secret.encode("utf-8"), body.encode("utf-8"), hashlib.sha256).hexdigest()
    headers[VERSION_HEADER] = VERSION
    return headers


class ReplayCache:
    """The signatures a verifier accepted within its window, to refuse any of them seen again (`replayed_request`).

    Entries are kept until their timestamp leaves the window (after that the timestamp check refuses the request
    anyway), so memory is bounded by the requests of one window: `max_entries` of them at most, beyond which the
    cache refuses new requests rather than forget a signature it should still recognise. Thread-safe.
    """

    def __init__(self, window: timedelta = DEFAULT_MAX_SKEW, max_entries: int = 1_000_000) -> None:
        self.window = window
        self.max_entries = max_entries
        self._seen: set[str] = set()
        self._expiries: list[tuple[datetime, str]] = []
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._seen)

    def admit(self, key: str, stamp: datetime, now: datetime) -> None:
        """Record `key` (a system id and its signature), or raise `SignatureError` if it was already seen."""
        with self._lock:
            while self._expiries and self._expiries[0][0] < now:
                self._seen.discard(heapq.heappop(self._expiries)[1])
            if key in self._seen:
                raise SignatureError("replayed_request")
            if len(self._seen) >= self.max_entries:
                raise SignatureError("replayed_request", "replay cache full")
            self._seen.add(key)
            heapq.heappush(self._expiries, (max(stamp, now) + self.window, key))

    def clear(self) -> None:
        with self._lock:
            self._seen.clear()
            self._expiries.clear()


def verify_headers(headers: Mapping[str, str] | Any, secret_lookup: Callable[[str], str | None], *,
                   now: datetime | None = None, max_skew: timedelta | None = None,
                   replay: ReplayCache | None = None) -> dict[str, str]:
    """Authenticate a request and return its parameters (keys without the prefix, e.g. `systemid`, `from`).

    Checks, in order: the three signing headers exist; the signed JSON is an object of strings; its
    `XroadVnpt-systemid` has a secret (`secret_lookup` returns None for unknown systems); the HMAC matches
    (constant-time); the key list names exactly the signed keys; every `XroadVnpt-<key>` header that travelled
    equals its signed value, so nothing outside the signature can change a parameter. With `max_skew`, the
    signed timestamp must also be that close to `now` (replay window); with `replay` (which needs `max_skew`), the
    signature must not have been accepted before within it. Parameters come from the signed JSON.
    """
    if replay is not None and max_skew is None:
        raise ValueError("a replay cache needs the timestamp window (max_skew) that bounds it")
    lower = {str(k).lower(): str(v) for k, v in headers.items()}
    sign_json = lower.get(SIGN_HEADER.lower())
    given_hash = lower.get(HASH_HEADER.lower())
    key_list = lower.get(SIGN_HEADER_KEY.lower())
    if not sign_json or not given_hash or key_list is None:
        raise SignatureError("missing_headers")
    try:
        signed = json.loads(sign_json)
    except ValueError:
        raise SignatureError("malformed_sign_header") from None
    if not isinstance(signed, dict) or not all(
            isinstance(k, str) and k.startswith(PREFIX) and isinstance(v, str) for k, v in signed.items()):
        raise SignatureError("malformed_sign_header")
    system_id = signed.get(PREFIX + "systemid", "")
    secret = secret_lookup(system_id) if system_id else None
    if not secret:
        raise SignatureError("unknown_system", system_id)
    expected = hmac.new(secret.encode("utf-8"), sign_json.encode("utf-8"), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, given_hash.strip().lower()):
        raise SignatureError("bad_signature")
    params = {k[len(PREFIX):]: v for k, v in signed.items()}
    if sorted(key_list.split(";")) != sorted(params):
        raise SignatureError("key_list_mismatch")
    for key, value in params.items():
        sent = lower.get((PREFIX + key).lower())
        if sent is None or sent.strip() != value.strip():
            raise SignatureError("header_mismatch", key)
    if max_skew is not None:
        stamp = parse_timestamp(params.get("timestamp", ""))
        current = now or datetime.now(VN_TZ)
        if stamp is None or abs(current - stamp) > max_skew:
            raise SignatureError("stale_timestamp")
        if replay is not None:
            replay.admit(f"{system_id}\n{given_hash.strip().lower()}", stamp, current)
    return params


def sha256_file(path: str | os.PathLike[str], chunk: int = 1024 * 1024) -> str:
    """Lower-case hex SHA-256 of a file, read in chunks: the `hash-file` parameter of sendEdoc."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()
