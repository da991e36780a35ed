"""Administrators need a second factor: an `admins` caller whose Cognito account has no software-token MFA is
refused, on every route (403 `mfa_required`).

The user pool has `MfaConfiguration: OPTIONAL` with software tokens (infra/resources.yaml): clerks may, admins
must. An ID token cannot show how its sign-in went (Cognito writes no `amr`), but an account with TOTP enabled
cannot sign in without its code, so the API checks the account (`chalicelib.adapters.cognito_users`), cached per
container: a positive answer for `ttl` (5 min: an admin who turns MFA off is refused within minutes), a negative one
for `negative_ttl` (30 s: one who just set it up is let in soon, and a refused caller does not cost a Cognito call
per request). If Cognito cannot answer, the request is refused (503 `mfa_check_unavailable`): fail closed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from chalicelib.core.errors import Forbidden, GatewayError
from chalicelib.core.log import logger

__all__ = ["MFA_CACHE_SECONDS", "MFA_NEGATIVE_CACHE_SECONDS", "REQUIRED_METHODS", "MfaCheck"]

MFA_CACHE_SECONDS = 300.0
MFA_NEGATIVE_CACHE_SECONDS = 30.0
#: What counts as a second factor for an admin: an authenticator app (TOTP). SMS is not enabled in the pool.
REQUIRED_METHODS = frozenset({"SOFTWARE_TOKEN_MFA"})


class MfaCheck:
    """`require(username)` for admin callers, over `lookup(username)` → the account's enabled MFA methods."""

    def __init__(self, lookup: Callable[[str], frozenset[str]], *, ttl: float = MFA_CACHE_SECONDS,
                 negative_ttl: float = MFA_NEGATIVE_CACHE_SECONDS, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self._lookup, self._ttl, self._negative_ttl, self._clock = lookup, ttl, negative_ttl, clock
        self._answers: dict[str, tuple[bool, float]] = {}
        self._lock = threading.Lock()
        self.lookups = 0

    def has_mfa(self, username: str) -> bool:
        now = self._clock()
        with self._lock:
            cached = self._answers.get(username)
        if cached is not None and now < cached[1]:
            return cached[0]
        self.lookups += 1
        try:
            ok = bool(self._lookup(username) & REQUIRED_METHODS)
        except Exception as exc:
            logger.warning("MFA lookup failed", extra={"error": type(exc).__name__})
            raise GatewayError(code="mfa_check_unavailable") from exc
        with self._lock:
            if len(self._answers) > 1000:  # a container serves a handful of admins; never grow without bound
                self._answers.clear()
            self._answers[username] = (ok, now + (self._ttl if ok else self._negative_ttl))
        return ok

    def require(self, username: str) -> None:
        if not self.has_mfa(username):
            raise Forbidden(code="mfa_required", details={"required": sorted(REQUIRED_METHODS)})
