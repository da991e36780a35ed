"""The Cognito user pool, its web client, the `admins` group and the demo users, on moto.

Why the token issuer is read from a real login: moto writes its own host into `iss`
(docs/traps.md#moto-cognito-issuer-and-jwks), so guessing it would give the app a TOKEN_ISSUER that rejects every token.

Admins need MFA (chalicelib.api.mfa): the pool has `MfaConfiguration: OPTIONAL` with software tokens, as in
infra/resources.yaml, and every demo admin gets a TOTP authenticator set up the way a person would (sign in,
`AssociateSoftwareToken`, `VerifySoftwareToken` with a code computed from the secret, then MFA enabled and
preferred). moto checks those codes for real only with `MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP=true`, which it reads
on every call: the embedded stack's moto runs in the provisioning process (devstack.stack), so it is set here.
The secret (moto hands every account the same one) goes to `.local/stack.json` with the password, and
`devstack.client.GatewayClient.login` answers the `SOFTWARE_TOKEN_MFA` challenge with a fresh code from it.
"""

from __future__ import annotations

import base64
import json
import os
import time

from devstack import demo_data
from devstack.provision.clients import Clients, ignore_codes
from devstack.provision.names import (
    ADMIN_GROUP,
    CLIENT_WRITE_ATTRIBUTES,
    EXPLICIT_AUTH_FLOWS,
    ORGAN_ID_ATTRIBUTE,
    USER_POOL_CLIENT_NAME,
    USER_POOL_NAME,
)

__all__ = ["TOTP_FLAG", "admin_totp_secrets", "find_user_pool", "provision_cognito", "token_issuer", "totp_code"]

#: moto's switch that makes it verify TOTP codes (otherwise it accepts any code).
TOTP_FLAG = "MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP"


def find_user_pool(c: Clients) -> str | None:
    """The id of the stack's user pool (by name), or None before the first run."""
    for page in c.cognito_idp.get_paginator("list_user_pools").paginate(MaxResults=60):
        for pool in page["UserPools"]:
            if pool["Name"] == USER_POOL_NAME:
                return pool["Id"]
    return None


def _provision_users(c: Clients, pool_id: str) -> None:
    """Every demo user with its agency (`custom:organ_id`), a permanent password, and `admins` for the admin."""
    idp = c.cognito_idp
    for user in demo_data.USERS:
        attributes = [{"Name": f"custom:{ORGAN_ID_ATTRIBUTE}", "Value": user.organ_id},
                      {"Name": "email", "Value": f"{user.username}@demo.edoc.invalid"},
                      {"Name": "email_verified", "Value": "true"}]
        try:
            idp.admin_create_user(UserPoolId=pool_id, Username=user.username, UserAttributes=attributes,
                                  MessageAction="SUPPRESS")
        except Exception as exc:
            if not ignore_codes(exc, ("UsernameExistsException",)):
                raise
            idp.admin_update_user_attributes(UserPoolId=pool_id, Username=user.username, UserAttributes=attributes)
        idp.admin_set_user_password(UserPoolId=pool_id, Username=user.username, Password=user.password,
                                    Permanent=True)
        if user.admin:
            idp.admin_add_user_to_group(UserPoolId=pool_id, Username=user.username, GroupName=ADMIN_GROUP)


def provision_cognito(c: Clients, *, users: bool = True) -> tuple[str, str]:
    """The user pool (custom:organ_id), its public app client and the `admins` group, and with `users` the demo
    users; returns (pool, client)."""
    os.environ.setdefault(TOTP_FLAG, "true")  # real TOTP checks, demo admins or bootstrapped ones alike
    idp = c.cognito_idp
    pool_id = find_user_pool(c)
    if pool_id is None:
        pool_id = idp.create_user_pool(
            PoolName=USER_POOL_NAME,
            Schema=[{"Name": ORGAN_ID_ATTRIBUTE, "AttributeDataType": "String", "Mutable": True,
                     "StringAttributeConstraints": {"MinLength": "1", "MaxLength": "64"}}],
            AdminCreateUserConfig={"AllowAdminCreateUserOnly": True},
            Policies={"PasswordPolicy": {"MinimumLength": 12, "RequireUppercase": True, "RequireLowercase": True,
                                         "RequireNumbers": True, "RequireSymbols": True}},
            UsernameConfiguration={"CaseSensitive": False},
        )["UserPool"]["Id"]
    client_id = None
    for entry in idp.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)["UserPoolClients"]:
        if entry["ClientName"] == USER_POOL_CLIENT_NAME:
            client_id = entry["ClientId"]
    if client_id is None:
        client_id = idp.create_user_pool_client(
            UserPoolId=pool_id, ClientName=USER_POOL_CLIENT_NAME, GenerateSecret=False,
            ExplicitAuthFlows=list(EXPLICIT_AUTH_FLOWS), WriteAttributes=list(CLIENT_WRITE_ATTRIBUTES),
            PreventUserExistenceErrors="ENABLED",
        )["UserPoolClient"]["ClientId"]
    try:
        idp.create_group(UserPoolId=pool_id, GroupName=ADMIN_GROUP, Description="Gateway administrators")
    except Exception as exc:
        if not ignore_codes(exc, ("GroupExistsException",)):
            raise
    # Admins must use an authenticator app (chalicelib.api.mfa); clerks may (as infra/resources.yaml).
    idp.set_user_pool_mfa_config(UserPoolId=pool_id, SoftwareTokenMfaConfiguration={"Enabled": True},
                                 MfaConfiguration="OPTIONAL")
    if users:
        _provision_users(c, pool_id)
    return pool_id, client_id


def totp_code(secret: str, at: float | None = None) -> str:
    """The RFC 6238 code (6 digits, SHA-1, 30 s) an authenticator app shows for a Cognito TOTP secret (base32)."""
    from cryptography.hazmat.primitives.hashes import SHA1
    from cryptography.hazmat.primitives.twofactor.totp import TOTP

    key = base64.b32decode(secret + "=" * (-len(secret) % 8), casefold=True)
    totp = TOTP(key, 6, SHA1(), 30, enforce_key_length=False)  # noqa: S303 (RFC 6238 and Cognito use SHA-1)
    return totp.generate(time.time() if at is None else at).decode()


def admin_totp_secrets(c: Clients, pool_id: str, client_id: str) -> dict[str, str]:
    """Set up TOTP MFA for every demo admin, as a person would; username → the authenticator's secret."""
    os.environ.setdefault(TOTP_FLAG, "true")
    idp = c.cognito_idp
    secrets = {}
    for user in demo_data.USERS:
        if not user.admin:
            continue
        # Converge: an admin set up by an earlier run signs in with a code we no longer have; set it up anew.
        idp.admin_set_user_mfa_preference(UserPoolId=pool_id, Username=user.username,
                                          SoftwareTokenMfaSettings={"Enabled": False, "PreferredMfa": False})
        access = idp.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                                   AuthParameters={"USERNAME": user.username, "PASSWORD": user.password},
                                   )["AuthenticationResult"]["AccessToken"]
        secret = idp.associate_software_token(AccessToken=access)["SecretCode"]
        _verify_with_retry(idp, access, secret)
        idp.admin_set_user_mfa_preference(UserPoolId=pool_id, Username=user.username,
                                          SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True})
        secrets[user.username] = secret
    return secrets


def _verify_with_retry(idp: object, access: str, secret: str) -> None:
    """VerifySoftwareToken with the current code; once more if the 30 s step turned between computing and checking."""
    for attempt in range(2):
        try:
            idp.verify_software_token(AccessToken=access, UserCode=totp_code(secret),  # type: ignore[attr-defined]
                                      FriendlyDeviceName="demo-authenticator")
            return
        except Exception as exc:
            if attempt or not ignore_codes(exc, ("CodeMismatchException", "EnableSoftwareTokenMFAException")):
                raise
            time.sleep(1)


def token_issuer(c: Clients, client_id: str, *, pool_id: str | None = None) -> str:
    """The `iss` moto actually writes into its tokens, read from a real login rather than guessed. With `pool_id`
    (a bare pool, no demo users) a probe user signs in once and is deleted."""
    idp = c.cognito_idp
    user = demo_data.USERS[0]
    username, password = user.username, user.password
    if pool_id is not None:
        username = "issuer-probe"
        idp.admin_create_user(UserPoolId=pool_id, Username=username, MessageAction="SUPPRESS")
        idp.admin_set_user_password(UserPoolId=pool_id, Username=username, Password=password, Permanent=True)
    try:
        result = idp.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                                   AuthParameters={"USERNAME": username, "PASSWORD": password},
                                   )["AuthenticationResult"]
    finally:
        if pool_id is not None:
            idp.admin_delete_user(UserPoolId=pool_id, Username=username)
    payload = result["IdToken"].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return claims["iss"]
