"""Runtime settings read once per container from environment variables.

Why env vars: Chalice stages (.chalice/config.json), the CloudFormation merge template and the embedded
stack all set the same names, so code never branches on where it runs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

#: Resource names shared by app.py decorators, infra/resources.yaml and the embedded stack's provisioning.
UPLOAD_QUEUE = "edoc-upload-events"
UPLOAD_DLQ = "edoc-upload-events-dlq"
DISPATCH_QUEUE = "edoc-dispatch"
DISPATCH_DLQ = "edoc-dispatch-dlq"
DOCUMENTS_TABLE = "edoc-documents"
AGENCIES_TABLE = "edoc-agencies"
AXIS_SECRET_NAME = "edoc-gateway/axis"  # noqa: S105 (a secret's name, not a secret)

#: Upload limits. The presigned POST enforces them on real S3; the signing handler re-checks the object
#: because moto does not enforce presigned conditions (NOTES.md).
MAX_UPLOAD_BYTES = 150 * 1024 * 1024
UPLOAD_URL_TTL_SECONDS = 900
DOWNLOAD_URL_TTL_SECONDS = 300


@dataclass(frozen=True)
class Settings:
    stage: str
    region: str
    documents_bucket: str
    documents_table: str
    agencies_table: str
    dispatch_queue: str
    upload_queue: str
    axis_secret_name: str
    cognito_user_pool_id: str
    cognito_client_id: str
    #: Where to fetch the JWKS; on real AWS derived from the pool, on moto it names the moto host (NOTES.md).
    jwks_url: str
    #: Expected `iss` claim; defaults to the AWS form derived from region and pool id.
    token_issuer: str
    max_upload_bytes: int
    #: Public base URL clients use for presigned URLs (the embedded stack's moto endpoint); empty = boto3 default.
    aws_endpoint_url: str


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings for this container; cached because env vars do not change during a Lambda's life."""
    env = os.environ
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "ap-southeast-1"
    pool = env.get("COGNITO_USER_POOL_ID", "")
    issuer = env.get("TOKEN_ISSUER") or f"https://cognito-idp.{region}.amazonaws.com/{pool}"
    return Settings(
        stage=env.get("STAGE", "local"),
        region=region,
        documents_bucket=env.get("DOCUMENTS_BUCKET", "edoc-gateway-local-documents"),
        documents_table=env.get("DOCUMENTS_TABLE", DOCUMENTS_TABLE),
        agencies_table=env.get("AGENCIES_TABLE", AGENCIES_TABLE),
        dispatch_queue=env.get("DISPATCH_QUEUE", DISPATCH_QUEUE),
        upload_queue=env.get("UPLOAD_QUEUE", UPLOAD_QUEUE),
        axis_secret_name=env.get("AXIS_SECRET_NAME", AXIS_SECRET_NAME),
        cognito_user_pool_id=pool,
        cognito_client_id=env.get("COGNITO_CLIENT_ID", ""),
        jwks_url=env.get("JWKS_URL") or f"{issuer}/.well-known/jwks.json",
        token_issuer=issuer,
        max_upload_bytes=int(env.get("MAX_UPLOAD_BYTES", str(MAX_UPLOAD_BYTES))),
        aws_endpoint_url=env.get("AWS_ENDPOINT_URL", ""),
    )
