"""`/v1/admin/keys`: create, certify, activate and rotate agencies' signing keys (admins only).

The rules (states, certificate checks) are in `keys.certificates` (as `keys`); this module adds where things live:

- Key records are items of the documents table, `pk = KEY#<organ_id>`, `sk = <key_ref>`. Why there and not in
  `edoc-agencies`: that table has only a hash key, so a key history would be a growing map on the agency item, and
  the signing handler reads that item for every document (every kilobyte of old CSRs and chains costs read units
  on the hot path). Here one Query lists an agency's keys, the agency item keeps only its active `signing_key` and
  a short `previous_keys` list, and activation is one transaction over both tables. Key items carry no `gsi1pk`,
  so they never appear in an agency's document list.
- New KMS keys: RSA_2048 `SIGN_VERIFY`, tagged `edoc-gateway:organ_id` and `edoc-gateway:purpose=document-signing`
  (what the signing functions' IAM policy requires), aliased `alias/edoc-sign/<code>/<key_ref>`; on activation
  `alias/edoc-sign/<code>` is moved to the active key.
- PKCS#11 keys are generated on the HSM by its own tools (the gateway never sees private key material) and
  registered here by URI, with the PIN's Secrets Manager name (signing/pkcs11.py).
- Trust roots: `TRUST_ROOTS` (a PEM bundle; the embedded stack sets its demo root) or else the S3 object
  `trust/roots.pem` in the documents bucket, cached for five minutes per container.

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

import threading
import time
from typing import Any

from chalicelib.adapters import aws
from chalicelib.adapters.dynamo import ConditionFailed, plain, transact
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
from chalicelib.keys import certificates as keys

KMS_KEY_SPEC = "RSA_2048"
KMS_KEY_USAGE = "SIGN_VERIFY"
KMS_SIGNING_ALGORITHM = "RSASSA_PKCS1_V1_5_SHA_256"
ALIAS_PREFIX = "alias/edoc-sign/"
TAG_ORGAN_ID = "edoc-gateway:organ_id"
TAG_PURPOSE = "edoc-gateway:purpose"
PURPOSE = "document-signing"
TRUST_ROOTS_KEY = "trust/roots.pem"
_TRUST_TTL_SECONDS = 300

_trust_lock = threading.Lock()
_trust_cache: tuple[float, list[Any]] | None = None


def agency_alias(organ_id: str, key_ref: str | None = None) -> str:
    """`alias/edoc-sign/000-00-00-H62` (the active key), `.../<key_ref>` (one key): aliases allow no dots."""
    base = ALIAS_PREFIX + organ_id.replace(".", "-")
    return f"{base}/{key_ref}" if key_ref else base


def require_admin(caller: Any) -> None:
    if not getattr(caller, "is_admin", False):
        raise Forbidden(details={"required_group": "admins"})


def reset_caches() -> None:
    """Forget the cached trust roots (tests that change them)."""
    global _trust_cache
    with _trust_lock:
        _trust_cache = None


def trust_roots() -> list[Any]:
    """The configured trust roots (asn1crypto certificates), cached per container for five minutes."""
    global _trust_cache
    with _trust_lock:
        if _trust_cache is not None and time.monotonic() - _trust_cache[0] < _TRUST_TTL_SECONDS:
            return _trust_cache[1]
    settings = get_settings()
    text = settings.trust_roots_pem
    if not text.strip():
        s3 = aws.client("s3")
        try:
            text = s3.get_object(Bucket=settings.documents_bucket, Key=TRUST_ROOTS_KEY)["Body"].read().decode("ascii")
        except s3.exceptions.NoSuchKey:
            text = ""
    roots = keys.parse_certificates(text)
    with _trust_lock:
        _trust_cache = (time.monotonic(), roots)
    return roots


# -- records --------------------------------------------------------------------------------------------------


class KeyRecords:
    """Key records in the documents table (`KEY#<organ_id>` / `<key_ref>`)."""

    def __init__(self) -> None:
        self.table_name = get_settings().documents_table

    @property
    def _table(self) -> Any:
        return aws.table(self.table_name)

    @staticmethod
    def key(organ_id: str, key_ref: str) -> dict[str, str]:
        return {"pk": keys.KEY_PK_PREFIX + organ_id, "sk": key_ref}

    def create(self, record: dict[str, Any]) -> None:
        item = {**self.key(record["organ_id"], record["key_ref"]), **record}
        self._table.put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")

    def get(self, organ_id: str, key_ref: str) -> dict[str, Any] | None:

        if not keys.valid_key_ref(key_ref):
            return None
        item = self._table.get_item(Key=self.key(organ_id, key_ref), ConsistentRead=True).get("Item")
        return plain(item) if item else None

    def list(self, organ_id: str) -> list[dict[str, Any]]:
        from boto3.dynamodb.conditions import Key

        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"KeyConditionExpression": Key("pk").eq(keys.KEY_PK_PREFIX + organ_id),
                                  "ConsistentRead": True}
        while True:
            resp = self._table.query(**kwargs)
            items.extend(plain(i) for i in resp.get("Items", []))
            if "LastEvaluatedKey" not in resp:
                return items
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    def update(self, organ_id: str, key_ref: str, fields: dict[str, Any], *, states: tuple[str, ...],
               event: dict[str, Any]) -> None:
        """Set `fields` if the record is in one of `states`; appends `event` to its history."""
        names = {f"#f{i}": k for i, k in enumerate(fields)}
        names["#state"] = "state"
        values: dict[str, Any] = {f":f{i}": v for i, v in enumerate(fields.values())}
        values.update({f":s{i}": s for i, s in enumerate(states)})
        values[":event"] = [event]
        values[":empty"] = []
        sets = [f"#f{i} = :f{i}" for i in range(len(fields))]
        sets.append("history = list_append(if_not_exists(history, :empty), :event)")
        try:
            self._table.update_item(
                Key=self.key(organ_id, key_ref), UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression=f"#state IN ({', '.join(f':s{i}' for i in range(len(states)))})",
                ExpressionAttributeNames=names, ExpressionAttributeValues=values)
        except aws.client("dynamodb").exceptions.ConditionalCheckFailedException as exc:
            raise Conflict("Khóa đã thay đổi trạng thái, vui lòng tải lại.", code="key_state_changed") from exc


def _agency_item(organ_id: str) -> dict[str, Any]:
    """The raw registry item (the `Agency` dataclass drops `key_ref` and `previous_keys`)."""

    item = aws.table(get_settings().agencies_table).get_item(Key={"organ_id": organ_id},
                                                             ConsistentRead=True).get("Item")
    if item is None:
        raise NotFound("Không tìm thấy cơ quan.", code="unknown_agency", details={"organ_id": organ_id})
    return plain(item)


def _served_agency(organ_id: Any) -> dict[str, Any]:
    if not isinstance(organ_id, str) or not organ_id.strip():
        raise ValidationFailed("Thiếu mã định danh cơ quan (organ_id).", code="missing_organ_id")
    item = _agency_item(organ_id.strip())
    if not item.get("served") or not item.get("active", True):
        raise ValidationFailed("Cơ quan không do cổng này phục vụ hoặc đã ngừng hoạt động.",
                               code="agency_not_served", details={"organ_id": organ_id})
    return item


def _record(organ_id: str, key_ref: str) -> dict[str, Any]:
    record = KeyRecords().get(organ_id, key_ref)
    if record is None:
        raise NotFound("Không tìm thấy khóa.", code="unknown_key", details={"organ_id": organ_id, "key_ref": key_ref})
    return record


def _event(action: str, caller: Any, **detail: Any) -> dict[str, Any]:
    return {"action": action, "at": now_iso(), "by": getattr(caller, "username", ""), **detail}


def _signer(record: dict[str, Any]) -> Any:
    from chalicelib.adapters.signing_keys import open_raw_signer

    algorithm = record.get("signing_algorithm") or KMS_SIGNING_ALGORITHM
    return open_raw_signer(record["backend"], record["key_id"], algorithm)


def _detail(record: dict[str, Any]) -> dict[str, Any]:
    """One key with its PEM texts (public key, CSR, certificate, chain) for `GET .../{key_ref}`."""
    view = keys.key_view(record)
    for name in ("public_key_pem", "csr_pem", "certificate_pem", "chain_pem"):
        if record.get(name):
            view[name] = record[name]
    return view


# -- operations (one per route) -------------------------------------------------------------------------------


def create_key(caller: Any, body: dict[str, Any]) -> dict[str, Any]:
    """`POST /v1/admin/keys`: a new KMS key for the agency, or an existing PKCS#11 token key registered."""
    require_admin(caller)
    agency = _served_agency(body.get("organ_id"))
    organ_id = agency["organ_id"]
    backend = body.get("backend") or "kms"
    key_ref = keys.new_key_ref()
    if backend == "kms":
        key_id, spki, algorithm = _create_kms_key(organ_id, key_ref)
    elif backend == "pkcs11":
        key_id, spki, algorithm = _register_pkcs11_key(organ_id, body)
    else:
        raise ValidationFailed("Loại khóa phải là kms hoặc pkcs11.", code="unsupported_key_backend",
                               details={"backend": str(backend)[:32]})
    record = {
        "organ_id": organ_id, "key_ref": key_ref, "backend": backend, "key_id": key_id,
        "signing_algorithm": algorithm, "public_key_pem": keys.spki_pem(spki),
        "public_key_sha256": keys.public_key_sha256(spki), "state": keys.CREATED, "created_at": now_iso(),
        "created_by": getattr(caller, "username", ""), "history": [_event("created", caller)],
    }
    KeyRecords().create(record)
    logger.info("signing key created", extra={"organ_id": organ_id, "key_ref": key_ref, "backend": backend})
    return _detail(record)


def _create_kms_key(organ_id: str, key_ref: str) -> tuple[str, bytes, str]:
    kms = aws.client("kms")
    meta = kms.create_key(
        Description=f"edoc-gateway document signing key of {organ_id} ({key_ref})",
        KeySpec=KMS_KEY_SPEC, KeyUsage=KMS_KEY_USAGE,
        Tags=[{"TagKey": TAG_ORGAN_ID, "TagValue": organ_id}, {"TagKey": TAG_PURPOSE, "TagValue": PURPOSE}],
    )["KeyMetadata"]
    try:
        kms.create_alias(AliasName=agency_alias(organ_id, key_ref), TargetKeyId=meta["KeyId"])
    except Exception:  # the alias is a convenience for people; the record holds the ARN
        logger.warning("could not alias new signing key", extra={"organ_id": organ_id, "key_ref": key_ref})
    spki = kms.get_public_key(KeyId=meta["KeyId"])["PublicKey"]
    return meta["Arn"], spki, KMS_SIGNING_ALGORITHM


def _register_pkcs11_key(organ_id: str, body: dict[str, Any]) -> tuple[str, bytes, str]:
    """Find the key on its token (logging in with the PIN from Secrets Manager) and read its public key."""
    from chalicelib.adapters.signing_keys import open_pkcs11_signer
    from chalicelib.keys.pkcs11 import uri_from_request

    uri = uri_from_request(body)
    if not uri.pin_source:
        raise ValidationFailed("Thiếu tên bí mật chứa mã PIN (pin_secret).", code="invalid_pkcs11_key")
    for existing in KeyRecords().list(organ_id):
        if existing["backend"] == "pkcs11" and existing["key_id"] == str(uri):
            raise Conflict("Khóa PKCS#11 này đã được đăng ký cho cơ quan.", code="key_already_registered",
                           details={"key_ref": existing["key_ref"]})
    signer = open_pkcs11_signer(uri, modules=get_settings().pkcs11_modules)
    spki = signer.public_key_der()
    _prove_possession(signer, spki, uri.key_description())
    algorithm = "ECDSA_SHA_256" if signer.algorithm == "sha256_ecdsa" else KMS_SIGNING_ALGORITHM
    return str(uri), spki, algorithm


def _prove_possession(signer: Any, spki: bytes, where: dict[str, str]) -> None:
    """Sign a fresh challenge on the token and verify it with the public key read from it.

    Why: the public key is found by label/id next to the private key; a token with a stale or mislabelled public
    object would otherwise get a certificate for a key that cannot sign, and that would only show at the CA.
    """
    import secrets

    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

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


def make_csr(caller: Any, organ_id: str, key_ref: str, body: dict[str, Any]) -> dict[str, Any]:
    """`POST /v1/admin/keys/{organ_id}/{key_ref}/csr`: a PKCS#10 request signed through the key itself."""
    from chalicelib.keys.csr import build_csr, csr_pem

    require_admin(caller)
    record = _record(organ_id, key_ref)
    if record["state"] == keys.RETIRED:
        raise Conflict("Khóa đã ngừng sử dụng.", code="key_retired")
    agency = _agency_item(organ_id)
    subject = keys.csr_subject(organ_id, agency.get("name", organ_id), body.get("subject"))
    spki = keys.spki_from_pem(record["public_key_pem"])
    try:
        der = build_csr(subject, spki, _signer(record))
    except ValueError as exc:  # the backend signed with another key than the record's: never hand that to a CA
        raise SigningUnavailable("Khóa ký không khớp với khóa công khai đã ghi nhận.", code="key_mismatch",
                                 details={"key_ref": key_ref}) from exc
    pem_text = csr_pem(der)
    KeyRecords().update(organ_id, key_ref, {"csr_pem": pem_text, "csr_at": now_iso()},
                        states=(keys.CREATED, keys.CERTIFIED, keys.ACTIVE), event=_event("csr", caller))
    logger.info("csr produced", extra={"organ_id": organ_id, "key_ref": key_ref})
    return {"organ_id": organ_id, "key_ref": key_ref, "csr_pem": pem_text, "subject": subject}


def upload_certificate(caller: Any, organ_id: str, key_ref: str, body: dict[str, Any]) -> dict[str, Any]:
    """`PUT /v1/admin/keys/{organ_id}/{key_ref}/certificate`: attach the CA's chain after checking it.

    For the ACTIVE key (a certificate renewed for the same key) the registry's certificate is replaced too, in the
    same transaction.
    """
    require_admin(caller)
    record = _record(organ_id, key_ref)
    if record["state"] == keys.RETIRED:
        raise Conflict("Khóa đã ngừng sử dụng.", code="key_retired")
    for name in ("certificate_pem", "chain_pem"):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise ValidationFailed(f"{name} phải là văn bản PEM.", code="invalid_certificate")
    checked = keys.check_certificate_chain(keys.spki_from_pem(record["public_key_pem"]), body.get("certificate_pem"),
                                           body.get("chain_pem"), trust_roots())
    fields = {"certificate_pem": checked.certificate_pem, "chain_pem": checked.chain_pem,
              "certificate": checked.info.as_dict(), "certified_at": now_iso()}
    event = _event("certificate", caller, certificate_sha256=checked.info.sha256)
    if record["state"] == keys.ACTIVE:
        _renew_active_certificate(organ_id, key_ref, fields, event)
    else:
        KeyRecords().update(organ_id, key_ref, {**fields, "state": keys.CERTIFIED},
                            states=(keys.CREATED, keys.CERTIFIED), event=event)
    logger.info("certificate attached", extra={"organ_id": organ_id, "key_ref": key_ref,
                                               "not_after": checked.info.not_after})
    return _detail({**record, **fields, "state": record["state"] if record["state"] == keys.ACTIVE
                    else keys.CERTIFIED})


def _renew_active_certificate(organ_id: str, key_ref: str, fields: dict[str, Any], event: dict[str, Any]) -> None:
    settings = get_settings()
    records = KeyRecords()
    _transact([
        {"Update": {"TableName": settings.agencies_table, "Key": {"organ_id": organ_id},
                    "UpdateExpression": "SET signing_key.certificate_pem = :c, signing_key.chain_pem = :ch, "
                                        "signing_key.not_after = :na",
                    "ConditionExpression": "signing_key.key_ref = :ref",
                    "ExpressionAttributeValues": {":c": fields["certificate_pem"], ":ch": fields["chain_pem"],
                                                  ":na": fields["certificate"]["not_after"], ":ref": key_ref}}},
        {"Update": {"TableName": records.table_name, "Key": records.key(organ_id, key_ref),
                    "UpdateExpression": "SET certificate_pem = :c, chain_pem = :ch, certificate = :info, "
                                        "certified_at = :at, history = list_append(if_not_exists(history, :e), :ev)",
                    "ConditionExpression": "#state = :active", "ExpressionAttributeNames": {"#state": "state"},
                    "ExpressionAttributeValues": {":c": fields["certificate_pem"], ":ch": fields["chain_pem"],
                                                  ":info": fields["certificate"], ":at": fields["certified_at"],
                                                  ":e": [], ":ev": [event], ":active": keys.ACTIVE}}},
    ])


def activate(caller: Any, organ_id: str, key_ref: str) -> dict[str, Any]:
    """`POST /v1/admin/keys/{organ_id}/{key_ref}/activate`: the agency signs with this key from now on."""
    require_admin(caller)
    record = _record(organ_id, key_ref)
    agency = _agency_item(organ_id)
    current = agency.get("signing_key") or None
    if record["state"] == keys.ACTIVE and current and current.get("key_ref") == key_ref:
        return _detail(record)  # already active: activating twice changes nothing
    if record["state"] not in keys.ACTIVATABLE:
        raise Conflict("Khóa chưa có chứng thư số đã kiểm tra, chưa thể kích hoạt.", code="key_not_certified",
                       details={"state": record["state"]})
    # Checked again now: time has passed since the upload, and the trust roots may have changed.
    checked = keys.check_certificate_chain(keys.spki_from_pem(record["public_key_pem"]), record["certificate_pem"],
                                           record.get("chain_pem"), trust_roots())
    try:
        keys.ensure_certificate_usable(checked.leaf, checked.path)
    except CertificateUnusable as exc:
        raise CertificateRejected(exc.message, code=exc.code, details=exc.details) from exc

    at = now_iso()
    new_key = {"backend": record["backend"], "key_id": record["key_id"],
               "signing_algorithm": record.get("signing_algorithm") or KMS_SIGNING_ALGORITHM,
               "certificate_pem": record["certificate_pem"], "chain_pem": record.get("chain_pem", ""),
               "key_ref": key_ref, "not_after": checked.info.not_after, "activated_at": at}
    settings = get_settings()
    records = KeyRecords()
    values: dict[str, Any] = {":new": new_key, ":at": at}
    update = "SET signing_key = :new, keys_updated_at = :at"
    if current:
        previous = {**current, "key_ref": current.get("key_ref") or keys.legacy_record(organ_id, current)["key_ref"],
                    "retired_at": at}
        update += ", previous_keys = list_append(if_not_exists(previous_keys, :empty), :old)"
        values.update({":empty": [], ":old": [previous], ":old_key_id": current["key_id"],
                       ":old_cert": current.get("certificate_pem", "")})
        condition = "signing_key.key_id = :old_key_id AND signing_key.certificate_pem = :old_cert"
    else:
        condition = "attribute_exists(organ_id) AND attribute_not_exists(signing_key)"
    operations: list[dict[str, Any]] = [
        {"Update": {"TableName": settings.agencies_table, "Key": {"organ_id": organ_id}, "UpdateExpression": update,
                    "ConditionExpression": condition, "ExpressionAttributeValues": values}},
        {"Update": {"TableName": records.table_name, "Key": records.key(organ_id, key_ref),
                    "UpdateExpression": "SET #state = :active, activated_at = :at, "
                                        "history = list_append(if_not_exists(history, :e), :ev) REMOVE retired_at",
                    "ConditionExpression": "#state IN (:certified, :retired)",
                    "ExpressionAttributeNames": {"#state": "state"},
                    "ExpressionAttributeValues": {":active": keys.ACTIVE, ":at": at, ":e": [],
                                                  ":ev": [_event("activated", caller)], ":certified": keys.CERTIFIED,
                                                  ":retired": keys.RETIRED}}},
    ]
    old_ref = (current or {}).get("key_ref")
    if old_ref and old_ref != key_ref and records.get(organ_id, old_ref) is not None:
        operations.append(
            {"Update": {"TableName": records.table_name, "Key": records.key(organ_id, old_ref),
                        "UpdateExpression": "SET #state = :retired, retired_at = :at, "
                                            "history = list_append(if_not_exists(history, :e), :ev)",
                        "ConditionExpression": "#state = :active", "ExpressionAttributeNames": {"#state": "state"},
                        "ExpressionAttributeValues": {":retired": keys.RETIRED, ":active": keys.ACTIVE, ":at": at,
                                                      ":e": [], ":ev": [_event("retired", caller,
                                                                               replaced_by=key_ref)]}}})
    _transact(operations)
    if record["backend"] == "kms":
        _point_alias(organ_id, record["key_id"])
    logger.info("signing key activated", extra={"organ_id": organ_id, "key_ref": key_ref, "previous": old_ref})
    return _detail({**record, "state": keys.ACTIVE, "activated_at": at})


def _point_alias(organ_id: str, key_arn: str) -> None:
    """Move `alias/edoc-sign/<code>` to the active key (people and tools find the key by it; the registry decides)."""
    kms = aws.client("kms")
    alias = agency_alias(organ_id)
    try:
        try:
            kms.update_alias(AliasName=alias, TargetKeyId=key_arn)
        except kms.exceptions.NotFoundException:
            kms.create_alias(AliasName=alias, TargetKeyId=key_arn)
    except Exception:
        logger.warning("could not move the agency's signing alias", extra={"organ_id": organ_id})


def _transact(operations: list[dict[str, Any]]) -> None:
    """The key switch is one transaction; losing it means another admin changed the agency's keys meanwhile."""
    try:
        transact(aws.client("dynamodb"), get_settings().documents_table, operations)
    except ConditionFailed as exc:
        raise Conflict("Khóa ký số của cơ quan vừa được thay đổi bởi thao tác khác, vui lòng thử lại.",
                       code="concurrent_key_change") from exc


def rotate(caller: Any, body: dict[str, Any]) -> dict[str, Any]:
    """`POST /v1/admin/keys/rotate {"organ_id", ...}`: steps 1 of a rotation in one call (new key + its CSR).

    The new key uses the active key's backend (KMS); for PKCS#11 the request names the new token key, as for
    `POST /v1/admin/keys`. Then: the CA issues the certificate, upload it, activate.
    """
    require_admin(caller)
    agency = _served_agency(body.get("organ_id"))
    backend = body.get("backend") or ((agency.get("signing_key") or {}).get("backend")) or "kms"
    if backend == "pkcs11" and not (body.get("pkcs11") or body.get("key_uri")):
        raise ValidationFailed("Xoay vòng khóa PKCS#11: cho biết khóa mới trên HSM (pkcs11 hoặc key_uri).",
                               code="invalid_pkcs11_key")
    created = create_key(caller, {**body, "organ_id": agency["organ_id"], "backend": backend})
    csr = make_csr(caller, agency["organ_id"], created["key_ref"], body)
    base = f"/v1/admin/keys/{agency['organ_id']}/{created['key_ref']}"
    return {"key": {**created, "csr_pem": csr["csr_pem"]}, "csr_pem": csr["csr_pem"],
            "next": [f"PUT {base}/certificate", f"POST {base}/activate"]}


def list_keys(caller: Any, organ_id: str | None) -> dict[str, Any]:
    """`GET /v1/admin/keys[?organ_id=]`: one agency's keys (newest first), or every served agency's active key
    (soonest expiry first, the list an admin checks for renewals)."""
    require_admin(caller)
    if organ_id:
        return {"items": _agency_keys(organ_id)}
    items = []
    table = aws.table(get_settings().agencies_table)
    kwargs: dict[str, Any] = {}
    while True:
        resp = table.scan(**kwargs)
        for raw in resp.get("Items", []):
            if raw.get("served") and raw.get("signing_key"):

                current = plain(raw["signing_key"])
                items.append(keys.key_view(keys.legacy_record(raw["organ_id"], current)))
        if "LastEvaluatedKey" not in resp:
            break
        kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
    items.sort(key=lambda v: (v.get("not_after") or "9999", v["organ_id"]))
    for view in items:
        view.pop("source", None)
    return {"items": items}


def _agency_keys(organ_id: str) -> list[dict[str, Any]]:
    agency = _agency_item(organ_id)
    records = {r["key_ref"]: r for r in KeyRecords().list(organ_id)}
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


def get_key(caller: Any, organ_id: str, key_ref: str) -> dict[str, Any]:
    """`GET /v1/admin/keys/{organ_id}/{key_ref}`: one key with its public key, CSR, certificate and chain."""
    require_admin(caller)
    return _detail(_record(organ_id, key_ref))
