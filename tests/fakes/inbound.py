"""In-memory twins of the inbound ports (chalicelib.domain.inbound_ports), for the inbox use cases' unit tests.

They keep the adapters' contracts that the use cases rely on: a clerk's report is written only if the item is
still at the status it was decided on (else ConditionFailed), an outbox item is leased by one sender at a time and
completing it notes the axis DocId on the item, a cursor belongs to one agency's list. tests/integration/
test_inbound_store_contract.py runs one suite against MemoryInboxStore and the DynamoDB adapter, so where they could
differ this one does what the adapter does (a lease is an owner token plus an expiry; releasing or failing removes
only the expiry, as `InboundStore` does).
"""

from __future__ import annotations

import base64
import copy
import json
from dataclasses import dataclass, field
from typing import Any

from chalicelib.adapters.dynamo import ConditionFailed
from chalicelib.core.clock import now_iso
from chalicelib.core.errors import ValidationFailed
from chalicelib.domain.leases import OUTBOX, Lease

#: As `chalicelib.adapters.inbound_store.OUTBOX_LEASE_SECONDS`.
OUTBOX_LEASE_SECONDS = 90


class MemoryInboxStore:
    """InboxRepository in memory: inbox items, the status outbox and the administrator's issue list."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.outbox: dict[tuple[str, str], dict[str, Any]] = {}
        self.issues: list[dict[str, Any]] = []
        self.envelopes: dict[tuple[str, str], dict[str, Any]] = {}
        self.fail_next_clerk_status = False

    # -- setup helpers -----------------------------------------------------------------------------------------
    def add_item(self, item: dict[str, Any]) -> dict[str, Any]:
        self.items[item["inbox_id"]] = copy.deepcopy(item)
        return item

    # -- what poll_axis files ----------------------------------------------------------------------------------
    def file_inbox_item(self, item: dict[str, Any], outbox: dict[str, Any], envelope: dict[str, Any]) -> bool:
        """As `InboundStore.file_inbox_item`: item + its 01 + the envelope record, all or nothing; False when any
        of them exists already."""
        outbox_key = (outbox["pk"], outbox["sk"])
        envelope_key = (envelope["axis_doc_id"], envelope["organ_id"])
        if item["inbox_id"] in self.items or outbox_key in self.outbox or envelope_key in self.envelopes:
            return False
        self.items[item["inbox_id"]] = copy.deepcopy(item)
        self.outbox[outbox_key] = copy.deepcopy(outbox)
        self.envelopes[envelope_key] = copy.deepcopy(envelope)
        return True

    def get_envelope(self, axis_doc_id: str, organ_id: str) -> dict[str, Any] | None:
        envelope = self.envelopes.get((axis_doc_id, organ_id))
        return copy.deepcopy(envelope) if envelope is not None else None

    # -- InboxRepository ---------------------------------------------------------------------------------------
    def get_inbox_item(self, inbox_id: str) -> dict[str, Any] | None:
        item = self.items.get(inbox_id)
        return copy.deepcopy(item) if item is not None else None

    def list_inbox(self, organ_id: str, *, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        mine = sorted((i for i in self.items.values() if i["organ_id"] == organ_id),
                      key=lambda i: (i["received_at"], i["inbox_id"]), reverse=True)
        return self._page(f"INBOX#{organ_id}", mine, limit, cursor)

    def list_issues(self, *, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        return self._page("AXIS_ISSUE", list(reversed(self.issues)), limit, cursor)

    def record_clerk_status(self, item: dict[str, Any], entry: dict[str, Any], outbox: dict[str, Any]) -> None:
        stored = self.items.get(item["inbox_id"])
        key = (outbox["pk"], outbox["sk"])
        if self.fail_next_clerk_status or stored is None or stored["status_code"] != item["status_code"] \
                or key in self.outbox:
            self.fail_next_clerk_status = False
            raise ConditionFailed("status changed")
        stored.update(status=entry["status"], status_code=entry["code"], updated_at=entry["at"])
        stored["status_history"] = [*stored.get("status_history", []), copy.deepcopy(entry)]
        self.outbox[key] = copy.deepcopy(outbox)

    # -- OutboxRepository --------------------------------------------------------------------------------------
    def pending_outbox(self, organ_id: str) -> list[dict[str, Any]]:
        return sorted((copy.deepcopy(o) for o in self.outbox.values()
                       if o["pk"] == f"OUTBOX#{organ_id}" and not o.get("failed_at")),
                      key=lambda o: o.get("created_at", ""))

    def lease_outbox(self, item: dict[str, Any]) -> str | None:
        """A fresh token when nobody holds the item (no expiry, or one past) and it was not given up on."""
        stored = self.outbox.get((item["pk"], item["sk"]))
        lease = Lease.new(OUTBOX, OUTBOX_LEASE_SECONDS)
        if stored is None or stored.get("failed_at") or stored.get(OUTBOX.until, -1) >= lease.now:
            return None
        stored.update(lease.values())
        stored["attempts"] = stored.get("attempts", 0) + 1
        return lease.token

    def release_outbox(self, item: dict[str, Any], token: str, error: str) -> None:
        stored = self.outbox.get((item["pk"], item["sk"]))
        if stored is not None and stored.get(OUTBOX.owner) == token:
            stored.pop(OUTBOX.owner, None)  # giving the lease up removes both its fields (domain.leases)
            stored.pop(OUTBOX.until, None)
            stored["last_error"] = error

    def fail_outbox(self, item: dict[str, Any], token: str, error_code: str) -> None:
        stored = self.outbox.get((item["pk"], item["sk"]))
        if stored is not None and stored.get(OUTBOX.owner) == token:
            stored.pop(OUTBOX.owner, None)
            stored.pop(OUTBOX.until, None)
            at = now_iso()
            stored.update(failed_at=at, last_error=error_code, outcome="status_send_refused", gsi1pk="AXIS_ISSUE",
                          gsi1sk=f"{at}#{stored['sk']}")
            self.issues.append(copy.deepcopy(stored))

    def complete_outbox(self, item: dict[str, Any], token: str, axis_doc_id: str) -> bool:
        key = (item["pk"], item["sk"])
        stored = self.outbox.get(key)
        if stored is None or stored.get(OUTBOX.owner) != token or item["inbox_id"] not in self.items:
            return False
        del self.outbox[key]
        self.items[item["inbox_id"]].setdefault("sent_statuses", {})[item["code"]] = {
            "axis_doc_id": axis_doc_id, "sent_at": now_iso()}
        return True

    # -- internals ---------------------------------------------------------------------------------------------
    @staticmethod
    def _page(partition: str, rows: list[dict[str, Any]], limit: int, cursor: str | None
              ) -> tuple[list[dict[str, Any]], str | None]:
        start = 0
        if cursor:
            try:
                decoded = json.loads(base64.urlsafe_b64decode(cursor.encode()))
            except ValueError:  # as `decode_cursor`: the client's error, never a 500
                decoded = None
            if not isinstance(decoded, dict) or decoded.get("partition") != partition \
                    or not isinstance(decoded.get("start"), int):
                raise ValidationFailed("Con trỏ phân trang không hợp lệ.", code="invalid_cursor")
            start = decoded["start"]
        page = rows[start:start + limit]
        more = start + limit < len(rows)
        nxt = base64.urlsafe_b64encode(json.dumps({"partition": partition, "start": start + limit}).encode()).decode()
        return [copy.deepcopy(r) for r in page], nxt if more else None


@dataclass(frozen=True)
class FakeAgency:
    organ_id: str
    name: str


class MemoryAgencies:
    """AgencyDirectory in memory."""

    def __init__(self, *agencies: FakeAgency) -> None:
        self.agencies = {a.organ_id: a for a in agencies}

    def get(self, organ_id: str) -> FakeAgency | None:
        return self.agencies.get(organ_id)


class FakeLinks:
    """DownloadLinks that answer a recognisable URL and remember what was asked."""

    def __init__(self) -> None:
        self.asked: list[dict[str, Any]] = []

    def presigned_get(self, key: str, *, content_type: str, expires: int, disposition: str | None = None) -> str:
        self.asked.append({"key": key, "disposition": disposition, "content_type": content_type,
                           "expires_in": expires})
        return f"https://files.example/{key}?expires_in={expires}"


@dataclass(frozen=True)
class Sent:
    doc_id: str


@dataclass
class FakeAxis:
    """An axis that takes every status package (or raises `error`), keeping what it was sent."""

    error: Exception | None = None
    sent: list[dict[str, Any]] = field(default_factory=list)
    clients_for: list[str] = field(default_factory=list)

    def client(self, organ_id: str) -> FakeAxis:
        self.clients_for.append(organ_id)
        return self

    def send_edoc(self, path: str, *, to: list[str], messagetype: str) -> Sent:
        if self.error is not None:
            raise self.error
        with open(path, "rb") as fh:
            self.sent.append({"package": fh.read(), "to": to, "messagetype": messagetype})
        return Sent(doc_id=f"{len(self.sent):024x}")


class MemoryInboundStore(MemoryInboxStore):
    """What poll_axis and the inbound amendments need of `InboundStore`, in memory: envelope records (issues join
    the admin list), attempts per envelope (counted with a bound, as the conditional write does), our documents'
    delivery rows and the amendment writes. tests/integration/test_inbound_store_contract.py checks the attempts
    and the envelope records against the adapter."""

    def __init__(self) -> None:
        super().__init__()
        self.attempts: dict[tuple[str, str], dict[str, Any]] = {}
        self.edxml_ids: dict[str, list[dict[str, Any]]] = {}
        self.deliveries: dict[tuple[str, str], dict[str, Any]] = {}
        self.writes = 0  # every write, for tests that check nothing was written
        #: (organ_id, year) → inbox ids in the order their số đến was issued (the register of incoming documents)
        self.arrivals: dict[tuple[str, int], list[str]] = {}
        self.arrival_entries: dict[str, dict[str, Any]] = {}

    def issue_arrival_number(self, organ_id: str, year: int, inbox_id: str, entry: dict[str, Any]) -> dict[str, Any]:
        """As RegisterStore.issue: the next number, or the one this inbox id holds (not a write when it does)."""
        held = self.arrivals.setdefault((organ_id, year), [])
        if inbox_id not in held:
            held.append(inbox_id)
            self.arrival_entries[inbox_id] = dict(entry)
            self.writes += 1
        n = held.index(inbox_id) + 1
        return {"n": n, "number": f"{n:02d}", "year": year, "reused": False}

    # -- setup helpers -----------------------------------------------------------------------------------------
    def add_sent_document(self, edxml_document_id: str, document_id: str, organ_id: str, recipients: list[str],
                          status: str = "SENT") -> None:
        self.edxml_ids.setdefault(edxml_document_id, []).append(
            {"document_id": document_id, "organ_id": organ_id, "created_at": now_iso()})
        for recipient in recipients:
            self.deliveries[(document_id, recipient)] = {"organ_id": recipient, "status": status, "history": []}

    # -- envelopes ---------------------------------------------------------------------------------------------
    def put_envelope(self, record: dict[str, Any], *, issue: bool = False) -> bool:
        key = (record["axis_doc_id"], record["organ_id"])
        if key in self.envelopes:
            return False
        self.writes += 1
        self.envelopes[key] = copy.deepcopy(record)
        if issue:
            self.issues.append(copy.deepcopy(record))
        return True

    def mark_envelope_acked(self, axis_doc_id: str, organ_id: str, ack: str) -> None:
        envelope = self.envelopes.get((axis_doc_id, organ_id))
        if envelope is None:
            raise ConditionFailed("no envelope record")
        envelope.update(ack=ack, acked_at=now_iso())

    def drop_unfinished_envelope(self, record: dict[str, Any]) -> None:
        key = (record["axis_doc_id"], record["organ_id"])
        if self.envelopes.get(key, {}).get("outcome") == record["outcome"]:
            del self.envelopes[key]

    # -- attempts ----------------------------------------------------------------------------------------------
    def begin_attempt(self, axis_doc_id: str, organ_id: str, max_attempts: int) -> dict[str, Any]:
        record = self.attempts.setdefault((axis_doc_id, organ_id), {})
        if record.get("attempts", 0) >= max_attempts:
            return {**copy.deepcopy(record), "exhausted": True}
        record["attempts"] = record.get("attempts", 0) + 1
        record["attempted_at"] = now_iso()
        return copy.deepcopy(record)

    def note_attempt(self, axis_doc_id: str, organ_id: str, facts: dict[str, Any]) -> None:
        self.attempts.setdefault((axis_doc_id, organ_id), {}).update(copy.deepcopy(facts))

    def clear_attempts(self, axis_doc_id: str, organ_id: str) -> None:
        self.attempts.pop((axis_doc_id, organ_id), None)

    # -- our documents' delivery rows ----------------------------------------------------------------------------
    def documents_for_edxml_id(self, edxml_document_id: str) -> list[dict[str, Any]]:
        return copy.deepcopy(self.edxml_ids.get(edxml_document_id, []))

    def get_delivery(self, document_id: str, organ_id: str) -> dict[str, Any] | None:
        row = self.deliveries.get((document_id, organ_id))
        return copy.deepcopy(row) if row is not None else None

    def apply_delivery_status(self, document_id: str, organ_id: str, current: dict[str, Any], update: Any,
                              applied_ids: list[str]) -> bool:
        row = self.deliveries.get((document_id, organ_id))
        if row is None or row.get("status_version", 0) != current.get("status_version", 0) \
                or set(applied_ids) & set(row.get("applied_envelopes", ())):
            return False
        self.writes += 1
        row["history"] = [*row.get("history", []), copy.deepcopy(update.entry)]
        row.update(copy.deepcopy(update.fields))
        row["status_version"] = row.get("status_version", 0) + 1
        row["applied_envelopes"] = set(row.get("applied_envelopes", ())) | set(applied_ids)
        return True

    # -- inbound amendments --------------------------------------------------------------------------------------
    def apply_amendment(self, inbox_id: str, *, sets: dict[str, Any], appends: dict[str, list[Any]], at: str,
                        outbox: dict[str, Any], envelope: dict[str, Any], package_sha256: str,
                        only_if_not_revoked: bool = False) -> None:
        item = self.items.get(inbox_id)
        sha = f"sha256:{package_sha256}"
        if item is None or sha in item.get("applied_packages", set()) or (only_if_not_revoked and item.get("revoked")) \
                or (outbox["pk"], outbox["sk"]) in self.outbox \
                or (envelope["axis_doc_id"], envelope["organ_id"]) in self.envelopes:
            raise ConditionFailed("amendment already applied or item changed")
        self.writes += 1
        item.update(copy.deepcopy(sets), updated_at=at)
        for name, values in appends.items():
            item[name] = [*item.get(name, []), *copy.deepcopy(values)]
        item["applied_packages"] = set(item.get("applied_packages", set())) | {sha}
        self.outbox[(outbox["pk"], outbox["sk"])] = copy.deepcopy(outbox)
        self.envelopes[(envelope["axis_doc_id"], envelope["organ_id"])] = copy.deepcopy(envelope)

    def link_replaced(self, old_inbox_id: str, new_inbox_id: str, at: str) -> None:
        item = self.items.get(old_inbox_id)
        if item is not None and item.get("replaced_by") in (None, new_inbox_id):
            item.update(replaced_by=new_inbox_id, replaced_at=at)


@dataclass
class FakeObjects:
    """The object store poll_axis writes to: keys to bytes."""

    objects: dict[str, bytes] = field(default_factory=dict)
    fail_uploads: int = 0

    def upload(self, path: str, key: str, *, content_type: str, metadata: dict[str, str] | None = None) -> None:
        if self.fail_uploads:
            self.fail_uploads -= 1
            raise OSError("S3 unavailable")
        with open(path, "rb") as fh:
            self.objects[key] = fh.read()


@dataclass
class FakeAxisSystem(FakeAxis):
    """One agency's axis system as poll_axis sees it: envelopes listed with their authenticated sender, fetched,
    acknowledged (an acknowledged envelope is no longer listed), and status packages sent back."""

    envelopes: dict[str, dict[str, Any]] = field(default_factory=dict)
    downloads: list[str] = field(default_factory=list)
    acks: list[tuple[str, str]] = field(default_factory=list)
    list_error: Exception | None = None

    def deliver(self, data: bytes, *, sender: str, messagetype: str = "edoc") -> str:
        doc_id = f"{len(self.envelopes) + 1:024x}"
        self.envelopes[doc_id] = {"data": data, "from": sender, "messagetype": messagetype, "ack": None}
        return doc_id

    def get_received_edoc_list(self, messagetype: str) -> list[dict[str, Any]]:
        if self.list_error is not None:
            raise self.list_error
        return [{"docId": d, "from": e["from"], "messageType": e["messagetype"]}
                for d, e in self.envelopes.items() if e["messagetype"] == messagetype and e["ack"] is None]

    def get_edoc(self, doc_id: str, dest: str) -> None:
        self.downloads.append(doc_id)
        with open(dest, "wb") as fh:
            fh.write(self.envelopes[doc_id]["data"])

    def update_status(self, doc_id: str, status: str) -> None:
        self.acks.append((doc_id, status))
        self.envelopes[doc_id]["ack"] = status
