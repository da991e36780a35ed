"""Who signs: the agency, its certificate and chain, and the raw signer of its key.

The certificate is what PAdES B-B references in the signed attributes (ESS signing-certificate-v2, RFC 5035; ETSI
EN 319 142-1 §5.2.2); the chain (intermediates and root) goes into the CMS so validators can build the path
offline (RFC 5280 §6). Where the key lives is behind `keys.raw_signer.RawSigner`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from chalicelib.keys.raw_signer import RawSigner

if TYPE_CHECKING:  # pragma: no cover
    from asn1crypto import x509

__all__ = ["SigningIdentity", "identity_from_pem"]


@dataclass
class SigningIdentity:
    """Who signs: the agency (identifier code and name), its certificate and chain, and where its key lives."""

    organ_id: str
    org_name: str
    certificate: x509.Certificate
    #: Intermediates and root, embedded in the CMS so validators can build the path offline.
    chain: list[x509.Certificate]
    raw_signer: RawSigner


def identity_from_pem(organ_id: str, org_name: str, cert_pem: str, chain_pem: str,
                      raw_signer: RawSigner) -> SigningIdentity:
    """Build a `SigningIdentity` from the PEM texts an admin uploads (certificate; chain = intermediates + root)."""
    from asn1crypto import pem  # lazy: asn1crypto, cold start
    from asn1crypto import x509 as asn1_x509  # lazy: asn1crypto, cold start

    def _certs(text: str) -> list[asn1_x509.Certificate]:
        data = text.encode("ascii") if isinstance(text, str) else text
        if not data.strip():
            return []
        if not pem.detect(data):
            raise ValueError("expected PEM certificates")
        return [asn1_x509.Certificate.load(der) for _, _, der in pem.unarmor(data, multiple=True)]

    certs = _certs(cert_pem)
    if len(certs) != 1:
        raise ValueError(f"expected exactly one signing certificate, got {len(certs)}")
    return SigningIdentity(organ_id=organ_id, org_name=org_name, certificate=certs[0], chain=_certs(chain_pem),
                           raw_signer=raw_signer)
