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


#: Client creation is not thread-safe in botocore, and the SQS pollers or API threads of a container may make their
#: first calls at once: each client, resource and the session is made under one lock, once (a cache checked under
#: the lock; measured: 12 concurrent first requests made 12 DynamoDB clients each, issue 11).
_lock = threading.RLock()
_clients: dict[str, Any] = {}
_tables: dict[str, Any] = {}
_shared: dict[str, Any] = {}


def _session() -> Any:
    """One boto3 session per container: its loader parses each service's model once, shared by the client and the
    resources of that service (a session per client parsed DynamoDB's model once per table, issue 11 cold start)."""
    with _lock:
        if "session" not in _shared:
            import boto3  # lazy: boto3 costs ~150 ms; the API's pure routes and app.py's import never pay it

            _shared["session"] = boto3.session.Session()
        return _shared["session"]


def client(service: str) -> Any:
    """A boto3 client for `service`, created once per container (clients are thread-safe once made)."""
    found = _clients.get(service)
    if found is not None:
        return found
    with _lock:
        if service not in _clients:
            from botocore.config import Config  # lazy: with boto3

            cfg = Config(
                signature_version="s3v4" if service == "s3" else None,
                retries={"max_attempts": 4, "mode": "standard"},
                connect_timeout=5,
                read_timeout=30,
            )
            _clients[service] = _session().client(service, region_name=get_settings().region, config=cfg)
        return _clients[service]


def table(name: str) -> Any:
    """A DynamoDB Table resource for `name` (every table shares the container's one DynamoDB resource)."""
    found = _tables.get(name)
    if found is not None:
        return found
    with _lock:
        if name not in _tables:
            if "dynamodb" not in _shared:
                _shared["dynamodb"] = _session().resource("dynamodb", region_name=get_settings().region)
            _tables[name] = _shared["dynamodb"].Table(name)
        return _tables[name]


@cache
def queue_url(name: str) -> str:
    """The URL of an SQS queue by name (one lookup per container)."""
    return client("sqs").get_queue_url(QueueName=name)["QueueUrl"]


def reset() -> None:
    """Forget cached clients (tests that switch endpoints or credentials)."""
    with _lock:
        _clients.clear()
        _tables.clear()
        _shared.clear()
    queue_url.cache_clear()
    get_settings.cache_clear()
