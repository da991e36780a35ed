"""Key lifecycle rules without AWS: CSRs signed through a RawSigner, the checks on an uploaded certificate chain,
the refusal to sign with an expired certificate, and PKCS#11 key URIs (no PIN ever in them).

Certificates come from the demo CA and from a second, untrusted CA; expired and CA-only certificates are made here
with `cryptography`, the way a real CA would have issued them.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from chalicelib.core.errors import CertificateRejected, CertificateUnusable, SigningUnavailable, ValidationFailed
from chalicelib.keys import certificates
from chalicelib.keys.backends import LocalKeySigner
from chalicelib.keys.csr import build_csr, csr_pem
from chalicelib.keys.pkcs11 import Pkcs11Uri, choose_module, pin_secret_id, uri_from_request
from devstack.pki import DemoCA
from tests.support.organs import H03, NAMES
from tests.support.pki import fresh_ca

ORGAN = H03
NAME = NAMES[H03]


@pytest.fixture(scope="module")
def rogue_ca(tmp_path_factory: pytest.TempPathFactory) -> DemoCA:
    """Another root with the same name as the demo root (`ca`, tests/conftest.py): only the key decides trust."""
    return fresh_ca(tmp_path_factory.mktemp("rogue"))


@pytest.fixture(scope="module")
def signer() -> LocalKeySigner:
    return LocalKeySigner(rsa.generate_private_key(public_exponent=65537, key_size=2048))


def roots(ca: DemoCA) -> list[asn1_x509.Certificate]:
    return certificates.parse_certificates(ca.root_cert_pem)


def pem(der: bytes) -> str:
    return x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM).decode("ascii")


def issue(ca: DemoCA, spki_der: bytes, *, not_before: dt.datetime, not_after: dt.datetime,
          key_usage: x509.KeyUsage | None = None) -> str:
    """A certificate with chosen dates (and key usage) signed by `ca`'s root, as a CA would issue it."""
    now = dt.datetime.now(dt.UTC)
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, NAME)]))
               .issuer_name(ca.certificate.subject)
               .public_key(serialization.load_der_public_key(spki_der))
               .serial_number(x509.random_serial_number())
               .not_valid_before(not_before or now).not_valid_after(not_after))
    if key_usage is not None:
        builder = builder.add_extension(key_usage, critical=True)
    return builder.sign(ca.key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode("ascii")


# -- CSR -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_csr_is_signed_through_the_raw_signer_and_carries_the_agency(kind: str) -> None:
    key = rsa.generate_private_key(65537, 2048) if kind == "rsa" else ec.generate_private_key(ec.SECP256R1())
    raw = LocalKeySigner(key)
    calls: list[bytes] = []
    original = raw.sign
    raw.sign = lambda data: calls.append(data) or original(data)  # type: ignore[method-assign]

    der = build_csr(certificates.csr_subject(ORGAN, NAME, {"locality_name": "Bắc Giang"}), raw.public_key_der(), raw)

    request = x509.load_der_x509_csr(der)
    assert request.is_signature_valid
    assert request.public_key().public_bytes(serialization.Encoding.DER,
                                             serialization.PublicFormat.SubjectPublicKeyInfo) == raw.public_key_der()
    attrs = {a.oid: a.value for a in request.subject}
    assert attrs[NameOID.COMMON_NAME] == NAME and attrs[NameOID.ORGANIZATION_NAME] == NAME
    assert attrs[NameOID.SERIAL_NUMBER] == ORGAN and attrs[NameOID.COUNTRY_NAME] == "VN"
    assert attrs[NameOID.LOCALITY_NAME] == "Bắc Giang"
    usage = request.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.content_commitment
    # Exactly one backend call, over the DER CertificationRequestInfo (what KMS gets as a RAW message).
    assert len(calls) == 1 and der.find(calls[0]) > 0 and len(calls[0]) < 4096
    assert csr_pem(der).startswith("-----BEGIN CERTIFICATE REQUEST-----\n")


def test_csr_signed_by_another_key_is_never_returned() -> None:
    raw = LocalKeySigner(rsa.generate_private_key(65537, 2048))
    other = LocalKeySigner(rsa.generate_private_key(65537, 2048))
    with pytest.raises(ValueError, match="does not verify"):
        build_csr(certificates.csr_subject(ORGAN, NAME), other.public_key_der(), raw)


def test_csr_subject_overrides_are_limited() -> None:
    long_name = "Sở Tài nguyên và Môi trường tỉnh Vĩnh Phúc, cơ quan chuyên môn thuộc UBND tỉnh"
    subject = certificates.csr_subject(ORGAN, long_name)
    assert len(subject["common_name"].encode()) <= 64 and subject["organization_name"] == long_name
    with pytest.raises(ValidationFailed) as exc:
        certificates.csr_subject(ORGAN, NAME, {"title": "x"})
    assert exc.value.code == "invalid_subject"
    with pytest.raises(ValidationFailed):
        certificates.csr_subject(ORGAN, NAME, {"country_name": "Viet Nam"})


# -- the certificate chain an admin uploads -------------------------------------------------------------------


def test_a_chain_issued_for_the_key_by_a_trusted_root_is_accepted(ca: DemoCA, signer: LocalKeySigner) -> None:
    leaf = pem(ca.issue_org_certificate(signer.public_key_der(), ORGAN, NAME))
    checked = certificates.check_certificate_chain(signer.public_key_der(), leaf, ca.root_cert_pem, roots(ca))
    assert checked.leaf.dump() == certificates.parse_certificates(leaf)[0].dump()
    assert [c.dump() for c in checked.path] == [ca.root_cert_der]
    assert checked.info.subject.startswith("Country: VN") or "Common Name: " + NAME in checked.info.subject
    assert dt.datetime.fromisoformat(checked.info.not_after) > dt.datetime.now(dt.UTC) + dt.timedelta(days=700)

    # A CA's bundle in any order, leaf not separated: the leaf is the certificate carrying the key.
    bundled = certificates.check_certificate_chain(signer.public_key_der(), None, ca.root_cert_pem + leaf, roots(ca))
    assert bundled.leaf.dump() == checked.leaf.dump()
    # The root need not be uploaded when it is a configured trust root; the stored chain still ends with it.
    alone = certificates.check_certificate_chain(signer.public_key_der(), leaf, None, roots(ca))
    assert alone.chain_pem == ca.root_cert_pem


def test_a_certificate_for_another_key_is_certificate_key_mismatch(ca: DemoCA, signer: LocalKeySigner) -> None:
    other = LocalKeySigner(rsa.generate_private_key(65537, 2048))
    leaf = pem(ca.issue_org_certificate(other.public_key_der(), ORGAN, NAME))
    for cert, chain in ((leaf, ca.root_cert_pem), (None, leaf + ca.root_cert_pem)):
        with pytest.raises(CertificateRejected) as exc:
            certificates.check_certificate_chain(signer.public_key_der(), cert, chain, roots(ca))
        assert exc.value.code == "certificate_key_mismatch" and exc.value.status == 422
        assert exc.value.details["key_sha256"] == certificates.public_key_sha256(signer.public_key_der())


def test_a_chain_to_another_root_is_untrusted(ca: DemoCA, rogue_ca: DemoCA, signer: LocalKeySigner) -> None:
    leaf = pem(rogue_ca.issue_org_certificate(signer.public_key_der(), ORGAN, NAME))
    # Uploading the rogue root along with it changes nothing: trust comes from configuration, never the upload.
    for chain in (None, rogue_ca.root_cert_pem):
        with pytest.raises(CertificateRejected) as exc:
            certificates.check_certificate_chain(signer.public_key_der(), leaf, chain, roots(ca))
        assert exc.value.code == "untrusted_chain"
    with pytest.raises(CertificateRejected) as exc:
        certificates.check_certificate_chain(signer.public_key_der(),
                                     pem(ca.issue_org_certificate(signer.public_key_der(), ORGAN, NAME)), None, [])
    assert exc.value.code == "untrusted_chain" and exc.value.details["reason"] == "no_trust_roots"


def test_expired_or_non_signing_certificates_are_refused(ca: DemoCA, signer: LocalKeySigner) -> None:
    now = dt.datetime.now(dt.UTC)
    spki = signer.public_key_der()
    cases = {
        "certificate_expired": issue(ca, spki, not_before=now - dt.timedelta(days=800),
                                     not_after=now - dt.timedelta(days=1)),
        "certificate_not_yet_valid": issue(ca, spki, not_before=now + dt.timedelta(days=2),
                                           not_after=now + dt.timedelta(days=400)),
        "certificate_key_usage": issue(ca, spki, not_before=now - dt.timedelta(days=1),
                                       not_after=now + dt.timedelta(days=400),
                                       key_usage=x509.KeyUsage(False, False, True, False, False, False, False, False,
                                                               False)),
    }
    for code, leaf in cases.items():
        with pytest.raises(CertificateRejected) as exc:
            certificates.check_certificate_chain(spki, leaf, None, roots(ca))
        assert exc.value.code == code


def test_garbage_is_invalid_certificate(ca: DemoCA, signer: LocalKeySigner) -> None:
    for text in ("not a certificate", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                 certificates.spki_pem(signer.public_key_der()), ""):
        with pytest.raises(CertificateRejected) as exc:
            certificates.check_certificate_chain(signer.public_key_der(), text, None, roots(ca))
        assert exc.value.code == "invalid_certificate"


def test_signing_refuses_an_expired_certificate(ca: DemoCA, signer: LocalKeySigner) -> None:
    now = dt.datetime.now(dt.UTC)
    expired = certificates.parse_certificates(issue(ca, signer.public_key_der(), not_before=now - dt.timedelta(days=30),
                                            not_after=now - dt.timedelta(seconds=1)))[0]
    with pytest.raises(CertificateUnusable) as exc:
        certificates.ensure_certificate_usable(expired, roots(ca))
    assert exc.value.code == "certificate_expired" and isinstance(exc.value, SigningUnavailable)
    valid = certificates.parse_certificates(pem(ca.issue_org_certificate(signer.public_key_der(), ORGAN, NAME)))[0]
    certificates.ensure_certificate_usable(valid, roots(ca))
    with pytest.raises(CertificateUnusable):
        certificates.ensure_certificate_usable(valid, roots(ca), at=now + dt.timedelta(days=800))


def test_key_view_shows_expiry_without_pem_blobs(ca: DemoCA, signer: LocalKeySigner) -> None:
    cert_pem = pem(ca.issue_org_certificate(signer.public_key_der(), ORGAN, NAME, days=30))
    record = certificates.legacy_record(ORGAN, {"backend": "kms", "key_id": "arn:aws:kms:x:1:key/abc",
                                        "certificate_pem": cert_pem, "chain_pem": ca.root_cert_pem})
    view = certificates.key_view(record)
    assert view["state"] == "ACTIVE" and view["days_left"] in (29, 30)
    assert view["public_key_sha256"] == certificates.public_key_sha256(signer.public_key_der())
    assert not any(k.endswith("_pem") for k in view)
    assert certificates.valid_key_ref(certificates.new_key_ref()) and not certificates.valid_key_ref("../x")


# -- PKCS#11 key names ----------------------------------------------------------------------------------------


def test_pkcs11_uri_round_trip_and_no_pin_in_it() -> None:
    uri = Pkcs11Uri(token="edoc HSM", object="edoc-sign-000-00-00-H03", id=b"\x01\xff",
                    module_path="/opt/cloudhsm/lib/libcloudhsm_pkcs11.so",
                    pin_source="secretsmanager:edoc-gateway/local/pkcs11/000-00-00-H03")
    text = str(uri)
    assert text.startswith("pkcs11:token=edoc%20HSM;object=edoc-sign-000-00-00-H03;id=%01%ff?")
    assert Pkcs11Uri.parse(text) == uri
    with pytest.raises(ValueError, match="PIN"):
        Pkcs11Uri.parse("pkcs11:token=t;object=k?pin-value=1234")
    for bad in ("pkcs11:object=k", "pkcs11:token=t", "file:/x", "pkcs11:token=t;object=k?pin-source=file:/pin",
                "pkcs11:token=t;object=k?pin-source=secretsmanager:edoc-gateway/local/axis"):
        with pytest.raises(ValueError):
            Pkcs11Uri.parse(bad)
    assert pin_secret_id(
        "secretsmanager:arn:aws:secretsmanager:ap-southeast-1:1:secret:edoc-gateway/local/pkcs11/a-Xy12")


def test_pkcs11_module_must_be_allowed() -> None:
    uri = Pkcs11Uri(token="t", object="k", module_path="/tmp/evil.so")
    with pytest.raises(SigningUnavailable) as exc:
        choose_module(uri, ("/usr/lib/softhsm/libsofthsm2.so",))
    assert exc.value.code == "pkcs11_module_not_allowed"
    assert choose_module(Pkcs11Uri(token="t", object="k"), ("/a.so", "/b.so")) == "/a.so"
    with pytest.raises(SigningUnavailable) as exc:
        choose_module(Pkcs11Uri(token="t", object="k"), ())
    assert exc.value.code == "pkcs11_not_configured"


def test_registration_request_refuses_a_pin() -> None:
    for body in ({"pkcs11": {"token_label": "t", "key_label": "k", "pin": "1234"}},
                 {"pkcs11": {"token_label": "t", "key_label": "k", "user_pin": "1234"}},
                 {"key_uri": "pkcs11:token=t;object=k", "pin": "1234"}):
        with pytest.raises(ValidationFailed) as exc:
            uri_from_request(body)
        assert exc.value.code == "pin_not_allowed" and "1234" not in str(exc.value.to_body())
    uri = uri_from_request({"pkcs11": {"token_label": "t", "key_label": "k", "key_id_hex": "0a0b",
                                       "pin_secret": "edoc-gateway/local/pkcs11/t"}})
    assert uri.id == b"\x0a\x0b" and uri.pin_source == "secretsmanager:edoc-gateway/local/pkcs11/t"


def test_modules_stay_light_to_import() -> None:
    """keys, csr and the PKCS#11 backend import no boto3, pyHanko or python-pkcs11 at module level."""
    import subprocess
    import sys

    code = ("import sys; import chalicelib.keys.certificates, chalicelib.keys.csr, chalicelib.admin.keys, "
            "chalicelib.keys.pkcs11; "
            "print(sorted(m for m in ('boto3', 'pyhanko', 'pkcs11', 'pyhanko_certvalidator') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[3]).stdout.strip()
    assert out == "[]"


def test_signing_surface_and_key_factory_stay_light_to_import() -> None:
    """The PAdES façade, its parts, revocation and the key factory import no boto3, pyHanko, cryptography or
    python-pkcs11 at module level: the signing handler pays for them on its first document, nobody else ever."""
    import subprocess
    import sys

    code = ("import sys; import chalicelib.signing.pades, chalicelib.signing.ltv, chalicelib.keys.revocation, "
            "chalicelib.standards.appearance, chalicelib.adapters.signing_keys; "
            "print(sorted(m for m in ('boto3', 'botocore', 'pyhanko', 'pkcs11', 'pyhanko_certvalidator', "
            "'cryptography', 'fontTools') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[3]).stdout.strip()
    assert out == "[]"


class _FakeSecrets:
    def __init__(self, value: str) -> None:
        self.value = value
        self.asked: list[str] = []

    def get_secret_value(self, SecretId: str) -> dict[str, str]:  # noqa: N803 (boto3's argument name)
        self.asked.append(SecretId)
        return {"SecretString": self.value, "VersionId": "v1"}


def test_key_factory_maps_records_to_backends_with_the_containers_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    """adapters.signing_keys: `kms` gets the cached KMS client, `pkcs11` a PIN fetcher reading Secrets Manager
    (plain or JSON `pin`), anything else is SigningUnavailable with its code."""
    from chalicelib.adapters import aws, signing_keys
    from chalicelib.keys.backends import KmsRawSigner
    from chalicelib.keys.pkcs11 import Pkcs11RawSigner

    kms, secrets = object(), _FakeSecrets('{"pin": "1234"}')
    monkeypatch.setattr(aws, "client", lambda service: {"kms": kms, "secretsmanager": secrets}[service])
    signer = signing_keys.open_raw_signer("kms", "arn:aws:kms:ap-southeast-1:1:key/k", "ECDSA_SHA_256")
    assert isinstance(signer, KmsRawSigner) and signer._kms is kms and signer.algorithm == "sha256_ecdsa"

    uri = "pkcs11:token=t;object=k?module-path=/lib/m.so&pin-source=secretsmanager:edoc-gateway/local/pkcs11/t"
    token_signer = signing_keys.open_pkcs11_signer(uri, modules=("/lib/m.so",))
    assert isinstance(token_signer, Pkcs11RawSigner) and token_signer.module == "/lib/m.so"
    assert signing_keys.secrets_manager_pin("secretsmanager:edoc-gateway/local/pkcs11/t") == ("1234", "v1")
    secrets.value = "5678"
    assert signing_keys.secrets_manager_pin("secretsmanager:edoc-gateway/local/pkcs11/t") == ("5678", "v1")
    assert secrets.asked == ["edoc-gateway/local/pkcs11/t"] * 2
    secrets.value = '{"other": 1}'
    with pytest.raises(SigningUnavailable) as empty:
        signing_keys.secrets_manager_pin("secretsmanager:edoc-gateway/local/pkcs11/t")
    assert empty.value.code == "pkcs11_pin_missing"

    with pytest.raises(SigningUnavailable) as bad_uri:
        signing_keys.open_raw_signer("pkcs11", "not-a-uri")
    assert bad_uri.value.code == "invalid_pkcs11_key"
    with pytest.raises(SigningUnavailable) as unknown:
        signing_keys.open_raw_signer("gpg", "k")
    assert unknown.value.code == "unsupported_key_backend" and unknown.value.details == {"backend": "gpg"}
