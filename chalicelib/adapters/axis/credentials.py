"""Who the gateway is on the axis: the endpoint and each served agency's system secret, from Secrets Manager.

Why cached five minutes: every dispatch, status and poll needs them; a rotated secret must still take effect soon.
The `from` rule (`docs/axis-protocol.md`): a system speaks only as the identifier code it is registered for.
"""

from __future__ import annotations

import json
import time
from typing import Any

from chalicelib.adapters import aws
from chalicelib.adapters.axis.client import AxisClient
from chalicelib.core.settings import get_settings

__all__ = ["axis_client_for", "axis_credentials", "clear_cache"]

_SECRET_TTL = 300
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


def axis_client_for(organ_id: str) -> Any:
    """An axis client speaking as `organ_id` (the `from` rule: system id = the sender's identifier code), whose
    downloads stop at the `AXIS_MAX_PACKAGE_BYTES` setting."""
    creds = axis_credentials()
    secret = creds.get("systems", {}).get(organ_id)
    if not secret:
        raise PermissionError(f"no axis credentials for {organ_id}")
    return AxisClient(creds["endpoint"], organ_id, secret, timeout=float(creds.get("timeout", 30)),
                      max_package_bytes=get_settings().axis_max_package_bytes)
