"""A demo certificate authority for the embedded stack and the tests (never production).

Why: each demo agency signs with a KMS key, and a signature is only checkable with a certificate for that key.
In production the certificate comes from the government CA (Ban Cơ yếu Chính phủ) through a CSR; here a local root
issues one straight from the public key KMS returns, so the whole signing path runs with real X.509 data.

It is also the CA behind the embedded stack's PKI services (devstack/pki_server.py): certificates it issues
can name an OCSP responder and a CRL (AIA, CRL distribution point), it answers OCSP requests and builds CRLs from
its revocation list, and it issues the local timestamp authority's certificate, so PAdES B-T and B-LT work end to
end. The revocation list is a JSON file next to the root (file-locked), so a test can revoke a certificate from
outside the stack's process and the running responder sees it on the next request.

The root key sits unencrypted next to its certificate in the directory given: it is a demo root, trusted by nobody.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from chalicelib.keys.certificates import fit_common_name

__all__ = ["DemoCA", "Revocation"]

ROOT_COMMON_NAME = "edoc-gateway Demo Root CA"
ROOT_KEY_FILE = "demo-root-ca.key.pem"
ROOT_CERT_FILE = "demo-root-ca.cert.pem"
_LOCK_FILE = ".demo-root-ca.lock"
REVOCATIONS_FILE = "revocations.json"
_REVOCATIONS_LOCK = ".revocations.lock"
_ROOT_VALIDITY_DAYS = 3650
#: RFC 9336 id-kp-documentSigning. Listed next to emailProtection, which NSS (poppler's pdfsig) looks for.
_DOCUMENT_SIGNING = ObjectIdentifier("1.3.6.1.5.5.7.3.36")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


@dataclass(frozen=True)
class Revocation:
    """One entry of the revocation list: when and why (an RFC 5280 reason name, e.g. `key_compromise`)."""

    serial: int
    revoked_at: dt.datetime
    reason: str


@dataclass
class DemoCA:
    """The demo root: its key and certificate, loaded once and reused to issue agency certificates."""

    key: rsa.RSAPrivateKey
    certificate: x509.Certificate
    #: Where the root lives; the revocation list is kept there. None for a CA that only issues (no revocation).
    directory: Path | None = None

    @classmethod
    def load_or_create(cls, directory: Path) -> DemoCA:
        """Load the root from `directory`, creating it (RSA-3072, 10 years) the first time.

        A file lock makes concurrent first runs (pytest-xdist workers, the stack and a test) agree on one root
        instead of one process's key ending up next to another's certificate.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        key_path, cert_path = directory / ROOT_KEY_FILE, directory / ROOT_CERT_FILE
        with open(directory / _LOCK_FILE, "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                if key_path.exists() and cert_path.exists():
                    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
                    if not isinstance(key, rsa.RSAPrivateKey):
                        raise ValueError(f"{key_path} does not hold an RSA key")
                    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
                    return cls(key=key, certificate=cert, directory=directory)
                ca = cls._create()
                ca.directory = directory
                _write_private(key_path, ca.key.private_bytes(serialization.Encoding.PEM,
                                                              serialization.PrivateFormat.PKCS8,
                                                              serialization.NoEncryption()))
                cert_path.write_bytes(ca.certificate.public_bytes(serialization.Encoding.PEM))
                return ca
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    @classmethod
    def _create(cls) -> DemoCA:
        key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
        name = x509.Name([
            x509.NameAttribute(NameOID.COMMON_NAME, ROOT_COMMON_NAME),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "edoc-gateway demo"),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
        ])
        now = _now()
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=_ROOT_VALIDITY_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(ski, critical=False)
            .sign(key, hashes.SHA256())
        )
        return cls(key=key, certificate=cert)

    @property
    def root_cert_pem(self) -> str:
        """The root certificate as PEM text (what an admin would upload as the chain)."""
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")

    @property
    def root_cert_der(self) -> bytes:
        """The root certificate as DER."""
        return self.certificate.public_bytes(serialization.Encoding.DER)

    def issue_org_certificate(self, public_key_der: bytes, organ_id: str, org_name: str, days: int = 730, *,
                              ocsp_url: str | None = None, crl_url: str | None = None) -> bytes:
        """Issue an organisation certificate (chứng thư số của cơ quan) for a public key; returns DER.

        `public_key_der` is a SubjectPublicKeyInfo, as `kms.get_public_key()["PublicKey"]` returns it. The subject is
        CN=O=`org_name`, C=VN, with the identifier code (mã định danh) in `serialNumber` (X.520 2.5.4.5, the
        attribute meant for an identifier of the subject), so a verifier can map a signature back to an agency.
        Validity starts a day in the past so clock skew between the stack and a validator never makes it "not yet
        valid". A CN is limited to 64 (cryptography counts UTF-8 bytes, ~40 Vietnamese letters): a longer name is
        cut at a word boundary in CN and kept whole in O. `ocsp_url`/`crl_url` add the AIA (OCSP) and CRL
        distribution point extensions a validator follows to check revocation (needed for PAdES B-LT).
        """
        public_key: Any = serialization.load_der_public_key(public_key_der)
        subject = x509.Name([
            x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org_name),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, organ_id),
            x509.NameAttribute(NameOID.COMMON_NAME, fit_common_name(org_name)),
        ])
        builder = self._leaf_builder(subject, public_key, days, ocsp_url=ocsp_url, crl_url=crl_url)
        cert = (
            builder
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION, _DOCUMENT_SIGNING]),
                           critical=False)
            .sign(self.key, hashes.SHA256())
        )
        return cert.public_bytes(serialization.Encoding.DER)

    def issue_tsa_certificate(self, public_key: Any, *, ocsp_url: str | None = None, crl_url: str | None = None,
                              days: int = 365) -> x509.Certificate:
        """The local timestamp authority's certificate: id-kp-timeStamping as its only, critical, extended key
        usage (RFC 3161 §2.3), with the same revocation pointers as agency certificates (B-LT embeds them too)."""
        subject = x509.Name([
            x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "edoc-gateway demo"),
            x509.NameAttribute(NameOID.COMMON_NAME, "edoc-gateway Demo TSA"),
        ])
        return (
            self._leaf_builder(subject, public_key, days, ocsp_url=ocsp_url, crl_url=crl_url)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
            .sign(self.key, hashes.SHA256())
        )

    def _leaf_builder(self, subject: x509.Name, public_key: Any, days: int, *, ocsp_url: str | None,
                      crl_url: str | None) -> x509.CertificateBuilder:
        issuer_ski = self.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        now = _now()
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.certificate.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer_ski), critical=False)
        )
        if ocsp_url:
            builder = builder.add_extension(x509.AuthorityInformationAccess([x509.AccessDescription(
                AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp_url))]), critical=False)
        if crl_url:
            builder = builder.add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
                full_name=[x509.UniformResourceIdentifier(crl_url)], relative_name=None, reasons=None,
                crl_issuer=None)]), critical=False)
        return builder

    # -- revocation ------------------------------------------------------------------------------------------

    def _revocations_path(self) -> Path:
        if self.directory is None:
            raise RuntimeError("this DemoCA has no directory: load it with DemoCA.load_or_create(dir)")
        return self.directory / REVOCATIONS_FILE

    def revocations(self) -> dict[int, Revocation]:
        """The current revocation list (read from disk each time: another process may have changed it)."""
        path = self._revocations_path()
        if not path.exists():
            return {}
        data = json.loads(path.read_text(encoding="utf-8") or "{}")
        return {int(serial, 16): Revocation(int(serial, 16), dt.datetime.fromisoformat(entry["revoked_at"]),
                                            entry["reason"])
                for serial, entry in data.items()}

    def revoke(self, serial: int, reason: str = "key_compromise", at: dt.datetime | None = None) -> None:
        """Put a certificate on the revocation list. `reason` is an RFC 5280 reason name (cryptography's
        `ReasonFlags`, e.g. `key_compromise`, `certificate_hold`)."""
        x509.ReasonFlags[reason]  # noqa: B018 - validate the name early
        when = (at or _now()).astimezone(dt.UTC).replace(microsecond=0)
        self._update_revocations(lambda data: data.__setitem__(f"{serial:x}", {"revoked_at": when.isoformat(),
                                                                              "reason": reason}))

    def release_hold(self, serial: int) -> None:
        """Take a certificate off hold (RFC 5280 `removeFromCRL`); a real revocation cannot be undone."""
        def release(data: dict[str, Any]) -> None:
            entry = data.get(f"{serial:x}")
            if entry is None:
                return
            if entry["reason"] != "certificate_hold":
                raise ValueError(f"certificate {serial:x} is revoked ({entry['reason']}), not on hold")
            del data[f"{serial:x}"]
        self._update_revocations(release)

    def _update_revocations(self, change: Any) -> None:
        path = self._revocations_path()
        with open(path.parent / _REVOCATIONS_LOCK, "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                data = json.loads(path.read_text(encoding="utf-8") or "{}") if path.exists() else {}
                change(data)
                tmp = path.with_suffix(".tmp")
                tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
                os.replace(tmp, path)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def build_crl(self, validity: dt.timedelta = dt.timedelta(days=1)) -> bytes:
        """A fresh CRL (DER) of everything on the revocation list, signed by the root."""
        now = _now()
        builder = (x509.CertificateRevocationListBuilder()
                   .issuer_name(self.certificate.subject)
                   .last_update(now)
                   .next_update(now + validity)
                   .add_extension(x509.CRLNumber(int(now.timestamp())), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                                  critical=False))
        for entry in self.revocations().values():
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(entry.serial).revocation_date(entry.revoked_at)
                .add_extension(x509.CRLReason(x509.ReasonFlags[entry.reason]), critical=False).build())
        return builder.sign(self.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    def ocsp_response(self, request_der: bytes, validity: dt.timedelta = dt.timedelta(hours=1)) -> bytes:
        """Answer an OCSP request (DER in, DER out), signed by the root itself (RFC 6960 §4.2.2.2).

        Any serial not on the revocation list is `good`: the demo CA keeps no register of what it issued. A request
        about another issuer gets `unauthorized`.
        """
        from cryptography.x509 import ocsp

        try:
            request = ocsp.load_der_ocsp_request(request_der)
        except ValueError:
            return ocsp.OCSPResponseBuilder.build_unsuccessful(
                ocsp.OCSPResponseStatus.MALFORMED_REQUEST).public_bytes(serialization.Encoding.DER)
        algorithm = request.hash_algorithm
        name_hash, key_hash = _issuer_hashes(self.certificate, algorithm)
        if (request.issuer_name_hash, request.issuer_key_hash) != (name_hash, key_hash):
            return ocsp.OCSPResponseBuilder.build_unsuccessful(
                ocsp.OCSPResponseStatus.UNAUTHORIZED).public_bytes(serialization.Encoding.DER)
        now = _now()
        entry = self.revocations().get(request.serial_number)
        builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
            issuer_name_hash=name_hash, issuer_key_hash=key_hash, serial_number=request.serial_number,
            algorithm=algorithm,
            cert_status=ocsp.OCSPCertStatus.REVOKED if entry else ocsp.OCSPCertStatus.GOOD,
            this_update=now, next_update=now + validity,
            revocation_time=entry.revoked_at if entry else None,
            revocation_reason=x509.ReasonFlags[entry.reason] if entry else None,
        ).responder_id(ocsp.OCSPResponderEncoding.HASH, self.certificate)
        try:
            nonce = request.extensions.get_extension_for_class(x509.OCSPNonce).value
            builder = builder.add_extension(nonce, critical=False)
        except x509.ExtensionNotFound:
            pass
        return builder.sign(self.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def _issuer_hashes(issuer: x509.Certificate, algorithm: hashes.HashAlgorithm) -> tuple[bytes, bytes]:
    """(hash of the issuer's DER name, hash of its public key bit string), as an OCSP CertID carries them."""
    from asn1crypto import keys

    name = hashes.Hash(algorithm)
    name.update(issuer.subject.public_bytes())
    spki = issuer.public_key().public_bytes(serialization.Encoding.DER,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    key = hashes.Hash(algorithm)
    key.update(keys.PublicKeyInfo.load(spki)["public_key"].contents[1:])
    return name.finalize(), key.finalize()


def _write_private(path: Path, data: bytes) -> None:
    """Write a key readable by the owner only, atomically (a half-written key must never be loaded)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)
