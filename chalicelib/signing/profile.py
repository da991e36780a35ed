"""Which PAdES baseline level a signature reaches (ETSI EN 319 142-1 §6), and what a signature leaves behind.

B-B: a CMS signature (`ETSI.CAdES.detached`, SHA-256) with the signing certificate referenced (ESS
signing-certificate-v2, RFC 5035). B-T: plus a signature timestamp from a timestamp authority (RFC 3161). B-LT:
plus the certificates and revocation answers (OCSP RFC 6960, CRL RFC 5280) of the signer's and the TSA's paths in
the document security store (DSS). The gateway does not go to B-LTA: the document leaves the gateway at once.

Pure dataclasses: importing this module costs nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

__all__ = ["LEVELS", "LEVEL_B_B", "LEVEL_B_LT", "LEVEL_B_T", "PadesProfile", "SignResult"]

#: PAdES baseline levels the gateway produces (ETSI EN 319 142-1).
LEVEL_B_B, LEVEL_B_T, LEVEL_B_LT = "B-B", "B-T", "B-LT"
LEVELS = (LEVEL_B_B, LEVEL_B_T, LEVEL_B_LT)


@dataclass(frozen=True)
class PadesProfile:
    """Which PAdES baseline level to reach and where its long-term material comes from (docs/contract.md#signing).

    B-B needs nothing; B-T needs a timestamp authority (`tsa_url`); B-LT also needs the certificates to name
    their OCSP responder or CRL (otherwise the document is signed at B-T and a warning logged: the level reached
    is in `SignResult.level`). Revocation answers are cached `revocation_cache_seconds` per certificate.
    """

    level: str = LEVEL_B_B
    tsa_url: str = ""
    revocation_cache_seconds: float = 300.0

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise ValueError(f"unknown PAdES level {self.level!r}; use one of {', '.join(LEVELS)}")
        if self.level != LEVEL_B_B and not self.tsa_url:
            raise ValueError(f"PAdES {self.level} needs a timestamp authority URL")

    @classmethod
    def from_config(cls, tsa_url: str, level: str = "", revocation_cache_seconds: float = 300.0) -> PadesProfile:
        """From the environment's `TSA_URL` and `PADES_LEVEL`: no TSA means B-B whatever the level asks (a
        timestamp cannot be invented); a TSA without a level means the most the gateway can do, B-LT."""
        tsa_url = tsa_url.strip()
        wanted = (level or LEVEL_B_LT).strip().upper()
        if not tsa_url or wanted == LEVEL_B_B:
            return cls()
        return cls(level=wanted, tsa_url=tsa_url, revocation_cache_seconds=revocation_cache_seconds)


@dataclass(frozen=True)
class SignResult:
    """What the document record keeps: digests of both files (hex), the signing time (+07:00) and the size."""

    original_sha256: str
    signed_sha256: str
    signed_at: dt.datetime
    signed_size: int
    field_name: str = ""
    #: The original's length: the signed file's first `original_size` bytes ARE the original (sign_file copies it
    #: byte for byte and appends the incremental update), whose digest is `original_sha256`.
    original_size: int = 0
    #: The PAdES baseline level reached: B-B, B-T or B-LT.
    level: str = LEVEL_B_B
