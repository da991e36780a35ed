"""The audit trail's rules: what an entry says, how a day's entries are chained by hash, and how a chain is checked.

Issue 9 ("Audit"): every admin action, every admin read of an agency's content and every state-changing agency
action appends `{"at", "actor": {"username", "organ_id", "admin"}, "action", "resource": {"type", "id"}, "result",
"source_ip"}`; entries are never updated or deleted, and each day's entries are chained by hash so that
`GET /v1/admin/audit/verify?day=` proves nobody altered them.

The chain (pure, no AWS here; the store is `chalicelib.adapters.audit_store`):

- a day is Vietnam's civil day of the entry's `at` (UTC+07:00, `chalicelib.core.clock.VN_TZ`: the day a Sở's
  admin asks about), its partition `DAY#YYYY-MM-DD`;
- entries of a day are numbered 1, 2, 3… (`seq`, the sort key `SEQ#0000000001`), taken by a conditional put on the
  next number, so two writers never both take the same number and the chain never forks;
- `hash = SHA-256(canonical JSON of {day, seq, entry fields, prev_hash})`, hex; `prev_hash` is the previous entry's
  hash, for entry 1 the previous day's last hash, or `GENESIS` when that day has no entry. Since `seq`, `day` and
  `prev_hash` are inside the hashed text, an altered field, a removed entry (a gap or a broken link) and a
  reordering (the numbers or the links no longer follow) are each found by `verify_chain`.

Never document contents or tokens: the entry holds ids, names and codes only (what `entry_fields` takes).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from chalicelib.core.clock import VN_TZ

__all__ = [
    "DAY_PATTERN", "GENESIS", "SEQ_DIGITS", "ChainReport", "audit_action", "canonical_bytes", "chained_item",
    "day_key", "day_of", "entry_fields", "entry_hash", "parse_day", "resource_of", "seq_key", "seq_of",
    "verify_chain",
]

#: The `prev_hash` of the first entry ever (a day whose previous day has no entry): 64 zeros, as a hash is written.
GENESIS = "0" * 64
#: The sort key's width: ten digits hold more entries than a day can have.
SEQ_DIGITS = 10
DAY_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SEQ_KEY = re.compile(rf"^SEQ#(\d{{{SEQ_DIGITS}}})$")
#: The fields hashed, besides `day`, `seq` and `prev_hash`: exactly an entry's own fields.
ENTRY_FIELDS = ("at", "actor", "action", "resource", "result", "source_ip")


def parse_day(value: str) -> dt.date:
    """`YYYY-MM-DD` as a date, or ValueError."""
    if not isinstance(value, str) or not DAY_PATTERN.match(value):
        raise ValueError("not YYYY-MM-DD")
    return dt.date.fromisoformat(value)


def day_of(at: str) -> str:
    """Vietnam's civil day of a UTC instant written by `core.clock.now_iso` (`...Z`)."""
    instant = dt.datetime.fromisoformat(at.replace("Z", "+00:00"))
    return instant.astimezone(VN_TZ).date().isoformat()


def day_key(day: str) -> str:
    return f"DAY#{day}"


def seq_key(seq: int) -> str:
    return f"SEQ#{seq:0{SEQ_DIGITS}d}"


def seq_of(sk: str) -> int | None:
    match = _SEQ_KEY.match(sk or "")
    return int(match.group(1)) if match else None


def entry_fields(*, at: str, username: str, organ_id: str, admin: bool, action: str, resource_type: str,
                 resource_id: str, result: str, source_ip: str) -> dict[str, Any]:
    """One entry in the issue's shape (ids, names and codes only: never a body, a document or a token)."""
    return {
        "at": at,
        "actor": {"username": username, "organ_id": organ_id, "admin": bool(admin)},
        "action": action,
        "resource": {"type": resource_type, "id": resource_id},
        "result": result,
        "source_ip": source_ip,
    }


def canonical_bytes(day: str, seq: int, fields: Mapping[str, Any], prev_hash: str) -> bytes:
    """The hashed text: sorted keys, no spaces, UTF-8 as is (RFC 8785's shape for the strings and booleans an
    entry holds; an entry holds no numbers besides `seq`)."""
    document = {"day": day, "seq": seq, "prev_hash": prev_hash, **{k: fields[k] for k in ENTRY_FIELDS}}
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def entry_hash(day: str, seq: int, fields: Mapping[str, Any], prev_hash: str) -> str:
    return hashlib.sha256(canonical_bytes(day, seq, fields, prev_hash)).hexdigest()


def chained_item(fields: Mapping[str, Any], *, last: Mapping[str, Any] | None, previous_day_hash: str | None
                 ) -> dict[str, Any]:
    """The item that follows `last` (the day's latest stored item, or None for the day's first entry, which chains
    from `previous_day_hash`, the previous day's last hash, or GENESIS)."""
    day = day_of(fields["at"])
    if last is not None:
        seq = (seq_of(last["sk"]) or 0) + 1
        prev = last["hash"]
    else:
        seq, prev = 1, previous_day_hash or GENESIS
    return {"pk": day_key(day), "sk": seq_key(seq), **{k: fields[k] for k in ENTRY_FIELDS},
            "prev_hash": prev, "hash": entry_hash(day, seq, fields, prev)}


@dataclass(frozen=True)
class ChainReport:
    """The answer of `GET /v1/admin/audit/verify`: the day, how many entries, whether the chain holds, and the
    first entry where it does not (its `seq`, `sk`, and `problem`: `altered`, `broken_link`, `missing_or_reordered`,
    `malformed`)."""

    day: str
    entries: int
    valid: bool
    first_bad: dict[str, Any] | None = None
    last_hash: str | None = field(default=None)

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"day": self.day, "entries": self.entries, "valid": self.valid}
        if self.first_bad is not None:
            body["first_bad"] = self.first_bad
        if self.last_hash is not None:
            body["last_hash"] = self.last_hash
        return body


def verify_chain(day: str, items: Sequence[Mapping[str, Any]], previous_day_hash: str | None) -> ChainReport:
    """Recompute a day's chain from its stored items (in sort-key order): each item must carry the next number,
    link to the previous hash and hash to what it says."""
    expected_prev = previous_day_hash or GENESIS
    for index, item in enumerate(items, start=1):
        seq = seq_of(str(item.get("sk", "")))
        where = {"seq": seq, "sk": item.get("sk"), "at": item.get("at")}
        if seq is None or any(k not in item for k in (*ENTRY_FIELDS, "prev_hash", "hash")):
            return ChainReport(day, len(items), False, {**where, "problem": "malformed"})
        if seq != index:
            return ChainReport(day, len(items), False, {**where, "expected_seq": index,
                                                         "problem": "missing_or_reordered"})
        if item["prev_hash"] != expected_prev:
            return ChainReport(day, len(items), False, {**where, "problem": "broken_link"})
        if entry_hash(day, seq, item, item["prev_hash"]) != item["hash"]:
            return ChainReport(day, len(items), False, {**where, "problem": "altered"})
        expected_prev = item["hash"]
    return ChainReport(day, len(items), True, last_hash=expected_prev if items else None)


# -- the edge's rule: which request is audited, as what, on which resource ------------------------------------------

#: Path parameters that name the resource, in the order tried, and its type.
_PATH_RESOURCES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("organ_id", "key_ref"), "key"),
    (("document_id",), "document"),
    (("inbox_id",), "inbox_item"),
    (("fingerprint",), "trust_root"),
    (("organ_id",), "agency"),
)
#: Fields of a use case's answer that name what it created, when the path names nothing.
_ANSWER_RESOURCES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("organ_id", "key_ref"), "key"),
    (("document_id",), "document"),
    (("fingerprint",), "trust_root"),
)


def audit_action(rule: str | bool | None, *, method: str, handler_name: str, caller_is_admin: bool) -> str | None:
    """The action an answered request is audited as, or None when it is not audited.

    `rule` is the route's `audit=`: a name audits every call under that name, False never audits, None (the
    default) audits every non-GET call and every call by an admin (issue 9: "an audit trail for every admin
    access"), as the handler's name. GETs by an agency's own clerks are not audited: they change nothing and read
    only their own agency's content."""
    if rule is False:
        return None
    if isinstance(rule, str):
        return rule
    if method.upper() not in ("GET", "HEAD", "OPTIONS") or caller_is_admin:
        return handler_name
    return None


def resource_of(path: str, params: Mapping[str, Any], answer: Any) -> tuple[str, str]:
    """(type, id) of the resource a request acted on: from its path parameters, else from the answer (what a POST
    created), else the route's collection with an empty id (`/v1/admin/audit` → ("audit", ""))."""
    for names, kind in _PATH_RESOURCES:
        if all(isinstance(params.get(n), str) for n in names):
            return kind, "/".join(params[n] for n in names)
    if isinstance(answer, Mapping):
        for names, kind in _ANSWER_RESOURCES:
            if all(isinstance(answer.get(n), str) and answer.get(n) for n in names):
                return kind, "/".join(answer[n] for n in names)
    segments = [s for s in path.split("/") if s and s != "v1" and not s.startswith("{")]
    if segments and segments[0] == "admin" and len(segments) > 1:
        segments = segments[1:]
    return (segments[0] if segments else "gateway"), ""
