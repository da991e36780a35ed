"""The pool's keys are cached with a TTL and an unknown `kid` refetches once, rate-limited (chalicelib.api.jwks);
admins without MFA are refused (chalicelib.api.mfa, through chalicelib.api.auth)."""

from __future__ import annotations

import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from chalicelib.api import auth
from chalicelib.api.jwks import JWKS_REFETCH_INTERVAL_SECONDS, JWKS_TTL_SECONDS, JwksCache
from chalicelib.api.mfa import MFA_CACHE_SECONDS, MFA_NEGATIVE_CACHE_SECONDS, MfaCheck
from chalicelib.core.errors import Forbidden, GatewayError, Unauthorized


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Pool:
    """A user pool's JWKS endpoint: keys by kid, rotated by the test; counts fetches, can be down."""

    def __init__(self, *kids: str) -> None:
        self.keys = {kid: rsa.generate_private_key(public_exponent=65537, key_size=2048) for kid in kids}
        self.published = set(kids)
        self.fetches = 0
        self.down = False

    def rotate(self, new: str, *, drop: str | None = None) -> None:
        self.keys[new] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.published.add(new)
        if drop:
            self.published.discard(drop)

    def fetch(self) -> dict:
        self.fetches += 1
        if self.down:
            raise OSError("JWKS endpoint down")
        keys = []
        for kid in sorted(self.published):
            jwk = json.loads(RSAAlgorithm.to_jwk(self.keys[kid].public_key()))
            keys.append({**jwk, "kid": kid, "alg": "RS256", "use": "sig"})
        return {"keys": keys}


def test_keys_are_fetched_once_per_ttl():
    pool, clock = Pool("k1"), Clock()
    cache = JwksCache(pool.fetch, clock=clock)
    assert cache.key("k1") is not None and cache.key("k1") is not None
    clock.now += JWKS_TTL_SECONDS - 1
    assert cache.key("k1") is not None
    assert pool.fetches == 1
    clock.now += 2
    assert cache.key("k1") is not None
    assert pool.fetches == 2, "refetched once the TTL is over"


def test_a_rotation_is_picked_up_and_a_removed_key_stops_verifying():
    pool, clock = Pool("k1"), Clock()
    cache = JwksCache(pool.fetch, clock=clock)
    assert cache.key("k1") is not None
    clock.now += JWKS_REFETCH_INTERVAL_SECONDS
    pool.rotate("k2", drop="k1")
    assert cache.key("k2") is not None, "an unknown kid refetches at once"
    assert pool.fetches == 2
    assert cache.key("k1") is None, "the rotated-out key is gone with the refetch"


def test_unknown_kids_refetch_at_most_once_per_interval():
    pool, clock = Pool("k1"), Clock()
    cache = JwksCache(pool.fetch, clock=clock)
    cache.key("k1")
    clock.now += JWKS_REFETCH_INTERVAL_SECONDS
    for n in range(50):
        assert cache.key(f"forged-{n}") is None
    assert pool.fetches == 2, "fifty forged kids, one refetch"
    clock.now += JWKS_REFETCH_INTERVAL_SECONDS
    assert cache.key("forged-x") is None
    assert pool.fetches == 3
    assert cache.key(None) is None and cache.key(["k1"]) is None and pool.fetches == 3


def test_an_endpoint_outage_keeps_the_known_keys_and_is_not_hammered():
    pool, clock = Pool("k1"), Clock()
    cache = JwksCache(pool.fetch, clock=clock)
    cache.key("k1")
    pool.down = True
    clock.now += JWKS_TTL_SECONDS
    assert cache.key("k1") is not None, "expired but the endpoint is down: the known key still verifies"
    assert cache.key("k1") is not None and pool.fetches == 2
    clock.now += JWKS_REFETCH_INTERVAL_SECONDS
    pool.down = False
    assert cache.key("k1") is not None and pool.fetches == 3


def test_no_keys_at_all_is_none_not_an_exception():
    pool = Pool("k1")
    pool.down = True
    assert JwksCache(pool.fetch, clock=Clock()).key("k1") is None


# -- through verify_token / caller_from_headers -----------------------------------------------------------------


@pytest.fixture()
def pool(monkeypatch):
    monkeypatch.setenv("COGNITO_USER_POOL_ID", "ap-southeast-1_test")
    monkeypatch.setenv("COGNITO_CLIENT_ID", "client-1")
    monkeypatch.setenv("TOKEN_ISSUER", "https://issuer.test/pool")
    from chalicelib.core.settings import get_settings

    get_settings.cache_clear()
    pool = Pool("k1")
    auth.reset()
    auth.configure(jwks=JwksCache(pool.fetch))
    yield pool
    auth.reset()
    get_settings.cache_clear()


def _token(pool: Pool, kid: str = "k1", **claims) -> str:
    now = int(time.time())
    body = {"iss": "https://issuer.test/pool", "aud": "client-1", "token_use": "id", "iat": now, "exp": now + 600,
            "cognito:username": "clerk-1", "custom:organ_id": "000.00.12.H62", **claims}
    return jwt.encode(body, pool.keys[kid], algorithm="RS256", headers={"kid": kid})


def _headers(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def test_a_token_from_a_rotated_key_verifies_and_an_unknown_kid_is_unauthorized(pool):
    assert auth.verify_token(_token(pool))["cognito:username"] == "clerk-1"
    with pytest.raises(Unauthorized) as info:
        auth.verify_token(_token(Pool("stranger"), kid="stranger"))
    assert info.value.details == {"reason": "unknown_kid"}


def test_an_admin_without_mfa_is_refused_on_every_route(pool):
    asked = []
    auth.configure(mfa_lookup=lambda user: asked.append(user) or frozenset())
    with pytest.raises(Forbidden) as info:
        auth.caller_from_headers(_headers(_token(pool, **{"cognito:username": "admin", "cognito:groups": ["admins"]})))
    assert info.value.code == "mfa_required" and info.value.status == 403
    assert asked == ["admin"]


def test_an_admin_with_totp_passes_and_clerks_are_not_asked(pool):
    asked = []
    auth.configure(mfa_lookup=lambda user: asked.append(user) or frozenset({"SOFTWARE_TOKEN_MFA"}))
    caller = auth.caller_from_headers(_headers(_token(pool, **{"cognito:username": "admin",
                                                               "cognito:groups": ["admins"]})))
    assert caller.is_admin and caller.username == "admin"
    assert not auth.caller_from_headers(_headers(_token(pool))).is_admin
    assert asked == ["admin"], "clerks need no MFA lookup"


def test_sms_alone_is_not_the_second_factor_admins_need():
    with pytest.raises(Forbidden):
        MfaCheck(lambda user: frozenset({"SMS_MFA"})).require("admin")


def test_mfa_answers_are_cached_positive_longer_than_negative():
    clock, answers, calls = Clock(), {"a": frozenset({"SOFTWARE_TOKEN_MFA"}), "b": frozenset()}, []

    def lookup(user: str) -> frozenset[str]:
        calls.append(user)
        return answers[user]

    check = MfaCheck(lookup, clock=clock)
    for _ in range(3):
        check.require("a")
        with pytest.raises(Forbidden):
            check.require("b")
    assert calls == ["a", "b"]
    answers["b"] = frozenset({"SOFTWARE_TOKEN_MFA"})  # b sets MFA up: let in once the negative answer expires
    clock.now += MFA_NEGATIVE_CACHE_SECONDS
    check.require("b")
    answers["a"] = frozenset()  # a turns MFA off: refused once the positive answer expires
    check.require("a")
    clock.now += MFA_CACHE_SECONDS
    with pytest.raises(Forbidden):
        check.require("a")
    assert calls == ["a", "b", "b", "a"]


def test_cognito_not_answering_fails_closed():
    def broken(user: str) -> frozenset[str]:
        raise TimeoutError("cognito down")

    with pytest.raises(GatewayError) as info:
        MfaCheck(broken).require("admin")
    assert info.value.code == "mfa_check_unavailable" and info.value.status == 503
