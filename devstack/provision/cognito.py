"""The Cognito user pool, its web client, the `admins` group and the demo users, on moto.

Why the token issuer is read from a real login: moto writes its own host into `iss`
(docs/traps.md#moto-cognito-issuer-and-jwks), so guessing it would give the app a TOKEN_ISSUER that rejects every token.
"""

from __future__ import annotations

import base64
import json

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

__all__ = ["find_user_pool", "provision_cognito", "token_issuer"]


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


def provision_cognito(c: Clients) -> tuple[str, str]:
    """The user pool (custom:organ_id), its public app client and the `admins` group; returns (pool, client)."""
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
    _provision_users(c, pool_id)
    return pool_id, client_id


def token_issuer(c: Clients, client_id: str) -> str:
    """The `iss` moto actually writes into its tokens, read from a real login rather than guessed."""
    user = demo_data.USERS[0]
    result = c.cognito_idp.initiate_auth(
        ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": user.username, "PASSWORD": user.password},
    )["AuthenticationResult"]
    payload = result["IdToken"].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return claims["iss"]
