"""Cognito user-pool lookups the API needs beyond the token: which MFA an account has set up.

Why: a Cognito ID token carries no `amr` claim, so it cannot say whether its sign-in passed a second factor. What
can be known is the account's own setting (`AdminGetUser` → `UserMFASettingList`): in a pool with
`MfaConfiguration: OPTIONAL`, an account with software-token MFA enabled cannot sign in without its TOTP code, so
"this admin has MFA set up" is "this admin's tokens came through MFA" (chalicelib.api.mfa applies the rule).
"""

from __future__ import annotations

from chalicelib.adapters import aws

__all__ = ["mfa_settings"]


def mfa_settings(user_pool_id: str, username: str) -> frozenset[str]:
    """The MFA methods the account has enabled (`SOFTWARE_TOKEN_MFA`, `SMS_MFA`); empty for none, or for an account
    the pool no longer has. Any other failure (throttling, no permission, Cognito down) propagates."""
    idp = aws.client("cognito-idp")
    try:
        user = idp.admin_get_user(UserPoolId=user_pool_id, Username=username)
    except idp.exceptions.UserNotFoundException:
        return frozenset()
    return frozenset(user.get("UserMFASettingList") or ())
