"""Who the gateway is on the axis: the endpoint and each served agency's system secret, from Secrets Manager.

Why cached five minutes: every dispatch, status and poll needs them; a rotated secret must still take effect soon
(a rotation keeps the old secret valid on the axis for longer than that).
The `from` rule (`docs/axis-protocol.md`): a system speaks only as the identifier code it is registered for.

One HTTP connection pool per container (issue 11): every client `axis_client_for` makes shares `_HTTP`, so a warm
container's sends, lists and polls reuse kept-alive connections to the axis instead of opening (and, over TLS,
negotiating) one per document. Bounded: `_POOL_HOSTS` endpoints, `_POOL_SIZE` connections each (a Lambda runs one
invocation at a time; more would only idle), never blocking (a burst past it opens a connection it does not keep);
timeouts stay per client and request (`AxisClient.timeout`), retries stay off (a resent sendEdoc could duplicate).
"""

from __future__ import annotations

import json
import time
from typing import Any

import urllib3

from chalicelib.adapters import aws
from chalicelib.adapters.axis.client import AxisClient
from chalicelib.core.settings import get_settings

__all__ = ["axis_client_for", "axis_credentials", "clear_cache", "shared_pool"]

_SECRET_TTL = 300
_POOL_HOSTS = 4
_POOL_SIZE = 4
#: The container's one pool (module docstring).
_HTTP = urllib3.PoolManager(num_pools=_POOL_HOSTS, maxsize=_POOL_SIZE, block=False, retries=False)
_secret_cache: dict[str, tuple[float, dict[str, Any]]] = {}


def axis_credentials() -> dict[str, Any]:
    """`{"endpoint", "systems": {organ_id: secret}, "timeout"?}` from Secrets Manager, cached for five minutes."""
    name = get_settings().axis_secret_name
    cached = _secret_cache.get(name)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    value = json.loads(aws.client("secretsmanager").get_secret_value(SecretId=name)["SecretString"])
    _secret_cache[name] = (time.monotonic() + _SECRET_TTL, value)
    return value


def clear_cache() -> None:
    """Forget the cached secret (tests and the embedded stack change it)."""
    _secret_cache.clear()


def shared_pool() -> urllib3.PoolManager:
    """The container's axis connection pool (module docstring)."""
    return _HTTP


def axis_client_for(organ_id: str) -> Any:
    """An axis client speaking as `organ_id` (the `from` rule: system id = the sender's identifier code), whose
    downloads stop at the `AXIS_MAX_PACKAGE_BYTES` setting."""
    creds = axis_credentials()
    secret = creds.get("systems", {}).get(organ_id)
    if not secret:
        raise PermissionError(f"no axis credentials for {organ_id}")
    return AxisClient(creds["endpoint"], organ_id, secret, timeout=float(creds.get("timeout", 30)), http=_HTTP,
                      max_package_bytes=get_settings().axis_max_package_bytes)
