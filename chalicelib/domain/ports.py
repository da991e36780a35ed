"""The ports of the outbound use cases (register, sign the upload, dispatch, amendments, dead letters): what they
need of storage, files, queues and the agency directory, as `typing.Protocol`s.

Why: use cases talk to ports, not boto3 (issue "One house"); the adapters (chalicelib.adapters.document_store,
.objects, .queues, .agency_registry) implement them on DynamoDB, S3 and SQS, and the in-memory fakes in tests/fakes
implement them for unit tests of the use cases. Records cross as plain dicts of the stored shape (the wire shapes
and the stored data are the contract) or as the small typed records below.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from chalicelib.domain.leases import Lease

__all__ = ["AgencyDirectory", "DocumentRepository", "NotModified", "ObjectHead", "ObjectStore", "ObjectUnavailable",
           "QueueMessage", "Queues"]


@dataclass(frozen=True)
class ObjectHead:
    """What a HEAD of an object says that the use cases need: its size, its user metadata (lower-case keys, without
    `x-amz-meta-`; the upload binding, chalicelib.domain.upload_binding) and the version it describes (None on an
    unversioned store), so that what is checked is what is then downloaded."""

    size: int
    metadata: dict[str, str] = field(default_factory=dict)
    version_id: str | None = None


class ObjectUnavailable(Exception):
    """An object that should be there cannot be read (missing or refused); `code` is the store's own code."""

    def __init__(self, key: str, code: str) -> None:
        super().__init__(f"{key}: {code}")
        self.key = key
        self.code = code


class NotModified(Exception):
    """A conditional read found the object unchanged since the version the caller holds."""


@dataclass(frozen=True)
class QueueMessage:
    """A received message: body, receipt, SQS's system attributes and the string message attributes."""

    message_id: str
    body: str
    receipt_handle: str
    attributes: dict[str, str] = field(default_factory=dict)
    message_attributes: dict[str, str] = field(default_factory=dict)


class ObjectStore(Protocol):
    """The documents bucket (or another one: an S3 event names its own)."""

    def head(self, key: str, version_id: str | None = None) -> ObjectHead | None: ...
    def download(self, key: str, path: str, version_id: str | None = None) -> None: ...
    def open(self, key: str, version_id: str | None = None) -> tuple[ObjectHead, Any] | None: ...
    def upload(self, path: str, key: str, *, content_type: str, metadata: dict[str, str] | None = None) -> None: ...
    def delete_version(self, key: str, version_id: str) -> None: ...
    def read_if_changed(self, key: str, etag: str | None, limit: int) -> tuple[bytes, str]: ...
    def presigned_post(self, key: str, *, content_type: str, max_bytes: int, expires: int,
                       metadata: dict[str, str] | None = None) -> dict[str, Any]: ...
    def presigned_get(self, key: str, *, content_type: str, expires: int, disposition: str | None = None) -> str: ...


class Queues(Protocol):
    """SQS queues by name; each source queue's dead-letter queue is found from its redrive policy."""

    def send(self, queue: str, body: str, attributes: dict[str, str] | None = None) -> None: ...
    def dead_letter(self, source_queue: str, body: str, attributes: dict[str, str] | None = None) -> None: ...
    def dlq_of(self, source_queue: str) -> str: ...
    def receive_all(self, queue: str, visibility: int, limit: int) -> tuple[list[QueueMessage], bool]: ...
    def make_visible(self, queue: str, messages: list[QueueMessage]) -> None: ...
    def delete(self, queue: str, message: QueueMessage) -> None: ...
    def delay(self, queue: str, receipt_handle: str, seconds: int) -> None: ...


class AgencyDirectory(Protocol):
    """Every addressable agency (chalicelib.adapters.agency_registry.Agency records)."""

    def get(self, organ_id: str) -> Any: ...
    def get_many(self, organ_ids: list[str]) -> dict[str, Any]: ...
    #: `get_many` remembered per container for a bounded time (the adapter's AGENCY_TTL_SECONDS): never for signing.
    def cached_many(self, organ_ids: list[str]) -> dict[str, Any]: ...


class DocumentRepository(Protocol):
    """Records, timelines and deliveries of outgoing documents; every write conditional (ConditionFailed)."""

    def create(self, record: dict[str, Any]) -> None: ...
    def get(self, document_id: str) -> dict[str, Any] | None: ...
    def get_full(self, document_id: str) -> tuple[dict[str, Any] | None, list[dict], list[dict]]: ...
    def list_for_organ(self, organ_id: str, *, limit: int = 50, cursor: str | None = None,
                       state: str | None = None) -> tuple[list[dict], str | None]: ...
    def transition(self, document_id: str, target: str, *, fields: dict[str, Any] | None = None,
                   remove: tuple[str, ...] = (), detail: dict[str, Any] | None = None,
                   from_states: frozenset[str] | None = None, claim: Lease | None = None,
                   lease: Lease | None = None) -> None: ...
    def claim(self, document_id: str, lease: Lease, *, in_state: str | None = None,
              fields: dict[str, Any] | None = None, absent: tuple[str, ...] = ()) -> Lease: ...
    def release(self, document_id: str, lease: Lease) -> None: ...
    def put_delivery_intent(self, document_id: str, organ_id: str) -> dict[str, Any]: ...
    def open_delivery(self, document_id: str, organ_id: str, package_sha256: str | None = None,
                      earlier: frozenset[str] = frozenset(), earlier_at: str = "") -> tuple[dict[str, Any], bool]: ...
    def put_delivery_sent(self, document_id: str, organ_id: str, axis_doc_id: str, *, paper: bool,
                          package_sha256: str) -> None: ...
    def mark_delivery_sent(self, document_id: str, organ_id: str, axis_doc_id: str, *, paper: bool,
                           package_sha256: str = "", reconciled: bool = False) -> None: ...
    def note_send_attempt(self, document_id: str, organ_id: str, package_sha256: str) -> dict[str, Any]: ...
    def forget_send_attempt(self, document_id: str, organ_id: str, package_sha256: str) -> None: ...
    def forget_unconfirmed_sends(self, document_id: str) -> list[str]: ...
