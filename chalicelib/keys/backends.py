"""Where the organisation's private key lives: raw signers that sign a message and know their own size.

Why this seam: pyHanko builds the CMS structure and hands the signer only the DER of the signed attributes
(about 170 bytes). Everything key-specific (KMS, a local dev key, PKCS#11) sits behind `RawSigner`, so the
PAdES code never changes when the key moves, and tests swap a KMS key for a local one without touching it.

No boto3 or pyHanko import here: the KMS client is passed in (created lazily by `chalicelib.adapters.aws`).
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from chalicelib.core.errors import SigningUnavailable

#: KMS signing algorithm -> pyHanko/asn1crypto signature mechanism name. PSS is left out on purpose: moto and real
#: KMS disagree on the salt length (NOTES.md), so a PSS signature made on one would not be what tests checked.
_KMS_ALGORITHMS: dict[str, str] = {
    "RSASSA_PKCS1_V1_5_SHA_256": "sha256_rsa",
    "ECDSA_SHA_256": "sha256_ecdsa",
}

#: Largest signature each KMS key spec produces. ECDSA signatures are DER `SEQUENCE {r, s}` whose length varies
#: by a few bytes; the maximum is what pyHanko must reserve room for.
_KMS_KEY_SPEC_SIZES: dict[str, int] = {
    "RSA_2048": 256,
    "RSA_3072": 384,
    "RSA_4096": 512,
    "ECC_NIST_P256": 72,
    "ECC_NIST_P384": 104,
    "ECC_NIST_P521": 141,
}

#: KMS refuses RAW messages above this size; pyHanko's signed attributes are far below it.
KMS_MAX_RAW_MESSAGE = 4096

#: KMS error codes that mean "this key cannot sign now and retrying will not help until an admin acts".
_KEY_UNUSABLE_CODES = frozenset({
    "NotFoundException",
    "DisabledException",
    "KMSInvalidStateException",
    "InvalidKeyUsageException",
    "AccessDeniedException",
    "KeyUnavailableException",
    "IncorrectKeyException",
})


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
    """Largest DER `SEQUENCE {INTEGER r, INTEGER s}` for a curve: each integer may need a leading zero byte."""
    n = (curve_bits + 7) // 8
    body = 2 * (2 + n + 1)
    return body + (2 if body < 128 else 3)


class KmsRawSigner:
    """A KMS asymmetric key (`SIGN_VERIFY`).

    Sends the message with `MessageType='RAW'`: moto re-hashes a `DIGEST` message (NOTES.md), and on real KMS RAW
    is just as right because pyHanko's signed attributes are ~170 bytes. Exactly one `kms.sign` call per signature.
    """

    def __init__(self, kms_client: Any, key_id: str, signing_algorithm: str = "RSASSA_PKCS1_V1_5_SHA_256",
                 *, key_spec: str | None = None) -> None:
        """`key_spec` (e.g. `RSA_3072`) sizes the signature; when omitted, one `DescribeKey` per container finds it."""
        if signing_algorithm not in _KMS_ALGORITHMS:
            raise ValueError(f"unsupported KMS signing algorithm {signing_algorithm!r}; "
                             f"use one of {sorted(_KMS_ALGORITHMS)}")
        self._kms = kms_client
        self.key_id = key_id
        self.signing_algorithm = signing_algorithm
        self.algorithm = _KMS_ALGORITHMS[signing_algorithm]
        self._key_spec = key_spec
        self._signature_size: int | None = _KMS_KEY_SPEC_SIZES[key_spec] if key_spec else None
        if key_spec and key_spec.startswith("ECC") != signing_algorithm.startswith("ECDSA"):
            raise ValueError(f"key spec {key_spec} cannot sign with {signing_algorithm}")

    @property
    def signature_size(self) -> int:
        """Largest signature this key makes; looked up once (DescribeKey) if the key spec was not given."""
        if self._signature_size is None:
            try:
                meta = self._kms.describe_key(KeyId=self.key_id)["KeyMetadata"]
            except Exception as exc:  # botocore ClientError, without importing botocore here
                raise self._translate(exc) from exc
            spec = meta.get("KeySpec") or meta.get("CustomerMasterKeySpec")
            if spec not in _KMS_KEY_SPEC_SIZES:
                raise SigningUnavailable(details={"key_id": self.key_id, "key_spec": spec})
            self._key_spec = spec
            self._signature_size = _KMS_KEY_SPEC_SIZES[spec]
        return self._signature_size

    def sign(self, data: bytes) -> bytes:
        """One `kms.sign` call. Key-state errors become `SigningUnavailable`; throttling and network errors propagate
        unchanged so the queue retries them."""
        if len(data) > KMS_MAX_RAW_MESSAGE:
            raise ValueError(f"message of {len(data)} bytes exceeds KMS's {KMS_MAX_RAW_MESSAGE}-byte RAW limit")
        try:
            resp = self._kms.sign(KeyId=self.key_id, Message=data, MessageType="RAW",
                                  SigningAlgorithm=self.signing_algorithm)
        except Exception as exc:
            raise self._translate(exc) from exc
        return resp["Signature"]

    def public_key_der(self) -> bytes:
        """SubjectPublicKeyInfo DER from `GetPublicKey` (for a CSR, and to match an uploaded certificate)."""
        try:
            resp = self._kms.get_public_key(KeyId=self.key_id)
        except Exception as exc:
            raise self._translate(exc) from exc
        return resp["PublicKey"]

    def _translate(self, exc: Exception) -> Exception:
        code = (getattr(exc, "response", None) or {}).get("Error", {}).get("Code")
        if code in _KEY_UNUSABLE_CODES:
            return SigningUnavailable(details={"key_id": self.key_id, "kms_error": code})
        return exc

    def __repr__(self) -> str:
        return f"KmsRawSigner(key_id={self.key_id!r}, signing_algorithm={self.signing_algorithm!r})"


class LocalKeySigner:
    """A private key in process memory: development, the embedded stack and tests only.

    The key object is parsed once here; pyHanko's `SimpleSigner` re-parses its key on every signature (~45 ms).
    """

    def __init__(self, private_key: Any) -> None:
        from cryptography.hazmat.primitives.asymmetric import ec, rsa

        if isinstance(private_key, rsa.RSAPrivateKey):
            self.algorithm = "sha256_rsa"
            self.signature_size = (private_key.key_size + 7) // 8
        elif isinstance(private_key, ec.EllipticCurvePrivateKey):
            self.algorithm = "sha256_ecdsa"
            self.signature_size = ecdsa_der_max_size(private_key.curve.key_size)
        else:
            raise TypeError(f"unsupported private key type {type(private_key).__name__}")
        self._key = private_key

    @classmethod
    def from_pem(cls, pem: bytes, password: bytes | None = None) -> LocalKeySigner:
        """Load a PEM private key (PKCS#8 or traditional)."""
        from cryptography.hazmat.primitives import serialization

        return cls(serialization.load_pem_private_key(pem, password=password))

    def sign(self, data: bytes) -> bytes:
        """PKCS#1 v1.5 or ECDSA over SHA-256 of `data`."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec, padding

        if self.algorithm == "sha256_rsa":
            return self._key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        return self._key.sign(data, ec.ECDSA(hashes.SHA256()))

    def public_key_der(self) -> bytes:
        """SubjectPublicKeyInfo DER, the same shape `kms.get_public_key` returns (to issue a demo certificate)."""
        from cryptography.hazmat.primitives import serialization

        return self._key.public_key().public_bytes(serialization.Encoding.DER,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo)

    def __repr__(self) -> str:
        return f"LocalKeySigner(algorithm={self.algorithm!r})"


#: Key backends an agency's `signing_key.backend` may name.
BACKENDS = ("kms", "pkcs11")


def open_raw_signer(backend: str, key_id: str, signing_algorithm: str = "RSASSA_PKCS1_V1_5_SHA_256") -> RawSigner:
    """The raw signer for a key record: `kms` (key ARN/id) or `pkcs11` (RFC 7512 URI, see signing/pkcs11.py).

    One place maps a record to a backend, so the signing handler and the key admin API (CSR, certificate match)
    cannot disagree on where a key lives. Clients and modules are created lazily by what is returned.
    """
    if backend == "kms":
        from chalicelib.adapters import aws

        return KmsRawSigner(aws.client("kms"), key_id, signing_algorithm)
    if backend == "pkcs11":
        from chalicelib.core.settings import get_settings
        from chalicelib.keys.pkcs11 import Pkcs11RawSigner

        try:
            return Pkcs11RawSigner(key_id, modules=get_settings().pkcs11_modules)
        except ValueError as exc:
            raise SigningUnavailable("Định danh khóa PKCS#11 không hợp lệ.", code="invalid_pkcs11_key",
                                     details={"reason": str(exc)}) from exc
    raise SigningUnavailable("Loại khóa ký số chưa được hỗ trợ.", code="unsupported_key_backend",
                             details={"backend": backend})
