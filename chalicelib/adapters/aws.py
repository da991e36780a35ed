"""Lazily created, cached boto3 clients.

Why: importing boto3 costs ~150 ms of cold start, so it happens on first use, not at import. The endpoint
comes from boto3's own `AWS_ENDPOINT_URL` variable, so tests and the embedded stack swap endpoints, not code.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from chalicelib.core.settings import get_settings

__all__ = ["client", "queue_url", "reset", "table"]


@cache
def client(service: str) -> Any:
    """A boto3 client for `service`, created once per container (clients are thread-safe)."""
    import boto3  # lazy: boto3 costs ~150 ms; the API's pure routes and app.py's import never pay it
    from botocore.config import Config  # lazy: with boto3

    cfg = Config(
        signature_version="s3v4" if service == "s3" else None,
        retries={"max_attempts": 4, "mode": "standard"},
        connect_timeout=5,
        read_timeout=30,
    )
    return boto3.session.Session().client(service, region_name=get_settings().region, config=cfg)


@cache
def table(name: str) -> Any:
    """A DynamoDB Table resource for `name`."""
    import boto3  # lazy: as in client()

    return boto3.session.Session().resource("dynamodb", region_name=get_settings().region).Table(name)


@cache
def queue_url(name: str) -> str:
    """The URL of an SQS queue by name (one lookup per container)."""
    return client("sqs").get_queue_url(QueueName=name)["QueueUrl"]


def reset() -> None:
    """Forget cached clients (tests that switch endpoints or credentials)."""
    client.cache_clear()
    table.cache_clear()
    queue_url.cache_clear()
    get_settings.cache_clear()
