"""`/v1/admin/trust-roots`: the CA certificates signatures and certificate chains are checked against (issue 9).

The roots are the operator's (`TRUST_ROOTS`, read-only here, `source: "configured"`) and the admins' bundle
(`trust/roots.pem`, `source: "admin"`), both read by `chalicelib.adapters.trust_store.trust_roots`, which
`POST /v1/verify`, the inbound poll's verdicts and the key admin's chain checks use. A root added here is trusted by
this container at once and by the others within the store's five-minute cache.

A root must be a CA certificate (basicConstraints cA = true): a leaf as a "root" would make every certificate it
signed for itself trusted, which no CA hierarchy (Ban Cơ yếu Chính phủ's, a Sở's test CA) means.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chalicelib.adapters.dynamo import ConditionFailed
from chalicelib.adapters.trust_store import configured_roots, get_trust_bundle, reset_caches
from chalicelib.core.errors import CertificateRejected, Conflict, Forbidden, NotFound, ValidationFailed
from chalicelib.domain.text import ClientText, validation_failed
from chalicelib.keys.certificates import CertificateInfo, certificates_pem, parse_certificates

__all__ = ["AddTrustRoot", "add_root", "delete_root", "list_roots"]

#: Read-modify-write attempts when another admin changes the bundle at the same moment.
_ATTEMPTS = 5


class AddTrustRoot(BaseModel):
    """`POST /v1/admin/trust-roots`: one CA certificate in PEM."""

    model_config = ConfigDict(extra="forbid")

    pem: ClientText(64 * 1024, min_len=1, multiline=True) = Field(description="chứng thư số CA, định dạng PEM")


def _require_admin(caller: Any) -> None:
    if not getattr(caller, "is_admin", False):
        raise Forbidden(details={"required_group": "admins"})  # the one answer of every admin route (admin/keys.py)


def _view(cert: Any, source: str) -> dict[str, Any]:
    info = CertificateInfo.of(cert)
    return {"fingerprint": info.sha256, "subject": info.subject, "issuer": info.issuer,
            "not_before": info.not_before, "not_after": info.not_after, "source": source,
            "pem": certificates_pem([cert])}


def _bundle() -> tuple[list[Any], str | None]:
    text, etag = get_trust_bundle().read()
    return parse_certificates(text), etag


def list_roots(caller: Any) -> dict[str, Any]:
    """`GET /v1/admin/trust-roots`: every root, configured first; `{"items": [...]}` (a handful: no paging)."""
    _require_admin(caller)
    configured = configured_roots()
    seen = {c.sha256 for c in configured}
    items = [_view(c, "configured") for c in configured]
    items += [_view(c, "admin") for c in _bundle()[0] if c.sha256 not in seen]
    return {"items": items}


def _one_ca(body: Any) -> Any:
    try:
        request = AddTrustRoot.model_validate(body)
    except ValidationError as exc:
        raise validation_failed(exc) from exc
    certs = parse_certificates(request.pem)
    if len(certs) != 1:
        raise CertificateRejected("Gửi đúng một chứng thư số CA.", code="invalid_certificate",
                                  details={"certificates": len(certs)})
    cert = certs[0]
    if not cert.ca:
        raise CertificateRejected(code="not_a_ca_certificate", details={"subject": cert.subject.human_friendly})
    return cert


def add_root(caller: Any, body: Any) -> dict[str, Any]:
    """`POST /v1/admin/trust-roots {"pem"}` → 201 with the root; a root already trusted is 409
    `trust_root_exists`."""
    _require_admin(caller)
    cert = _one_ca(body)
    if cert.sha256 in {c.sha256 for c in configured_roots()}:
        raise Conflict(code="trust_root_exists", details={"fingerprint": cert.sha256.hex(), "source": "configured"})
    for _ in range(_ATTEMPTS):
        roots, etag = _bundle()
        if cert.sha256 in {c.sha256 for c in roots}:
            raise Conflict(code="trust_root_exists", details={"fingerprint": cert.sha256.hex(), "source": "admin"})
        try:
            get_trust_bundle().write(certificates_pem([*roots, cert]), etag)
        except ConditionFailed:
            continue
        reset_caches()
        return _view(cert, "admin")
    raise Conflict(code="trust_roots_changed")


def delete_root(caller: Any, fingerprint: str) -> dict[str, Any]:
    """`DELETE /v1/admin/trust-roots/{fingerprint}` (SHA-256 of the certificate, hex): the root is no longer
    trusted; a configured root cannot be removed here (409 `trust_root_configured`)."""
    _require_admin(caller)
    wanted = fingerprint.strip().lower()
    if len(wanted) != 64 or any(c not in "0123456789abcdef" for c in wanted):
        raise ValidationFailed("Dấu vân tay phải là SHA-256 dạng hex (64 ký tự).", code="invalid_fingerprint",
                               details={"field": "path.fingerprint"})
    if wanted in {c.sha256.hex() for c in configured_roots()}:
        raise Conflict(code="trust_root_configured", details={"fingerprint": wanted})
    for _ in range(_ATTEMPTS):
        roots, etag = _bundle()
        keep = [c for c in roots if c.sha256.hex() != wanted]
        if len(keep) == len(roots):
            raise NotFound(code="unknown_trust_root", details={"fingerprint": wanted})
        try:
            get_trust_bundle().write(certificates_pem(keep), etag)
        except ConditionFailed:
            continue
        reset_caches()
        return {"fingerprint": wanted, "deleted": True}
    raise Conflict(code="trust_roots_changed")
