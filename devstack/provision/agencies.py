"""The agency registry with the served agencies' signing material: a KMS key, a demo-CA certificate, a seal.

Why here and not through the admin API: the stack must come up with agencies that can sign at once, the way an
administrator would have registered them (keys, certificate chains leading to the demo root, seal images in S3).
The items have the registry's shape (`chalicelib.adapters.agency_registry`), so the app reads them as its own.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

from chalicelib.core import settings
from devstack import demo_data
from devstack.provision.clients import Clients, find_alias_target, pem, to_ddb
from devstack.provision.names import (
    BUCKET_NAME,
    PURPOSE_DOCUMENT_SIGNING,
    SEALS_PREFIX,
    SIGNING_ALGORITHM,
    SIGNING_KEY_SPEC,
    SIGNING_KEY_USAGE,
    STAGE,
    TAG_ORGAN_ID,
    TAG_PURPOSE,
    signing_key_alias,
)

__all__ = ["provision_agencies"]


def _provision_signing_key(c: Clients, agency: demo_data.DemoAgency) -> str:
    """The agency's RSA signing key, found by alias on a re-run; returns its ARN."""
    alias = signing_key_alias(agency.organ_id)
    key_id = find_alias_target(c, alias)
    if key_id is None:
        key_id = c.kms.create_key(
            Description=f"edoc-gateway document signing key of {agency.organ_id}",
            KeySpec=SIGNING_KEY_SPEC, KeyUsage=SIGNING_KEY_USAGE,
            Tags=[{"TagKey": TAG_ORGAN_ID, "TagValue": agency.organ_id},
                  {"TagKey": TAG_PURPOSE, "TagValue": PURPOSE_DOCUMENT_SIGNING},
                  {"TagKey": "edoc-gateway:stage", "TagValue": STAGE}],
        )["KeyMetadata"]["KeyId"]
        c.kms.create_alias(AliasName=alias, TargetKeyId=key_id)
    return c.kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]


def _provision_seal(c: Clients, state_dir: Path, agency: demo_data.DemoAgency) -> dict[str, str]:
    """A generated round seal for the agency in S3 (`seals/<organ_id>.png`), as an admin would register the
    agency's real one; returns the registry item's `seal_key` and `seal_etag`. The PNG is drawn once per state dir
    (Pillow, dev only) and reused on later starts."""
    cached = Path(state_dir) / "seals" / f"{agency.organ_id}.png"
    if not cached.exists():
        from devstack.seal import make_demo_seal  # lazy: Pillow is loaded only when a seal must be drawn

        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_bytes(make_demo_seal(agency.name))
    key = f"{SEALS_PREFIX}{agency.organ_id}.png"
    resp = c.s3.put_object(Bucket=BUCKET_NAME, Key=key, Body=cached.read_bytes(), ContentType="image/png")
    return {"seal_key": key, "seal_etag": resp["ETag"]}


def provision_agencies(c: Clients, state_dir: Path,
                       pki: dict[str, str] | None = None) -> tuple[dict[str, str], str]:
    """One registry item per demo agency; served ones get a KMS key, a certificate from the demo CA (naming the
    local PKI's OCSP responder and CRL when `pki` gives their URLs, for PAdES B-LT) and a seal (`_provision_seal`).
    Returns (organ_id → key ARN, the demo root certificate in PEM)."""
    from devstack.pki import DemoCA  # lazy: cryptography is loaded only when provisioning runs

    pki = pki or {}
    ca = DemoCA.load_or_create(Path(state_dir) / "pki")
    root_pem = pem(ca.root_cert_pem)
    keys: dict[str, str] = {}
    for agency in demo_data.AGENCIES:
        item: dict[str, Any] = {
            "organ_id": agency.organ_id, "name": agency.name, "active": True, "served": agency.served,
            "paper": agency.paper, "email": agency.email, "address": agency.address,
        }
        if agency.served:
            key_arn = _provision_signing_key(c, agency)
            keys[agency.organ_id] = key_arn
            public_der = c.kms.get_public_key(KeyId=key_arn)["PublicKey"]
            cert_der = ca.issue_org_certificate(public_der, agency.organ_id, agency.name,
                                                ocsp_url=pki.get("ocsp_url"), crl_url=pki.get("crl_url"))
            item["signing_key"] = {
                "backend": "kms", "key_id": key_arn, "signing_algorithm": SIGNING_ALGORITHM,
                "certificate_pem": ssl.DER_cert_to_PEM_cert(cert_der), "chain_pem": root_pem,
            }
            item.update(_provision_seal(c, state_dir, agency))
        c.dynamodb.put_item(TableName=settings.AGENCIES_TABLE, Item=to_ddb(item))
    return keys, root_pem
