"""`sign_document`: from an S3 upload event to a signed PDF and a `SIGNED` record.

Why so careful: S3 → SQS delivers at least once, the object is whatever the client sent (moto does not even
enforce the presigned POST's limits), and a worker may die at any point. So: claim the record with a lease
(conditional write), check the object itself, sign, store, then record `SIGNED` only if the lease is still ours.
A bad upload ends `REJECTED` with a stable reason code and the original kept; a redelivered message finds the
record past `UPLOADED` and changes nothing.

A document uploaded with phụ lục (chalicelib.domain.attachments) has several parts, each its own S3 object and event.
Every event checks whether all parts are there (HEAD on the expected keys); only then does it claim the record, so
the last arrival signs, whatever the order, and two events both seeing all parts race for the same lease.

Before claiming, each part's object must be the upload its presigned POST was issued for: its `upload-token` metadata
hashes to the record's (chalicelib.domain.upload_binding). A foreign object (another agency's POST fields used on this
key, which moto lets through; a PutObject by anyone else) is refused: it is noted on the timeline (`foreign_upload`,
at most MAX_FOREIGN_EVENTS times), the message is consumed, not retried, and the record stays as it was, waiting for
the right upload until it expires. The object is kept: the bucket is versioned, so the right upload on top of it
becomes the latest version, the foreign one stays as evidence, and the signer needs no delete right. The HEAD's
version id is what is then downloaded, so the bytes signed are the bytes checked.
"""

from __future__ import annotations

import json
import os
import tempfile
from functools import lru_cache
from typing import Any
from urllib.parse import quote_plus, unquote_plus

from chalicelib.adapters.agency_registry import Agency, get_agency_registry
from chalicelib.adapters.document_store import get_document_store
from chalicelib.adapters.dynamo import ConditionFailed
from chalicelib.adapters.objects import get_objects, save
from chalicelib.adapters.queues import get_queues
from chalicelib.adapters.record_body import with_issued_number
from chalicelib.adapters.signing_keys import open_raw_signer
from chalicelib.adapters.signing_reads import record_and_agency
from chalicelib.core.clock import now_iso
from chalicelib.core.errors import SigningUnavailable, UploadRejected
from chalicelib.core.log import logger
from chalicelib.core.settings import get_settings
from chalicelib.domain import states, upload_binding
from chalicelib.domain.attachments import MAIN_PART, stamp_label
from chalicelib.domain.leases import UPLOAD, Lease, lease_until
from chalicelib.domain.object_keys import incoming_key, parse_incoming_key, signed_attachment_key, signed_key
from chalicelib.domain.ports import NotModified, ObjectHead, ObjectUnavailable
from chalicelib.domain.retry import RetryLater
from chalicelib.keys.certificates import ensure_certificate_usable
from chalicelib.outbound.numbering import Issuance, held_number, issue_and_check
from chalicelib.signing.pades import PadesProfile, StampBox, identity_from_pem, sign_pdf_file
from chalicelib.signing.pdf_checks import check_upload
from chalicelib.signing.seal import MAX_PNG_BYTES, SealImageError, load_png

__all__ = ["LEASE_SECONDS", "MAX_FOREIGN_EVENTS", "MAX_RECEIVES", "RetryLater", "agency_seal", "enqueue_dispatch",
           "enqueue_upload", "handle_upload_message", "process_upload", "signing_identity", "stamp_box"]

#: A claim on a record expires after this, so a redelivery can take over from a worker that died. Shorter
#: than the queue's visibility timeout (120 s), longer than signing a 150 MB file.
LEASE_SECONDS = 90
#: Matches the queue's redrive maxReceiveCount: on the last attempt the record is marked FAILED.
MAX_RECEIVES = 5
#: Foreign uploads noted on one record's timeline; later ones are only logged.
MAX_FOREIGN_EVENTS = 20


def handle_upload_message(body: str, receive_count: int = 1) -> None:
    """One SQS message from the upload queue: an S3 event notification (or moto's `s3:TestEvent`)."""
    event = json.loads(body)
    if event.get("Event") == "s3:TestEvent":
        return
    for record in event.get("Records", []):
        if not str(record.get("eventName", "")).startswith("ObjectCreated"):
            continue
        obj = record["s3"]["object"]
        process_upload(record["s3"]["bucket"]["name"], unquote_plus(obj["key"]), obj.get("versionId"),
                       receive_count=receive_count)


def process_upload(bucket: str, key: str, version_id: str | None = None, *, receive_count: int = 1) -> None:
    """Sign the uploaded object if its record is waiting for it; otherwise change nothing."""
    parsed = parse_incoming_key(key)
    if parsed is None:
        logger.warning("upload key ignored", extra={"key_prefix": key.split("/", 1)[0]})
        return
    organ_id, document_id, part = parsed
    record, agency = record_and_agency(document_id, organ_id)  # one read (issue 11); the key is never cached
    if record is None or record["organ_id"] != organ_id:
        logger.warning("upload without a matching record", extra={"document_id": document_id})
        return
    if record["state"] == states.SIGNED:
        enqueue_dispatch(document_id)  # an earlier run may have died between recording and enqueueing
        return
    if record["state"] not in (states.AWAITING_UPLOAD, states.UPLOADED):
        logger.info("duplicate upload event", extra={"document_id": document_id, "state": record["state"]})
        return
    bound = _bound_parts(bucket, record, part, version_id)
    if bound is None:
        return
    versions, heads, body = bound
    try:
        _claim_and_sign(bucket, organ_id, document_id, record, agency, versions, heads, body, receive_count)
    finally:
        if body is not None:  # not read: the record was taken by another run, or the upload refused on its size
            body.close()


def _claim_and_sign(bucket: str, organ_id: str, document_id: str, record: dict[str, Any], agency: Agency | None,
                    versions: dict[str, str | None], heads: dict[str, ObjectHead], body: Any,
                    receive_count: int) -> None:
    """Take the record (UPLOADED, with the lease), sign every part and record SIGNED (or why not)."""
    store = get_document_store()
    main_version = versions.get(MAIN_PART)

    lease = Lease.new(UPLOAD, LEASE_SECONDS)
    try:
        store.transition(
            document_id, states.UPLOADED, from_states=frozenset({states.AWAITING_UPLOAD, states.UPLOADED}),
            fields={"uploaded_at": now_iso()}, claim=lease, detail={"attempt": receive_count},
        )
    except ConditionFailed:
        current = store.get(document_id) or {}
        if current.get("state") == states.UPLOADED:
            raise RetryLater(document_id, until=lease_until(current, UPLOAD)) from None
        return

    try:
        with tempfile.TemporaryDirectory(prefix="sign-") as tmp:
            result, facts, issuance = _sign(bucket, incoming_key(organ_id, document_id), main_version, organ_id,
                                            document_id, tmp, record, heads.get(MAIN_PART), agency, body)
            numbered = with_issued_number({**record, **issuance.fields()})  # the phụ lục stamps carry the number
            attachments = _sign_attachments(bucket, organ_id, document_id, tmp, numbered, result.signed_at,
                                            versions, heads, agency)
    except UploadRejected as exc:
        logger.info("upload rejected", extra={"document_id": document_id, "reason": exc.code})
        part_details = {k: exc.details[k] for k in ("part", "name", "fields") if k in exc.details}
        store.transition(document_id, states.REJECTED, fields={
            "reason": exc.code, "reason_message": exc.message,
            **({"reason_details": part_details} if part_details else {}),
            **held_number(record, states.REJECTED, exc.code)}, lease=lease)
        return
    except SigningUnavailable as exc:
        logger.warning("signing key unavailable", extra={"document_id": document_id, "reason": exc.code})
        store.transition(document_id, states.FAILED, fields={"reason": exc.code, "reason_message": exc.message,
                                                             **held_number(record, states.FAILED, exc.code)},
                         lease=lease)
        return
    except Exception:
        if receive_count >= MAX_RECEIVES:
            store.transition(document_id, states.FAILED, fields={
                "reason": "signing_error", "reason_message": "Ký số thất bại sau nhiều lần thử.",
                **held_number(record, states.FAILED, "signing_error")}, lease=lease)
        raise
    noted = issuance.noted
    store.transition(document_id, states.SIGNED, detail={"metadata_mismatch": noted} if noted else None, fields={
        **issuance.fields(),
        "original_sha256": result.original_sha256, "signed_sha256": result.signed_sha256,
        "signed_at": result.signed_at.isoformat(), "signed_key": signed_key(organ_id, document_id),
        "signed_size": result.signed_size, "page_count": facts.page_count, "pades_level": result.level,
        "original_size": result.original_size, **({"attachments": attachments} if attachments else {}),
    }, lease=lease)
    logger.info("document signed", extra={"document_id": document_id, "bytes": result.signed_size})
    enqueue_dispatch(document_id)
    _drop_originals(bucket, incoming_key(organ_id, document_id), record, versions)


def _drop_originals(bucket: str, main_key: str, record: dict[str, Any], versions: dict[str, str | None]) -> None:
    """Once `SIGNED` is recorded, the signed versions of the uploads are deleted (issue 11: storage, which an
    archive pays every month for years). Nothing is lost: each signed file begins with its original byte for byte
    (chalicelib.signing.sign_file copies it and appends the signature as an incremental update), so the original is
    the signed file's first `original_size` bytes, whose SHA-256 is the record's `original_sha256`. Only versions
    this run signed go (another upload to the same key stays, as does everything of a rejected document); best
    effort: a failure leaves the original where it was and fails nothing."""
    keys = {MAIN_PART: main_key, **{f"att-{int(a['index'])}": a["original_key"] for a in record.get("attachments")
                                   or []}}
    objects = get_objects(bucket)
    for part, key in keys.items():
        version = versions.get(part)
        if not version:  # an unversioned bucket: no way to name the very object signed
            continue
        try:
            objects.delete_version(key, version)
        except Exception as exc:
            logger.warning("original not deleted", extra={"document_id": record["document_id"], "part": part,
                                                          "error": type(exc).__name__})


def _sign(bucket: str, key: str, version_id: str | None, organ_id: str, document_id: str, tmp: str,
          record: dict[str, Any], head: ObjectHead | None = None, agency: Agency | None = None,
          body: Any = None) -> tuple[Any, Any, Issuance]:
    """Download, check, number (chalicelib.outbound.numbering), sign and store; returns (SignResult, PdfFacts, the
    Issuance: the number, and the fields the text disagrees on when the agency only warns). `head`: what
    `_bound_parts` found of this very version (issue 11: one request per part, not three); asked again only when it
    found nothing. `body`: that version's body, open (the main part's GetObject, `S3Objects.open`), streamed to disk
    instead of a second GET."""
    objects = get_objects(bucket)
    settings = get_settings()
    if head is None:
        head = objects.head(key, version_id)
    if head is None:
        raise UploadRejected("Không tìm thấy tệp đã tải lên.", code="missing_upload")
    if head.size > settings.max_upload_bytes:
        raise UploadRejected("Tệp vượt quá dung lượng cho phép.", code="file_too_large",
                             details={"max_bytes": settings.max_upload_bytes})
    src = os.path.join(tmp, "original.pdf")
    dst = os.path.join(tmp, "signed.pdf")
    if body is not None:
        save(body, src)
    else:
        objects.download(key, src, version_id)
    facts = check_upload(src, settings.max_upload_bytes)

    agency = _agency(organ_id, agency)
    identity = signing_identity(agency)
    ensure_certificate_usable(identity.certificate, identity.chain)  # per document: expiry is not cacheable
    # Agree or say why, then the number at issuance (issue 12): the page against the record, before signing.
    issuance = issue_and_check(src, record, agency.metadata_check)
    profile = PadesProfile.from_config(settings.tsa_url, settings.pades_level, settings.revocation_cache_seconds)
    result = sign_pdf_file(src, dst, identity, box=stamp_box(record, agency),
                           seal=agency_seal(settings.documents_bucket, agency), profile=profile,
                           marks=issuance.marks)
    objects.upload(dst, signed_key(organ_id, document_id), content_type="application/pdf",
                   metadata={"document-id": document_id, "sha256": result.signed_sha256})
    return result, facts, issuance


def _bound_parts(bucket: str, record: dict[str, Any], part: str, version_id: str | None
                 ) -> tuple[dict[str, str | None], dict[str, ObjectHead], Any] | None:
    """Each part's (`main`, `att-<n>`) version to sign, checked to be the upload its POST was issued for, the HEAD
    answer of each part found (its size is checked before the download; no second HEAD), and when the event is the
    main part's, that part's body, open: its headers were asked with a GetObject instead of a HeadObject (issue 11),
    the caller streams it or closes it. None when the record must wait: a part not in S3 yet (HEAD on each expected
    key; S3 is strongly consistent, so the event of the last part to arrive sees all of them) or a part that is a
    foreign upload (refused, see the module docstring).

    The event names its own part's version; the other parts are their latest. A document without phụ lục whose
    object is gone goes on to be REJECTED `missing_upload` by `_sign`, as before."""
    objects = get_objects(bucket)
    document_id = record["document_id"]
    expected = [(MAIN_PART, incoming_key(record["organ_id"], document_id), record.get(upload_binding.RECORD_FIELD))]
    expected += [(f"att-{int(a['index'])}", a["original_key"], a.get(upload_binding.RECORD_FIELD))
                 for a in record.get("attachments") or []]
    versions: dict[str, str | None] = {}
    heads: dict[str, ObjectHead] = {}
    missing = []
    body = None
    for name, key, digest in expected:
        own = name == part
        if own and name == MAIN_PART:
            opened = objects.open(key, version_id)
            head, body = opened if opened is not None else (None, None)
        else:
            head = objects.head(key, version_id if own else None)
        if head is None:
            missing.append(name)
            versions[name] = version_id if own else None
            continue
        if not upload_binding.is_bound(head.metadata, digest):
            if own:
                _refuse_foreign(record, name, head.version_id or version_id)
            else:  # its own event refuses it; this one waits for the right upload of that part
                logger.warning("another part is a foreign upload", extra={"document_id": document_id, "part": name})
            return _closing(body)
        versions[name] = head.version_id or (version_id if own else None)
        heads[name] = head
    if missing and record.get("attachments"):
        logger.info("waiting for the other parts", extra={"document_id": document_id, "part": part,
                                                          "missing": missing})
        return _closing(body)
    return versions, heads, body


def _closing(body: Any) -> None:
    """None, the open body (if any) closed: the record waits or refuses, nothing is read."""
    if body is not None:
        body.close()


def _refuse_foreign(record: dict[str, Any], part: str, version_id: str | None) -> None:
    """A foreign object at one of the record's keys: on the timeline (bounded), the record itself unchanged."""
    document_id = record["document_id"]
    logger.warning("foreign upload refused", extra={"document_id": document_id, "part": part,
                                                    "reason": "foreign_upload"})
    detail = {"refused": "foreign_upload", "part": part, **({"version_id": version_id} if version_id else {})}
    if not get_document_store().record_foreign_upload(document_id, state=record["state"], detail=detail,
                                                      limit=MAX_FOREIGN_EVENTS):
        logger.warning("foreign uploads no longer noted on the record", extra={"document_id": document_id})


def _sign_attachments(bucket: str, organ_id: str, document_id: str, tmp: str, record: dict[str, Any],
                      signed_at: Any, versions: dict[str, str | None],
                      heads: dict[str, ObjectHead] | None = None, agency: Agency | None = None
                      ) -> list[dict[str, Any]]:
    """Check every phụ lục like the main file, then sign each with the organisation's key and the text-only stamp
    in the top-right corner of its first page (signature-appearance.md), at the main signature's time.

    All are checked before any is signed, so a bad one rejects the document without signing the rest; an
    `UploadRejected` names the part (`details.part`). Returns the record's `attachments` with the digests and keys.
    """
    entries = list(record.get("attachments") or [])
    if not entries:
        return []
    objects = get_objects(bucket)
    settings = get_settings()
    sources = []
    for entry in entries:
        part = f"att-{int(entry['index'])}"
        where = {"part": part, "name": entry["name"]}
        version = versions.get(part)  # the version whose upload token was checked
        try:
            head = (heads or {}).get(part) or objects.head(entry["original_key"], version)
            if head is None:  # the parts were all there a moment ago: a transient oddity, retried
                raise ObjectUnavailable(entry["original_key"], "404")
            if head.size > settings.max_upload_bytes:
                raise UploadRejected("Tệp vượt quá dung lượng cho phép.", code="file_too_large",
                                     details={"max_bytes": settings.max_upload_bytes})
            src = os.path.join(tmp, f"{part}.pdf")
            objects.download(entry["original_key"], src, version)
            check_upload(src, settings.max_upload_bytes)
        except UploadRejected as exc:
            raise UploadRejected(exc.message, code=exc.code, details={**exc.details, **where}) from exc
        sources.append((entry, part, src))

    agency = _agency(organ_id, agency)
    identity = signing_identity(agency)
    profile = PadesProfile.from_config(settings.tsa_url, settings.pades_level, settings.revocation_cache_seconds)
    md = record["metadata"]
    label = stamp_label(md.get("number", ""), md["notation"])
    out = []
    for entry, part, src in sources:
        dst = os.path.join(tmp, f"{part}-signed.pdf")
        try:
            result = sign_pdf_file(src, dst, identity, signed_at=signed_at, box=StampBox.attachment(),
                                   profile=profile, stamp_label=label)
        except UploadRejected as exc:
            raise UploadRejected(exc.message, code=exc.code,
                                 details={**exc.details, "part": part, "name": entry["name"]}) from exc
        key = signed_attachment_key(organ_id, document_id, int(entry["index"]))
        objects.upload(dst, key, content_type="application/pdf",
                       metadata={"document-id": document_id, "part": part, "sha256": result.signed_sha256})
        for path in (src, dst):  # one phụ lục at a time on the Lambda's /tmp
            os.remove(path)
        out.append({**entry, "original_sha256": result.original_sha256, "signed_sha256": result.signed_sha256,
                    "signed_key": key, "signed_size": result.signed_size, "original_size": result.original_size})
    return out


def stamp_box(record: dict[str, Any], agency: Agency) -> Any:
    """Where the organisation's signature goes: the upload's own `stamp` (validated at POST), else the agency's
    configured placement, else the default (lower right of the last page)."""
    if record.get("stamp_box"):
        return StampBox.from_placement(record["stamp_box"])
    if agency.stamp:
        try:
            return StampBox.from_placement(agency.stamp)
        except (TypeError, ValueError):  # admin data: sign at the default place rather than not at all
            logger.warning("agency stamp placement unusable, default used", extra={"organ_id": agency.organ_id})
    return StampBox()


#: organ_id → (S3 ETag, decoded seal): one download and decode per container per seal version.
_seals: dict[str, tuple[str, Any]] = {}
_SEAL_CACHE_SIZE = 256


def agency_seal(bucket: str, agency: Agency) -> Any:
    """The agency's seal image (`SealImage`), or None when it has none registered.

    Cached per container by the S3 ETag: when the agency item carries the ETag (`seal_etag`, written with the
    seal) a warm container makes no S3 call at all; otherwise one conditional GET (`If-None-Match`, a 304 when
    unchanged). A registered seal that cannot be read or decoded is `SigningUnavailable` (`seal_unavailable`):
    the document waits in `FAILED` for an admin rather than going out without the organisation's seal.
    """
    if not agency.seal_key:
        return None
    cached = _seals.get(agency.organ_id)
    if cached is not None and agency.seal_etag and cached[0] == agency.seal_etag and cached[1].key == agency.seal_key:
        return cached[1]
    held = cached[0] if cached is not None and cached[1].key == agency.seal_key else None
    try:
        data, etag = get_objects(bucket).read_if_changed(agency.seal_key, held, MAX_PNG_BYTES + 1)
    except NotModified:
        if cached is None:
            raise
        return cached[1]
    except ObjectUnavailable as exc:
        raise SigningUnavailable("Không đọc được ảnh con dấu của cơ quan.", code="seal_unavailable",
                                 details={"organ_id": agency.organ_id, "seal_key": agency.seal_key,
                                          "s3_error": exc.code}) from exc
    try:
        seal = load_png(data, key=agency.seal_key)
    except SealImageError as exc:
        raise SigningUnavailable("Ảnh con dấu của cơ quan không dùng được.", code="seal_unavailable",
                                 details={"organ_id": agency.organ_id, "seal_key": agency.seal_key,
                                          "problem": str(exc)}) from exc
    if len(_seals) >= _SEAL_CACHE_SIZE:
        _seals.pop(next(iter(_seals)))
    _seals[agency.organ_id] = (etag, seal)
    return seal


def _agency(organ_id: str, agency: Agency | None = None) -> Agency:
    """The agency read with the record for this very event (`record_and_agency`), else read now; never from a cache:
    its signing key decides which key signs (chalicelib.adapters.signing_reads)."""
    agency = agency or get_agency_registry().get(organ_id)
    if agency is None or agency.signing_key is None:
        raise SigningUnavailable(details={"organ_id": organ_id})
    return agency


def signing_identity(agency: Agency) -> Any:
    """The agency's signing identity, built once per warm container per key and certificate."""
    key = agency.signing_key
    if key is None:
        raise SigningUnavailable(details={"organ_id": agency.organ_id})
    return _identity(agency.organ_id, agency.name, key.backend, key.key_id, key.signing_algorithm,
                     key.certificate_pem, key.chain_pem)


@lru_cache(maxsize=64)
def _identity(organ_id: str, name: str, backend: str, key_id: str, algorithm: str, cert_pem: str,
              chain_pem: str) -> Any:
    """Built once per key and certificate. The backend comes from the agency's `signing_key.backend`
    (`kms` | `pkcs11`, see `adapters.signing_keys.open_raw_signer`); an unknown one raises SigningUnavailable
    (not cached)."""
    raw = open_raw_signer(backend, key_id, algorithm)
    return identity_from_pem(organ_id, name, cert_pem, chain_pem, raw)


def enqueue_dispatch(document_id: str) -> None:
    """Hand the document to `dispatch_document`; duplicates are harmless (dispatch is idempotent)."""
    get_queues().send(get_settings().dispatch_queue, json.dumps({"document_id": document_id}))


def enqueue_upload(organ_id: str, document_id: str, source: str) -> None:
    """Offer the document's upload to `sign_document` again (the S3 notification's shape, from `source`, e.g.
    `edoc-gateway:sweep`; no version: the latest upload, which `process_upload` checks like any other)."""
    settings = get_settings()
    body = {"Records": [{"eventSource": source, "eventName": "ObjectCreated:Retry",
                         "s3": {"bucket": {"name": settings.documents_bucket},
                                "object": {"key": quote_plus(incoming_key(organ_id, document_id), safe="/")}}}]}
    get_queues().send(settings.upload_queue, json.dumps(body))
