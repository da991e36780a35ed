"""Long-term validation material for PAdES B-T and B-LT (ETSI EN 319 142-1 §6.3, §6.4).

- B-T: an RFC 3161 signature timestamp in the CMS. `UrlTimeStamper` is pyHanko's `TimeStamper` over urllib (RFC
  3161 §3.4, `application/timestamp-query` over HTTP POST): pyHanko's own HTTP timestamper needs `requests` (not in
  the Lambda package) or an aiohttp session bound to one event loop (the signing handler runs one loop per
  document). One per TSA URL per container, so pyHanko's cached dummy token (used to size the signature and to
  find the TSA's certificate) survives between documents.
- B-LT: the certificates and revocation answers of the signer's and the TSA's paths, put in the document security
  store (DSS, ETSI EN 319 142-1 §5.4). `long_term_context` builds pyHanko's `ValidationContext` from answers that
  `chalicelib.keys.revocation` fetched (OCSP RFC 6960, else CRL RFC 5280) and cached, with pyHanko's own fetching
  off, so what is checked before signing is exactly what gets embedded. A revoked certificate is refused before
  the key is used.

The revocation checker lives in `keys/` (the certificate gate below signing needs it too); its names are
re-exported here for callers that think in terms of B-LT. No boto3; pyHanko is imported where used.
"""

from __future__ import annotations

import logging
import threading
from functools import lru_cache
from typing import Any

from chalicelib.core.errors import CertificateUnusable, SigningUnavailable
from chalicelib.keys.revocation import (
    GOOD,
    HTTP_TIMEOUT,
    MAX_RESPONSE_BYTES,
    REVOKED,
    NoRevocationPointers,
    RevocationAnswer,
    RevocationChecker,
    RevocationUnavailable,
    default_checker,
    http_request,
    revocation_pointers,
)
from chalicelib.signing.identity import SigningIdentity
from chalicelib.signing.profile import PadesProfile

__all__ = [
    "GOOD", "HTTP_TIMEOUT", "MAX_RESPONSE_BYTES", "MSG_REVOKED", "REVOKED", "NoLongTermData", "NoRevocationPointers",
    "RevocationAnswer", "RevocationChecker", "RevocationUnavailable", "default_checker", "http_request",
    "long_term_context", "quiet_pyhanko", "revocation_pointers", "timestamp_certificates", "timestamper_for",
]

MSG_REVOKED = "Chứng thư số của cơ quan đã bị thu hồi, không thể ký văn bản."


# --------------------------------------------------------------------------------------------------------------
# Timestamps (B-T)


@lru_cache(maxsize=1)
def _timestamper_class() -> type:
    """pyHanko's `TimeStamper` over urllib, defined on first use so importing this module does not import pyHanko."""
    from pyhanko.sign.timestamps.api import TimeStamper  # lazy: pyHanko ~150 ms at cold start

    class UrlTimeStamper(TimeStamper):
        """RFC 3161 over HTTP POST (`application/timestamp-query`), blocking: one request per signature."""

        def __init__(self, url: str, timeout: float = HTTP_TIMEOUT) -> None:
            super().__init__(include_nonce=True)
            self.url = url
            self.timeout = timeout

        async def async_request_tsa_response(self, req: Any) -> Any:
            from asn1crypto import tsp  # lazy: asn1crypto, cold start

            try:
                data = http_request(self.url, req.dump(), "application/timestamp-query", self.timeout)
            except OSError as exc:
                raise OSError(f"timestamp authority {self.url} unreachable: {exc}") from exc
            return tsp.TimeStampResp.load(data)

        def __repr__(self) -> str:
            return f"UrlTimeStamper({self.url!r})"

    return UrlTimeStamper


_timestampers: dict[str, Any] = {}
_timestampers_lock = threading.Lock()


def timestamper_for(url: str) -> Any:
    """The container's timestamper for `url` (pyHanko caches the TSA's dummy token and certificates in it)."""
    with _timestampers_lock:
        ts = _timestampers.get(url)
        if ts is None:
            ts = _timestampers[url] = _timestamper_class()(url)
        return ts


def timestamp_certificates(token: Any) -> tuple[Any, list[Any]]:
    """(TSA signing certificate, all certificates) of a timestamp token (asn1crypto `ContentInfo`)."""
    signed_data = token["content"]
    certs = [c.chosen for c in signed_data["certificates"] or [] if c.name == "certificate"]
    sid = signed_data["signer_infos"][0]["sid"]
    if sid.name == "issuer_and_serial_number":
        issuer, serial = sid.chosen["issuer"], sid.chosen["serial_number"].native
        signer = next((c for c in certs if c.issuer == issuer and c.serial_number == serial), None)
    else:
        key_id = sid.chosen.native
        signer = next((c for c in certs if c.key_identifier == key_id), None)
    if signer is None:
        raise ValueError("timestamp token does not carry its TSA certificate (certReq ignored?)")
    return signer, certs


# --------------------------------------------------------------------------------------------------------------
# Revocation evidence for B-LT


def _issuer_in(cert: Any, pool: list[Any]) -> Any:
    """The certificate in `pool` that issued `cert` (by name, and by key identifier when both carry one)."""
    aki = cert.authority_key_identifier
    for candidate in pool:
        if candidate.subject != cert.issuer or candidate.dump() == cert.dump():
            continue
        if aki is None or candidate.key_identifier is None or candidate.key_identifier == aki:
            return candidate
    return None


def _path_to_root(cert: Any, pool: list[Any]) -> tuple[list[tuple[Any, Any]], Any]:
    """((certificate, issuer) pairs from `cert` up, self-signed root or None) within `pool`."""
    pairs: list[tuple[Any, Any]] = []
    current = cert
    for _ in range(10):
        if current.self_signed != "no" and current.subject == current.issuer:
            return pairs, current
        issuer = _issuer_in(current, pool)
        if issuer is None:
            return pairs, None
        pairs.append((current, issuer))
        current = issuer
    return pairs, None


class NoLongTermData(Exception):
    """B-LT cannot be built for this document (no revocation pointers, no root): sign at B-T instead."""


class _Revoked(Exception):
    """A certificate on a path is revoked (internal: mapped to the caller's error)."""

    def __init__(self, cert: Any, answer: Any) -> None:
        super().__init__(f"certificate {cert.serial_number:x} revoked")
        self.details = {"serial": f"{cert.serial_number:x}", "subject": cert.subject.human_friendly,
                        "source": answer.source, "reason": answer.reason,
                        "revoked_at": answer.revoked_at.isoformat() if answer.revoked_at else None}


def _revocation_answers(pairs: list[tuple[Any, Any]], checker: Any) -> list[Any]:
    """The revocation answer for each (certificate, issuer) pair, from the checker (cached briefly per cert)."""
    answers = []
    for cert, issuer in pairs:
        try:
            answer = checker.check(cert, issuer)
        except NoRevocationPointers as exc:
            raise NoLongTermData(str(exc)) from exc
        if answer.revoked:
            raise _Revoked(cert, answer)
        answers.append(answer)
    return answers


async def long_term_context(identity: SigningIdentity, timestamper: Any, profile: PadesProfile) -> Any:
    """The pyHanko `ValidationContext` for B-LT: trust roots, certificates and revocation answers of the signer's
    and the TSA's paths, fetched (or taken from the container's cache) by us, with pyHanko's own fetching off so
    what is checked is exactly what gets embedded.

    Raises `CertificateUnusable` (`certificate_revoked`) when the signer's certificate or one above it is revoked,
    `SigningUnavailable` (`tsa_certificate_revoked`) for a revoked TSA, `NoLongTermData` when B-LT cannot be built.
    """
    from pyhanko_certvalidator import ValidationContext  # lazy: pyHanko ~150 ms at cold start

    checker = default_checker(profile.revocation_cache_seconds)
    pool = [identity.certificate, *identity.chain]
    signer_pairs, signer_root = _path_to_root(identity.certificate, pool)
    if signer_root is None:
        raise NoLongTermData("the certificate chain does not reach a self-signed root")
    try:
        answers = _revocation_answers(signer_pairs, checker)
    except _Revoked as exc:
        raise CertificateUnusable(MSG_REVOKED, code="certificate_revoked",
                                  details={"organ_id": identity.organ_id, **exc.details}) from None

    token = await timestamper.async_dummy_response("sha256")
    tsa_cert, tsa_certs = timestamp_certificates(token)
    tsa_pairs, tsa_root = _path_to_root(tsa_cert, [*tsa_certs, *pool])
    if tsa_root is None:
        raise NoLongTermData("the TSA certificate does not chain to a known root")
    try:
        answers += _revocation_answers(tsa_pairs, checker)
    except _Revoked as exc:
        raise SigningUnavailable("Chứng thư số của dịch vụ cấp dấu thời gian đã bị thu hồi.",
                                 code="tsa_certificate_revoked", details={"tsa": profile.tsa_url, **exc.details}
                                 ) from None
    roots = {signer_root.dump(): signer_root, tsa_root.dump(): tsa_root}
    return ValidationContext(
        trust_roots=list(roots.values()), other_certs=[*pool, *tsa_certs],
        ocsps=[a.der for a in answers if a.source == "ocsp"], crls=[a.der for a in answers if a.source == "crl"],
        allow_fetching=False, revocation_mode="hard-fail")


class _QuietFetchingWarning:
    """Drops pyHanko's warning that fetching is off while validation info is embedded: that is the design here
    (our checker fetched and cached the answers), and it would otherwise be logged for every B-LT document."""

    def filter(self, record: Any) -> bool:
        return "fetching is not allowed" not in record.getMessage()


@lru_cache(maxsize=1)
def quiet_pyhanko() -> None:
    logging.getLogger("pyhanko.sign.signers.pdf_signer").addFilter(_QuietFetchingWarning())
