"""Every AWS call a function's process makes, one JSON line each, for the least-privilege check.

Why: moto enforces IAM only in part (actions everywhere, resources for S3 and SQS, no conditions; docs/iam.md).
The devstack worker installs this recorder before it loads the app, so each call the function makes (and its
poller, which runs under the same role as Lambda's does) is written to `<dir>/<function>.jsonl` with what IAM
needs to authorise it: service, operation, the identifying parameters, and the error code if AWS refused it.
`devstack.iam_policy` turns the lines into IAM requests and checks them against the template's statements.

It wraps `botocore.client.BaseClient._make_api_call` in the worker's process only (never in chalicelib): every
client the app makes (`boto3.session.Session().client(...)` per container) goes through it.

The poller's own calls (ReceiveMessage, DeleteMessageBatch, the heartbeat's ChangeMessageVisibility, GetQueueUrl
and GetQueueAttributes at start) are Lambda's on AWS, not the function's: its client is tagged (`tag_poller`) and
its lines carry `"by": "poller"`, so per-document counts show the function's calls and the poller's apart. The
least-privilege check reads both (Lambda's poller uses the function's role for them).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

__all__ = ["IDENTIFYING_PARAMS", "POLLER", "install", "read_calls", "summarise_params", "tag_poller"]

#: The `by` of a call the event pump made as Lambda's SQS poller.
POLLER = "poller"
_TAG = "_edoc_call_by"


def tag_poller(client: Any) -> Any:
    """Mark an SQS client as the poller's: its calls are recorded with `"by": "poller"`. Returns the client."""
    setattr(client, _TAG, POLLER)
    return client

#: The request parameters that name what a call acts on, or carry the values IAM conditions read.
IDENTIFYING_PARAMS = (
    "Bucket", "Key", "VersionId", "CopySource", "Prefix", "TableName", "IndexName", "KeyId", "TargetKeyId", "AliasName",
    "SecretId", "QueueUrl", "QueueName", "SourceArn", "DestinationArn", "TaskHandle", "UserPoolId", "KeySpec",
    "KeyUsage", "CustomerMasterKeySpec", "SigningAlgorithm", "MessageType",
)

_installed: dict[str, Any] = {}
_lock = threading.Lock()


def summarise_params(params: dict[str, Any]) -> dict[str, Any]:
    """The identifying parameters of one call (never bodies, items or secrets)."""
    out: dict[str, Any] = {k: params[k] for k in IDENTIFYING_PARAMS if isinstance(params.get(k), str)}
    if isinstance(params.get("Tags"), list):
        out["Tags"] = {t.get("TagKey", t.get("Key")): t.get("TagValue", t.get("Value")) for t in params["Tags"]}
    leading = _leading_key(params)
    if leading is not None:
        out["LeadingKeys"] = [leading]
    if isinstance(params.get("TransactItems"), list):
        out["TransactItems"] = [[kind, body.get("TableName"), _leading_key(body)]
                                for item in params["TransactItems"] for kind, body in item.items()]
    if isinstance(params.get("RequestItems"), dict):
        out["RequestTables"] = sorted(params["RequestItems"])
    return out


def _leading_key(params: dict[str, Any]) -> str | None:
    """The partition key an item call names (`Item` or `Key`, resource style or wire style), for IAM's
    `dynamodb:LeadingKeys`: the tables' partition keys are `pk` (DOC#…, REG#…: identifiers, never contents)."""
    for name in ("Item", "Key"):
        item = params.get(name)
        value = item.get("pk") if isinstance(item, dict) else None
        if isinstance(value, dict):  # the client's wire form {"S": "..."}
            value = value.get("S")
        if isinstance(value, str):
            return value
    return None


def install(directory: Path, function: str) -> Path:
    """Record this process's AWS calls to `directory/<function>.jsonl` (idempotent); returns the file."""
    from botocore.client import BaseClient  # lazy: only a worker that records imports botocore here
    from botocore.exceptions import ClientError  # lazy: with botocore above

    path = Path(directory) / f"{function}.jsonl"
    with _lock:
        if "original" in _installed:
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        original = BaseClient._make_api_call
        _installed["original"] = original

        def _make_api_call(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
            record: dict[str, Any] = {"service": self.meta.service_model.signing_name or
                                      self.meta.service_model.endpoint_prefix,
                                      "operation": operation_name, "params": summarise_params(api_params),
                                      "region": self.meta.region_name}
            by = getattr(self, _TAG, None)
            if by:
                record["by"] = by
            try:
                return original(self, operation_name, api_params)
            except ClientError as exc:
                record["error"] = exc.response.get("Error", {}).get("Code", "?")
                record["status"] = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
                raise
            finally:
                line = json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n"
                with _lock, open(path, "a", encoding="utf-8") as out:
                    out.write(line)

        BaseClient._make_api_call = _make_api_call  # type: ignore[method-assign]
    return path


def read_calls(directory: Path) -> dict[str, list[dict[str, Any]]]:
    """`{function: [call, ...]}` from a recording directory, distinct calls only (in first-seen order)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(Path(directory).glob("*.jsonl")):
        seen: dict[str, dict[str, Any]] = {}
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                seen.setdefault(line, json.loads(line))
        out[path.stem] = list(seen.values())
    return out
