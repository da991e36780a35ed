"""The ports the inbound use cases (the inbox, the status outbox, poll_axis) talk to, as Protocols.

Why: use cases call these, never boto3 (issue "One house"); the adapters that implement them
(`chalicelib.adapters.inbound_store.InboundStore`, `chalicelib.adapters.objects.S3Objects`,
`chalicelib.adapters.agency_registry.AgencyRegistry`, the axis client) are built once per container by small cached
factories, and the unit tests hand the use cases in-memory twins (tests/fakes/inbound.py) instead. Records stay the
dicts the table holds (their fields are the wire shape, docs/contract.md#wire-shapes); only the operations are typed
here.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Protocol

__all__ = ["AgencyDirectory", "AxisSender", "DownloadLinks", "EnvelopeRun", "InboxRepository", "NamedAgency",
           "OutboxRepository", "SentEnvelope"]


class SentEnvelope(Protocol):
    """What the axis answers to `sendEdoc`: the envelope's DocId."""

    doc_id: str


class AxisSender(Protocol):
    """The one axis call the outbox needs (`sendEdoc`, docs/axis-protocol.md)."""

    def send_edoc(self, path: str, *, to: list[str], messagetype: str) -> SentEnvelope: ...


class OutboxRepository(Protocol):
    """Status packages waiting to be sent, with a lease per send attempt (chalicelib.inbound.outbox)."""

    def pending_outbox(self, organ_id: str) -> list[dict[str, Any]]: ...

    def lease_outbox(self, item: dict[str, Any]) -> str | None: ...

    def release_outbox(self, item: dict[str, Any], token: str, error: str) -> None: ...

    def fail_outbox(self, item: dict[str, Any], token: str, error_code: str) -> None: ...

    def complete_outbox(self, item: dict[str, Any], token: str, axis_doc_id: str) -> bool: ...


class InboxRepository(OutboxRepository, Protocol):
    """Inbox items and the envelopes an administrator must see. `record_clerk_status` raises
    `chalicelib.adapters.dynamo.ConditionFailed` when the item is no longer at the status the decision was made on;
    a cursor from another agency's list raises `invalid_cursor`."""

    def get_inbox_item(self, inbox_id: str) -> dict[str, Any] | None: ...

    def list_inbox(self, organ_id: str, *, limit: int, cursor: str | None
                   ) -> tuple[list[dict[str, Any]], str | None]: ...

    def record_clerk_status(self, item: dict[str, Any], entry: dict[str, Any], outbox: dict[str, Any]) -> None: ...

    def list_issues(self, *, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]: ...


class NamedAgency(Protocol):
    """What the inbound side reads of a registry entry."""

    name: str


class AgencyDirectory(Protocol):
    """The agency registry, read only."""

    def get(self, organ_id: str) -> NamedAgency | None: ...


class DownloadLinks(Protocol):
    """Short-lived download links to stored attachments."""

    def presigned_get(self, key: str, *, content_type: str, expires: int, disposition: str | None = None) -> str: ...


class EnvelopeRun(Protocol):
    """One agency's poll as the inbound amendments see it (chalicelib.inbound.poll hands itself over): whose
    envelope it is, the axis client speaking as that agency, the run's counters, and how to acknowledge or refuse."""

    organ_id: str
    agency: NamedAgency | None
    client: AxisSender
    counts: Counter[str]
    store: Any  # the inbound repository (chalicelib.adapters.inbound_store.InboundStore or its in-memory twin)

    def ack(self, doc_id: str, ack: str) -> None: ...

    def refuse(self, base: dict[str, Any], outcome: str, reason: str, ack: str,
               details: dict[str, Any] | None = None) -> None: ...
