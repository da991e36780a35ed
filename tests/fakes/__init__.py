"""In-memory twins of the outbound ports (chalicelib.domain.ports), for unit tests of the use cases.

Each keeps the stored shapes of its adapter (the same dict items, the same lease and delivery fields), so a use case
run against a fake writes what it would write to DynamoDB, S3 or SQS; tests/integration/test_document_store_contract.py
runs one suite against `InMemoryDocumentStore` and the DynamoDB adapter to keep the two in step.
"""

from __future__ import annotations

import copy
import io
import itertools
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chalicelib.adapters.agency_registry import Agency
from chalicelib.adapters.dynamo import ConditionFailed
from chalicelib.core.clock import now_iso
from chalicelib.domain import states, sweep_rules
from chalicelib.domain.leases import Lease
from chalicelib.domain.ports import NotModified, ObjectHead, ObjectUnavailable, QueueMessage

__all__ = ["FakeAgencies", "FakeObjects", "FakeQueues", "InMemoryDocumentStore"]


class InMemoryDocumentStore:
    """`DocumentRepository` in memory: records, events and deliveries with the adapter's conditions."""

    def __init__(self) -> None:
        self.records: dict[str, dict[str, Any]] = {}
        self.events: dict[str, list[dict[str, Any]]] = {}
        self.deliveries: dict[str, dict[str, dict[str, Any]]] = {}
        self._clock = itertools.count()

    # -- records -------------------------------------------------------------------------------------------
    def create(self, record: dict[str, Any]) -> None:
        if record["document_id"] in self.records:
            raise ConditionFailed(record["document_id"])
        due, keys, _ = sweep_rules.index_fields(record["state"], self.now())
        self.records[record["document_id"]] = {**copy.deepcopy(record), **due, **keys, sweep_rules.VERSION_FIELD: 1}
        self.events[record["document_id"]] = [{"state": record["state"], "at": record["created_at"]}]

    def get(self, document_id: str) -> dict[str, Any] | None:
        record = self.records.get(document_id)
        return copy.deepcopy(record) if record is not None else None

    def get_full(self, document_id: str) -> tuple[dict[str, Any] | None, list[dict], list[dict]]:
        rows = self.deliveries.get(document_id, {})
        return (self.get(document_id), copy.deepcopy(self.events.get(document_id, [])),
                [copy.deepcopy(rows[k]) for k in sorted(rows)])

    def list_for_organ(self, organ_id: str, *, limit: int = 50, cursor: str | None = None,
                       state: str | None = None) -> tuple[list[dict], str | None]:
        mine = [r for r in self.records.values() if r["organ_id"] == organ_id and (state is None or
                                                                                 r["state"] == state)]
        mine.sort(key=lambda r: (r["created_at"], r["document_id"]), reverse=True)
        return copy.deepcopy(mine[:limit]), None

    # -- transitions and leases --------------------------------------------------------------------------------
    def _free(self, record: dict[str, Any], lease: Lease) -> bool:
        until = record.get(lease.fields.until)
        return until is None or until < lease.now

    def _owned(self, record: dict[str, Any], lease: Lease) -> bool:
        return record.get(lease.fields.owner) == lease.token

    @staticmethod
    def _at_version(record: dict[str, Any], version: int | None) -> bool:
        return version is None or record.get(sweep_rules.VERSION_FIELD, 0) == version

    def now(self) -> int:
        """The store's clock (epoch seconds), as the adapter's `time.time()`; tests may replace it."""
        return int(time.time())

    def transition(self, document_id: str, target: str, *, fields: dict[str, Any] | None = None,
                   remove: tuple[str, ...] = (), detail: dict[str, Any] | None = None,
                   from_states: frozenset[str] | None = None, claim: Lease | None = None,
                   lease: Lease | None = None, expect_version: int | None = None,
                   free: Lease | None = None) -> None:
        record = self.records.get(document_id)
        allowed = from_states if from_states is not None else states.sources(target)
        if (record is None or record["state"] not in allowed or (claim and not self._free(record, claim))
                or (lease and not self._owned(record, lease)) or not self._at_version(record, expect_version)
                or (free and not self._free(record, free))):
            raise ConditionFailed(document_id)
        at = now_iso()
        indexed, keyed, unindexed = sweep_rules.index_fields(target, self.now())
        record.update({"state": target, "updated_at": at, **copy.deepcopy(fields or {}),
                       **(claim.values() if claim else {}), **indexed,
                       **{k: v for k, v in keyed.items() if k not in record},
                       sweep_rules.VERSION_FIELD: record.get(sweep_rules.VERSION_FIELD, 0) + 1})
        for name in (*remove, *((lease.fields.owner, lease.fields.until) if lease else ()), *unindexed):
            record.pop(name, None)
        event_detail = dict(detail or {})
        if fields and "reason" in fields:
            event_detail.setdefault("reason", fields["reason"])
        self.events[document_id].append({"state": target, "at": at, **({"detail": event_detail}
                                                                         if event_detail else {})})

    # -- the sweep and the upload binding -----------------------------------------------------------------------
    def due_for_sweep(self, now: int, limit: int) -> list[str]:
        due = [r for r in self.records.values()
               if r.get(sweep_rules.LANE_FIELD) == sweep_rules.LANE and r.get(sweep_rules.FROM_FIELD, now + 1) <= now]
        due.sort(key=lambda r: (r[sweep_rules.FROM_FIELD], r["document_id"]))
        return [r["document_id"] for r in due[:limit]]

    def retime_sweep(self, document_id: str, due: int) -> None:
        record = self.records.get(document_id)
        if record is not None and sweep_rules.LANE_FIELD in record and record[sweep_rules.FROM_FIELD] < due:
            record[sweep_rules.FROM_FIELD] = due

    def record_sweep_retry(self, document_id: str, *, state: str, version: int, due: int, free: Lease,
                           detail: dict[str, Any]) -> None:
        record = self.records.get(document_id)
        if (record is None or record["state"] != state or not self._at_version(record, version)
                or not self._free(record, free)):
            raise ConditionFailed(document_id)
        counter = sweep_rules.RETRY_FIELDS[state]
        at = now_iso()
        record.update({sweep_rules.DUE_FIELD: due, sweep_rules.FROM_FIELD: due, "updated_at": at,
                       counter: record.get(counter, 0) + 1,
                       sweep_rules.VERSION_FIELD: record.get(sweep_rules.VERSION_FIELD, 0) + 1})
        self.events[document_id].append({"state": state, "at": at, "detail": dict(detail)})

    def record_foreign_upload(self, document_id: str, *, state: str, detail: dict[str, Any], limit: int) -> bool:
        record = self.records.get(document_id)
        if record is None or record.get("foreign_uploads", 0) >= limit:
            return False
        record["foreign_uploads"] = record.get("foreign_uploads", 0) + 1
        self.events[document_id].append({"state": state, "at": now_iso(), "detail": dict(detail)})
        return True

    def claim(self, document_id: str, lease: Lease, *, in_state: str | None = None,
              fields: dict[str, Any] | None = None, absent: tuple[str, ...] = ()) -> Lease:
        record = self.records.get(document_id)
        if (record is None or (in_state is not None and record["state"] != in_state) or not self._free(record, lease)
                or any(name in record for name in absent)):
            raise ConditionFailed(document_id)
        record.update({**copy.deepcopy(fields or {}), **lease.values()})
        return lease

    def release(self, document_id: str, lease: Lease) -> None:
        record = self.records.get(document_id)
        if record is not None and self._owned(record, lease):
            record[lease.fields.until] = 0

    # -- deliveries ----------------------------------------------------------------------------------------------
    def _row(self, document_id: str, organ_id: str) -> dict[str, Any] | None:
        return self.deliveries.get(document_id, {}).get(organ_id)

    def put_delivery_intent(self, document_id: str, organ_id: str) -> dict[str, Any]:
        return self.open_delivery(document_id, organ_id)[0]

    def open_delivery(self, document_id: str, organ_id: str, package_sha256: str | None = None,
                      earlier: frozenset[str] = frozenset(), earlier_at: str = "") -> tuple[dict[str, Any], bool]:
        rows = self.deliveries.setdefault(document_id, {})
        if organ_id in rows:
            return copy.deepcopy(rows[organ_id]), False
        at = now_iso()
        rows[organ_id] = {"pk": f"DOC#{document_id}", "sk": f"DELIVERY#{organ_id}", "organ_id": organ_id,
                          "status": "PENDING", "updated_at": at, "attempts": 1}
        hashes = set(earlier) | ({package_sha256} if package_sha256 else set())
        if hashes:
            rows[organ_id].update({"package_hashes": hashes, "first_attempt_at": (earlier_at if earlier else "") or at,
                                   "last_attempt_at": at})
        if package_sha256:
            rows[organ_id]["send_attempts"] = 1
        return copy.deepcopy(rows[organ_id]), True

    def put_delivery_sent(self, document_id: str, organ_id: str, axis_doc_id: str, *, paper: bool,
                          package_sha256: str) -> None:
        rows = self.deliveries.setdefault(document_id, {})
        if organ_id in rows:
            raise ConditionFailed(f"{document_id}/{organ_id}")
        at = now_iso()
        rows[organ_id] = {"pk": f"DOC#{document_id}", "sk": f"DELIVERY#{organ_id}", "organ_id": organ_id,
                          "status": "SENT", "updated_at": at, "attempts": 1, "package_hashes": {package_sha256},
                          "send_attempts": 1, "first_attempt_at": at, "last_attempt_at": at,
                          "axis_doc_id": axis_doc_id, "sent_at": at, "paper": paper, "package_sha256": package_sha256,
                          "reconciled": False, "history": [{"status": "SENT", "at": at}]}

    def mark_delivery_sent(self, document_id: str, organ_id: str, axis_doc_id: str, *, paper: bool,
                           package_sha256: str = "", reconciled: bool = False) -> None:
        row = self._row(document_id, organ_id)
        if row is None or row["status"] != "PENDING":
            raise ConditionFailed(f"{document_id}/{organ_id}")
        at = now_iso()
        row.update({"status": "SENT", "axis_doc_id": axis_doc_id, "updated_at": at, "sent_at": at, "paper": paper,
                    "package_sha256": package_sha256, "reconciled": reconciled})
        row.setdefault("history", []).append({"status": "SENT", "at": at, **({"reconciled": True}
                                                                              if reconciled else {})})

    def note_send_attempt(self, document_id: str, organ_id: str, package_sha256: str) -> dict[str, Any]:
        row = self._row(document_id, organ_id)
        if row is None or row["status"] != "PENDING":
            raise ConditionFailed(f"{document_id}/{organ_id}")
        at = now_iso()
        row.update({"updated_at": at, "last_attempt_at": at})
        row.setdefault("first_attempt_at", at)
        row.setdefault("package_hashes", set()).add(package_sha256)
        row["send_attempts"] = row.get("send_attempts", 0) + 1
        return copy.deepcopy(row)

    def forget_send_attempt(self, document_id: str, organ_id: str, package_sha256: str) -> None:
        row = self._row(document_id, organ_id)
        if row is not None and row["status"] == "PENDING":
            row.get("package_hashes", set()).discard(package_sha256)
            if not row.get("package_hashes"):
                row.pop("package_hashes", None)  # DynamoDB drops an emptied set

    def forget_unconfirmed_sends(self, document_id: str) -> list[str]:
        cleared = []
        for organ_id, row in sorted(self.deliveries.get(document_id, {}).items()):
            if row["status"] == "PENDING" and row.get("package_hashes"):
                row.pop("package_hashes")
                row["updated_at"] = now_iso()
                cleared.append(organ_id)
        return cleared


@dataclass
class FakeObjects:
    """`ObjectStore` in memory: key → (bytes, etag)."""

    objects: dict[str, bytes] = field(default_factory=dict)
    uploads: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    #: key → the object's user metadata (as S3 keeps a POST's `x-amz-meta-*` fields)
    metadata: dict[str, dict[str, str]] = field(default_factory=dict)
    #: what `presigned_post` handed out: key → its fields
    posts: dict[str, dict[str, str]] = field(default_factory=dict)
    #: what `delete_version` removed: (key, version)
    deleted: list[tuple[str, str]] = field(default_factory=list)

    def put(self, key: str, data: bytes, metadata: dict[str, str] | None = None) -> None:
        """An object written by a client (metadata given) or by anyone else."""
        self.objects[key] = data
        self.metadata[key] = dict(metadata or {})

    def post(self, fields: dict[str, str], data: bytes, key: str | None = None) -> None:
        """A client's multipart POST of presigned `fields` (to `key` instead, as moto lets a client do)."""
        meta = {k.removeprefix("x-amz-meta-"): v for k, v in fields.items() if k.startswith("x-amz-meta-")}
        self.put(key or fields["key"], data, meta)

    def head(self, key: str, version_id: str | None = None) -> ObjectHead | None:
        if key not in self.objects:
            return None
        return ObjectHead(size=len(self.objects[key]), metadata=dict(self.metadata.get(key, {})))

    def download(self, key: str, path: str, version_id: str | None = None) -> None:
        if key not in self.objects:
            raise ObjectUnavailable(key, "404")
        Path(path).write_bytes(self.objects[key])

    def open(self, key: str, version_id: str | None = None) -> tuple[ObjectHead, Any] | None:
        head = self.head(key, version_id)
        return (head, io.BytesIO(self.objects[key])) if head is not None else None

    def upload(self, path: str, key: str, *, content_type: str, metadata: dict[str, str] | None = None) -> None:
        self.objects[key] = Path(path).read_bytes()
        self.metadata[key] = dict(metadata or {})
        self.uploads.append((key, content_type, dict(metadata or {})))

    def delete_version(self, key: str, version_id: str) -> None:
        self.objects.pop(key, None)
        self.metadata.pop(key, None)
        self.deleted.append((key, version_id))

    def read_if_changed(self, key: str, etag: str | None, limit: int) -> tuple[bytes, str]:
        if key not in self.objects:
            raise ObjectUnavailable(key, "NoSuchKey")
        current = f'"{hash(self.objects[key]) & 0xFFFF:x}"'
        if etag == current:
            raise NotModified(key)
        return self.objects[key][:limit], current

    def presigned_post(self, key: str, *, content_type: str, max_bytes: int, expires: int,
                       metadata: dict[str, str] | None = None) -> dict[str, Any]:
        fields = {"key": key, "Content-Type": content_type,
                  **{f"x-amz-meta-{k}": v for k, v in (metadata or {}).items()}}
        self.posts[key] = fields
        return {"url": "https://objects.test/upload", "fields": dict(fields)}

    def presigned_get(self, key: str, *, content_type: str, expires: int, disposition: str | None = None) -> str:
        return f"https://objects.test/{key}?expires={expires}"


class FakeQueues:
    """`Queues` in memory; each queue `q` has its DLQ `q-dlq`."""

    def __init__(self) -> None:
        self.queues: dict[str, list[QueueMessage]] = {}
        self.delays: list[tuple[str, str, int]] = []

    def messages(self, queue: str) -> list[QueueMessage]:
        return list(self.queues.get(queue, []))

    def send(self, queue: str, body: str, attributes: dict[str, str] | None = None) -> None:
        self.queues.setdefault(queue, []).append(QueueMessage(
            message_id=str(uuid.uuid4()), body=body, receipt_handle=uuid.uuid4().hex,
            attributes={"SentTimestamp": "1700000000000", "ApproximateReceiveCount": "1"},
            message_attributes=dict(attributes or {})))

    def dlq_of(self, source_queue: str) -> str:
        return f"{source_queue}-dlq"

    def dead_letter(self, source_queue: str, body: str, attributes: dict[str, str] | None = None) -> None:
        self.send(self.dlq_of(source_queue), body, attributes)

    def receive_all(self, queue: str, visibility: int, limit: int) -> tuple[list[QueueMessage], bool]:
        found = self.messages(queue)[:limit]
        return found, len(found) >= limit

    def make_visible(self, queue: str, messages: list[QueueMessage]) -> None:
        """Nothing is hidden in memory."""

    def delete(self, queue: str, message: QueueMessage) -> None:
        self.queues[queue] = [m for m in self.queues.get(queue, []) if m.receipt_handle != message.receipt_handle]

    def delay(self, queue: str, receipt_handle: str, seconds: int) -> None:
        self.delays.append((queue, receipt_handle, seconds))


@dataclass
class FakeAgencies:
    """`AgencyDirectory` in memory."""

    agencies: dict[str, Agency] = field(default_factory=dict)

    def add(self, *agencies: Agency) -> FakeAgencies:
        self.agencies.update((a.organ_id, a) for a in agencies)
        return self

    def get(self, organ_id: str) -> Agency | None:
        return self.agencies.get(organ_id)

    def get_many(self, organ_ids: list[str]) -> dict[str, Agency]:
        return {i: self.agencies[i] for i in organ_ids if i in self.agencies}

    def cached_many(self, organ_ids: list[str]) -> dict[str, Agency]:
        """The adapter's per-container cache is its own concern (tests/unit/core/test_ttl_cache.py): here, fresh."""
        return self.get_many(organ_ids)
