"""The pure rules of inbound handling (poll_axis, the inbox and inbound amendments): no AWS, no I/O.

- which envelopes to (re)process, from what the envelope record says (the axis delivers at least once, a run may
  die anywhere: the record keyed by axis docId is the idempotency key, `chalicelib.adapters.inbound_store`);
- the identity of an inbox item: the same document (edXML `DocumentId`, QCVN 102) from the same sender to the same
  agency is ONE item, whichever envelope brought it, so duplicates are recognised;
- the canonical form of an edXML DocumentId, so a sender writing `2019-09-20` or stray spaces still matches;
- S3 key segments for attachments, and the bound every free text field is cut to (an item is limited to 400 KB).

Why in `domain/`: the poll, the inbox and the amendments all need these, and they must agree; in one module below
them the imports run one way (pyproject.toml layers) and no inbound module needs another's internals.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from typing import Any

from chalicelib.standards.edxml import document_id, split_document_id

__all__ = [
    "ISSUE_OUTCOMES",
    "ITEM_BYTES_BUDGET",
    "Contention",
    "MAX_ATTEMPTS",
    "REPROCESS_OUTCOMES",
    "bounded",
    "canonical_document_id",
    "cut",
    "envelope_action",
    "inbox_id_for",
    "record_bytes",
    "safe_name",
    "sender_problem",
]

class Contention(RuntimeError):
    """A conditional write kept losing to concurrent writers: transient, the next poll tries again."""


_INBOX_NAMESPACE = uuid.UUID("6f1d7f8e-3c1a-5b7e-9a53-0e6c2b1d4a10")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")

#: Envelope outcomes that need an administrator (listed by GET /v1/admin/inbound-issues).
ISSUE_OUTCOMES = frozenset({"unparseable", "not_served", "orphan_status", "orphan_amendment",
                            "unsupported_business_type", "forged_sender", "unprocessable"})
#: Envelope outcomes that are not final: the envelope is processed again when listed again.
REPROCESS_OUTCOMES = frozenset({"deferred", "waiting"})
#: Attempts per envelope (counted before each download, so a Lambda killed mid-way counts too): after that many the
#: envelope is acknowledged `fail` and listed for an administrator, whatever kept failing (issue 8).
MAX_ATTEMPTS = 3
#: What a record may weigh before its verification reports move to S3 (DynamoDB refuses items over 400 KB).
ITEM_BYTES_BUDGET = 350_000
#: Bounds `bounded` applies to untrusted nested data (verification reports, details).
_MAX_LIST, _MAX_KEYS, _MAX_TEXT, _MAX_DEPTH = 50, 50, 1000, 8


def cut(text: Any, limit: int) -> str:
    """`text` as a string of at most `limit` characters (None and "" give ""): what a sender wrote is kept whole in
    the raw package in S3, the records only need enough of it to be read."""
    return str(text or "")[:limit]


def canonical_document_id(value: str) -> str:
    """An edXML DocumentId in the form the gateway writes ("<OrganId>,<yyyy/MM/dd>,<số>/<ký hiệu>"), so a sender
    writing `2019-09-20` or stray spaces still matches; anything else is returned trimmed, as it came."""
    text = (value or "").strip()
    parts = split_document_id(text)
    if parts is None or parts[1] is None:
        return text
    issuer, issued, number, notation = parts
    return document_id(issuer, issued, number, notation)


def inbox_id_for(organ_id: str, sender_organ_id: str, edxml_document_id: str, business_doc_type: int) -> str:
    """The inbox item id of a document: the same document from the same sender to the same agency is ONE item,
    whichever envelope (or duplicate) brought it."""
    key = f"{organ_id}|{sender_organ_id}|{canonical_document_id(edxml_document_id)}|{business_doc_type}"
    return str(uuid.uuid5(_INBOX_NAMESPACE, key))


def safe_name(name: str, index: int) -> str:
    """An S3 key segment for an attachment: ASCII, no path, bounded; the index keeps two `a.pdf` apart."""
    base = os.path.basename(str(name).replace("\\", "/")) or "attachment"
    cleaned = _SAFE_NAME.sub("_", base).strip("._") or "attachment"
    return f"{index:02d}-{cleaned[-120:]}"


def envelope_action(record: dict[str, Any] | None) -> str:
    """What to do with a listed envelope given its record: `process` (never seen, or recorded `deferred`/`waiting`:
    not finished), `skip` (recorded without an acknowledgement to give), or `ack_<done|fail>` (already handled; only
    the transport acknowledgement may be missing)."""
    if record is None or record.get("outcome") in REPROCESS_OUTCOMES:
        return "process"
    if not record.get("ack"):
        return "skip"
    return f"ack_{record['ack']}"


def sender_problem(authenticated: Any, claimed: Any) -> str | None:
    """Why a package may not be taken as coming from its `From/OrganId` (`claimed`), given the system the axis
    authenticated for the envelope (`authenticated`, the list entry's `from`): None when they are the same organ.
    Anyone on the axis can write any OrganId in a package; only the envelope's sender is vouched for."""
    who = str(authenticated or "").strip()
    if not who:
        return "sender_unauthenticated"
    if str(claimed or "").strip() != who:
        return "sender_mismatch"
    return None


def bounded(value: Any, *, depth: int = 0) -> Any:
    """`value` (decoded JSON-like data from untrusted input, e.g. a verification report) with every list, mapping
    and string cut to fixed bounds, so a record built from it stays small whatever the input was."""
    if isinstance(value, str):
        return value[:_MAX_TEXT]
    if value is None or isinstance(value, bool | int | float):
        return value
    if depth >= _MAX_DEPTH:
        return None
    if isinstance(value, dict):
        return {str(k)[:100]: bounded(v, depth=depth + 1) for k, v in list(value.items())[:_MAX_KEYS]}
    if isinstance(value, list | tuple):
        return [bounded(v, depth=depth + 1) for v in list(value)[:_MAX_LIST]]
    return str(value)[:_MAX_TEXT]


def record_bytes(record: Any) -> int:
    """About what DynamoDB counts for `record` (names and values, UTF-8): a little more than it, never less for
    the strings, numbers and lists records hold."""
    return len(json.dumps(record, ensure_ascii=False, default=str).encode("utf-8"))
