"""Verification of Cognito ID tokens, in the app itself and in every mode.

Why here and not an API Gateway authorizer: `chalice local` lets authorizers through without verifying
(docs/traps.md#chalice-local-authorizers), and the embedded stack must take the same path as AWS. Checks: RS256
signature against the pool's JWKS, issuer, audience (the app client), expiry, `token_use == "id"`, and the
`custom:organ_id` claim.
"""

from __future__ import annotations

import threading
from typing import Any

from chalicelib.core.errors import Forbidden, Unauthorized
from chalicelib.core.settings import get_settings
from chalicelib.domain.caller import Caller

__all__ = ["Caller", "caller_from_headers", "reset", "verify_token"]

_jwks_lock = threading.Lock()
_jwks_client: Any = None


def _jwks() -> Any:
    """One PyJWKClient per container: keys are cached and refetched only for an unknown `kid`."""
    global _jwks_client
    with _jwks_lock:
        if _jwks_client is None:
            # lazy: PyJWT pulls in cryptography (~100s of ms); only a request with a token pays
            from jwt import PyJWKClient

            _jwks_client = PyJWKClient(get_settings().jwks_url, cache_keys=True, lifespan=3600, timeout=5)
        return _jwks_client


def reset() -> None:
    """Forget the JWKS client (tests that switch pools)."""
    global _jwks_client
    with _jwks_lock:
        _jwks_client = None


def verify_token(token: str) -> dict[str, Any]:
    """The token's claims, or Unauthorized with a reason in `details` (never the token itself)."""
    import jwt  # lazy: PyJWT pulls in cryptography (~100s of ms); only a request with a token pays

    settings = get_settings()
    try:
        key = _jwks().get_signing_key_from_jwt(token)
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
    return Caller(username=claims.get("cognito:username", claims.get("sub", "")), organ_id=organ_id,
                  is_admin="admins" in groups)
