"""The ports key administration (chalicelib.admin.keys) talks to, as Protocols, and the bundle it takes them in.

Why: the use cases decide (who may, which state, which checks) and these do the AWS and HSM work, so the use cases'
unit tests run against in-memory twins (tests/fakes/key_admin.py) and only the adapters
(`chalicelib.adapters.key_store`, `chalicelib.adapters.kms_keys`, `chalicelib.adapters.trust_store`, the key
backends in `chalicelib.keys`) touch boto3 or PKCS#11. app.py passes no ports: the use cases then take the
per-container adapters (`chalicelib.admin.keys.default_ports`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from chalicelib.keys.raw_signer import RawSigner

__all__ = ["KeyAdminPorts", "KeyRepository", "KmsKeyService", "TokenKey"]


class KeyRepository(Protocol):
    """Key records and agency items (`chalicelib.adapters.key_store.KeyStore`). Lost conditions raise
    `chalicelib.adapters.dynamo.ConditionFailed`."""

    def create(self, record: dict[str, Any]) -> None: ...

    def get(self, organ_id: str, key_ref: str) -> dict[str, Any] | None: ...

    def list(self, organ_id: str) -> list[dict[str, Any]]: ...

    def update(self, organ_id: str, key_ref: str, fields: dict[str, Any], *, states: tuple[str, ...],
               event: dict[str, Any]) -> None: ...

    def agency_item(self, organ_id: str) -> dict[str, Any] | None: ...

    def agency_items(self) -> Iterable[dict[str, Any]]: ...

    def renew_active_certificate(self, organ_id: str, key_ref: str, fields: dict[str, Any],
                                 event: dict[str, Any]) -> None: ...

    def switch_active_key(self, organ_id: str, key_ref: str, *, new_key: dict[str, Any],
                          current: dict[str, Any] | None, previous: dict[str, Any] | None, at: str,
                          activated: dict[str, Any], retired: tuple[str, dict[str, Any]] | None) -> None: ...


class KmsKeyService(Protocol):
    """New KMS signing keys and the agency's alias (`chalicelib.adapters.kms_keys.KmsKeys`)."""

    def create_signing_key(self, organ_id: str, key_ref: str) -> tuple[str, bytes, str]: ...

    def point_alias(self, organ_id: str, key_arn: str) -> None: ...


class TokenKey(RawSigner, Protocol):
    """A key found on a PKCS#11 token (`chalicelib.keys.pkcs11.Pkcs11RawSigner`)."""

    def public_key_der(self) -> bytes: ...


@dataclass(frozen=True)
class KeyAdminPorts:
    """What the key use cases need from the outside world."""

    keys: KeyRepository
    kms: KmsKeyService
    #: The configured trust roots (asn1crypto certificates), for the certificate checks.
    trust_roots: Callable[[], list[Any]]
    #: The signer of a key record (its backend, key id and algorithm), `chalicelib.keys.raw_signer.RawSigner`.
    signer_for: Callable[[dict[str, Any]], RawSigner]
    #: The key a PKCS#11 URI names, on its token.
    token_key: Callable[[Any], TokenKey]
