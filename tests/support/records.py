"""What the Lambda handlers wrote, read back as the handler tests check it: S3 keys and object versions, the
document record exactly as stored (lease fields included), its timeline and deliveries.

The gateway's modules are imported inside the functions: only once `handler_env` (tests/integration/conftest.py)
has set the Lambda environment.
"""

from __future__ import annotations

import hashlib
from typing import Any

from tests.support.handlers import HandlerEnv

__all__ = ["full", "incoming", "object_bytes", "raw_item", "sha256", "signed", "states_of", "versions"]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def incoming(organ_id: str, document_id: str) -> str:
    return f"incoming/{organ_id}/{document_id}.pdf"


def signed(organ_id: str, document_id: str) -> str:
    return f"signed/{organ_id}/{document_id}.pdf"


def raw_item(document_id: str) -> dict[str, Any] | None:
    """The record exactly as stored (lease fields included)."""
    from chalicelib.adapters import aws
    from chalicelib.core import settings

    return aws.table(settings.DOCUMENTS_TABLE).get_item(
        Key={"pk": f"DOC#{document_id}", "sk": "META"}, ConsistentRead=True).get("Item")


def full(document_id: str) -> tuple[dict[str, Any], list[dict], dict[str, dict]]:
    """(record, timeline events oldest first, deliveries by recipient)."""
    from chalicelib.adapters.document_store import DocumentStore

    record, events, deliveries = DocumentStore().get_full(document_id)
    assert record is not None
    return record, events, {d["organ_id"]: d for d in deliveries}


def states_of(events: list[dict]) -> list[str]:
    return [e["state"] for e in events]


def versions(env: HandlerEnv, key: str) -> list[dict[str, Any]]:
    resp = env.s3.list_object_versions(Bucket=env.bucket, Prefix=key)
    return [v for v in resp.get("Versions", []) if v["Key"] == key]


def object_bytes(env: HandlerEnv, key: str) -> bytes:
    return env.s3.get_object(Bucket=env.bucket, Key=key)["Body"].read()
