"""PKCS#10 certificate signing requests (RFC 2986) signed through the key itself (KMS, PKCS#11 or a local key).

Why not `cryptography`'s CSR builder: it signs only with a private key object in process memory. An organisation
key in KMS or an HSM never leaves it, so the CertificationRequestInfo is assembled here with asn1crypto, its DER
is handed to the key's `RawSigner` (one KMS `Sign` with `MessageType=RAW`, or one PKCS#11 `C_Sign`; the backend
hashes), and the signature is put into the CertificationRequest. The result is checked with `cryptography` before
it is returned: a CSR whose signature does not verify (wrong key, a backend quirk) is never handed to a CA.

The request carries an extensionRequest for keyUsage digitalSignature + nonRepudiation (content commitment), what
an organisation certificate for signing documents carries (RFC 5280 §4.2.1.3); the CA decides the rest.
"""

from __future__ import annotations

from typing import Any

from chalicelib.keys.raw_signer import RawSigner

__all__ = ["build_csr", "build_subject", "csr_pem"]

#: RawSigner.algorithm → the CSR's signatureAlgorithm (asn1crypto names).
_SIGNATURE_ALGORITHMS = {"sha256_rsa": "sha256_rsa", "sha256_ecdsa": "sha256_ecdsa"}


def build_subject(subject: dict[str, str]) -> Any:
    """An X.501 Name from asn1crypto attribute names, in the conventional order (C, ST, L, O, OU, serial, CN).

    Each attribute gets the string type X.520 wants (asn1crypto's `Name.build`: PrintableString for country and
    serial number, UTF8String for names, so Vietnamese names survive); `Name.build` alone would reorder them.
    """
    from asn1crypto import x509  # lazy: asn1crypto, cold start

    order = ("country_name", "state_or_province_name", "locality_name", "organization_name",
             "organizational_unit_name", "serial_number", "common_name", "email_address")
    rdns = [x509.Name.build({name: subject[name]}).chosen[0] for name in order if subject.get(name)]
    return x509.Name(name="", value=x509.RDNSequence(rdns))


def build_csr(subject: dict[str, str], public_key_der: bytes, signer: RawSigner) -> bytes:
    """A DER CertificationRequest for `public_key_der` (SubjectPublicKeyInfo), signed by `signer`.

    `signer` must hold the private key of `public_key_der`; the signature is verified before returning, and a
    mismatch raises ValueError.
    """
    from asn1crypto import csr, keys, x509  # lazy: asn1crypto, cold start

    algorithm = _SIGNATURE_ALGORITHMS.get(signer.algorithm)
    if algorithm is None:
        raise ValueError(f"no CSR signature algorithm for {signer.algorithm!r}")
    extensions = x509.Extensions([
        x509.Extension({"extn_id": "key_usage", "critical": True,
                        "extn_value": x509.KeyUsage({"digital_signature", "non_repudiation"})}),
    ])
    info = csr.CertificationRequestInfo({
        "version": "v1",
        "subject": build_subject(subject),
        "subject_pk_info": keys.PublicKeyInfo.load(public_key_der),
        "attributes": csr.CRIAttributes([
            csr.CRIAttribute({"type": "extension_request", "values": [extensions]}),
        ]),
    })
    tbs = info.dump()
    signature = signer.sign(tbs)  # one backend call; the backend hashes (KMS RAW, PKCS#11 raw mechanism + digest)
    request = csr.CertificationRequest({
        "certification_request_info": info,
        "signature_algorithm": {"algorithm": algorithm},
        "signature": signature,
    })
    der = request.dump()
    _verify(der, public_key_der)
    return der


def _verify(der: bytes, public_key_der: bytes) -> None:
    from cryptography import x509  # lazy: cryptography ~40 ms at cold start
    from cryptography.hazmat.primitives import serialization  # lazy: cryptography ~40 ms at cold start

    request = x509.load_der_x509_csr(der)
    expected = serialization.load_der_public_key(public_key_der).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    actual = request.public_key().public_bytes(serialization.Encoding.DER,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    if actual != expected or not request.is_signature_valid:
        raise ValueError("the CSR signature does not verify with the key's public key")


def csr_pem(der: bytes) -> str:
    from asn1crypto import pem  # lazy: asn1crypto, cold start

    return pem.armor("CERTIFICATE REQUEST", der).decode("ascii")
