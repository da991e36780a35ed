"""Agency-facing use cases on outgoing documents: register metadata and hand out the upload, read records,
list them, and give a short-lived link to the signed PDF.

Tenant isolation lives here: every read starts from the caller's organ_id, and another agency's document
answers 404 (not 403), so ids cannot be probed.
"""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import ValidationError

from chalicelib.adapters.agency_registry import get_agency_registry
from chalicelib.adapters.document_store import get_document_store
from chalicelib.adapters.objects import get_objects
from chalicelib.core.clock import now_iso
from chalicelib.core.errors import Forbidden, NotFound, SecretDocument, ValidationFailed
from chalicelib.core.settings import DOWNLOAD_URL_TTL_SECONDS, UPLOAD_URL_TTL_SECONDS, get_settings
from chalicelib.domain import states, upload_binding
from chalicelib.domain.attachments import find_part
from chalicelib.domain.caller import Caller
from chalicelib.domain.links import expires_at
from chalicelib.domain.metadata import DocumentMetadata
from chalicelib.domain.object_keys import incoming_attachment_key, incoming_key
from chalicelib.domain.paging import page_limit
from chalicelib.domain.recipients import refuse_bad_recipients
from chalicelib.domain.text import validation_failed
from chalicelib.domain.text_search import fold
from chalicelib.outbound.amendments import list_for_document, prepare_replacement
from chalicelib.outbound.presenters import present

__all__ = ["create_document", "get_document", "get_record", "list_documents", "signed_download"]


def _validate(body: Any) -> DocumentMetadata:
    """Pydantic validation with errors a clerk can act on; secret documents refused before anything else."""
    if not isinstance(body, dict):
        raise ValidationFailed("Nội dung yêu cầu phải là một đối tượng JSON.")
    secrecy = body.get("secrecy", "none")
    if secrecy not in (None, "none"):
        raise SecretDocument(details={"secrecy": secrecy})
    try:
        return DocumentMetadata.model_validate(body)
    except ValidationError as exc:  # bad client text is `invalid_text` with details.field (chalicelib.domain.text)
        raise validation_failed(exc) from exc


def create_document(caller: Caller, body: Any) -> dict[str, Any]:
    """`POST /v1/documents`: validate, check sender and recipients, write `AWAITING_UPLOAD`, presign the POST."""
    metadata = _validate(body)
    registry = get_agency_registry()
    agencies = registry.cached_many([caller.organ_id, *metadata.recipients])
    sender = agencies.get(caller.organ_id)
    if sender is None or not sender.served or not sender.active:
        raise Forbidden("Cơ quan của tài khoản không được cổng này phục vụ.", code="agency_not_served")
    refuse_bad_recipients(metadata.recipients, agencies)

    document_id = str(uuid.uuid4())
    key = incoming_key(caller.organ_id, document_id)
    # One upload token per part (chalicelib.domain.upload_binding): the POST carries it, the record its SHA-256.
    token = upload_binding.new_token()
    tokens = [upload_binding.new_token() for _ in metadata.attachments]
    attachments = [
        {"index": n, "name": spec.name, **({"file_name": spec.file_name} if spec.file_name else {}),
         "original_key": incoming_attachment_key(caller.organ_id, document_id, n),
         upload_binding.RECORD_FIELD: upload_binding.digest(tokens[n - 1])}
        for n, spec in enumerate(metadata.attachments, start=1)]
    created = now_iso()
    # The stamp placement (optional) is kept twice: in the metadata shown back to the client, and as `stamp_box`,
    # what the signing handler reads. Decimal either way (DynamoDB takes no floats).
    stamp = metadata.stamp.as_record() if metadata.stamp else None
    # A replacement (thay thế) claims the document it replaces first (outbound.amendments); dispatch then sends
    # BussinessDocType 3 naming it. Recorded in the metadata only when given, so other records keep their shape.
    replaces = None
    if metadata.replaces:
        replaces = prepare_replacement(caller, metadata, document_id)
    get_document_store().create({
        "document_id": document_id, "organ_id": caller.organ_id, "state": states.AWAITING_UPLOAD,
        "metadata": {**metadata.model_dump(mode="json", exclude={"stamp", "replaces", "attachments"}),
                     **({"stamp": stamp} if stamp else {}), **({"replaces": metadata.replaces} if replaces else {})},
        "created_at": created, "updated_at": created, "created_by": caller.username, "original_key": key,
        # The trích yếu folded (chalicelib.domain.text_search): what the admin search matches accent-free words in.
        "subject_folded": fold(metadata.subject),
        upload_binding.RECORD_FIELD: upload_binding.digest(token),
        **({"stamp_box": stamp} if stamp else {}), **({"replaces": replaces} if replaces else {}),
        # Phụ lục (chalicelib.domain.attachments): the signing handler waits for every part, then signs them all.
        **({"attachments": attachments} if attachments else {}),
    })
    body: dict[str, Any] = {
        "document_id": document_id, "state": states.AWAITING_UPLOAD, "upload": _presigned_upload(key, token),
    }
    if attachments:
        body["attachment_uploads"] = [
            {"index": a["index"], "name": a["name"], **_presigned_upload(a["original_key"], tokens[a["index"] - 1])}
            for a in attachments]
    return body


def _presigned_upload(key: str, token: str) -> dict[str, Any]:
    """A presigned POST for one PDF (`upload` and each of `attachment_uploads`): the same size and type limits, and
    the part's upload token as a field the policy pins (the signing handler checks it on the object)."""
    settings = get_settings()
    post = get_objects().presigned_post(key, content_type="application/pdf", max_bytes=settings.max_upload_bytes,
                                        expires=UPLOAD_URL_TTL_SECONDS,
                                        metadata={upload_binding.METADATA_KEY: token})
    return {"url": post["url"], "fields": post["fields"], "expires_at": expires_at(UPLOAD_URL_TTL_SECONDS),
            "max_bytes": settings.max_upload_bytes}


def _own_record(caller: Caller, document_id: str) -> tuple[dict, list, list]:
    try:
        uuid.UUID(document_id)
    except ValueError as exc:
        raise NotFound("Không tìm thấy văn bản.", code="document_not_found") from exc
    record, events, deliveries = get_document_store().get_full(document_id)
    if record is None or (record["organ_id"] != caller.organ_id and not caller.is_admin):
        raise NotFound("Không tìm thấy văn bản.", code="document_not_found")
    return record, events, deliveries


def get_record(caller: Caller, document_id: str) -> dict[str, Any]:
    """The caller's own record (internal fields included, for other use cases); 404 for anyone else's."""
    return _own_record(caller, document_id)[0]


def get_document(caller: Caller, document_id: str) -> dict[str, Any]:
    record, events, deliveries = _own_record(caller, document_id)
    out = present(record, events, deliveries)
    if record.get("amendments_count"):  # revocation, updates of recipients (chalicelib.outbound.amendments)
        out["amendments"] = list_for_document(document_id)
    return out


def list_documents(caller: Caller, *, limit: str | None, cursor: str | None, state: str | None) -> dict[str, Any]:
    size = page_limit(limit)
    if state and state not in states.ALL_STATES:
        raise ValidationFailed("Trạng thái lọc không hợp lệ.", code="invalid_state", details={"state": state})
    items, nxt = get_document_store().list_for_organ(caller.organ_id, limit=size, cursor=cursor, state=state)
    body: dict[str, Any] = {"items": [present(i) for i in items]}
    if nxt:
        body["next"] = nxt
    return body


def signed_download(caller: Caller, document_id: str, part: str | None = None) -> dict[str, Any]:
    """A short-lived GET URL for the signed PDF, once there is one; `part` `att-<n>` for a phụ lục (default the
    document itself)."""
    record, _, _ = _own_record(caller, document_id)
    attachment = find_part(record, part)
    key = (attachment or record).get("signed_key")
    if not key:
        raise NotFound("Văn bản chưa được ký số.", code="not_signed_yet", details={"state": record["state"]})
    url = get_objects().presigned_get(key, content_type="application/pdf", expires=DOWNLOAD_URL_TTL_SECONDS)
    return {"url": url, "expires_at": expires_at(DOWNLOAD_URL_TTL_SECONDS)}
