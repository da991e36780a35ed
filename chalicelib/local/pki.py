"""A demo certificate authority for the embedded stack and the tests (never production).

Why: each demo agency signs with a KMS key, and a signature is only checkable with a certificate for that key.
In production the certificate comes from the government CA (Ban Cơ yếu Chính phủ) through a CSR; here a local root
issues one straight from the public key KMS returns, so the whole signing path runs with real X.509 data.

The root key sits unencrypted next to its certificate in the directory given: it is a demo root, trusted by nobody.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

ROOT_COMMON_NAME = "edoc-gateway Demo Root CA"
ROOT_KEY_FILE = "demo-root-ca.key.pem"
ROOT_CERT_FILE = "demo-root-ca.cert.pem"
_LOCK_FILE = ".demo-root-ca.lock"
_ROOT_VALIDITY_DAYS = 3650
#: RFC 9336 id-kp-documentSigning. Listed next to emailProtection, which NSS (poppler's pdfsig) looks for.
_DOCUMENT_SIGNING = ObjectIdentifier("1.3.6.1.5.5.7.3.36")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


@dataclass
class DemoCA:
    """The demo root: its key and certificate, loaded once and reused to issue agency certificates."""

    key: rsa.RSAPrivateKey
    certificate: x509.Certificate

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
                    return cls(key=key, certificate=cert)
                ca = cls._create()
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

    def issue_org_certificate(self, public_key_der: bytes, organ_id: str, org_name: str, days: int = 730) -> bytes:
        """Issue an organisation certificate (chứng thư số của cơ quan) for a public key; returns DER.

        `public_key_der` is a SubjectPublicKeyInfo, as `kms.get_public_key()["PublicKey"]` returns it. The subject is
        CN=O=`org_name`, C=VN, with the identifier code (mã định danh) in `serialNumber` (X.520 2.5.4.5, the
        attribute meant for an identifier of the subject), so a verifier can map a signature back to an agency.
        Validity starts a day in the past so clock skew between the stack and a validator never makes it "not yet
        valid". A CN is limited to 64 (cryptography counts UTF-8 bytes, ~40 Vietnamese letters): a longer name is
        cut at a word boundary in CN and kept whole in O.
        """
        public_key: Any = serialization.load_der_public_key(public_key_der)
        subject = x509.Name([
            x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org_name),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, organ_id),
            x509.NameAttribute(NameOID.COMMON_NAME, _fit_common_name(org_name)),
        ])
        issuer_ski = self.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        now = _now()
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.certificate.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION, _DOCUMENT_SIGNING]),
                           critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer_ski), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        return cert.public_bytes(serialization.Encoding.DER)


def _fit_common_name(name: str, limit: int = 64) -> str:
    """`name` shortened at a word boundary to at most `limit` UTF-8 bytes (the CN upper bound as cryptography checks
    it)."""
    if len(name.encode("utf-8")) <= limit:
        return name
    out = ""
    for word in name.split():
        candidate = f"{out} {word}" if out else word
        if len(candidate.encode("utf-8")) > limit:
            break
        out = candidate
    return out or name.encode("utf-8")[:limit].decode("utf-8", "ignore")


def _write_private(path: Path, data: bytes) -> None:
    """Write a key readable by the owner only, atomically (a half-written key must never be loaded)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)
