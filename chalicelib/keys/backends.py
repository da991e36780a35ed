"""Where the organisation's private key lives: raw signers that sign a message and know their own size.

Why this seam: pyHanko builds the CMS structure and hands the signer only the DER of the signed attributes
(about 170 bytes). Everything key-specific (KMS, a local dev key, PKCS#11) sits behind `RawSigner`, so the
PAdES code never changes when the key moves, and tests swap a KMS key for a local one without touching it.

No boto3 or pyHanko import here: the KMS client is a constructor argument. Which backend a key record names, and
the real AWS clients, are the adapters' business (`chalicelib.adapters.signing_keys.open_raw_signer`); the
protocol itself is `raw_signer.RawSigner`.
"""

from __future__ import annotations

from typing import Any

from chalicelib.core.errors import SigningUnavailable
from chalicelib.keys.raw_signer import ecdsa_der_max_size

__all__ = ["BACKENDS", "KMS_MAX_RAW_MESSAGE", "KmsRawSigner", "LocalKeySigner"]

#: KMS signing algorithm -> pyHanko/asn1crypto signature mechanism name. PSS is left out on purpose: moto and real
#: KMS disagree on the salt length (docs/traps.md#rsa-pss-salt-length), so a PSS signature made on one would not be what
#: tests checked.
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


class KmsRawSigner:
    """A KMS asymmetric key (`SIGN_VERIFY`).

    Sends the message with `MessageType='RAW'`: moto re-hashes a `DIGEST` message
    (docs/traps.md#moto-kms-sign-ignores-digest), and on real KMS RAW is just as right because pyHanko's signed
    attributes are ~170 bytes. Exactly one `kms.sign` call per signature.
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
        from cryptography.hazmat.primitives.asymmetric import ec, rsa  # lazy: cryptography ~40 ms at cold start

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
        from cryptography.hazmat.primitives import serialization  # lazy: cryptography ~40 ms at cold start

        return cls(serialization.load_pem_private_key(pem, password=password))

    def sign(self, data: bytes) -> bytes:
        """PKCS#1 v1.5 or ECDSA over SHA-256 of `data`."""
        from cryptography.hazmat.primitives import hashes  # lazy: cryptography ~40 ms at cold start
        from cryptography.hazmat.primitives.asymmetric import ec, padding  # lazy: cryptography ~40 ms at cold start

        if self.algorithm == "sha256_rsa":
            return self._key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        return self._key.sign(data, ec.ECDSA(hashes.SHA256()))

    def public_key_der(self) -> bytes:
        """SubjectPublicKeyInfo DER, the same shape `kms.get_public_key` returns (to issue a demo certificate)."""
        from cryptography.hazmat.primitives import serialization  # lazy: cryptography ~40 ms at cold start

        return self._key.public_key().public_bytes(serialization.Encoding.DER,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo)

    def __repr__(self) -> str:
        return f"LocalKeySigner(algorithm={self.algorithm!r})"


#: Key backends an agency's `signing_key.backend` may name.
BACKENDS = ("kms", "pkcs11")
