"""Opening an agency's signing key: from its key record to a `RawSigner` with real AWS clients.

Why here, in `adapters/`: the key backends (`chalicelib.keys.backends`, `chalicelib.keys.pkcs11`) take what they
talk to as arguments (a KMS client, a PIN fetcher), so they stay below the adapters and tests hand them fakes. This
module is the one place that maps a record's `backend` to a backend and gives it the container's cached boto3
clients (`aws.client`), so the signing handler and the key admin API (CSR, certificate match, PKCS#11
registration) cannot disagree on where a key lives.

- `kms`: `key_id` is the KMS key ARN or id; one `kms.sign` per signature (`MessageType='RAW'`,
docs/traps.md#moto-kms-sign-ignores-digest).
- `pkcs11`: `key_id` is an RFC 7512 URI (`keys.pkcs11_uri`); the token's user PIN comes from the Secrets Manager
  secret its `pin-source` names, under `edoc-gateway/<stage>/pkcs11/` (the IAM policy grants nothing else).

Importing this module creates no client and imports no boto3 (`aws.client` is lazy and cached).
"""

from __future__ import annotations

import json

from chalicelib.adapters import aws
from chalicelib.core.errors import SigningUnavailable
from chalicelib.core.settings import get_settings
from chalicelib.keys.backends import KmsRawSigner
from chalicelib.keys.pkcs11 import Pkcs11RawSigner, Pkcs11Uri, pin_secret_id
from chalicelib.keys.raw_signer import RawSigner

__all__ = ["open_pkcs11_signer", "open_raw_signer", "secrets_manager_pin"]


def open_raw_signer(backend: str, key_id: str, signing_algorithm: str = "RSASSA_PKCS1_V1_5_SHA_256") -> RawSigner:
    """The raw signer for a key record: `kms` (key ARN/id) or `pkcs11` (RFC 7512 URI, see keys/pkcs11_uri.py).

    One place maps a record to a backend. Clients and modules are created lazily by what is returned. An unknown
    backend or a malformed PKCS#11 URI is `SigningUnavailable` (an admin must fix the record).
    """
    if backend == "kms":
        return KmsRawSigner(aws.client("kms"), key_id, signing_algorithm)
    if backend == "pkcs11":
        try:
            return open_pkcs11_signer(key_id)
        except ValueError as exc:
            raise SigningUnavailable("Định danh khóa PKCS#11 không hợp lệ.", code="invalid_pkcs11_key",
                                     details={"reason": str(exc)}) from exc
    raise SigningUnavailable("Loại khóa ký số chưa được hỗ trợ.", code="unsupported_key_backend",
                             details={"backend": backend})


def open_pkcs11_signer(uri: Pkcs11Uri | str, *, modules: tuple[str, ...] | None = None) -> Pkcs11RawSigner:
    """A signer for a key on a PKCS#11 token, its PIN from Secrets Manager; `modules` defaults to the deployment's
    allowed `PKCS11_MODULES`. Raises ValueError for a malformed URI."""
    allowed = get_settings().pkcs11_modules if modules is None else modules
    return Pkcs11RawSigner(uri, modules=allowed, pin_fetcher=secrets_manager_pin)


def secrets_manager_pin(pin_source: str) -> tuple[str, str]:
    """`(pin, version)` from Secrets Manager: the secret string itself, or its `pin` field if it is JSON.

    The version lets the token code remember a refused PIN until an admin stores a new one (keys/pkcs11.py).
    """
    resp = aws.client("secretsmanager").get_secret_value(SecretId=pin_secret_id(pin_source))
    value = resp.get("SecretString") or ""
    if value.lstrip().startswith("{"):
        try:
            value = str(json.loads(value).get("pin", ""))
        except ValueError:
            value = ""
    if not value:
        raise SigningUnavailable("Bí mật chứa mã PIN của HSM rỗng hoặc sai định dạng.", code="pkcs11_pin_missing")
    return value, str(resp.get("VersionId", ""))
