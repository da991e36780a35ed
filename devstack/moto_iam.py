"""moto's IAM enforcement, completed where it departs from AWS: a presigned S3 GET or POST is authorised as its
signer, SQS GetQueueUrl against the queue it names, batch and transaction calls as the actions AWS checks.

Why: with `INITIAL_NO_AUTH_ACTION_COUNT` set, moto 5.2 authorises S3 requests by their `Authorization` header only;
a presigned URL (`X-Amz-Credential` in the query) or a browser POST (`x-amz-credential` in the form) has none, and
moto fails with a KeyError (HTTP 500). AWS authorises such a request as the principal whose credentials signed it:
`s3:GetObject` on the key for a presigned GET, `s3:PutObject` on the form's key for a POST. This does that, with
moto's own policy evaluation (`moto.iam.access_control`), so the API role's grants decide what a client may
download or upload. Like moto, it checks neither the signature nor the POST policy's conditions (NOTES.md: moto
ignores POST policies; the signing handler checks the object itself).

SQS: moto authorises each action against the queue named by `QueueUrl`; GetQueueUrl has only `QueueName`, so
moto authorises it against `*` and a role granted the queue's ARN is refused. AWS authorises it against the
queue's ARN: so does this.

Actions: AWS authorises SQS's batch calls as their single actions (`DeleteMessageBatch` needs
`sqs:DeleteMessage`) and DynamoDB's TransactWriteItems as each item's action (`PutItem`, `UpdateItem`,
`DeleteItem`, `ConditionCheckItem`; TransactGetItems as `GetItem`): neither `sqs:DeleteMessageBatch` nor
`dynamodb:TransactWriteItems` is an IAM action. moto checks the call's name; this checks what AWS checks.

CORS preflights (issue 10): a browser's `OPTIONS` before its presigned POST carries no credentials at all; AWS
answers it from the bucket's CORS configuration, moto authorises it like any call and fails (HTTP 500). Here it is
answered as AWS does, never authorised.

Cognito: the user-pool operations that AWS authorises by the user's tokens or the auth session, never by IAM
(RespondToAuthChallenge for an admin's TOTP step, AssociateSoftwareToken, VerifySoftwareToken, …), are public
as moto's own InitiateAuth is, so a client signs in with no AWS credentials, as a browser does.

Applied by the stack in the process that runs moto; idempotent.
"""

from __future__ import annotations

from typing import Any

__all__ = ["apply"]

_applied: dict[str, Any] = {}


def _param(querystring: dict[str, Any], name: str) -> str | None:
    for key, value in querystring.items():
        if key.lower() == name.lower():
            return value[0] if isinstance(value, list) else value
    return None


def apply() -> None:
    if _applied:
        return
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.iam.access_control import IAMPolicy, PermissionResult, create_access_key
    from moto.s3.exceptions import S3AccessDeniedError, S3InvalidAccessKeyIdError
    from moto.utilities.utils import get_partition

    original = ActionAuthenticatorMixin._authenticate_and_authorize_s3_action

    def _authorize_s3(self: Any, bucket_name: str | None = None, key_name: str | None = None) -> None:
        enforced = ActionAuthenticatorMixin.request_count >= settings.INITIAL_NO_AUTH_ACTION_COUNT
        querystring = getattr(self, "querystring", None) or {}
        credential = _param(querystring, "X-Amz-Credential")
        if enforced and getattr(self, "method", "") == "OPTIONS":
            return  # a browser's CORS preflight carries no credentials: S3 answers it from the bucket's CORS rules
        if not enforced or "Authorization" in self.headers or not credential:
            return original(self, bucket_name, key_name)
        action = f"s3:{self.data.get('Action') or 'GetObject'}"
        key = key_name
        if key is None and action == "s3:PutObject":  # a browser POST: the object is the form's `key`
            key = _param(querystring, "key")
        partition = get_partition(self.region)
        resource = f"arn:{partition}:s3:::{bucket_name or '*'}" + (f"/{key}" if key else "")
        token = _param(querystring, "X-Amz-Security-Token")
        try:
            principal = create_access_key(account_id=self.current_account, partition=partition,
                                          access_key_id=credential.split("/")[0],
                                          headers={"X-Amz-Security-Token": token} if token else {})
        except Exception as exc:
            raise S3InvalidAccessKeyIdError() from exc
        permitted = False
        for policy in principal.collect_policies():
            result = IAMPolicy(policy).is_action_permitted(action, resource)
            if result == PermissionResult.DENIED:
                raise S3AccessDeniedError()
            permitted = permitted or result == PermissionResult.PERMITTED
        if not permitted:
            raise S3AccessDeniedError()

    ActionAuthenticatorMixin._authenticate_and_authorize_s3_action = _authorize_s3  # type: ignore[method-assign]
    _applied["original"] = original
    _apply_sqs()
    _apply_actions()
    for operation in COGNITO_TOKEN_OPERATIONS:
        name = f"AWSCognitoIdentityProviderService.{operation}"
        if name not in ActionAuthenticatorMixin.PUBLIC_OPERATIONS:
            ActionAuthenticatorMixin.PUBLIC_OPERATIONS.append(name)


#: Cognito user-pool operations authorised by tokens or the auth session on AWS (no IAM credentials needed).
COGNITO_TOKEN_OPERATIONS = (
    "RespondToAuthChallenge", "AssociateSoftwareToken", "VerifySoftwareToken", "SetUserMFAPreference",
    "ChangePassword", "ConfirmForgotPassword", "GlobalSignOut", "RevokeToken", "UpdateUserAttributes",
    "VerifyUserAttribute", "GetUserAttributeVerificationCode", "DeleteUser", "ResendConfirmationCode",
)


#: Calls AWS authorises as another action.
SAME_AS = {
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs:SendMessageBatch": "sqs:SendMessage",
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
}
#: TransactWriteItems/TransactGetItems: each item's kind → the action AWS checks for it.
TRANSACT_ITEM_ACTIONS = {"ConditionCheck": "dynamodb:ConditionCheckItem", "Put": "dynamodb:PutItem",
                         "Update": "dynamodb:UpdateItem", "Delete": "dynamodb:DeleteItem", "Get": "dynamodb:GetItem"}


def authorised_actions(action: str, body: bytes | str | None) -> list[str]:
    """The IAM actions AWS checks for one call (usually the call's own)."""
    import json

    if action in SAME_AS:
        return [SAME_AS[action]]
    if action in ("dynamodb:TransactWriteItems", "dynamodb:TransactGetItems"):
        try:
            items = json.loads(body or b"{}").get("TransactItems", [])
        except ValueError:
            return [action]
        return sorted({TRANSACT_ITEM_ACTIONS[kind] for item in items for kind in item if kind in TRANSACT_ITEM_ACTIONS})
    return [action]


def _apply_actions() -> None:
    from moto.iam.access_control import IAMRequestBase

    original = IAMRequestBase.check_action_permitted

    def check_action_permitted(self: Any, resource: str) -> None:
        called = self._action
        try:
            for action in authorised_actions(called, self._body or None) or [called]:
                self._action = action
                original(self, resource)
        finally:
            self._action = called

    IAMRequestBase.check_action_permitted = check_action_permitted  # type: ignore[method-assign]


def _apply_sqs() -> None:
    from moto.sqs.exceptions import QueueDoesNotExist
    from moto.sqs.responses import SQSResponse

    original = SQSResponse._determine_resource

    def _determine_resource(self: Any) -> str:
        name = None
        try:
            if not self._get_param("QueueUrl"):
                name = self._get_param("QueueName")
        except (AttributeError, TypeError):
            name = None
        if not name:
            return original(self)
        try:
            return self.sqs_backend.get_queue(name).queue_arn
        except QueueDoesNotExist:
            return "*"

    SQSResponse._determine_resource = _determine_resource  # type: ignore[method-assign]
