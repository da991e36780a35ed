"""Organisation signing keys and their certificates: the rules, without AWS (the API side is `key_admin.py`).

A key goes through these states (one record per key, see `key_admin.py` for where records live):

    CREATED ──CSR, certificate chain uploaded and checked──▶ CERTIFIED ──activate──▶ ACTIVE ──next activation──▶ RETIRED

- CREATED: the key exists (a new KMS key, or a registered key on a PKCS#11 token); a CSR can be made through it.
- CERTIFIED: a certificate chain was uploaded whose leaf carries exactly this key's public key and which leads to
  a configured trust root; nothing signs with it yet.
- ACTIVE: the agency's `signing_key` in the registry points at it; the signing handler uses it. One per agency.
- RETIRED: was active; kept (the key is never deleted or disabled by the gateway) and listed in the agency's
  `previous_keys`. Documents signed with it are finished PDFs that carry their own certificate: they stay valid.
  A RETIRED key whose certificate is still valid may be activated again (rolling back a rotation).

Rotation is that sequence for a new key: create (or `rotate`, which creates a key like the active one and returns
its CSR in one call) → the CA issues a certificate for the CSR → upload the chain → activate. Until the last step
the old key signs; the switch is one DynamoDB transaction, so a document is signed with the old key or the new one,
never with a mix.

The certificate checks here are the gateway's own gate, before any document is signed with a key: the leaf's
public key must be the key's (`certificate_key_mismatch`), the chain must lead to a trust root
(`untrusted_chain`, pyhanko-certvalidator's path building and signature checks, no network), the leaf must be
valid now and be meant for signing (RFC 5280 §4.2.1.3 key usage, §6 path validation). Revocation (OCSP RFC 6960,
CRL RFC 5280 §5) is checked by `check_revocation`, the single hook the signing handler and activation call, with the
container's `revocation.RevocationChecker` (the same cache PAdES B-LT embeds from).

Heavy imports (asn1crypto, cryptography, pyhanko-certvalidator) happen inside functions.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chalicelib.core.errors import CertificateRejected, CertificateUnusable, ValidationFailed
from chalicelib.core.settings import get_settings
from chalicelib.keys import revocation

if TYPE_CHECKING:  # pragma: no cover
    from asn1crypto import x509

__all__ = [
    "ACTIVATABLE", "ACTIVE", "CERTIFIED", "CREATED", "CSR_SUBJECT_FIELDS", "KEY_PK_PREFIX", "KEY_STATES", "RETIRED",
    "CertificateInfo", "CheckedChain", "canonical_spki", "certificate_spki", "certificates_pem",
    "check_certificate_chain", "check_revocation", "csr_subject", "days_left", "ensure_certificate_usable",
    "fit_common_name", "key_view", "legacy_record", "matches_key", "new_key_ref", "parse_certificates",
    "public_key_sha256", "spki_from_pem", "spki_pem", "valid_key_ref",
]

CREATED = "CREATED"
CERTIFIED = "CERTIFIED"
ACTIVE = "ACTIVE"
RETIRED = "RETIRED"
KEY_STATES = (CREATED, CERTIFIED, ACTIVE, RETIRED)
#: States from which a key may become ACTIVE.
ACTIVATABLE = frozenset({CERTIFIED, RETIRED})

#: Key records in the documents table: `pk = KEY#<organ_id>`, `sk = <key_ref>` (see key_admin.py).
KEY_PK_PREFIX = "KEY#"

#: Key usages that make a certificate fit to sign documents (either is enough; org certificates carry both).
_SIGNING_KEY_USAGES = frozenset({"digital_signature", "non_repudiation"})


def new_key_ref(now: dt.datetime | None = None) -> str:
    """`k20250301T101502-9f2c1a`: sortable by creation time, unique, safe in URLs, KMS aliases and DynamoDB."""
    now = now or dt.datetime.now(dt.UTC)
    return f"k{now:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"


def valid_key_ref(value: str) -> bool:
    """Key refs come back in URLs: accept only what `new_key_ref` (or the legacy fallback) makes."""
    return 1 <= len(value) <= 64 and all(c.isascii() and (c.isalnum() or c in "-_") for c in value)


def public_key_sha256(spki_der: bytes) -> str:
    """SHA-256 (hex) of a key's canonical SubjectPublicKeyInfo: how records, responses and logs name a key."""
    return hashlib.sha256(canonical_spki(spki_der)).hexdigest()


def canonical_spki(spki_der: bytes) -> bytes:
    """The SubjectPublicKeyInfo re-encoded by cryptography, so two encodings of one key compare equal."""
    from cryptography.hazmat.primitives import serialization  # lazy: cryptography ~40 ms at cold start

    key = serialization.load_der_public_key(spki_der)
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def spki_pem(spki_der: bytes) -> str:
    from asn1crypto import pem  # lazy: asn1crypto, cold start

    return pem.armor("PUBLIC KEY", spki_der).decode("ascii")


def spki_from_pem(text: str) -> bytes:
    from asn1crypto import pem  # lazy: asn1crypto, cold start

    _, _, der = pem.unarmor(text.encode("ascii"))
    return der


# -- certificates ---------------------------------------------------------------------------------------------


def parse_certificates(text: str | None) -> list[x509.Certificate]:
    """Every certificate in a PEM bundle, in order; `invalid_certificate` for anything that is not PEM X.509."""
    from asn1crypto import pem  # lazy: asn1crypto, cold start
    from asn1crypto import x509 as asn1_x509  # lazy: asn1crypto, cold start

    if not text or not str(text).strip():
        return []
    data = str(text).encode("ascii", "strict") if str(text).isascii() else None
    if data is None or not pem.detect(data):
        raise CertificateRejected("Chứng thư số phải ở định dạng PEM.", code="invalid_certificate")
    certs = []
    try:
        for kind, _, der in pem.unarmor(data, multiple=True):
            if kind != "CERTIFICATE":
                raise ValueError(f"unexpected PEM block {kind}")
            cert = asn1_x509.Certificate.load(der)
            cert.native  # noqa: B018 (parse the whole structure now, not at first use)
            certs.append(cert)
    except (ValueError, TypeError) as exc:
        raise CertificateRejected("Không đọc được chứng thư số.", code="invalid_certificate",
                                  details={"reason": str(exc)[:200]}) from exc
    return certs


def certificates_pem(certs: list[x509.Certificate]) -> str:
    from asn1crypto import pem  # lazy: asn1crypto, cold start

    return "".join(pem.armor("CERTIFICATE", c.dump()).decode("ascii") for c in certs)


def certificate_spki(cert: x509.Certificate) -> bytes:
    return cert["tbs_certificate"]["subject_public_key_info"].dump()


def matches_key(cert: x509.Certificate, spki_der: bytes) -> bool:
    """Whether the certificate certifies exactly this public key (compared in canonical form)."""
    try:
        return canonical_spki(certificate_spki(cert)) == canonical_spki(spki_der)
    except ValueError:
        return False


def _utc(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class CertificateInfo:
    """What an admin needs to see about a certificate, JSON-ready."""

    subject: str
    issuer: str
    serial: str
    not_before: str
    not_after: str
    sha256: str

    @classmethod
    def of(cls, cert: x509.Certificate) -> CertificateInfo:
        return cls(subject=cert.subject.human_friendly, issuer=cert.issuer.human_friendly,
                   serial=format(cert.serial_number, "x"),
                   not_before=_utc(cert.not_valid_before).isoformat(), not_after=_utc(cert.not_valid_after).isoformat(),
                   sha256=hashlib.sha256(cert.dump()).hexdigest())

    def as_dict(self) -> dict[str, str]:
        return dict(self.__dict__)


def _validity_problem(cert: x509.Certificate, at: dt.datetime) -> str | None:
    if at < _utc(cert.not_valid_before):
        return "certificate_not_yet_valid"
    if at > _utc(cert.not_valid_after):
        return "certificate_expired"
    return None


@dataclass(frozen=True)
class CheckedChain:
    """An uploaded chain that passed every check: the leaf, and the path above it up to the trust root."""

    leaf: x509.Certificate
    path: list[x509.Certificate]
    info: CertificateInfo

    @property
    def certificate_pem(self) -> str:
        return certificates_pem([self.leaf])

    @property
    def chain_pem(self) -> str:
        return certificates_pem(self.path)


def check_certificate_chain(spki_der: bytes, certificate_pem: str | None, chain_pem: str | None,
                            trust_roots: list[x509.Certificate], *, at: dt.datetime | None = None) -> CheckedChain:
    """Check an uploaded certificate chain for a key; returns the leaf and its path to a trust root.

    `certificate_pem` is the leaf; when it is left out, the leaf is the certificate in `chain_pem` that carries the
    key (a CA's bundle comes in any order). Refusals, each a `CertificateRejected` (HTTP 422) with its code:
    `invalid_certificate`, `certificate_key_mismatch`, `certificate_expired` / `certificate_not_yet_valid`,
    `certificate_key_usage`, `untrusted_chain` (no path to a trust root: unknown issuer, bad signature, a CA
    certificate that is not a CA, or no trust roots configured).
    """
    at = _utc(at or dt.datetime.now(dt.UTC))
    given_leaf = parse_certificates(certificate_pem)
    others = parse_certificates(chain_pem)
    if len(given_leaf) > 1:
        raise CertificateRejected("Trường certificate_pem chỉ chứa chứng thư số của cơ quan; chuỗi chứng thư đặt "
                                  "trong chain_pem.", code="invalid_certificate")
    if not given_leaf and not others:
        raise CertificateRejected("Chưa gửi chứng thư số.", code="invalid_certificate")
    if given_leaf:
        leaf = given_leaf[0]
    else:
        matching = [c for c in others if matches_key(c, spki_der)]
        leaf = matching[0] if matching else others[0]
        others = [c for c in others if c is not leaf]
    if not matches_key(leaf, spki_der):
        raise CertificateRejected("Chứng thư số không được cấp cho khóa này (khóa công khai không khớp).",
                                  code="certificate_key_mismatch",
                                  details={"key_sha256": public_key_sha256(spki_der),
                                           "certificate_key_sha256": public_key_sha256(certificate_spki(leaf))})
    info = CertificateInfo.of(leaf)
    problem = _validity_problem(leaf, at)
    if problem:
        raise CertificateRejected("Chứng thư số đã hết hạn hoặc chưa đến thời hạn hiệu lực.", code=problem,
                                  details={"not_before": info.not_before, "not_after": info.not_after})
    usage = leaf.key_usage_value.native if leaf.key_usage_value is not None else None
    if usage is not None and not (set(usage) & _SIGNING_KEY_USAGES):
        raise CertificateRejected("Chứng thư số không dùng để ký số.", code="certificate_key_usage",
                                  details={"key_usage": sorted(usage)})
    path = _validated_path(leaf, others, trust_roots, at)
    return CheckedChain(leaf=leaf, path=path, info=info)


def _validated_path(leaf: x509.Certificate, intermediates: list[x509.Certificate],
                    trust_roots: list[x509.Certificate], at: dt.datetime) -> list[x509.Certificate]:
    """Path from the leaf's issuer up to a trust root, built and checked by pyhanko-certvalidator (offline)."""
    import asyncio  # lazy: asyncio ~30 ms, signing only

    from pyhanko_certvalidator import CertificateValidator, ValidationContext  # lazy: pyHanko ~150 ms at cold start
    from pyhanko_certvalidator.errors import PathError, ValidationError  # lazy: pyHanko ~150 ms at cold start

    if not trust_roots:
        raise CertificateRejected("Chưa cấu hình chứng thư gốc tin cậy.", code="untrusted_chain",
                                  details={"reason": "no_trust_roots"})
    context = ValidationContext(trust_roots=trust_roots, other_certs=intermediates, moment=at,
                                allow_fetching=False, revocation_mode="soft-fail")
    validator = CertificateValidator(leaf, intermediate_certs=intermediates, validation_context=context)
    try:
        path = asyncio.run(validator.async_validate_path())
    except (PathError, ValidationError) as exc:
        raise CertificateRejected("Chuỗi chứng thư số không dẫn tới chứng thư gốc tin cậy.", code="untrusted_chain",
                                  details={"reason": type(exc).__name__, "issuer": leaf.issuer.human_friendly}) \
            from exc
    above = [c for c in path.iter_certs(include_root=True) if c.dump() != leaf.dump()]
    above.reverse()  # issuer first, root last: the order a CMS certificate set and a PEM chain usually take
    return above


def ensure_certificate_usable(certificate: x509.Certificate, chain: list[x509.Certificate] | None = None, *,
                              at: dt.datetime | None = None) -> None:
    """Refuse to sign with a certificate that is not valid at `at` (default now): `CertificateUnusable`.

    Called by the signing handler for every document (the record goes `FAILED` with the code as its reason, the
    original stays in S3, an admin activates a valid certificate and retries) and by activation.
    """
    at = _utc(at or dt.datetime.now(dt.UTC))
    problem = _validity_problem(certificate, at)
    if problem == "certificate_expired":
        raise CertificateUnusable(code=problem, details={"not_after": _utc(certificate.not_valid_after).isoformat()})
    if problem:
        raise CertificateUnusable("Chứng thư số của cơ quan chưa đến thời hạn hiệu lực.", code=problem,
                                  details={"not_before": _utc(certificate.not_valid_before).isoformat()})
    check_revocation(certificate, chain or [], at=at)


def check_revocation(certificate: x509.Certificate, chain: list[x509.Certificate], *, at: dt.datetime) -> None:
    """Refuse a revoked certificate: `CertificateUnusable(code="certificate_revoked")`.

    Asks the certificate's own OCSP responder, then its CRL (`revocation.RevocationChecker`, one cache per container
    shared with B-LT signing, so a document costs no round trip while the answer is fresh). Called for every document
    the signing handler signs and on every activation. Soft-fails when the certificate names no revocation source or
    no source answers: at B-LT the signing itself then fails and is retried (the evidence must be embedded), at B-B
    the gateway signs rather than stop an agency's whole flow because a CA's responder is down.
    """
    if not chain:
        return
    checker = revocation.default_checker(get_settings().revocation_cache_seconds)
    try:
        answer = checker.check(certificate, chain[0])
    except (revocation.NoRevocationPointers, revocation.RevocationUnavailable):
        return
    if answer.revoked and (answer.revoked_at is None or _utc(answer.revoked_at) <= at):
        raise CertificateUnusable("Chứng thư số của cơ quan đã bị thu hồi.", code="certificate_revoked",
                                  details={"source": answer.source, "reason": answer.reason,
                                           "revoked_at": answer.revoked_at.isoformat() if answer.revoked_at else None})


def days_left(not_after_iso: str | None, *, at: dt.datetime | None = None) -> int | None:
    """Whole days until a certificate expires (negative once expired); None without a certificate."""
    if not not_after_iso:
        return None
    at = _utc(at or dt.datetime.now(dt.UTC))
    return int((dt.datetime.fromisoformat(not_after_iso) - at).total_seconds() // 86400)


# -- CSR subject ----------------------------------------------------------------------------------------------

#: Subject attributes an admin may set in a CSR request (asn1crypto names). The rest come from the registry.
CSR_SUBJECT_FIELDS = ("common_name", "organization_name", "organizational_unit_name", "locality_name",
                      "state_or_province_name", "country_name", "serial_number", "email_address")


def csr_subject(organ_id: str, org_name: str, overrides: dict[str, Any] | None = None) -> dict[str, str]:
    """The CSR subject for an agency: C=VN, O=<name>, serialNumber=<identifier code>, CN=<name, ≤ 64 bytes>.

    The same shape as the demo CA's certificates (the identifier code in serialNumber lets a verifier map a
    signature back to the agency). `overrides` may set any of CSR_SUBJECT_FIELDS (e.g. the CA wants L and ST).
    """
    subject = {"country_name": "VN", "organization_name": org_name, "serial_number": organ_id,
               "common_name": fit_common_name(org_name)}
    for name, value in (overrides or {}).items():
        if name not in CSR_SUBJECT_FIELDS or not isinstance(value, str) or not value.strip() or len(value) > 200:
            raise ValidationFailed("Thông tin chủ thể của yêu cầu chứng thư không hợp lệ.", code="invalid_subject",
                                   details={"field": str(name)[:64], "allowed": list(CSR_SUBJECT_FIELDS)})
        subject[name] = value.strip()
    if len(subject["country_name"]) != 2:
        raise ValidationFailed("Mã quốc gia phải gồm 2 chữ cái.", code="invalid_subject",
                               details={"field": "country_name"})
    if len(subject["common_name"].encode("utf-8")) > 64:
        subject["common_name"] = fit_common_name(subject["common_name"])
    return subject


def fit_common_name(name: str, limit: int = 64) -> str:
    """`name` cut at a word boundary to at most `limit` UTF-8 bytes (X.520 ub-common-name)."""
    if len(name.encode("utf-8")) <= limit:
        return name
    out = ""
    for word in name.split():
        candidate = f"{out} {word}" if out else word
        if len(candidate.encode("utf-8")) > limit:
            break
        out = candidate
    return out or name.encode("utf-8")[:limit].decode("utf-8", "ignore")


# -- records as the API shows them ----------------------------------------------------------------------------


def key_view(record: dict[str, Any], *, at: dt.datetime | None = None) -> dict[str, Any]:
    """A key record as `GET /v1/admin/keys` shows it: no PEM blobs, the expiry date and days left up front."""
    cert = record.get("certificate") or {}
    view = {
        "organ_id": record["organ_id"],
        "key_ref": record["key_ref"],
        "backend": record["backend"],
        "key_id": record["key_id"],
        "state": record["state"],
        "signing_algorithm": record.get("signing_algorithm"),
        "public_key_sha256": record.get("public_key_sha256"),
        "created_at": record.get("created_at"),
        "not_after": cert.get("not_after"),
        "days_left": days_left(cert.get("not_after"), at=at),
    }
    for name in ("certified_at", "activated_at", "retired_at", "source"):
        if record.get(name):
            view[name] = record[name]
    if cert:
        view["certificate"] = cert
    return view


def legacy_record(organ_id: str, signing_key: dict[str, Any]) -> dict[str, Any]:
    """A record for an active key that was put in the registry without this API (provisioning, migration)."""
    info: dict[str, Any] = {}
    spki_hash = None
    certs = []
    with contextlib.suppress(CertificateRejected):
        certs = parse_certificates(signing_key.get("certificate_pem"))
    if certs:
        info = CertificateInfo.of(certs[0]).as_dict()
        spki_hash = public_key_sha256(certificate_spki(certs[0]))
    ref = signing_key.get("key_ref") or "r" + hashlib.sha256(signing_key["key_id"].encode()).hexdigest()[:12]
    return {"organ_id": organ_id, "key_ref": ref, "backend": signing_key.get("backend", "kms"),
            "key_id": signing_key["key_id"], "state": ACTIVE,
            "signing_algorithm": signing_key.get("signing_algorithm"), "public_key_sha256": spki_hash,
            "certificate": info, "source": "registry"}
