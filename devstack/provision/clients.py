"""boto3 clients bound to moto, and the few idempotent helpers every provisioning step shares.

Why: every step must be safe to run again on a running moto (look up first, create when missing, converge), and
the look-ups ("is this alias there?", "does the secret exist?") are the same for several steps.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["FAKE_CREDENTIALS", "Clients", "find_alias_target", "ignore_codes", "pem", "put_secret", "queue_arn",
           "to_ddb"]

#: moto accepts any credentials; fixed fake ones keep boto3 from looking for real ones (or IMDS).
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


class Clients:
    """boto3 clients bound to the moto endpoint with fake credentials, created on first use (`c.sqs`, `c.s3`,
    `c.cognito_idp` for `cognito-idp`)."""

    def __init__(self, endpoint_url: str, region: str, credentials: dict[str, str] | None = None) -> None:
        """`credentials`: `{access_key_id, secret_access_key}` of the stack's admin once moto enforces IAM
        (stack.json's `aws_admin`); the fake ones before that (and on moto without enforcement)."""
        import boto3  # lazy: boto3 is heavy, and only a provisioning run needs it

        self._session = boto3.session.Session()
        creds = credentials or {"access_key_id": FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                                "secret_access_key": FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]}
        self.credentials = {"access_key_id": creds["access_key_id"], "secret_access_key": creds["secret_access_key"]}
        self._kwargs = {
            "endpoint_url": endpoint_url,
            "region_name": region,
            "aws_access_key_id": creds["access_key_id"],
            "aws_secret_access_key": creds["secret_access_key"],
        }
        self._cache: dict[str, Any] = {}

    def __getattr__(self, service: str) -> Any:
        if service.startswith("_"):
            raise AttributeError(service)
        name = service.replace("_", "-")
        if name not in self._cache:
            from botocore.config import Config  # lazy: with boto3 above

            config = Config(signature_version="s3v4") if name == "s3" else None
            self._cache[name] = self._session.client(name, config=config, **self._kwargs)
        return self._cache[name]


def ignore_codes(exc: Exception, codes: Iterable[str]) -> bool:
    """Whether `exc` is an AWS error with one of these codes (a re-run meeting what the first run made)."""
    from botocore.exceptions import ClientError  # lazy: with boto3 above

    return isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") in set(codes)


def queue_arn(c: Clients, url: str) -> str:
    return c.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def find_alias_target(c: Clients, alias: str) -> str | None:
    """The key a KMS alias points at, or None: how a re-run finds the key the first run made."""
    for page in c.kms.get_paginator("list_aliases").paginate():
        for entry in page["Aliases"]:
            if entry["AliasName"] == alias and entry.get("TargetKeyId"):
                return entry["TargetKeyId"]
    return None


def put_secret(c: Clients, name: str, value: str, description: str) -> None:
    """Create the Secrets Manager secret, or put a new value into it when it exists (a re-run)."""
    try:
        c.secretsmanager.create_secret(Name=name, SecretString=value, Description=description)
    except Exception as exc:
        if not ignore_codes(exc, ("ResourceExistsException",)):
            raise
        c.secretsmanager.put_secret_value(SecretId=name, SecretString=value)


def pem(value: str | bytes) -> str:
    return value.decode("ascii") if isinstance(value, bytes) else value


def to_ddb(item: dict[str, Any]) -> dict[str, Any]:
    """A plain item in DynamoDB's typed JSON, for the low-level client."""
    from boto3.dynamodb.types import TypeSerializer  # lazy: with boto3 above

    serializer = TypeSerializer()
    return {k: serializer.serialize(v) for k, v in item.items()}
