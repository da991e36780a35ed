"""AWS KMS for organisation signing keys: creating one, and the aliases people and tools find them by.

New keys: RSA_2048 `SIGN_VERIFY`, tagged `edoc-gateway:organ_id` and `edoc-gateway:purpose=document-signing` (what
the signing functions' IAM policy requires), aliased `alias/edoc-sign/<stage>/<code>/<key_ref>`; on activation
`alias/edoc-sign/<stage>/<code>` is moved to the active key. Aliases are a convenience: the key record holds the ARN and
the registry decides which key signs, so an alias that cannot be written is logged, never an error.
`kms_keys()` builds the adapter once per container.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from chalicelib.adapters import aws
from chalicelib.core.log import logger
from chalicelib.core.settings import get_settings

__all__ = ["KMS_KEY_SPEC", "KMS_KEY_USAGE", "KMS_SIGNING_ALGORITHM", "PURPOSE", "TAG_ORGAN_ID",
           "TAG_PURPOSE", "TAG_STAGE", "KmsKeys", "agency_alias", "kms_keys"]

KMS_KEY_SPEC = "RSA_2048"
KMS_KEY_USAGE = "SIGN_VERIFY"
KMS_SIGNING_ALGORITHM = "RSASSA_PKCS1_V1_5_SHA_256"
TAG_ORGAN_ID = "edoc-gateway:organ_id"
TAG_PURPOSE = "edoc-gateway:purpose"
#: The stage a key belongs to (chalicelib.core.names): the signing policies require their own stage's.
TAG_STAGE = "edoc-gateway:stage"
PURPOSE = "document-signing"


def agency_alias(organ_id: str, key_ref: str | None = None) -> str:
    """`alias/edoc-sign/<stage>/000-00-00-H62` (the active key), `.../<key_ref>` (one key): aliases allow no dots,
    and carry the stage (chalicelib.core.names), so stages in one account never move each other's."""
    base = get_settings().signing_alias_prefix + organ_id.replace(".", "-")
    return f"{base}/{key_ref}" if key_ref else base


class KmsKeys:
    """Signing keys in KMS."""

    @property
    def _kms(self) -> Any:
        return aws.client("kms")

    def create_signing_key(self, organ_id: str, key_ref: str) -> tuple[str, bytes, str]:
        """A new key for `organ_id`: its ARN, public key (SubjectPublicKeyInfo DER) and signing algorithm."""
        kms = self._kms
        meta = kms.create_key(
            Description=f"edoc-gateway document signing key of {organ_id} ({key_ref})",
            KeySpec=KMS_KEY_SPEC, KeyUsage=KMS_KEY_USAGE,
            Tags=[{"TagKey": TAG_ORGAN_ID, "TagValue": organ_id}, {"TagKey": TAG_PURPOSE, "TagValue": PURPOSE},
                  {"TagKey": TAG_STAGE, "TagValue": get_settings().stage}],
        )["KeyMetadata"]
        try:
            kms.create_alias(AliasName=agency_alias(organ_id, key_ref), TargetKeyId=meta["KeyId"])
        except Exception:  # the alias is a convenience for people; the record holds the ARN
            logger.warning("could not alias new signing key", extra={"organ_id": organ_id, "key_ref": key_ref})
        spki = kms.get_public_key(KeyId=meta["KeyId"])["PublicKey"]
        return meta["Arn"], spki, KMS_SIGNING_ALGORITHM

    def point_alias(self, organ_id: str, key_arn: str) -> None:
        """Move `alias/edoc-sign/<stage>/<code>` to the active key (people and tools find the key by it; the registry
        decides)."""
        kms = self._kms
        alias = agency_alias(organ_id)
        try:
            try:
                kms.update_alias(AliasName=alias, TargetKeyId=key_arn)
            except kms.exceptions.NotFoundException:
                kms.create_alias(AliasName=alias, TargetKeyId=key_arn)
        except Exception:  # the alias is a convenience for people; the registry holds the active key
            logger.warning("could not move the agency's signing alias", extra={"organ_id": organ_id})


@cache
def kms_keys() -> KmsKeys:
    """The adapter, built once per container (its client comes from `aws.client`, reset by tests)."""
    return KmsKeys()
