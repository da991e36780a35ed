"""Test certificates and keys: organisation signing identities issued by a demo CA, and the competent person's own
signature (plain pyHanko, as their signing tool makes it) that uploads usually already carry.

The CA itself is the `ca` fixture of tests/conftest.py (one per test module, so revocations never leak).
"""

from __future__ import annotations

from pathlib import Path

from asn1crypto import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from chalicelib.keys.backends import LocalKeySigner
from chalicelib.keys.raw_signer import RawSigner
from chalicelib.signing.pades import SigningIdentity
from devstack.pki import DemoCA

__all__ = ["fresh_ca", "identity", "local_identity", "person_sign", "rsa_key"]


def fresh_ca(folder: Path) -> DemoCA:
    """A demo CA of its own under `folder` (a root nobody else trusts unless told)."""
    return DemoCA.load_or_create(folder)


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def identity(ca: DemoCA, raw: RawSigner, organ_id: str, org_name: str, *, public_key_der: bytes | None = None,
             ocsp_url: str | None = None, crl_url: str | None = None) -> SigningIdentity:
    """The organisation's signing identity: `ca`'s certificate for `raw`'s key, chained to `ca`'s root."""
    der = ca.issue_org_certificate(public_key_der or raw.public_key_der(), organ_id, org_name,
                                   ocsp_url=ocsp_url, crl_url=crl_url)
    return SigningIdentity(organ_id, org_name, x509.Certificate.load(der), [x509.Certificate.load(ca.root_cert_der)],
                           raw)


def local_identity(ca: DemoCA, organ_id: str, org_name: str, *, key: object | None = None,
                   ocsp_url: str | None = None, crl_url: str | None = None) -> SigningIdentity:
    """`identity` with a local key (a fresh RSA-2048 one unless `key` is given)."""
    return identity(ca, LocalKeySigner(key or rsa_key()), organ_id, org_name, ocsp_url=ocsp_url, crl_url=crl_url)


def person_sign(src: Path, dst: Path, ca: DemoCA, *, certify_no_changes: bool = False,
                certify: str | None = None) -> None:
    """Sign like the competent person's tool would: plain pyHanko, adbe.pkcs7.detached, its own key. A
    certification when asked: `certify_no_changes` (DocMDP P=1), or `certify` naming the permission
    (`NO_CHANGES`, `FILL_FORMS`: P=2, `ANNOTATE`: P=3)."""
    from asn1crypto import keys  # lazy: pyHanko and its helpers load only for the tests that sign as a person
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko.stamp import TextStampStyle
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    der = ca.issue_org_certificate(LocalKeySigner(key).public_key_der(), "person", "Tran Thi Minh Loi")
    signer = signers.SimpleSigner(
        signing_cert=x509.Certificate.load(der),
        signing_key=keys.PrivateKeyInfo.load(key.private_bytes(serialization.Encoding.DER,
                                                               serialization.PrivateFormat.PKCS8,
                                                               serialization.NoEncryption())),
        cert_registry=SimpleCertificateStore.from_certs([x509.Certificate.load(ca.root_cert_der)]),
    )
    permission = fields.MDPPerm[certify] if certify else fields.MDPPerm.NO_CHANGES
    meta = signers.PdfSignatureMetadata(field_name="NguoiKy", certify=certify_no_changes or certify is not None,
                                        docmdp_permissions=permission)
    with open(src, "rb") as fh:
        pdf_signer = signers.PdfSigner(meta, signer, stamp_style=TextStampStyle(stamp_text="Signed %(ts)s"),
                                       new_field_spec=fields.SigFieldSpec("NguoiKy", on_page=-1,
                                                                          box=(72, 300, 272, 360)))
        dst.write_bytes(pdf_signer.sign_pdf(IncrementalPdfFileWriter(fh)).getvalue())
