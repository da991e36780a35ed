"""The pyHanko `Signer` over a `RawSigner`, built once per key per warm container.

Why a subclass of pyHanko's `Signer` and not pyHanko's KMS or PKCS#11 signers: every key backend is one
`RawSigner` (keys/raw_signer.py), so one adapter serves KMS, PKCS#11 and local keys alike; and it is built through
`Signer.__init__` (its attributes are read-only properties since pyHanko 0.18,
docs/traps.md#pyhanko-signer-construction). It also templates the per-key constant signed attributes of the CMS (RFC
5652 §5.3; ESS signing-certificate-v2, RFC 5035; CMS algorithm protection, RFC 6211), which pyHanko would otherwise
rebuild for every signature.

pyHanko is imported inside functions (~150 ms at cold start): the class is defined on first use.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from chalicelib.core.errors import SigningUnavailable
from chalicelib.signing.identity import SigningIdentity

__all__ = ["CachedSigner", "cached_signer", "clear_signers", "signer_class", "signer_for"]

_SIGNER_CACHE_SIZE = 256


@dataclass
class CachedSigner:
    """A key's pyHanko signer and the signature-size reservations measured for it."""

    signer: Any  # pyHanko Signer subclass instance
    #: /Contents reservation in hex digits per TSA URL ("" = no timestamp), from one dry run: the CMS of a key has
    #: the same size every time (a timestamp token varies a little: pyHanko's estimate keeps a 50% margin).
    bytes_reserved: dict[str, int] = field(default_factory=dict)


#: Signed attributes the template handles: message-digest is put in per document, the others depend on the key
#: only (never on the document or the time).
_CONSTANT_ATTRS = frozenset({"content_type", "message_digest", "signing_certificate_v2", "signing_certificate",
                             "cms_algorithm_protection"})

_signers: OrderedDict[tuple[str, int, bytes], CachedSigner] = OrderedDict()
_signers_lock = threading.Lock()


def _make_signer_class() -> type:
    """The pyHanko `Signer` subclass, defined on first use so importing this module does not import pyHanko."""
    from pyhanko.sign.general import SigningError  # lazy: pyHanko ~150 ms at cold start
    from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes, Signer  # lazy: pyHanko ~150 ms at cold start

    class RawBackendSigner(Signer):
        """A pyHanko signer over a `RawSigner`. Built through `Signer.__init__` (its attributes are read-only
        properties since pyHanko 0.18, so the documented KMS example that assigns them no longer works)."""

        def __init__(self, identity: SigningIdentity) -> None:
            from asn1crypto import algos  # lazy: asn1crypto, cold start
            from pyhanko_certvalidator.registry import SimpleCertificateStore  # lazy: pyHanko ~150 ms at cold start

            self._raw = identity.raw_signer
            self._attr_templates: dict[tuple[str, str, bool, bool], list[bytes]] = {}
            super().__init__(
                signing_cert=identity.certificate,
                # The chain only: pyHanko adds the signing certificate to the CMS itself (listing it here too put
                # it in the CMS twice, ~1 KB per signature).
                cert_registry=SimpleCertificateStore.from_certs(identity.chain),
                signature_mechanism=algos.SignedDigestAlgorithm({"algorithm": identity.raw_signer.algorithm}),
            )

        async def signed_attrs(self, data_digest: bytes, digest_algorithm: str, attr_settings: Any = None,
                               content_type: str = "data", use_pades: bool = False, timestamper: Any = None,
                               dry_run: bool = False, is_pdf_sig: bool = True) -> Any:
            """pyHanko's signed attributes, with the per-key constant ones built once.

            Why: pyHanko rebuilds signing-certificate-v2 (with the issuer's name) for every signature, and
            asn1crypto re-encodes the whole mutated tree at each dump: ~6.5 ms of the ~13 ms per document. The
            first call goes through pyHanko and records the DER of every attribute except message-digest; later
            calls with the same settings reuse those bytes. Only attributes known to be constant per key are
            templated; anything else (signing-time outside PAdES, revocation info, CAdES extras, a timestamper)
            goes through pyHanko every time.
            """
            from asn1crypto import cms  # lazy: asn1crypto, cold start

            settings = attr_settings or PdfCMSSignedAttributes()
            cacheable = (timestamper is None and settings.cades_signed_attrs is None
                         and getattr(settings, "adobe_revinfo_attr", None) is None)
            key = (digest_algorithm, content_type, use_pades, is_pdf_sig)
            template = self._attr_templates.get(key) if cacheable else None
            if template is None:
                attrs = await super().signed_attrs(data_digest, digest_algorithm, attr_settings=attr_settings,
                                                   content_type=content_type, use_pades=use_pades,
                                                   timestamper=timestamper, dry_run=dry_run, is_pdf_sig=is_pdf_sig)
                types = [a["type"].native for a in attrs]
                if cacheable and types.count("message_digest") == 1 and set(types) <= _CONSTANT_ATTRS:
                    self._attr_templates[key] = [a.dump() for a in attrs if a["type"].native != "message_digest"]
                return attrs
            digest_attr = cms.CMSAttribute({"type": "message_digest", "values": [data_digest]}).dump()
            # DER SET OF: members in ascending order of their encodings.
            return cms.CMSAttributes([cms.CMSAttribute.load(der) for der in sorted([*template, digest_attr])])

        async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
            if digest_algorithm != "sha256":
                raise SigningError(f"only sha256 is supported, not {digest_algorithm}")
            if dry_run:
                # pyHanko sizes the /Contents placeholder from this: it must be as long as a real signature.
                return bytes(self._raw.signature_size)
            return self._raw.sign(data)

    return RawBackendSigner


@lru_cache(maxsize=1)
def signer_class() -> type:
    """The pyHanko `Signer` subclass over a `RawSigner` (defined once, on first use)."""
    return _make_signer_class()


def _check_key_matches_algorithm(identity: SigningIdentity) -> None:
    """The certificate's key type must be the one the backend signs with, or every signature would be invalid."""
    algo = identity.certificate.public_key.algorithm  # 'rsa' | 'ec' | ...
    expected = {"sha256_rsa": "rsa", "sha256_ecdsa": "ec"}.get(identity.raw_signer.algorithm)
    if algo != expected:
        raise SigningUnavailable(details={"organ_id": identity.organ_id, "certificate_key": algo,
                                          "signer_algorithm": identity.raw_signer.algorithm})


def signer_for(identity: SigningIdentity) -> Any:
    """The pyHanko `Signer` for this identity, built once per warm container.

    Keyed by (organ_id, certificate serial, issuer): a renewed certificate gets a new signer, the same one is never
    rebuilt. Bounded LRU so a long-lived container serving many agencies does not grow without limit.
    """
    return cached_signer(identity).signer


def cached_signer(identity: SigningIdentity) -> CachedSigner:
    """The container's `CachedSigner` for this identity (the signer and its reservations), built on first use."""
    cert = identity.certificate
    key = (identity.organ_id, cert.serial_number, cert.issuer.sha256)
    with _signers_lock:
        entry = _signers.get(key)
        if entry is not None:
            _signers.move_to_end(key)
            return entry
    _check_key_matches_algorithm(identity)
    entry = CachedSigner(signer=signer_class()(identity))
    with _signers_lock:
        entry = _signers.setdefault(key, entry)
        _signers.move_to_end(key)
        while len(_signers) > _SIGNER_CACHE_SIZE:
            _signers.popitem(last=False)
    return entry


def clear_signers() -> None:
    """Forget cached signers (tests that rotate keys; a rotation in a warm container changes the cache key)."""
    with _signers_lock:
        _signers.clear()
