"""Lazily created, cached boto3 clients.

Why: importing boto3 costs ~150 ms of cold start, so it happens on first use, not at import. The endpoint
comes from boto3's own `AWS_ENDPOINT_URL` variable, so tests and the embedded stack swap endpoints, not code.
"""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

from chalicelib.core.settings import get_settings

__all__ = ["client", "queue_url", "reset", "table"]


#: Client creation is not thread-safe in botocore, and the SQS pollers of a container may make their first calls
#: at once: one lock, held only while a client, resource or session is made.
_lock = threading.RLock()


@cache
def _session() -> Any:
    """One boto3 session per container: its loader parses each service's model once, shared by the client and the
    resources of that service (a session per client parsed DynamoDB's model once per table, issue 11 cold start)."""
    import boto3  # lazy: boto3 costs ~150 ms; the API's pure routes and app.py's import never pay it

    return boto3.session.Session()


@cache
def _dynamodb() -> Any:
    with _lock:
        return _session().resource("dynamodb", region_name=get_settings().region)


@cache
def client(service: str) -> Any:
    """A boto3 client for `service`, created once per container (clients are thread-safe)."""
    from botocore.config import Config  # lazy: with boto3

    cfg = Config(
        signature_version="s3v4" if service == "s3" else None,
        retries={"max_attempts": 4, "mode": "standard"},
        connect_timeout=5,
        read_timeout=30,
    )
    with _lock:
        return _session().client(service, region_name=get_settings().region, config=cfg)


@cache
def table(name: str) -> Any:
    """A DynamoDB Table resource for `name` (every table shares the container's one DynamoDB resource)."""
    return _dynamodb().Table(name)


@cache
def queue_url(name: str) -> str:
    """The URL of an SQS queue by name (one lookup per container)."""
    return client("sqs").get_queue_url(QueueName=name)["QueueUrl"]


def reset() -> None:
    """Forget cached clients (tests that switch endpoints or credentials)."""
    client.cache_clear()
    table.cache_clear()
    _dynamodb.cache_clear()
    _session.cache_clear()
    queue_url.cache_clear()
    get_settings.cache_clear()
