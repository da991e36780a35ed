"""Verification of Cognito ID tokens, in the app itself and in every mode.

Why here and not an API Gateway authorizer: `chalice local` lets authorizers through without verifying
(docs/traps.md#chalice-local-authorizers), and the embedded stack must take the same path as AWS. Checks: RS256
signature against the pool's JWKS, issuer, audience (the app client), expiry, `token_use == "id"`, and the
`custom:organ_id` claim. The pool's keys are cached with a TTL (chalicelib.api.jwks); an `admins` caller must have
MFA set up on the account (chalicelib.api.mfa).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from chalicelib.adapters.cognito_users import mfa_settings
from chalicelib.api.jwks import JwksCache, fetch_jwks
from chalicelib.api.mfa import MfaCheck
from chalicelib.core.errors import Forbidden, Unauthorized
from chalicelib.core.settings import get_settings
from chalicelib.domain.caller import Caller

__all__ = ["Caller", "caller_from_headers", "configure", "reset", "verify_token"]

_lock = threading.Lock()
_jwks_cache: JwksCache | None = None
_mfa_check: MfaCheck | None = None


def _jwks() -> JwksCache:
    """One key cache per container (chalicelib.api.jwks: 1 h TTL, one rate-limited refetch for an unknown kid)."""
    global _jwks_cache
    with _lock:
        if _jwks_cache is None:
            _jwks_cache = JwksCache(functools.partial(fetch_jwks, get_settings().jwks_url))
        return _jwks_cache


def _mfa() -> MfaCheck:
    """One MFA check per container (chalicelib.api.mfa), asking the pool the tokens come from."""
    global _mfa_check
    with _lock:
        if _mfa_check is None:
            _mfa_check = MfaCheck(functools.partial(mfa_settings, get_settings().cognito_user_pool_id))
        return _mfa_check


def configure(*, jwks: JwksCache | None = None, mfa_lookup: Callable[[str], frozenset[str]] | None = None) -> None:
    """Use this key cache and/or MFA lookup (tests: fakes instead of the pool's endpoint and AdminGetUser)."""
    global _jwks_cache, _mfa_check
    with _lock:
        if jwks is not None:
            _jwks_cache = jwks
        if mfa_lookup is not None:
            _mfa_check = MfaCheck(mfa_lookup)


def reset() -> None:
    """Forget the key cache and the MFA answers (tests that switch pools)."""
    global _jwks_cache, _mfa_check
    with _lock:
        _jwks_cache = _mfa_check = None


def verify_token(token: str) -> dict[str, Any]:
    """The token's claims, or Unauthorized with a reason in `details` (never the token itself)."""
    import jwt  # lazy: PyJWT pulls in cryptography (~100s of ms); only a request with a token pays

    settings = get_settings()
    try:
        kid = jwt.get_unverified_header(token).get("kid")
        key = _jwks().key(kid)
        if key is None:
            raise Unauthorized(details={"reason": "unknown_kid"})
        claims = jwt.decode(
            token, key.key, algorithms=["RS256"], audience=settings.cognito_client_id,
            issuer=settings.token_issuer, options={"require": ["exp", "iat", "iss", "aud", "token_use"]},
            leeway=30,
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("Mã truy cập đã hết hạn.", code="token_expired") from exc
    except (jwt.PyJWKClientError, jwt.InvalidTokenError) as exc:
        raise Unauthorized(details={"reason": type(exc).__name__}) from exc
    if claims.get("token_use") != "id":
        raise Unauthorized(details={"reason": "token_use"})
    return claims


def caller_from_headers(headers: dict[str, str]) -> Caller:
    """Authenticate the `Authorization: Bearer <JWT>` header of a request."""
    value = headers.get("authorization") or headers.get("Authorization") or ""
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(details={"reason": "missing_bearer_token"})
    claims = verify_token(token.strip())
    organ_id = claims.get("custom:organ_id")
    groups = claims.get("cognito:groups") or []
    if not organ_id:
        raise Forbidden("Tài khoản chưa được gắn với cơ quan nào.", code="no_organ")
    caller = Caller(username=claims.get("cognito:username", claims.get("sub", "")), organ_id=organ_id,
                    is_admin="admins" in groups)
    if caller.is_admin:
        _mfa().require(caller.username)  # admins need a second factor (chalicelib.api.mfa): 403 mfa_required
    return caller
