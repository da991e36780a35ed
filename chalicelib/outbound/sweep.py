"""`sweep_documents`: nothing stays in limbo. Every few minutes, the records overdue in `AWAITING_UPLOAD`, `UPLOADED`
or `SIGNED` (chalicelib.domain.sweep_rules: the bounds, the sparse index that finds them without a scan, the rules)
are expired, retried or failed.

Safe to run twice at once and beside the pipeline: each record is read again (strongly consistent: the index lags),
and every write is conditional on the state and the `version` that read saw and on the worker's lease being free,
so a record that moved in between (signed meanwhile, retried by another sweep) is left alone. A retry is counted on
the record before its message is sent: a sweep that dies in between leaves a counted retry without a message, which
the next sweep after the bound retries again (a lost message at most delays, never loses, a document); two sweeps
never both send, since only one wins the count.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from chalicelib.adapters.document_store import DocumentStore, get_document_store
from chalicelib.adapters.dynamo import ConditionFailed
from chalicelib.adapters.objects import get_objects
from chalicelib.core import error_codes
from chalicelib.core.clock import now_iso
from chalicelib.core.log import logger
from chalicelib.domain import states, sweep_rules, upload_binding
from chalicelib.domain.leases import Lease
from chalicelib.domain.object_keys import incoming_key
from chalicelib.outbound.sign_upload import enqueue_dispatch, enqueue_upload

__all__ = ["BATCH", "SOURCE", "sweep_documents", "sweep_one"]

#: Records looked at per run; the rest wait for the next run (five minutes later).
BATCH = 600
#: `eventSource` of the upload messages the sweep sends (logged by the signing handler like any other).
SOURCE = "edoc-gateway:sweep"
#: Stop starting records when the invocation has less than this left (ms).
_RESERVE_MS = 5000


def _message(reason: str) -> str:
    """The clerk's message of a reason the sweep records (chalicelib.core.error_codes)."""
    return error_codes.get(reason).message


def sweep_documents(*, now: int | None = None, remaining_ms: Callable[[], int] | None = None) -> dict[str, int]:
    """One run: every record that may be overdue (up to BATCH). Returns the count per outcome."""
    store = get_document_store()
    moment = int(time.time()) if now is None else now
    outcomes: Counter[str] = Counter()
    for document_id in store.due_for_sweep(moment, BATCH):
        if remaining_ms is not None and remaining_ms() < _RESERVE_MS:
            logger.info("sweep out of time", extra=dict(outcomes))
            return dict(outcomes)
        outcomes[sweep_one(store, document_id, moment)] += 1
    if outcomes:
        logger.info("documents swept", extra=dict(outcomes))
    return dict(outcomes)


def sweep_one(store: DocumentStore, document_id: str, now: int) -> str:
    """Resolve one record that may be overdue; returns the outcome (`expired`, `retried`, `failed`, `left`,
    `retimed`: not due yet, looked at again when it may be; `raced`)."""
    record = store.get(document_id)
    due = int((record or {}).get(sweep_rules.DUE_FIELD) or 0)
    arrived = bool(record and record.get("state") == states.AWAITING_UPLOAD and due <= now
                   and _upload_arrived(record))
    decision = sweep_rules.decide(record, now, upload_arrived=arrived)
    if record is not None and decision.reason == "not_due":
        store.retime_sweep(document_id, due)
        return "retimed"
    if record is None or decision.action == "leave":
        return "left"
    state = record["state"]
    version = int(record.get(sweep_rules.VERSION_FIELD, 0) or 0)
    probe = Lease.new(sweep_rules.worker_lease(state), 0, now=now)
    extra = {"document_id": document_id, "state": state, "reason": decision.reason, "attempt": decision.attempt}
    try:
        if decision.action == "expire":
            store.transition(document_id, states.EXPIRED, from_states=frozenset({state}), expect_version=version,
                             free=probe, detail={"by": "sweep"},
                             fields={"reason": decision.reason, "reason_message": _message(decision.reason),
                                     "expired_at": now_iso()})
            logger.info("upload expired", extra=extra)
            return "expired"
        if decision.action == "retry":
            store.record_sweep_retry(document_id, state=state, version=version,
                                     due=now + sweep_rules.retry_after_seconds(state), free=probe,
                                     detail={"sweep": "retried", "reason": decision.reason,
                                             "attempt": decision.attempt})
            _resend(record)
            logger.warning("stuck document retried", extra=extra)
            return "retried"
        store.transition(document_id, states.FAILED, from_states=frozenset({state}), expect_version=version,
                         free=probe, fields={"reason": decision.reason, "reason_message": _message(decision.reason),
                                             "sweep_retries": decision.attempt}, detail={"by": "sweep"})
        logger.warning("stuck document failed", extra=extra)
        return "failed"
    except ConditionFailed:  # the pipeline, an administrator or another sweep moved it first
        logger.info("sweep lost the race", extra=extra)
        return "raced"


def _resend(record: dict[str, Any]) -> None:
    """The message that takes the record on from its state."""
    if record["state"] == states.SIGNED:
        enqueue_dispatch(record["document_id"])
    else:
        enqueue_upload(record["organ_id"], record["document_id"], SOURCE)


def _upload_arrived(record: dict[str, Any]) -> bool:
    """Whether the record's own upload (the main file, bound by its token) is in S3."""
    head = get_objects().head(incoming_key(record["organ_id"], record["document_id"]))
    return head is not None and upload_binding.is_bound(head.metadata, record.get(upload_binding.RECORD_FIELD))
