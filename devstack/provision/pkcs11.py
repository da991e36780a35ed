"""Served agencies moved from KMS to PKCS#11: keys on a SoftHSM2 token, as an agency with an HSM would sign.

Why the stack offers it: the PKCS#11 backend (`chalicelib.keys.pkcs11`) must run end to end like the KMS one
(docs/traps.md#hsm-keys-need-pkcs11: an HSM-resident key means PKCS#11, not KMS). The agency's KMS key is left in place,
unused, so the KMS side stays what infra/ describes.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from pathlib import Path

from chalicelib.core import settings
from chalicelib.keys.pkcs11 import PIN_SOURCE_PREFIX, Pkcs11Uri
from devstack import demo_data
from devstack.provision.clients import Clients, pem, put_secret, to_ddb
from devstack.provision.names import (
    PKCS11_PIN_SECRET_PREFIX,
    SIGNING_ALGORITHM,
    SOFTHSM_DIR,
    SOFTHSM_TOKEN_LABEL,
    pkcs11_key_label,
)

__all__ = ["provision_pkcs11_agencies"]


def _revocation_pointers(certificate_pem: str | None) -> dict[str, str]:
    """The OCSP and CRL URLs a certificate names, so its replacement names the same ones."""
    from cryptography import x509 as cx509  # lazy: cryptography is loaded only when an agency moves to PKCS#11

    pointers: dict[str, str | None] = {}
    if certificate_pem:
        old = cx509.load_pem_x509_certificate(certificate_pem.encode("ascii"))
        for ext in old.extensions:
            if isinstance(ext.value, cx509.AuthorityInformationAccess):
                pointers["ocsp_url"] = next((d.access_location.value for d in ext.value), None)
            elif isinstance(ext.value, cx509.CRLDistributionPoints):
                pointers["crl_url"] = next((n.value for p in ext.value for n in p.full_name or []), None)
    return {k: v for k, v in pointers.items() if v}


def provision_pkcs11_agencies(c: Clients, state_dir: Path,
                              organ_ids: Iterable[str]) -> tuple[dict[str, str], dict[str, str]]:
    """Move these served agencies to PKCS#11: a key pair generated on a SoftHSM2 token under the state dir, its PIN
    in Secrets Manager (`edoc-gateway/local/pkcs11/<code>`), a demo CA certificate for it, and the registry item's
    `signing_key` pointing at it by PKCS#11 URI. Returns (organ_id → key URI, the app's environment for the token).

    Runs after `provision_agencies`, and issues the certificate with the same OCSP/CRL pointers as the KMS one it
    replaces.
    """
    from devstack import softhsm
    from devstack.pki import DemoCA  # lazy: cryptography is loaded only when an agency moves to PKCS#11

    organ_ids = set(organ_ids)
    wanted = [a for a in demo_data.SERVED if a.organ_id in organ_ids]
    unknown = organ_ids - {a.organ_id for a in wanted}
    if unknown:
        raise ValueError(f"not served demo agencies, cannot put on PKCS#11: {sorted(unknown)}")
    if not wanted:
        return {}, {}
    token = softhsm.ensure_token(Path(state_dir) / SOFTHSM_DIR, SOFTHSM_TOKEN_LABEL)
    ca = DemoCA.load_or_create(Path(state_dir) / "pki")
    table = settings.AGENCIES_TABLE
    uris: dict[str, str] = {}
    for agency in wanted:
        label = pkcs11_key_label(agency.organ_id)
        spki = softhsm.generate_keypair(token, label, label.encode("ascii")[-16:])
        secret_name = PKCS11_PIN_SECRET_PREFIX + agency.organ_id.replace(".", "-")
        put_secret(c, secret_name, token.pin, f"PKCS#11 user PIN of the token holding {label}")
        uri = str(Pkcs11Uri(token=token.label, object=label, module_path=token.module,
                            pin_source=PIN_SOURCE_PREFIX + secret_name))
        item = c.dynamodb.get_item(TableName=table, Key={"organ_id": {"S": agency.organ_id}})["Item"]
        old_key = item.get("signing_key", {}).get("M", {})
        # keep whatever revocation pointers the KMS certificate was given
        cert_der = ca.issue_org_certificate(spki, agency.organ_id, agency.name,
                                            **_revocation_pointers(old_key.get("certificate_pem", {}).get("S")))
        chain_pem = old_key.get("chain_pem", {}).get("S") or pem(ca.root_cert_pem)
        signing_key = {"backend": "pkcs11", "key_id": uri, "signing_algorithm": SIGNING_ALGORITHM,
                       "certificate_pem": ssl.DER_cert_to_PEM_cert(cert_der), "chain_pem": chain_pem}
        c.dynamodb.update_item(TableName=table, Key={"organ_id": {"S": agency.organ_id}},
                               UpdateExpression="SET signing_key = :k",
                               ExpressionAttributeValues=to_ddb({":k": signing_key}))
        uris[agency.organ_id] = uri
    return uris, {"PKCS11_MODULES": token.module, **token.env}
