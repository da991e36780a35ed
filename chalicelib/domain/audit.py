"""The audit trail's rules: what an entry says, how an agency's entries are chained by hash, and how a chain is checked.

Issue 9 ("Audit"): every admin action, every admin read of an agency's content and every state-changing agency
action appends `{"at", "actor": {"username", "organ_id", "admin"}, "action", "resource": {"type", "id"}, "result",
"source_ip"}`; entries are never updated or deleted, and they are chained by hash so that
`GET /v1/admin/audit/verify?day=` proves nobody altered them.

The chains (pure, no AWS here; the store is `chalicelib.adapters.audit_store`). Issue 11 ("scale") replaced issue 9's
one chain per day: every audited call of every agency (each `POST /v1/documents` of a 1,000-document burst) raced
for that day's next number, each lost race a billed write and a read, and a burst's writers gave up (503). Now:

- one chain per agency, the actor's `organ_id` (an admin's entries go to the admin's own agency's chain), across
  days: partition `CHAIN#<organ_id>`, so writers of different agencies never contend;
- a day is Vietnam's civil day of the entry's `at` (UTC+07:00, `chalicelib.core.clock.VN_TZ`: the day a Sở's admin
  asks about); an agency's entries of a day are numbered 1, 2, 3… (`seq`), sort key `DAY#YYYY-MM-DD#SEQ#0000000001`,
  each number taken by a conditional put, so two writers of one agency never both take one and the chain never
  forks;
- `hash = SHA-256(canonical JSON of {day, seq, entry fields, prev_hash})`, hex; `prev_hash` is the chain's previous
  entry's hash (for a day's first entry, the chain's last entry of an earlier day), `GENESIS` for the chain's first.
  `seq`, `day`, `prev_hash` and the actor's `organ_id` (which names the chain) are inside the hashed text, so an
  altered field, a removed entry (a gap or a broken link), a reordering, and an entry moved to another chain are
  each found by `verify_chain`;
- every entry also carries the keys of the day index (`by_day`: `day_pk = DAY#<day>`, `day_sk = <at>#<organ>#<seq>`)
  so the search reads a day across agencies in time order and verify finds the chains that have entries that day.
  They are not hashed (they are derived): verify checks them against the entry instead (`misindexed`).

A limit kept from issue 9: a day's first entry links to whatever the chain's previous entry is when it is written.
An entry of the day before still in flight across midnight (its `at` a few ms before 17:00Z, its put landing after
the new day's first) is written, and verify then names the new day's first link (`broken_link`): a false alarm
that shows, never a fork that hides. Guarding it would take a transaction on every put.

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
    "DAY_INDEX", "DAY_PATTERN", "GENESIS", "SEQ_DIGITS", "ChainReport", "DayReport", "audit_action",
    "canonical_bytes", "chain_key", "chain_of", "chained_item", "day_end", "day_key", "day_of", "day_prefix",
    "entry_fields", "entry_hash", "entry_key", "index_keys", "parse_day", "parse_entry_key", "resource_of",
    "verify_chain",
]

#: The `prev_hash` of a chain's first entry: 64 zeros, as a hash is written.
GENESIS = "0" * 64
#: The sequence number's width: ten digits hold more entries than an agency's day can have.
SEQ_DIGITS = 10
DAY_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ENTRY_KEY = re.compile(rf"^DAY#(\d{{4}}-\d{{2}}-\d{{2}})#SEQ#(\d{{{SEQ_DIGITS}}})$")
#: The fields hashed, besides `day`, `seq` and `prev_hash`: exactly an entry's own fields.
ENTRY_FIELDS = ("at", "actor", "action", "resource", "result", "source_ip")
#: The day index (infra/resources.yaml `AuditTable`): a day's entries across agencies, in time order.
DAY_INDEX = "by_day"
DAY_INDEX_PK, DAY_INDEX_SK = "day_pk", "day_sk"


def parse_day(value: str) -> dt.date:
    """`YYYY-MM-DD` as a date, or ValueError."""
    if not isinstance(value, str) or not DAY_PATTERN.match(value):
        raise ValueError("not YYYY-MM-DD")
    return dt.date.fromisoformat(value)


def day_of(at: str) -> str:
    """Vietnam's civil day of a UTC instant written by `core.clock.now_iso` (`...Z`)."""
    instant = dt.datetime.fromisoformat(at.replace("Z", "+00:00"))
    return instant.astimezone(VN_TZ).date().isoformat()


def chain_key(organ_id: str) -> str:
    """The partition of an agency's chain."""
    return f"CHAIN#{organ_id}"


def chain_of(pk: str) -> str | None:
    return pk[len("CHAIN#"):] if isinstance(pk, str) and pk.startswith("CHAIN#") else None


def day_key(day: str) -> str:
    """The day index's partition (`day_pk`)."""
    return f"DAY#{day}"


def day_prefix(day: str) -> str:
    """Every sort key of the day in a chain starts with this; every earlier day's sorts before it."""
    return f"DAY#{day}#"


def day_end(day: str) -> str:
    """A bound above every sort key of the day and below every later day's (`$` follows `#` in ASCII)."""
    return f"DAY#{day}$"


def entry_key(day: str, seq: int) -> str:
    return f"{day_prefix(day)}SEQ#{seq:0{SEQ_DIGITS}d}"


def parse_entry_key(sk: str) -> tuple[str, int] | None:
    """(day, seq) of a chain's sort key, or None when it is not one."""
    match = _ENTRY_KEY.match(sk or "") if isinstance(sk, str) else None
    return (match.group(1), int(match.group(2))) if match else None


def index_keys(day: str, at: str, organ_id: str, seq: int) -> dict[str, str]:
    """The day index's keys of an entry: time order across agencies, unique by chain and number."""
    return {DAY_INDEX_PK: day_key(day), DAY_INDEX_SK: f"{at}#{organ_id}#{seq:0{SEQ_DIGITS}d}"}


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


def chained_item(fields: Mapping[str, Any], *, last: Mapping[str, Any] | None) -> dict[str, Any]:
    """The item that follows `last`, the chain's latest stored item at or before the entry's day (None for the
    chain's first entry, which chains from GENESIS): the next number of the same day, or number 1 of a new day
    linked to the chain's previous entry."""
    day, organ = day_of(fields["at"]), fields["actor"]["organ_id"]
    where = parse_entry_key(str(last["sk"])) if last is not None else None
    if last is None or where is None:
        seq, prev = 1, GENESIS
    else:
        seq, prev = (where[1] + 1 if where[0] == day else 1), last["hash"]
    return {"pk": chain_key(organ), "sk": entry_key(day, seq), **index_keys(day, fields["at"], organ, seq),
            **{k: fields[k] for k in ENTRY_FIELDS}, "prev_hash": prev, "hash": entry_hash(day, seq, fields, prev)}


@dataclass(frozen=True)
class ChainReport:
    """One agency's chain on one day: how many entries, whether it holds, and the first entry where it does not
    (its `seq`, `sk`, and `problem`: `altered`, `broken_link`, `missing_or_reordered`, `misindexed`, `malformed`)."""

    organ_id: str
    entries: int
    valid: bool
    first_bad: dict[str, Any] | None = None
    last_hash: str | None = field(default=None)

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"organ_id": self.organ_id, "entries": self.entries, "valid": self.valid}
        if self.first_bad is not None:
            body["first_bad"] = self.first_bad
        if self.last_hash is not None:
            body["last_hash"] = self.last_hash
        return body


@dataclass(frozen=True)
class DayReport:
    """The answer of `GET /v1/admin/audit/verify`: the day, its entries over every chain, `valid` when every chain
    holds, the first bad entry of the first bad chain (with its `organ_id`), and the per-chain breakdown."""

    day: str
    chains: tuple[ChainReport, ...]

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"day": self.day, "entries": sum(c.entries for c in self.chains),
                                "valid": all(c.valid for c in self.chains),
                                "chains": [c.as_dict() for c in self.chains]}
        bad = next((c for c in self.chains if not c.valid), None)
        if bad is not None and bad.first_bad is not None:
            body["first_bad"] = {"organ_id": bad.organ_id, **bad.first_bad}
        return body


def _misindexed(item: Mapping[str, Any], organ_id: str, day: str, seq: int) -> bool:
    """The keys that place an entry (its chain, its day index keys) disagree with what it says."""
    expected = index_keys(day, str(item.get("at")), organ_id, seq)
    actor = item.get("actor")
    return (item.get("pk") != chain_key(organ_id) or not isinstance(actor, Mapping)
            or actor.get("organ_id") != organ_id or any(item.get(k) != v for k, v in expected.items()))


def verify_chain(day: str, organ_id: str, items: Sequence[Mapping[str, Any]],
                 previous: Mapping[str, Any] | None) -> ChainReport:
    """Recompute one agency's chain for a day from its stored items (in sort-key order, read from the table):
    each must carry the next number, link to the previous hash (the first to `previous`, the chain's entry just
    before the day, or GENESIS), hash to what it says and sit where its fields place it."""
    expected_prev = str(previous.get("hash")) if previous is not None else GENESIS
    for index, item in enumerate(items, start=1):
        where = parse_entry_key(str(item.get("sk", "")))
        seq = where[1] if where else None
        spot = {"seq": seq, "sk": item.get("sk"), "at": item.get("at")}
        if where is None or where[0] != day or any(k not in item for k in (*ENTRY_FIELDS, "prev_hash", "hash")):
            return ChainReport(organ_id, len(items), False, {**spot, "problem": "malformed"})
        if where[1] != index:
            return ChainReport(organ_id, len(items), False, {**spot, "expected_seq": index,
                                                             "problem": "missing_or_reordered"})
        if item["prev_hash"] != expected_prev:
            return ChainReport(organ_id, len(items), False, {**spot, "problem": "broken_link"})
        if entry_hash(day, where[1], item, item["prev_hash"]) != item["hash"]:
            return ChainReport(organ_id, len(items), False, {**spot, "problem": "altered"})
        if _misindexed(item, organ_id, day, where[1]):
            return ChainReport(organ_id, len(items), False, {**spot, "problem": "misindexed"})
        expected_prev = item["hash"]
    return ChainReport(organ_id, len(items), True, last_hash=expected_prev if items else None)


# -- the edge's rule: which request is audited, as what, on which resource ------------------------------------------

#: Path parameters that name the resource, in the order tried, and its type.
_PATH_RESOURCES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("organ_id", "key_ref"), "key"),
    (("document_id",), "document"),
    (("inbox_id",), "inbox_item"),
    (("fingerprint",), "trust_root"),
    (("organ_id",), "agency"),
    (("subscription_id",), "webhook"),
)
#: Fields of a use case's answer that name what it created, when the path names nothing.
_ANSWER_RESOURCES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("organ_id", "key_ref"), "key"),
    (("document_id",), "document"),
    (("fingerprint",), "trust_root"),
    (("subscription_id",), "webhook"),
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
