"""Is a certificate revoked? OCSP (RFC 6960) first, else the CRL (RFC 5280 §5), cached briefly per container.

Why here, in `keys/`, and not in `signing/`: the certificate gate (`certificates.ensure_certificate_usable`, run for
every document and on every activation) must refuse a revoked organisation certificate, and keys sit below signing.
PAdES B-LT (ETSI EN 319 142-1 §6.3, `signing.ltv`) uses the very same checker and cache, so the answer checked
before signing and the evidence embedded in the document's DSS are the same bytes.

Why not pyHanko's fetchers: they need `requests` (not in the Lambda package) or an aiohttp session bound to one
event loop, and they cache inside one `ValidationContext`, forever. `RevocationChecker` asks the certificate's OCSP
responder (Authority Information Access), falls back to its CRL (CRL distribution point), verifies the answer's
signature against the issuer (or a responder the issuer delegated, id-kp-OCSPSigning), and caches the answer per
certificate for a short time, never past the answer's own nextUpdate.

Pure logic plus stdlib HTTP: no boto3; cryptography and asn1crypto are imported where used (they cost ~40 ms of
cold start that only signing and key activation need).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["GOOD", "HTTP_TIMEOUT", "MAX_RESPONSE_BYTES", "REVOKED", "NoRevocationPointers", "RevocationAnswer",
           "RevocationChecker", "RevocationUnavailable", "default_checker", "http_request", "revocation_pointers"]

#: Seconds to wait for a TSA, OCSP responder or CRL server. The signing Lambda has 60 s; SQS retries the rest.
HTTP_TIMEOUT = 10
#: Largest answer read from any of them (a CRL of a big CA can be a few MB; anything above is not one).
MAX_RESPONSE_BYTES = 16 * 1024 * 1024
#: Clock skew tolerated on thisUpdate/nextUpdate.
_SKEW = dt.timedelta(minutes=5)
_CACHE_SIZE = 1024

GOOD, REVOKED = "good", "revoked"


class RevocationUnavailable(Exception):
    """No usable revocation answer right now (responder down, bad answer): transient, the queue retries."""


class NoRevocationPointers(Exception):
    """The certificate names neither an OCSP responder nor a CRL: B-LT cannot be built for it."""


def http_request(url: str, body: bytes | None = None, content_type: str | None = None,
                 timeout: float = HTTP_TIMEOUT) -> bytes:
    """GET (or POST `body`) `url` and return the answer's bytes; only http and https URLs."""
    import urllib.request  # lazy: ~25 ms of import that only B-T/B-LT signing and revocation checks need

    if not url.startswith(("http://", "https://")):
        raise ValueError(f"unsupported URL scheme: {url[:40]!r}")
    headers = {"Content-Type": content_type} if content_type else {}
    req = urllib.request.Request(url, data=body, headers=headers,  # noqa: S310 (scheme checked above)
                                 method="POST" if body is not None else "GET")
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 (scheme checked above)
        data = resp.read(MAX_RESPONSE_BYTES + 1)
    if len(data) > MAX_RESPONSE_BYTES:
        raise OSError(f"answer from {url} larger than {MAX_RESPONSE_BYTES} bytes")
    return data


@dataclass(frozen=True)
class RevocationAnswer:
    """What the CA says about one certificate, and the signed evidence (OCSP response or CRL, DER)."""

    status: str  # GOOD | REVOKED
    source: str  # "ocsp" | "crl"
    der: bytes
    serial: int
    checked_at: dt.datetime
    revoked_at: dt.datetime | None = None
    reason: str | None = None

    @property
    def revoked(self) -> bool:
        return self.status == REVOKED


def _crypto_cert(cert: Any) -> Any:
    """A `cryptography` certificate from an asn1crypto one (or pass a cryptography one through)."""
    from cryptography import x509  # lazy: cryptography ~40 ms at cold start

    if isinstance(cert, x509.Certificate):
        return cert
    return x509.load_der_x509_certificate(cert.dump())


def _verify(issuer_key: Any, signature: bytes, data: bytes, hash_algorithm: Any) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa  # lazy: cryptography ~40 ms at cold start

    if isinstance(issuer_key, rsa.RSAPublicKey):
        issuer_key.verify(signature, data, padding.PKCS1v15(), hash_algorithm)
    elif isinstance(issuer_key, ec.EllipticCurvePublicKey):
        issuer_key.verify(signature, data, ec.ECDSA(hash_algorithm))
    else:
        raise ValueError(f"unsupported responder key {type(issuer_key).__name__}")


def revocation_pointers(cert: Any) -> tuple[list[str], list[str]]:
    """(OCSP URLs, CRL URLs) named by the certificate (AIA and CRL distribution points), http(s) only."""
    from cryptography import x509  # lazy: cryptography ~40 ms at cold start
    from cryptography.x509.oid import AuthorityInformationAccessOID, ExtensionOID  # lazy: cryptography ~40 ms

    c = _crypto_cert(cert)
    ocsp: list[str] = []
    crls: list[str] = []
    try:
        aia = c.extensions.get_extension_for_oid(ExtensionOID.AUTHORITY_INFORMATION_ACCESS).value
        ocsp = [d.access_location.value for d in aia
                if d.access_method == AuthorityInformationAccessOID.OCSP
                and isinstance(d.access_location, x509.UniformResourceIdentifier)]
    except x509.ExtensionNotFound:
        pass
    try:
        cdp = c.extensions.get_extension_for_oid(ExtensionOID.CRL_DISTRIBUTION_POINTS).value
        for point in cdp:
            crls += [n.value for n in point.full_name or [] if isinstance(n, x509.UniformResourceIdentifier)]
    except x509.ExtensionNotFound:
        pass
    web = ("http://", "https://")
    return [u for u in ocsp if u.startswith(web)], [u for u in crls if u.startswith(web)]


class RevocationChecker:
    """Revocation status of certificates, cached per certificate for `ttl_seconds` (bounded by nextUpdate).

    Thread-safe. `fetch(url, body, content_type)` is injectable for tests; by default plain HTTP.
    """

    def __init__(self, ttl_seconds: float = 300.0, *,
                 fetch: Callable[..., bytes] = http_request,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_seconds = ttl_seconds
        self._fetch = fetch
        self._clock = clock
        self._cache: OrderedDict[tuple[bytes, int], tuple[float, RevocationAnswer]] = OrderedDict()
        self._lock = threading.Lock()
        #: Network round trips made (OCSP requests and CRL downloads), for tests and the benchmark.
        self.fetches = 0

    def check(self, cert: Any, issuer: Any) -> RevocationAnswer:
        """Status of `cert` (issued by `issuer`): OCSP first, then CRL.

        Raises `NoRevocationPointers` when the certificate names no source, `RevocationUnavailable` when every
        source failed (unreachable, unsigned or stale answer).
        """
        c, i = _crypto_cert(cert), _crypto_cert(issuer)
        key = (i.fingerprint(_sha256()), c.serial_number)
        now = self._clock()
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and hit[0] > now:
                self._cache.move_to_end(key)
                return hit[1]
        ocsp_urls, crl_urls = revocation_pointers(c)
        if not ocsp_urls and not crl_urls:
            raise NoRevocationPointers(f"certificate {c.serial_number:x} names no OCSP responder or CRL")
        errors: list[str] = []
        answer: RevocationAnswer | None = None
        next_update: dt.datetime | None = None
        for url in ocsp_urls:
            try:
                answer, next_update = self._ocsp(url, c, i)
                break
            except Exception as exc:  # try the next source; all failures are reported together
                errors.append(f"OCSP {url}: {exc}")
        if answer is None:
            for url in crl_urls:
                try:
                    answer, next_update = self._crl(url, c, i)
                    break
                except Exception as exc:
                    errors.append(f"CRL {url}: {exc}")
        if answer is None:
            raise RevocationUnavailable("; ".join(errors))
        ttl = self.ttl_seconds
        if next_update is not None:
            ttl = min(ttl, (next_update - _utcnow()).total_seconds())
        if ttl > 0:
            with self._lock:
                self._cache[key] = (now + ttl, answer)
                while len(self._cache) > _CACHE_SIZE:
                    self._cache.popitem(last=False)
        return answer

    def forget(self) -> None:
        """Drop every cached answer."""
        with self._lock:
            self._cache.clear()

    # -- sources ---------------------------------------------------------------------------------------------
    def _ocsp(self, url: str, cert: Any, issuer: Any) -> tuple[RevocationAnswer, dt.datetime | None]:
        from cryptography import x509  # lazy: cryptography ~40 ms at cold start
        from cryptography.hazmat.primitives import hashes, serialization  # lazy: cryptography ~40 ms at cold start
        from cryptography.x509 import ocsp  # lazy: cryptography ~40 ms at cold start
        from cryptography.x509.oid import ExtendedKeyUsageOID  # lazy: cryptography ~40 ms at cold start

        # CertID with SHA-1: what RFC 5019 responders (and most CAs) expect; it identifies, it does not protect.
        request = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1()).build()  # noqa: S303
        self.fetches += 1
        der = self._fetch(url, request.public_bytes(serialization.Encoding.DER), "application/ocsp-request")
        resp = ocsp.load_der_ocsp_response(der)
        if resp.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
            raise ValueError(f"responder answered {resp.response_status.name}")
        single = next((r for r in resp.responses if r.serial_number == cert.serial_number), None)
        if single is None:
            raise ValueError("answer does not cover the certificate")
        # Who signed: the issuer itself, or a responder certificate the issuer delegated (id-kp-OCSPSigning).
        signer_key = issuer.public_key()
        if not _responder_is(resp, issuer):
            delegate = next((d for d in resp.certificates if _responder_is(resp, d)), None)
            if delegate is None or delegate.issuer != issuer.subject:
                raise ValueError("answer not signed by the issuer or a responder it delegated")
            eku = delegate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
            if ExtendedKeyUsageOID.OCSP_SIGNING not in eku:
                raise ValueError("responder certificate lacks id-kp-OCSPSigning")
            _verify(signer_key, delegate.signature, delegate.tbs_certificate_bytes,
                    delegate.signature_hash_algorithm)
            signer_key = delegate.public_key()
        _verify(signer_key, resp.signature, resp.tbs_response_bytes, resp.signature_hash_algorithm)
        now = _utcnow()
        if single.this_update_utc > now + _SKEW:
            raise ValueError("answer from the future")
        if single.next_update_utc is not None and single.next_update_utc < now - _SKEW:
            raise ValueError("stale answer")
        status = single.certificate_status
        if status == ocsp.OCSPCertStatus.UNKNOWN:
            raise ValueError("responder does not know the certificate")
        revoked = status == ocsp.OCSPCertStatus.REVOKED
        answer = RevocationAnswer(
            status=REVOKED if revoked else GOOD, source="ocsp", der=der, serial=cert.serial_number, checked_at=now,
            revoked_at=single.revocation_time_utc if revoked else None,
            reason=(single.revocation_reason.name if revoked and single.revocation_reason else None))
        return answer, single.next_update_utc

    def _crl(self, url: str, cert: Any, issuer: Any) -> tuple[RevocationAnswer, dt.datetime | None]:
        from cryptography import x509  # lazy: cryptography ~40 ms at cold start

        self.fetches += 1
        der = self._fetch(url)
        crl = x509.load_der_x509_crl(der)
        if crl.issuer != issuer.subject or not crl.is_signature_valid(issuer.public_key()):
            raise ValueError("CRL not signed by the issuer")
        now = _utcnow()
        if crl.next_update_utc is not None and crl.next_update_utc < now - _SKEW:
            raise ValueError("stale CRL")
        entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
        reason = None
        if entry is not None:
            try:
                reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason.name
            except x509.ExtensionNotFound:
                reason = None
        answer = RevocationAnswer(
            status=REVOKED if entry is not None else GOOD, source="crl", der=der, serial=cert.serial_number,
            checked_at=now, revoked_at=entry.revocation_date_utc if entry is not None else None, reason=reason)
        return answer, crl.next_update_utc


def _responder_is(resp: Any, cert: Any) -> bool:
    """Whether the OCSP response's responder id names `cert` (by key hash or by name)."""
    from asn1crypto import keys  # lazy: asn1crypto, cold start
    from cryptography.hazmat.primitives import hashes, serialization  # lazy: cryptography ~40 ms at cold start

    if resp.responder_key_hash is not None:
        spki = cert.public_key().public_bytes(serialization.Encoding.DER,
                                              serialization.PublicFormat.SubjectPublicKeyInfo)
        digest = hashes.Hash(hashes.SHA1())  # noqa: S303 (RFC 6960 defines ResponderID byKey as SHA-1)
        digest.update(keys.PublicKeyInfo.load(spki)["public_key"].contents[1:])
        return digest.finalize() == resp.responder_key_hash
    return resp.responder_name == cert.subject


def _sha256() -> Any:
    from cryptography.hazmat.primitives import hashes  # lazy: cryptography ~40 ms at cold start

    return hashes.SHA256()


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


_checker: RevocationChecker | None = None
_checker_lock = threading.Lock()


def default_checker(ttl_seconds: float = 300.0) -> RevocationChecker:
    """The container's revocation checker (one cache for every agency and document)."""
    global _checker
    with _checker_lock:
        if _checker is None or _checker.ttl_seconds != ttl_seconds:
            _checker = RevocationChecker(ttl_seconds)
        return _checker
