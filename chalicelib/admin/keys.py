"""`/v1/admin/keys`: create, certify, activate and rotate agencies' signing keys (admins only).

The rules (states, certificate checks) are in `keys.certificates` (as `keys`); this module is the use cases, one
per route, and talks to ports (`chalicelib.admin.ports`), never to boto3:

- key records and the agency item's active key: `chalicelib.adapters.key_store` (where they live and why);
- new KMS keys and their aliases: `chalicelib.adapters.kms_keys`;
- PKCS#11 keys are generated on the HSM by its own tools (the gateway never sees private key material) and
  registered here by URI, with the PIN's Secrets Manager name (keys/pkcs11.py);
- trust roots: `chalicelib.adapters.trust_store` (`TRUST_ROOTS` or `trust/roots.pem` in the documents bucket).

Rotation, as an admin runs it (the CA step is outside the gateway):
  1. `POST /v1/admin/keys/rotate {"organ_id"}` → a new key like the active one, and its CSR (`csr_pem`);
     (or `POST /v1/admin/keys` then `POST /v1/admin/keys/{organ_id}/{key_ref}/csr`);
  2. the CA (Ban Cơ yếu Chính phủ in production) issues a certificate for the CSR;
  3. `PUT /v1/admin/keys/{organ_id}/{key_ref}/certificate {"certificate_pem", "chain_pem"}` → CERTIFIED, after the
     key-match and trust checks;
  4. `POST /v1/admin/keys/{organ_id}/{key_ref}/activate` → the agency signs with the new key from the next
     document on; the old key is RETIRED, listed in `previous_keys`, and never deleted.
"""

from __future__ import annotations

import secrets
from typing import Any

from chalicelib.adapters.dynamo import ConditionFailed
from chalicelib.adapters.key_store import key_store
from chalicelib.adapters.kms_keys import KMS_SIGNING_ALGORITHM, agency_alias, kms_keys
from chalicelib.adapters.signing_keys import open_pkcs11_signer, open_raw_signer
from chalicelib.adapters.trust_store import trust_roots
from chalicelib.admin.ports import KeyAdminPorts
from chalicelib.core.clock import now_iso
from chalicelib.core.errors import (
    CertificateRejected,
    CertificateUnusable,
    Conflict,
    Forbidden,
    NotFound,
    SigningUnavailable,
    ValidationFailed,
)
from chalicelib.core.log import logger
from chalicelib.core.settings import get_settings
from chalicelib.domain.text import TextRule, body_text
from chalicelib.keys import certificates as keys
from chalicelib.keys.csr import build_csr, csr_pem
from chalicelib.keys.pkcs11 import Pkcs11RawSigner, uri_from_request
from chalicelib.keys.raw_signer import RawSigner

__all__ = ["KMS_SIGNING_ALGORITHM", "activate", "agency_alias", "create_key", "default_ports", "get_key",
           "list_keys", "make_csr", "require_admin", "rotate", "upload_certificate"]


def default_ports() -> KeyAdminPorts:
    """The adapters of this container (each built once by its factory)."""
    return KeyAdminPorts(keys=key_store(), kms=kms_keys(), trust_roots=trust_roots, signer_for=_signer,
                         token_key=_token_key)


def _signer(record: dict[str, Any]) -> RawSigner:
    algorithm = record.get("signing_algorithm") or KMS_SIGNING_ALGORITHM
    return open_raw_signer(record["backend"], record["key_id"], algorithm)


def _token_key(uri: Any) -> Pkcs11RawSigner:
    return open_pkcs11_signer(uri, modules=get_settings().pkcs11_modules)


#: The text fields of the key requests, checked at the API (chalicelib.domain.text) before anything reads them.
_REQUEST_TEXT: dict[str, TextRule] = {
    "organ_id": TextRule(64), "backend": TextRule(16), "key_uri": TextRule(1024),
    **{f"pkcs11.{name}": TextRule(256)
       for name in ("token_label", "key_label", "key_id_hex", "module_path", "pin_secret")},
    **{f"subject.{name}": TextRule(200) for name in keys.CSR_SUBJECT_FIELDS},
    **{name: TextRule(256 * 1024, multiline=True, strip=False) for name in ("certificate_pem", "chain_pem")},
}


def _request(body: Any) -> Any:
    return body_text(body, _REQUEST_TEXT)


def require_admin(caller: Any) -> None:
    if not getattr(caller, "is_admin", False):
        raise Forbidden(details={"required_group": "admins"})


def _agency_item(ports: KeyAdminPorts, organ_id: str) -> dict[str, Any]:
    """The raw registry item (the `Agency` dataclass drops `key_ref` and `previous_keys`)."""
    item = ports.keys.agency_item(organ_id)
    if item is None:
        raise NotFound("Không tìm thấy cơ quan.", code="unknown_agency", details={"organ_id": organ_id})
    return item


def _served_agency(ports: KeyAdminPorts, organ_id: Any) -> dict[str, Any]:
    if not isinstance(organ_id, str) or not organ_id.strip():
        raise ValidationFailed("Thiếu mã định danh cơ quan (organ_id).", code="missing_organ_id")
    item = _agency_item(ports, organ_id.strip())
    if not item.get("served") or not item.get("active", True):
        raise ValidationFailed("Cơ quan không do cổng này phục vụ hoặc đã ngừng hoạt động.",
                               code="agency_not_served", details={"organ_id": organ_id})
    return item


def _record(ports: KeyAdminPorts, organ_id: str, key_ref: str) -> dict[str, Any]:
    record = ports.keys.get(organ_id, key_ref)
    if record is None:
        raise NotFound("Không tìm thấy khóa.", code="unknown_key", details={"organ_id": organ_id, "key_ref": key_ref})
    return record


def _update(ports: KeyAdminPorts, organ_id: str, key_ref: str, fields: dict[str, Any], *,
            states: tuple[str, ...], event: dict[str, Any]) -> None:
    """Change the record if it is still in one of `states`; another admin's change meanwhile is a 409."""
    try:
        ports.keys.update(organ_id, key_ref, fields, states=states, event=event)
    except ConditionFailed as exc:
        raise Conflict("Khóa đã thay đổi trạng thái, vui lòng tải lại.", code="key_state_changed") from exc


def _concurrent_key_change() -> Conflict:
    """The key switch is one transaction; losing it means another admin changed the agency's keys meanwhile."""
    return Conflict("Khóa ký số của cơ quan vừa được thay đổi bởi thao tác khác, vui lòng thử lại.",
                    code="concurrent_key_change")


def _event(action: str, caller: Any, **detail: Any) -> dict[str, Any]:
    return {"action": action, "at": now_iso(), "by": getattr(caller, "username", ""), **detail}


def _detail(record: dict[str, Any]) -> dict[str, Any]:
    """One key with its PEM texts (public key, CSR, certificate, chain) for `GET .../{key_ref}`."""
    view = keys.key_view(record)
    for name in ("public_key_pem", "csr_pem", "certificate_pem", "chain_pem"):
        if record.get(name):
            view[name] = record[name]
    return view


# -- operations (one per route) -------------------------------------------------------------------------------


def create_key(caller: Any, body: dict[str, Any], ports: KeyAdminPorts | None = None) -> dict[str, Any]:
    """`POST /v1/admin/keys`: a new KMS key for the agency, or an existing PKCS#11 token key registered."""
    ports = ports or default_ports()
    require_admin(caller)
    body = _request(body)
    agency = _served_agency(ports, body.get("organ_id"))
    organ_id = agency["organ_id"]
    backend = body.get("backend") or "kms"
    key_ref = keys.new_key_ref()
    if backend == "kms":
        key_id, spki, algorithm = ports.kms.create_signing_key(organ_id, key_ref)
    elif backend == "pkcs11":
        key_id, spki, algorithm = _register_pkcs11_key(ports, organ_id, body)
    else:
        raise ValidationFailed("Loại khóa phải là kms hoặc pkcs11.", code="unsupported_key_backend",
                               details={"backend": str(backend)[:32]})
    record = {
        "organ_id": organ_id, "key_ref": key_ref, "backend": backend, "key_id": key_id,
        "signing_algorithm": algorithm, "public_key_pem": keys.spki_pem(spki),
        "public_key_sha256": keys.public_key_sha256(spki), "state": keys.CREATED, "created_at": now_iso(),
        "created_by": getattr(caller, "username", ""), "history": [_event("created", caller)],
    }
    ports.keys.create(record)
    logger.info("signing key created", extra={"organ_id": organ_id, "key_ref": key_ref, "backend": backend})
    return _detail(record)


def _register_pkcs11_key(ports: KeyAdminPorts, organ_id: str, body: dict[str, Any]) -> tuple[str, bytes, str]:
    """Find the key on its token (logging in with the PIN from Secrets Manager) and read its public key."""
    uri = uri_from_request(body)
    if not uri.pin_source:
        raise ValidationFailed("Thiếu tên bí mật chứa mã PIN (pin_secret).", code="invalid_pkcs11_key")
    for existing in ports.keys.list(organ_id):
        if existing["backend"] == "pkcs11" and existing["key_id"] == str(uri):
            raise Conflict("Khóa PKCS#11 này đã được đăng ký cho cơ quan.", code="key_already_registered",
                           details={"key_ref": existing["key_ref"]})
    signer = ports.token_key(uri)
    spki = signer.public_key_der()
    _prove_possession(signer, spki, uri.key_description())
    algorithm = "ECDSA_SHA_256" if signer.algorithm == "sha256_ecdsa" else KMS_SIGNING_ALGORITHM
    return str(uri), spki, algorithm


def _prove_possession(signer: Any, spki: bytes, where: dict[str, str]) -> None:
    """Sign a fresh challenge on the token and verify it with the public key read from it.

    Why: the public key is found by label/id next to the private key; a token with a stale or mislabelled public
    object would otherwise get a certificate for a key that cannot sign, and that would only show at the CA.
    """
    # lazy: cryptography costs ~40 ms at cold start, and only a PKCS#11 registration needs it
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization  # lazy: as above
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa  # lazy: as above

    challenge = b"edoc-gateway key registration " + secrets.token_bytes(32)
    signature = signer.sign(challenge)
    public = serialization.load_der_public_key(spki)
    try:
        if isinstance(public, rsa.RSAPublicKey):
            public.verify(signature, challenge, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(public, ec.EllipticCurvePublicKey):
            public.verify(signature, challenge, ec.ECDSA(hashes.SHA256()))
        else:
            raise InvalidSignature
    except InvalidSignature as exc:
        raise ValidationFailed("Khóa bí mật và khóa công khai tìm thấy trên HSM không cùng một cặp.",
                               code="pkcs11_key_pair_mismatch", details=where) from exc


def make_csr(caller: Any, organ_id: str, key_ref: str, body: dict[str, Any],
             ports: KeyAdminPorts | None = None) -> dict[str, Any]:
    """`POST /v1/admin/keys/{organ_id}/{key_ref}/csr`: a PKCS#10 request signed through the key itself."""
    ports = ports or default_ports()
    require_admin(caller)
    body = _request(body)
    record = _record(ports, organ_id, key_ref)
    if record["state"] == keys.RETIRED:
        raise Conflict("Khóa đã ngừng sử dụng.", code="key_retired")
    agency = _agency_item(ports, organ_id)
    subject = keys.csr_subject(organ_id, agency.get("name", organ_id), body.get("subject"))
    spki = keys.spki_from_pem(record["public_key_pem"])
    try:
        der = build_csr(subject, spki, ports.signer_for(record))
    except ValueError as exc:  # the backend signed with another key than the record's: never hand that to a CA
        raise SigningUnavailable("Khóa ký không khớp với khóa công khai đã ghi nhận.", code="key_mismatch",
                                 details={"key_ref": key_ref}) from exc
    pem_text = csr_pem(der)
    _update(ports, organ_id, key_ref, {"csr_pem": pem_text, "csr_at": now_iso()},
            states=(keys.CREATED, keys.CERTIFIED, keys.ACTIVE), event=_event("csr", caller))
    logger.info("csr produced", extra={"organ_id": organ_id, "key_ref": key_ref})
    return {"organ_id": organ_id, "key_ref": key_ref, "csr_pem": pem_text, "subject": subject}


def upload_certificate(caller: Any, organ_id: str, key_ref: str, body: dict[str, Any],
                       ports: KeyAdminPorts | None = None) -> dict[str, Any]:
    """`PUT /v1/admin/keys/{organ_id}/{key_ref}/certificate`: attach the CA's chain after checking it.

    For the ACTIVE key (a certificate renewed for the same key) the registry's certificate is replaced too, in the
    same transaction.
    """
    ports = ports or default_ports()
    require_admin(caller)
    body = _request(body)
    record = _record(ports, organ_id, key_ref)
    if record["state"] == keys.RETIRED:
        raise Conflict("Khóa đã ngừng sử dụng.", code="key_retired")
    for name in ("certificate_pem", "chain_pem"):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise ValidationFailed(f"{name} phải là văn bản PEM.", code="invalid_certificate")
    checked = keys.check_certificate_chain(keys.spki_from_pem(record["public_key_pem"]), body.get("certificate_pem"),
                                           body.get("chain_pem"), ports.trust_roots())
    fields = {"certificate_pem": checked.certificate_pem, "chain_pem": checked.chain_pem,
              "certificate": checked.info.as_dict(), "certified_at": now_iso()}
    event = _event("certificate", caller, certificate_sha256=checked.info.sha256)
    if record["state"] == keys.ACTIVE:
        try:
            ports.keys.renew_active_certificate(organ_id, key_ref, fields, event)
        except ConditionFailed as exc:
            raise _concurrent_key_change() from exc
    else:
        _update(ports, organ_id, key_ref, {**fields, "state": keys.CERTIFIED},
                states=(keys.CREATED, keys.CERTIFIED), event=event)
    logger.info("certificate attached", extra={"organ_id": organ_id, "key_ref": key_ref,
                                               "not_after": checked.info.not_after})
    return _detail({**record, **fields, "state": record["state"] if record["state"] == keys.ACTIVE
                    else keys.CERTIFIED})


def activate(caller: Any, organ_id: str, key_ref: str, ports: KeyAdminPorts | None = None) -> dict[str, Any]:
    """`POST /v1/admin/keys/{organ_id}/{key_ref}/activate`: the agency signs with this key from now on."""
    ports = ports or default_ports()
    require_admin(caller)
    record = _record(ports, organ_id, key_ref)
    agency = _agency_item(ports, organ_id)
    current = agency.get("signing_key") or None
    if record["state"] == keys.ACTIVE and current and current.get("key_ref") == key_ref:
        return _detail(record)  # already active: activating twice changes nothing
    if record["state"] not in keys.ACTIVATABLE:
        raise Conflict("Khóa chưa có chứng thư số đã kiểm tra, chưa thể kích hoạt.", code="key_not_certified",
                       details={"state": record["state"]})
    # Checked again now: time has passed since the upload, and the trust roots may have changed.
    checked = keys.check_certificate_chain(keys.spki_from_pem(record["public_key_pem"]), record["certificate_pem"],
                                           record.get("chain_pem"), ports.trust_roots())
    try:
        keys.ensure_certificate_usable(checked.leaf, checked.path)
    except CertificateUnusable as exc:
        raise CertificateRejected(exc.message, code=exc.code, details=exc.details) from exc

    at = now_iso()
    new_key = {"backend": record["backend"], "key_id": record["key_id"],
               "signing_algorithm": record.get("signing_algorithm") or KMS_SIGNING_ALGORITHM,
               "certificate_pem": record["certificate_pem"], "chain_pem": record.get("chain_pem", ""),
               "key_ref": key_ref, "not_after": checked.info.not_after, "activated_at": at}
    previous = None
    if current:
        previous = {**current, "key_ref": current.get("key_ref") or keys.legacy_record(organ_id, current)["key_ref"],
                    "retired_at": at}
    old_ref = (current or {}).get("key_ref")
    retired = None
    if old_ref and old_ref != key_ref and ports.keys.get(organ_id, old_ref) is not None:
        retired = (old_ref, _event("retired", caller, replaced_by=key_ref))
    try:
        ports.keys.switch_active_key(organ_id, key_ref, new_key=new_key, current=current, previous=previous, at=at,
                                     activated=_event("activated", caller), retired=retired)
    except ConditionFailed as exc:
        raise _concurrent_key_change() from exc
    if record["backend"] == "kms":
        ports.kms.point_alias(organ_id, record["key_id"])
    logger.info("signing key activated", extra={"organ_id": organ_id, "key_ref": key_ref, "previous": old_ref})
    return _detail({**record, "state": keys.ACTIVE, "activated_at": at})


def rotate(caller: Any, body: dict[str, Any], ports: KeyAdminPorts | None = None) -> dict[str, Any]:
    """`POST /v1/admin/keys/rotate {"organ_id", ...}`: steps 1 of a rotation in one call (new key + its CSR).

    The new key uses the active key's backend (KMS); for PKCS#11 the request names the new token key, as for
    `POST /v1/admin/keys`. Then: the CA issues the certificate, upload it, activate.
    """
    ports = ports or default_ports()
    require_admin(caller)
    body = _request(body)
    agency = _served_agency(ports, body.get("organ_id"))
    backend = body.get("backend") or ((agency.get("signing_key") or {}).get("backend")) or "kms"
    if backend == "pkcs11" and not (body.get("pkcs11") or body.get("key_uri")):
        raise ValidationFailed("Xoay vòng khóa PKCS#11: cho biết khóa mới trên HSM (pkcs11 hoặc key_uri).",
                               code="invalid_pkcs11_key")
    created = create_key(caller, {**body, "organ_id": agency["organ_id"], "backend": backend}, ports)
    csr = make_csr(caller, agency["organ_id"], created["key_ref"], body, ports)
    base = f"/v1/admin/keys/{agency['organ_id']}/{created['key_ref']}"
    return {"key": {**created, "csr_pem": csr["csr_pem"]}, "csr_pem": csr["csr_pem"],
            "next": [f"PUT {base}/certificate", f"POST {base}/activate"]}


def list_keys(caller: Any, organ_id: str | None, ports: KeyAdminPorts | None = None) -> dict[str, Any]:
    """`GET /v1/admin/keys[?organ_id=]`: one agency's keys (newest first), or every served agency's active key
    (soonest expiry first, the list an admin checks for renewals)."""
    ports = ports or default_ports()
    require_admin(caller)
    if organ_id:
        return {"items": _agency_keys(ports, organ_id)}
    items = [keys.key_view(keys.legacy_record(raw["organ_id"], raw["signing_key"]))
             for raw in ports.keys.agency_items() if raw.get("served") and raw.get("signing_key")]
    items.sort(key=lambda v: (v.get("not_after") or "9999", v["organ_id"]))
    for view in items:
        view.pop("source", None)
    return {"items": items}


def _agency_keys(ports: KeyAdminPorts, organ_id: str) -> list[dict[str, Any]]:
    agency = _agency_item(ports, organ_id)
    records = {r["key_ref"]: r for r in ports.keys.list(organ_id)}
    current = agency.get("signing_key")
    if current:
        legacy = keys.legacy_record(organ_id, current)
        records.setdefault(legacy["key_ref"], legacy)
    for old in agency.get("previous_keys") or []:
        legacy = keys.legacy_record(organ_id, old)
        if legacy["key_ref"] not in records:
            records[legacy["key_ref"]] = {**legacy, "state": keys.RETIRED, "retired_at": old.get("retired_at")}
    views = [keys.key_view(r) for r in records.values()]
    views.sort(key=lambda v: v.get("created_at") or "", reverse=True)
    return views


def get_key(caller: Any, organ_id: str, key_ref: str, ports: KeyAdminPorts | None = None) -> dict[str, Any]:
    """`GET /v1/admin/keys/{organ_id}/{key_ref}`: one key with its public key, CSR, certificate and chain."""
    ports = ports or default_ports()
    require_admin(caller)
    return _detail(_record(ports, organ_id, key_ref))
