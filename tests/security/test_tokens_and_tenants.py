"""Security on the embedded stack: tenant isolation and token verification (signature, audience, expiry).

Forged tokens are signed with moto's own Cognito key (shipped in moto), so the signature check passes and the
audience/expiry/token_use checks are what must refuse them; a token signed with another key must fail too.
"""

from __future__ import annotations

import gzip
import json
import time
from importlib import resources

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from devstack.client import ApiError
from devstack.demo_data import SAMPLES

SENDER = SAMPLES[0].uploader
OTHER = "000.00.12.H62"


@pytest.fixture(scope="module")
def own_document(client, sample_pdf):
    token = client.login(client.user_for(SENDER))
    created = client.create_document(token, dict(SAMPLES[0].metadata, notation="UBND-SEC"))
    client.upload(created["upload"], sample_pdf)
    client.wait_for(token, created["document_id"], {"DISPATCHED", "REJECTED", "FAILED"}, timeout=90)
    return created["document_id"]


def test_another_agency_gets_404_on_the_document_and_its_signed_pdf(client, own_document):
    other = client.login(client.user_for(OTHER))
    for path in (f"/v1/documents/{own_document}", f"/v1/documents/{own_document}/signed"):
        with pytest.raises(ApiError) as info:
            client.call("GET", path, other)
        assert info.value.status == 404 and info.value.code == "document_not_found"
    listed = client.call("GET", "/v1/documents", other, params={"limit": "200"})
    assert own_document not in {d["document_id"] for d in listed["items"]}
    mine = client.call("GET", "/v1/documents", client.login(client.user_for(SENDER)), params={"limit": "200"})
    assert own_document in {d["document_id"] for d in mine["items"]}


def _claims(stack, **changes):
    now = int(time.time())
    pool = stack["cognito"]["user_pool_id"]
    claims = {"sub": "forged", "iss": f"https://cognito-idp.{stack['region']}.amazonaws.com/{pool}",
              "aud": stack["cognito"]["client_id"], "token_use": "id", "iat": now, "exp": now + 600,
              "auth_time": now, "cognito:username": "forged", "custom:organ_id": SENDER}
    claims.update(changes)
    return claims


def _moto_key():
    from jwt.algorithms import RSAAlgorithm

    raw = resources.files("moto.cognitoidp").joinpath("resources/jwks-private.json.gz").read_bytes()
    jwk = json.loads(gzip.decompress(raw))
    return RSAAlgorithm.from_jwk(json.dumps(jwk))


def _iss_of_real_token(client):
    return jwt.decode(client.login(client.user_for(SENDER)), options={"verify_signature": False})["iss"]


@pytest.mark.parametrize("case", ["bad_signature", "wrong_audience", "expired", "access_token", "garbage", "none"])
def test_forged_or_expired_tokens_get_401(client, stack, own_document, case):
    iss = _iss_of_real_token(client)
    key = _moto_key()
    if case == "bad_signature":
        other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        token = jwt.encode(_claims(stack, iss=iss), other_key, algorithm="RS256", headers={"kid": "dummy"})
    elif case == "wrong_audience":
        token = jwt.encode(_claims(stack, iss=iss, aud="someone-else"), key, algorithm="RS256",
                           headers={"kid": "dummy"})
    elif case == "expired":
        past = int(time.time()) - 7200
        token = jwt.encode(_claims(stack, iss=iss, iat=past, exp=past + 3600), key, algorithm="RS256",
                           headers={"kid": "dummy"})
    elif case == "access_token":
        token = jwt.encode(_claims(stack, iss=iss, token_use="access"), key, algorithm="RS256",
                           headers={"kid": "dummy"})
    elif case == "garbage":
        token = "not.a.jwt"
    else:
        token = None
    with pytest.raises(ApiError) as info:
        client.call("GET", f"/v1/documents/{own_document}", token)
    assert info.value.status == 401, info.value.body
    assert info.value.code in ("unauthorized", "token_expired")


def test_a_well_formed_token_signed_by_the_pool_key_passes(client, stack, own_document):
    """The control for the cases above: only the one changed claim makes them fail."""
    token = jwt.encode(_claims(stack, iss=_iss_of_real_token(client)), _moto_key(), algorithm="RS256",
                       headers={"kid": "dummy"})
    assert client.call("GET", f"/v1/documents/{own_document}", token)["document_id"] == own_document


def test_health_needs_no_token(client):
    assert client.call("GET", "/v1/health", None)["status"] == "ok"
