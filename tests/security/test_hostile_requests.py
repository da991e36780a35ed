"""Security on the embedded stack (issue 8, "A hostile world"): every route answers hostile input with a 4xx and
its code, never a 500; the `admins` group claim alone never gets past MFA; a key the pool does not publish never
verifies.

Forged tokens are signed with moto's own Cognito key (shipped in moto), as in test_tokens_and_tenants.py: the
signature passes, so what refuses them is the check under test.
"""

from __future__ import annotations

import gzip
import json
import time
import uuid
from importlib import resources

import jwt
import pytest

from devstack.client import ApiError
from devstack.demo_data import SAMPLES

SENDER = SAMPLES[0].uploader
ID = str(uuid.uuid4())

#: Every route that takes a JSON body (app.py), as (method, path, who calls it).
BODY_ROUTES = [
    ("POST", "/v1/documents", "clerk"),
    ("POST", f"/v1/documents/{ID}/revoke", "clerk"),
    ("POST", f"/v1/documents/{ID}/update", "clerk"),
    ("POST", f"/v1/inbox/{ID}/status", "clerk"),
    ("POST", "/v1/verify", "clerk"),
    ("POST", "/v1/admin/keys", "admin"),
    ("POST", "/v1/admin/keys/rotate", "admin"),
    ("POST", f"/v1/admin/keys/{SENDER}/k1/csr", "admin"),
    ("PUT", f"/v1/admin/keys/{SENDER}/k1/certificate", "admin"),
    ("POST", "/v1/admin/dead-letters/redrive", "admin"),
    ("POST", f"/v1/admin/documents/{ID}/retry", "admin"),
    ("POST", "/v1/admin/agencies", "admin"),
    ("PATCH", f"/v1/admin/agencies/{SENDER}", "admin"),
    ("PUT", f"/v1/admin/agencies/{SENDER}/seal", "admin"),
    ("POST", "/v1/admin/agencies/sync", "admin"),
]

#: Hostile bodies and the code each must get, whatever the route.
HOSTILE = {
    "deep": (b"[" * 50_000 + b"]" * 50_000, 400, "json_too_deep"),
    "deep_object": (b'{"a":' * 3000 + b"1" + b"}" * 3000, 400, "json_too_deep"),
    "array": (b"[1, 2, 3]", 400, "json_not_object"),
    "string": (b'"text"', 400, "json_not_object"),
    "nan": (b'{"reason": NaN}', 400, "invalid_json"),
    "control": (b'{"reason": "a\\u0001b", "organ_id": "x\\u0001"}', 400, "invalid_text"),
    "surrogate": (b'{"reason": "\\udc00"}', 400, "invalid_text"),
    "oversized": (json.dumps({"reason": "x" * (1024 * 1024 + 1)}).encode(), 413, "body_too_large"),
}


@pytest.fixture(scope="module")
def tokens(client):
    return {"clerk": client.login(client.user_for(SENDER)), "admin": client.login(client.user_for(
        next(u["organ_id"] for u in client.info["users"] if u["admin"]), admin=True))}


@pytest.mark.parametrize("kind", sorted(HOSTILE))
@pytest.mark.parametrize(("method", "path", "who"), BODY_ROUTES)
def test_every_body_route_answers_hostile_json_with_its_code(client, tokens, method, path, who, kind):
    raw, status, code = HOSTILE[kind]
    if path == "/v1/verify" and code == "json_not_object":
        code = "nothing_to_verify"  # /v1/verify takes a PDF or an object, and says so in its own code
    with pytest.raises(ApiError) as info:
        client.call(method, path, tokens[who], data=raw, headers={"Content-Type": "application/json"})
    assert (info.value.status, info.value.code) == (status, code), info.value.body


@pytest.mark.parametrize(("path", "codes"), [
    ("/v1/documents?cursor=%00", {"invalid_text"}), ("/v1/admin/keys?organ_id=%01", {"invalid_text"}),
    ("/v1/inbox?cursor=%C2%85", {"invalid_text"}), ("/v1/documents?state=%EF%BF%BE", {"invalid_text"}),
    # Path parameters reach the app as sent (still percent-encoded on the stack's server): a lookup that finds
    # nothing. Decoded ones (API Gateway's) are checked text: tests/unit/api/test_hostile_requests.py.
    ("/v1/documents/a%01b", {"document_not_found"}), ("/v1/inbox/%EF%BF%BE", {"inbox_item_not_found"}),
    (f"/v1/admin/keys/{SENDER}/k%C2%85", {"unknown_key"}),
    ("/v1/admin/agencies?q=%01", {"invalid_text"}), ("/v1/admin/agencies?cursor=%EF%BF%BE", {"invalid_text"}),
    ("/v1/admin/agencies/changes?cursor=%01", {"invalid_text"}),
    ("/v1/admin/agencies/changes?cursor=x", {"invalid_cursor"}),
    ("/v1/admin/agencies/000.00.00.H62%C2%85", {"unknown_agency"}),
])
def test_bad_text_in_queries_and_paths_is_4xx_never_500(client, tokens, path, codes):
    with pytest.raises(ApiError) as info:
        client.call("GET", path, tokens["admin"])
    assert 400 <= info.value.status < 500 and info.value.code in codes, info.value.body


# -- tokens ------------------------------------------------------------------------------------------------------


def _moto_key():
    from jwt.algorithms import RSAAlgorithm

    raw = resources.files("moto.cognitoidp").joinpath("resources/jwks-private.json.gz").read_bytes()
    return RSAAlgorithm.from_jwk(json.dumps(json.loads(gzip.decompress(raw))))


def _forged(client, stack, *, kid: str = "dummy", **claims) -> str:
    real = client.login(client.user_for(SENDER))
    iss = jwt.decode(real, options={"verify_signature": False})["iss"]
    now = int(time.time())
    body = {"sub": "forged", "iss": iss, "aud": stack["cognito"]["client_id"], "token_use": "id", "iat": now,
            "exp": now + 600, "auth_time": now, "cognito:username": "forged", "custom:organ_id": SENDER, **claims}
    return jwt.encode(body, _moto_key(), algorithm="RS256", headers={"kid": kid})


@pytest.mark.parametrize("username", ["nobody-in-the-pool", "clerk-of-sender"])
def test_the_admins_group_claim_alone_never_passes_mfa(client, stack, username):
    """A token claiming `admins` for an account that has no MFA (or does not exist) is refused on every route."""
    if username == "clerk-of-sender":
        username = client.user_for(SENDER)
    token = _forged(client, stack, **{"cognito:username": username, "cognito:groups": ["admins"]})
    for path in ("/v1/admin/keys", "/v1/admin/inbound-issues", "/v1/documents"):
        with pytest.raises(ApiError) as info:
            client.call("GET", path, token)
        assert (info.value.status, info.value.code) == (403, "mfa_required"), info.value.body


def test_the_same_claims_without_the_admins_group_pass(client, stack):
    """The control for the test above: only the group makes MFA required."""
    token = _forged(client, stack, **{"cognito:username": client.user_for(SENDER)})
    assert "items" in client.call("GET", "/v1/documents", token)


def test_a_kid_the_pool_does_not_publish_is_401(client, stack):
    with pytest.raises(ApiError) as info:
        client.call("GET", "/v1/documents", _forged(client, stack, kid=f"rotated-{uuid.uuid4().hex}"))
    assert info.value.status == 401 and info.value.body["error"]["details"] == {"reason": "unknown_kid"}
