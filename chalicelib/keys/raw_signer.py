"""The one thing PAdES, the CSR builder and every key backend agree on: a signer of raw messages.

Why its own module: the backends (`backends.py`: KMS and a local key; `pkcs11.py`: an HSM token) all implement it,
and `signing/` and `csr.py` only consume it. With the protocol here, no backend module imports another, and the
PAdES code never changes when a key moves (ETSI EN 319 142-1: the CMS is built by pyHanko, the key only signs the
DER of the signed attributes, RFC 5652 §5.4).

Pure: no boto3, pyHanko, cryptography or python-pkcs11.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["RawSigner", "ecdsa_der_max_size"]


@runtime_checkable
class RawSigner(Protocol):
    """Signs a raw message (hashing it inside), the way pyHanko's `Signer.async_sign_raw` needs.

    `algorithm` is the CMS signature mechanism name (`sha256_rsa` or `sha256_ecdsa`); `signature_size` is the
    largest signature in bytes, used for pyHanko's dry run that sizes the placeholder in the PDF.
    """

    algorithm: str
    signature_size: int

    def sign(self, data: bytes) -> bytes:
        """Return the signature over `data` (for ECDSA: DER-encoded `Ecdsa-Sig-Value`)."""
        ...


def ecdsa_der_max_size(curve_bits: int) -> int:
    """Largest DER `SEQUENCE {INTEGER r, INTEGER s}` for a curve (RFC 5480 `ECDSA-Sig-Value`): each integer may
    need a leading zero byte."""
    n = (curve_bits + 7) // 8
    body = 2 * (2 + n + 1)
    return body + (2 if body < 128 else 3)
