"""The names and settings of the stack's AWS resources: the same as infra/resources.yaml, in one place.

Why one module: provisioning creates the resources with these values and tests/integration/
test_provision_matches_infra.py reads them back and compares them with the template, so a value written twice
here would be a third side that could drift.
"""

from __future__ import annotations

from chalicelib.core import settings
from chalicelib.core.names import stage_names
from devstack.config import STAGE

__all__ = [
    "ADMIN_GROUP", "AXIS_SYSTEMS_FILE", "BUCKET_KEY_ALIAS", "BUCKET_NAME", "BUCKET_PREFIXES", "CLIENT_WRITE_ATTRIBUTES",
    "DLQ_RETENTION_SECONDS", "DOCUMENTS_GSI", "EXPLICIT_AUTH_FLOWS", "MAX_RECEIVE_COUNT", "MAX_RECEIVE_COUNTS",
    "ORGAN_ID_ATTRIBUTE",
    "PKCS11_PIN_SECRET_PREFIX", "PURPOSE_DOCUMENT_SIGNING", "QUEUES", "QUEUE_RETENTION_SECONDS",
    "QUEUE_VISIBILITY_TIMEOUT", "SEALS_PREFIX", "SIGNING_ALGORITHM", "SIGNING_ALIAS_PREFIX", "SIGNING_KEY_SPEC",
    "SIGNING_KEY_USAGE", "SOFTHSM_DIR", "SOFTHSM_TOKEN_LABEL", "STAGE", "TAG_ORGAN_ID", "TAG_PURPOSE",
    "UPLOAD_NOTIFICATION_EVENTS", "UPLOAD_NOTIFICATION_PREFIX", "USER_POOL_CLIENT_NAME", "USER_POOL_NAME",
    "pkcs11_key_label", "signing_key_alias",
]

#: The embedded stack's stage (chalicelib.core.names: every name carries it, as each deployed stage's do).
_LOCAL = stage_names(STAGE)
BUCKET_NAME = "edoc-gateway-local-documents"
BUCKET_KEY_ALIAS = _LOCAL.documents_key_alias
BUCKET_PREFIXES = ("incoming/", "signed/", "packages/", "inbound/")
#: S3 → SQS: uploads (and only uploads) start the signing flow.
UPLOAD_NOTIFICATION_PREFIX = "incoming/"
UPLOAD_NOTIFICATION_EVENTS = ("s3:ObjectCreated:*",)

QUEUE_VISIBILITY_TIMEOUT = 120
QUEUE_RETENTION_SECONDS = 4 * 24 * 3600
DLQ_RETENTION_SECONDS = 14 * 24 * 3600
MAX_RECEIVE_COUNT = 5
#: Source queue → its dead-letter queue.
QUEUES: dict[str, str] = {
    settings.UPLOAD_QUEUE: settings.UPLOAD_DLQ,
    settings.DISPATCH_QUEUE: settings.DISPATCH_DLQ,
    settings.WEBHOOKS_QUEUE: settings.WEBHOOKS_DLQ,
}
#: Per-queue maxReceiveCount where it is not MAX_RECEIVE_COUNT: the webhooks queue's handler dead-letters a
#: delivery itself after WEBHOOK_MAX_ATTEMPTS (15); the queue's redrive is a safety net above it (issue 14).
MAX_RECEIVE_COUNTS: dict[str, int] = {settings.WEBHOOKS_QUEUE: 30}

DOCUMENTS_GSI = "by_organ"

SIGNING_KEY_SPEC = "RSA_2048"
SIGNING_KEY_USAGE = "SIGN_VERIFY"
SIGNING_ALGORITHM = "RSASSA_PKCS1_V1_5_SHA_256"
SIGNING_ALIAS_PREFIX = _LOCAL.signing_alias_prefix
TAG_ORGAN_ID = "edoc-gateway:organ_id"
TAG_PURPOSE = "edoc-gateway:purpose"
PURPOSE_DOCUMENT_SIGNING = "document-signing"

USER_POOL_NAME = _LOCAL.user_pool
USER_POOL_CLIENT_NAME = "edoc-gateway-web"
ADMIN_GROUP = "admins"
ORGAN_ID_ATTRIBUTE = "organ_id"
#: USER_PASSWORD_AUTH is the documented login for demo clients; SRP for real front ends; refresh for sessions.
EXPLICIT_AUTH_FLOWS = ("ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH")
#: What a user may change about themselves. Never `custom:organ_id`: a clerk must not move to another agency.
CLIENT_WRITE_ATTRIBUTES = ("email",)

AXIS_SYSTEMS_FILE = "axis-systems.json"
#: Where registered seal images live in the documents bucket.
SEALS_PREFIX = "seals/"

#: The embedded stack's SoftHSM2 token (under the state dir) for agencies put on the PKCS#11 backend.
SOFTHSM_DIR = "softhsm"
SOFTHSM_TOKEN_LABEL = "edoc-demo"
PKCS11_PIN_SECRET_PREFIX = _LOCAL.pin_secret_prefix


def signing_key_alias(organ_id: str) -> str:
    """`alias/edoc-sign/local/000-00-00-H62`: KMS alias names allow no dots, so the code's dots become dashes."""
    return SIGNING_ALIAS_PREFIX + organ_id.replace(".", "-")


def pkcs11_key_label(organ_id: str) -> str:
    """The SoftHSM2 key label of an agency's signing key: `edoc-sign-000-00-00-H62`."""
    return "edoc-sign-" + organ_id.replace(".", "-")

