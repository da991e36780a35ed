"""The rules of the sweep that leaves nothing in limbo (pure): when a record waiting in `AWAITING_UPLOAD`, `UPLOADED`
or `SIGNED` is overdue, and what the scheduled sweep (chalicelib.outbound.sweep) does with it.

Why: every other way out of these states is an event (an upload notification, a queue message). A Lambda killed by
its timeout or by the OOM killer runs no `except` clause, and a message that failed `maxReceiveCount` times is in the
DLQ; an upload that never comes produces no event at all. Without a sweep such a record waits forever.

How the sweep finds them without a table scan: a sparse index (`by_sweep`, partition `sweep_lane`, sort
`sweep_from` in epoch seconds). A record enters it once, when it enters the swept states (created, or retried out of
`FAILED`), with `sweep_from` = that moment + the smallest bound (`MIN_BOUND_SECONDS`): no record can be overdue
before then, whatever swept state it moves to. Moves between swept states leave both keys as they are (an update
that changes no key or projected attribute writes nothing to a KEYS_ONLY index), and leaving the swept states
removes them (`index_fields`): the index costs a record one put and one delete, not a delete and a put at every
state (issue 11, the bill). The real due time is `sweep_due` on the record (not a key), rewritten by every
transition into a swept state. A query `sweep_lane = LANE AND sweep_from <= now` gives the records that may be
overdue; the sweep reads each again and decides on `sweep_due`; one that is not due yet has its `sweep_from` moved
to its `sweep_due` (`retime`), so the sweep reads it again only when it may be due. Both kinds of write happen in
the document store's transition primitive, so no writer can forget them.

The bounds (seconds after entering the state):
- `AWAITING_UPLOAD`: the presigned POST's lifetime plus `UPLOAD_GRACE_SECONDS` (an upload started before the URL
  expired may finish after it; its notification may wait in a busy queue) → `EXPIRED` (`upload_expired`), unless the
  upload is in S3 after all (the sweep checks the key and its upload binding): then its notification was lost or is
  stuck behind a backlog, and the upload is offered to the signing handler again, like a stuck `UPLOADED` record.
- `UPLOADED`: `UPLOADED_BOUND_SECONDS`, more than a whole signing run and every redelivery of its message: the
  queue's 5 receives × 120 s visibility timeout (each retry's claim rewrites the due time, so the bound only has to
  outlast the last one). Then the upload is offered to the signing handler again (a message on the upload queue).
- `SIGNED`: `SIGNED_BOUND_SECONDS`, more than dispatch's whole retry horizon (5 receives of up to 60 s, backoff
  20 + 40 + 80 + 160 s, a 120 s visibility timeout after an invocation error). Then the document is put on the
  dispatch queue again (a worker killed between recording `SIGNED` and enqueueing leaves exactly this).
A retry is counted on the record (`sweep_retries_uploaded` / `_signed`) by a conditional write; after
`MAX_SWEEP_RETRIES` the record ends `FAILED` with `stuck_uploaded` / `stuck_signed`, which an administrator may
retry (FAILED clears the counters). tests/unit/outbound/test_sweep.py checks the bounds against the deployed
timeouts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.core.settings import UPLOAD_URL_TTL_SECONDS
from chalicelib.domain import states
from chalicelib.domain.leases import DISPATCH, UPLOAD, LeaseFields, lease_until

__all__ = ["DUE_FIELD", "FROM_FIELD", "INDEX", "LANE", "LANE_FIELD", "MAX_SWEEP_RETRIES", "MIN_BOUND_SECONDS",
           "RETRY_FIELDS", "SIGNED_BOUND_SECONDS", "SWEPT", "UPLOADED_BOUND_SECONDS", "UPLOAD_GRACE_SECONDS",
           "VERSION_FIELD", "UNPROCESSED_UPLOAD", "Decision", "bound_seconds", "decide", "index_fields",
           "retry_after_seconds", "worker_lease"]

#: The sparse index and its keys: one partition (`LANE`) for every record in flight (a province's volume is far
#: below one index partition's 1,000 writes a second, two writes a document), sorted by `sweep_from`.
INDEX = "by_sweep"
LANE_FIELD = "sweep_lane"
LANE = "inflight"
FROM_FIELD = "sweep_from"
#: The record's real due time (epoch seconds; not an index key).
DUE_FIELD = "sweep_due"
#: Counted up by every transition and by the sweep's own writes: the sweep's writes are conditional on the version it
#: read, so a record that moved (or was retried by another sweep) in between is left alone.
VERSION_FIELD = "version"

SWEPT = (states.AWAITING_UPLOAD, states.UPLOADED, states.SIGNED)

UPLOAD_GRACE_SECONDS = 900
UPLOADED_BOUND_SECONDS = 900
SIGNED_BOUND_SECONDS = 1800
MAX_SWEEP_RETRIES = 2
#: The earliest a record can be overdue after entering the swept states: the smallest bound.
MIN_BOUND_SECONDS = min(UPLOAD_URL_TTL_SECONDS + UPLOAD_GRACE_SECONDS, UPLOADED_BOUND_SECONDS, SIGNED_BOUND_SECONDS)

RETRY_FIELDS = {states.AWAITING_UPLOAD: "sweep_retries_awaiting", states.UPLOADED: "sweep_retries_uploaded",
                states.SIGNED: "sweep_retries_signed"}
#: The detail of a retry of an AWAITING_UPLOAD record whose upload is in S3 but was never taken up.
UNPROCESSED_UPLOAD = "upload_not_processed"
#: The lease whose holder is working on a record in that state (the sweep leaves a leased record alone).
_WORKER_LEASE: dict[str, LeaseFields] = {states.AWAITING_UPLOAD: UPLOAD, states.UPLOADED: UPLOAD,
                                         states.SIGNED: DISPATCH}


def index_fields(target: str, now: int) -> tuple[dict[str, Any], dict[str, Any], tuple[str, ...]]:
    """(fields to set, index keys to set where absent, fields to remove) of a transition to `target` at `now`
    (epoch seconds): into a swept state the due time, and the index keys unless the record has them already (it
    came from another swept state); out of them all three go (and FAILED clears the retry counters, so an
    administrator's retry starts afresh)."""
    if target in SWEPT:
        return ({DUE_FIELD: now + bound_seconds(target)}, {LANE_FIELD: LANE, FROM_FIELD: now + MIN_BOUND_SECONDS},
                ())
    removed: tuple[str, ...] = (LANE_FIELD, FROM_FIELD, DUE_FIELD)
    if target == states.FAILED:
        removed += tuple(RETRY_FIELDS.values())
    return {}, {}, removed


def bound_seconds(state: str) -> int:
    """How long a record may stay in a swept `state` before the sweep looks at it."""
    return {states.AWAITING_UPLOAD: UPLOAD_URL_TTL_SECONDS + UPLOAD_GRACE_SECONDS,
            states.UPLOADED: UPLOADED_BOUND_SECONDS, states.SIGNED: SIGNED_BOUND_SECONDS}[state]


def retry_after_seconds(state: str) -> int:
    """After a sweep's retry, how long until the sweep looks at the record again."""
    return {states.AWAITING_UPLOAD: UPLOAD_GRACE_SECONDS, states.UPLOADED: UPLOADED_BOUND_SECONDS,
            states.SIGNED: SIGNED_BOUND_SECONDS}[state]


@dataclass(frozen=True)
class Decision:
    """What the sweep does with one record: `expire`, `retry` (with the next count), `fail` (with the reason), or
    `leave` (not overdue after all, being worked on, or not swept)."""

    action: str
    reason: str = ""
    attempt: int = 0


def decide(record: dict[str, Any] | None, now: int, *, upload_arrived: bool = False) -> Decision:
    """The rule for one record read back (strongly consistent: the index itself lags). `upload_arrived`: for an
    overdue AWAITING_UPLOAD record, whether its own upload (checked against the record's upload binding) is in S3."""
    if record is None:
        return Decision("leave", "gone")
    state = record.get("state")
    due = record.get(DUE_FIELD)
    if state not in SWEPT or due is None or record.get(LANE_FIELD) is None:
        return Decision("leave", "not_swept")
    if int(due) > now:
        return Decision("leave", "not_due")
    if lease_until(record, _WORKER_LEASE[state]) > now:
        return Decision("leave", "leased")
    done = int(record.get(RETRY_FIELDS[state], 0) or 0)
    if state == states.AWAITING_UPLOAD:
        if upload_arrived and done < MAX_SWEEP_RETRIES:
            return Decision("retry", UNPROCESSED_UPLOAD, attempt=done + 1)
        reason = "upload_expired"
        return Decision("expire", reason, attempt=done)
    reason = "stuck_uploaded" if state == states.UPLOADED else "stuck_signed"
    if done < MAX_SWEEP_RETRIES:
        return Decision("retry", reason, attempt=done + 1)
    return Decision("fail", reason, attempt=done)


def worker_lease(state: str) -> LeaseFields:
    """The lease that must be free for the sweep to act on a record in `state`."""
    return _WORKER_LEASE[state]
