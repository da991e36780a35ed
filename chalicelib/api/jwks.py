"""The user pool's signing keys (JWKS), cached per container with a time to live.

Why not PyJWT's own caches: its per-`kid` key cache (`cache_keys=True`) never expires, so a key Cognito has
rotated out would verify tokens for the container's whole life; and how often an unknown `kid` may force a
refetch depends on the installed version. The rule here, in one place:

- the key set is fetched at most once per `ttl` (1 h) while every `kid` asked for is in it: a rotation (a new key
  added, an old one removed) is picked up within the hour at the latest;
- an unknown `kid` triggers one refetch at once (a new key signs before the hour is up), but not more than once per
  `refetch_interval` (60 s) however many unknown `kid`s arrive: forged tokens cannot turn the API into a JWKS
  fetcher;
- a failed fetch keeps the keys already known (an outage of the endpoint does not log everyone out) and is retried
  after `refetch_interval`, not on every request.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from chalicelib.core.log import logger

__all__ = ["JWKS_REFETCH_INTERVAL_SECONDS", "JWKS_TTL_SECONDS", "JwksCache", "fetch_jwks"]

JWKS_TTL_SECONDS = 3600.0
JWKS_REFETCH_INTERVAL_SECONDS = 60.0


def fetch_jwks(url: str, timeout: float = 5.0) -> dict[str, Any]:
    """The JWK Set at `url` (http/https only, no redirects: PyJWT's own fetcher, without its caches)."""
    # lazy: PyJWT pulls in cryptography (~100s of ms); only a request with a token pays
    from jwt import PyJWKClient

    return PyJWKClient(url, cache_jwk_set=False, timeout=timeout).fetch_data()


class JwksCache:
    """Signing keys by `kid`, from `fetch()` (a JWK Set as a dict), under the rule of the module docstring."""

    def __init__(self, fetch: Callable[[], dict[str, Any]], *, ttl: float = JWKS_TTL_SECONDS,
                 refetch_interval: float = JWKS_REFETCH_INTERVAL_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._fetch, self._ttl, self._interval, self._clock = fetch, ttl, refetch_interval, clock
        self._keys: dict[str, Any] = {}
        self._fetched_at: float | None = None  # last successful fetch
        self._tried_at: float | None = None  # last attempt, successful or not
        self._lock = threading.Lock()
        self.fetches = 0  # attempts, for tests and logs

    def key(self, kid: Any) -> Any | None:
        """The `jwt.PyJWK` for `kid`, or None when the pool has no such key (after at most one refetch)."""
        with self._lock:
            now = self._clock()
            if self._fetched_at is None or now - self._fetched_at >= self._ttl:
                self._refresh(now)
            found = self._keys.get(kid) if isinstance(kid, str) else None
            if found is None and isinstance(kid, str) and self._may_retry(now):
                self._refresh(now)
                found = self._keys.get(kid)
            return found

    def _may_retry(self, now: float) -> bool:
        return self._tried_at is None or now - self._tried_at >= self._interval

    def _refresh(self, now: float) -> None:
        if not self._may_retry(now):
            return  # a fetch failed or ran a moment ago: keep what we have until the interval is over
        self._tried_at = now
        self.fetches += 1
        try:
            keys = _signing_keys(self._fetch())
        except Exception:
            # Tokens are then checked against the keys already known (none before a first success: refused).
            logger.warning("JWKS fetch failed; keeping the keys already known", extra={"known": len(self._keys)})
            return
        self._keys, self._fetched_at = keys, now


def _signing_keys(data: dict[str, Any]) -> dict[str, Any]:
    """`kid` → PyJWK for every RS256 signing key of a JWK Set (keys meant for other uses are left out)."""
    from jwt import PyJWKSet  # lazy: as in fetch_jwks

    out = {}
    for jwk in PyJWKSet.from_dict(data).keys:
        if jwk.key_id and jwk.public_key_use in ("sig", None):
            out[jwk.key_id] = jwk
    return out
