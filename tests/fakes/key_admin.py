"""In-memory twins of the key administration ports (chalicelib.admin.ports), for the key use cases' unit tests.

`MemoryKeyStore` keeps the conditions of `chalicelib.adapters.key_store.KeyStore` the use cases rely on (a record
changes only from the states named, the key switch only from the agency key it was decided on, all or nothing);
`MemoryKms` makes real RSA keys in memory, so CSRs and certificates are checked for real.
"""

from __future__ import annotations

import copy
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from chalicelib.adapters.dynamo import ConditionFailed
from chalicelib.keys import certificates as keys
from chalicelib.keys.backends import LocalKeySigner


class MemoryKeyStore:
    """KeyRepository in memory: key records by (organ_id, key_ref) and raw agency items by organ_id."""

    def __init__(self, *agencies: dict[str, Any]) -> None:
        self.records: dict[tuple[str, str], dict[str, Any]] = {}
        self.agencies: dict[str, dict[str, Any]] = {a["organ_id"]: copy.deepcopy(a) for a in agencies}
        self.before_switch: Any = None  # a callable run just before the key switch (another admin's change)

    def create(self, record: dict[str, Any]) -> None:
        key = (record["organ_id"], record["key_ref"])
        if key in self.records:
            raise ConditionFailed("exists")
        self.records[key] = copy.deepcopy(record)

    def get(self, organ_id: str, key_ref: str) -> dict[str, Any] | None:
        record = self.records.get((organ_id, key_ref))
        return copy.deepcopy(record) if record is not None else None

    def list(self, organ_id: str) -> list[dict[str, Any]]:
        return [copy.deepcopy(r) for (o, _), r in self.records.items() if o == organ_id]

    def update(self, organ_id: str, key_ref: str, fields: dict[str, Any], *, states: tuple[str, ...],
               event: dict[str, Any]) -> None:
        record = self.records.get((organ_id, key_ref))
        if record is None or record["state"] not in states:
            raise ConditionFailed("state")
        record.update(copy.deepcopy(fields))
        record.setdefault("history", []).append(event)

    def agency_item(self, organ_id: str) -> dict[str, Any] | None:
        item = self.agencies.get(organ_id)
        return copy.deepcopy(item) if item is not None else None

    def agency_items(self) -> list[dict[str, Any]]:
        return [copy.deepcopy(a) for a in self.agencies.values()]

    def renew_active_certificate(self, organ_id: str, key_ref: str, fields: dict[str, Any],
                                 event: dict[str, Any]) -> None:
        agency = self.agencies[organ_id]
        record = self.records.get((organ_id, key_ref))
        if (agency.get("signing_key") or {}).get("key_ref") != key_ref or record is None \
                or record["state"] != keys.ACTIVE:
            raise ConditionFailed("not the active key")
        agency["signing_key"].update(certificate_pem=fields["certificate_pem"], chain_pem=fields["chain_pem"],
                                     not_after=fields["certificate"]["not_after"])
        record.update(copy.deepcopy(fields))
        record.setdefault("history", []).append(event)

    def switch_active_key(self, organ_id: str, key_ref: str, *, new_key: dict[str, Any],
                          current: dict[str, Any] | None, previous: dict[str, Any] | None, at: str,
                          activated: dict[str, Any], retired: tuple[str, dict[str, Any]] | None) -> None:
        if self.before_switch is not None:
            self.before_switch()
        agency = self.agencies[organ_id]
        now = agency.get("signing_key")
        if current:
            if not now or now["key_id"] != current["key_id"] \
                    or now.get("certificate_pem", "") != current.get("certificate_pem", ""):
                raise ConditionFailed("agency key changed")
        elif now:
            raise ConditionFailed("agency has a key")
        record = self.records[(organ_id, key_ref)]
        if record["state"] not in (keys.CERTIFIED, keys.RETIRED):
            raise ConditionFailed("record state")
        old = self.records.get((organ_id, retired[0])) if retired else None
        if retired and (old is None or old["state"] != keys.ACTIVE):
            raise ConditionFailed("old record state")
        agency["signing_key"] = copy.deepcopy(new_key)
        agency["keys_updated_at"] = at
        if current:
            agency.setdefault("previous_keys", []).append(copy.deepcopy(previous))
        record.update(state=keys.ACTIVE, activated_at=at)
        record.pop("retired_at", None)
        record.setdefault("history", []).append(activated)
        if old is not None and retired:
            old.update(state=keys.RETIRED, retired_at=at)
            old.setdefault("history", []).append(retired[1])


class MemoryKms:
    """KmsKeyService with RSA keys in memory; `signer_for` signs with them as KMS would."""

    def __init__(self) -> None:
        self.private: dict[str, Any] = {}
        self.aliases: dict[str, str] = {}

    def create_signing_key(self, organ_id: str, key_ref: str) -> tuple[str, bytes, str]:
        arn = f"arn:aws:kms:ap-southeast-1:000000000000:key/{organ_id}-{key_ref}"
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.private[arn] = key
        spki = key.public_key().public_bytes(serialization.Encoding.DER,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)
        return arn, spki, "RSASSA_PKCS1_V1_5_SHA_256"

    def point_alias(self, organ_id: str, key_arn: str) -> None:
        self.aliases[organ_id] = key_arn

    def signer_for(self, record: dict[str, Any]) -> LocalKeySigner:
        return LocalKeySigner(self.private[record["key_id"]])
