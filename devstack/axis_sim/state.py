"""What the simulated axis holds (systems, directory, envelopes, sends, faults) and the answers it computes.

Why apart from the HTTP handler: these are the axis's rules (docs/axis-protocol.md) — who may list, fetch and
acknowledge which envelope, how a send to several recipients becomes one envelope each, how lists page — and they read
more clearly, and are checked more easily, without the bytes on the wire around them. Every method is thread-safe:
the HTTP server answers each request on its own thread.
"""

from __future__ import annotations

import os
import secrets
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from chalicelib.core.clock import VN_TZ
from chalicelib.standards.axis_protocol import DEFAULT_MAX_SKEW, ReplayCache
from chalicelib.standards.identifiers import parent
from devstack.axis_sim.faults import Fault, fault_from_spec

__all__ = [
    "E_AUTH", "E_EMPTY", "E_FROM", "E_HASH", "E_NOT_FOUND", "E_PARAM", "E_RECIPIENT", "E_TOO_LARGE", "AxisState",
    "Envelope", "Fail", "normalize_agencies",
]

E_AUTH, E_FROM, E_HASH, E_RECIPIENT, E_PARAM, E_NOT_FOUND, E_EMPTY, E_TOO_LARGE = (
    "401", "1001", "1002", "1003", "1004", "1005", "1006", "1007")


class Fail(Exception):
    """An answer `{"status": "FAIL", ...}` with an HTTP status."""

    def __init__(self, error_code: str, error_desc: str, http_status: int = 200) -> None:
        super().__init__(error_code)
        self.error_code = error_code
        self.error_desc = error_desc
        self.http_status = http_status


@dataclass
class Envelope:
    """One recipient's copy of a sent package, as the axis keeps it."""

    doc_id: str
    send_id: str
    sender: str
    to: str
    messagetype: str
    created: datetime
    path: str
    size: int
    sha256: str
    status: str = "initial"  # initial → processing → done | fail (updateStatus)
    acknowledged: bool = False
    updated: datetime | None = None

    def listing(self) -> dict[str, Any]:
        return {"docId": self.doc_id, "from": self.sender, "to": self.to, "messageType": self.messagetype,
                "serviceType": "eDoc", "created_time": _iso(self.created), "status": self.status, "size": self.size}


def _iso(value: datetime | None) -> str:
    return value.astimezone(VN_TZ).isoformat(timespec="seconds") if value else ""


def _now() -> datetime:
    return datetime.now(VN_TZ)


def _page(items: list[Any], params: Mapping[str, str]) -> list[Any]:
    """The `pageSize`/`pageIndex` window of a list answer (both lists of the protocol page the same way)."""
    if not params.get("pageSize"):
        return items
    try:
        size = max(1, int(params["pageSize"]))
        index = max(1, int(params.get("pageIndex") or 1))
    except ValueError:
        raise Fail(E_PARAM, "pageSize/pageIndex phải là số.") from None
    return items[(index - 1) * size:index * size]


def _parse_day(value: str) -> date | None:
    for fmt in ("%Y-%m-%d", "%Y/%m/%d", "%d/%m/%Y", "%d-%m-%Y"):
        try:
            return datetime.strptime(value.strip()[:10], fmt).date()
        except ValueError:
            continue
    return None


def _in_dates(envelope: Envelope, params: Mapping[str, str]) -> bool:
    """Whether the envelope was created within the request's optional `fromDate`/`toDate` (whole days)."""
    start = _parse_day(params["fromDate"]) if params.get("fromDate") else None
    end = _parse_day(params["toDate"]) if params.get("toDate") else None
    day = envelope.created.date()
    return (start is None or day >= start) and (end is None or day <= end)


def normalize_agencies(agencies: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Directory entries in the axis's shape (`id`, `pid`, `code`, `name`, `mail`), from either that shape or the
    gateway's (`organ_id`, `name`, `email`). `pid` is the parent's `id` when the parent is listed too."""
    rows = []
    for i, a in enumerate(agencies, start=1):
        code = str(a.get("code") or a.get("organ_id") or "")
        if code:
            rows.append({"id": str(a.get("id") or i), "pid": a.get("pid"), "code": code, "name": a.get("name", ""),
                         "mail": a.get("mail") or a.get("email") or ""})
    ids = {r["code"]: r["id"] for r in rows}
    for r in rows:
        if r["pid"] in (None, ""):
            up = parent(r["code"])
            r["pid"] = ids.get(up, "0") if up else "0"
        r["pid"] = str(r["pid"])
    return rows


class AxisState:
    """The axis's memory: `systems` maps system id → secret, `agencies` is the directory getAgenciesList answers.
    Packages are kept as files in `package_dir` (large packages stay off the heap).

    Freshness, as the real axis: a request whose signed timestamp is more than `max_skew` from `clock()` is refused
    (`stale_timestamp`), and so is a signature already accepted within that window (`replayed_request`, the
    `replay` cache; `/_sim/reset` keeps it, as an axis never forgets what it saw). `max_skew=None` turns both off.
    """

    def __init__(self, systems: Mapping[str, str], agencies: Iterable[Mapping[str, Any]] = (), *,
                 max_package_bytes: int = 512 * 1024 * 1024, max_skew: timedelta | None = DEFAULT_MAX_SKEW,
                 clock: Callable[[], datetime] = _now) -> None:
        self._systems = dict(systems)
        self._initial_agencies = [dict(a) for a in agencies]
        self._agencies = normalize_agencies(self._initial_agencies)
        self.max_package_bytes = max_package_bytes
        self.max_skew = max_skew
        self.clock = clock
        self.replay = ReplayCache(max_skew) if max_skew is not None else None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._envelopes: dict[str, Envelope] = {}
        self._sends: dict[str, list[str]] = {}  # send DocId → envelope DocIds
        self._faults: list[Fault] = []
        self._fault_seq = 0
        self.package_dir = tempfile.mkdtemp(prefix="axis-sim-")

    # -- control (also over HTTP under /_sim/) -------------------------------------------------------------------

    def add_system(self, system_id: str, secret: str) -> None:
        with self._lock:
            self._systems[system_id] = secret

    def change_directory(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        """Change the directory getAgenciesList answers (tests of the gateway's sync; `/_sim/directory`):
        `{"replace": [...]}` sets it, `{"reset": true}` restores the one the simulator started with, then
        `{"add": [{"code"|"organ_id", "name", "mail"?}], "rename": {code: name}, "withdraw": [code]}` apply in
        that order. Answers `{"count", "changed"}`; raises ValueError on a malformed spec."""
        if not isinstance(spec, Mapping):
            raise ValueError("spec must be an object")
        add, rename, withdraw = spec.get("add") or [], spec.get("rename") or {}, spec.get("withdraw") or []
        if not (isinstance(add, list) and isinstance(rename, Mapping) and isinstance(withdraw, list)):
            raise ValueError("add and withdraw are lists, rename an object")
        with self._lock:
            rows = [dict(r) for r in self._agencies]
            if spec.get("reset"):
                rows = normalize_agencies(self._initial_agencies)
            if "replace" in spec:
                rows = normalize_agencies(list(spec["replace"]))
            codes = {r["code"] for r in rows}
            changed = 0
            for entry in normalize_agencies([{**a, "id": ""} for a in add]):
                if entry["code"] not in codes:
                    rows.append({**entry, "id": str(len(rows) + 1)})
                    codes.add(entry["code"])
                    changed += 1
            for row in rows:
                if row["code"] in rename:
                    row["name"] = str(rename[row["code"]])
                    changed += 1
            gone = {str(c) for c in withdraw}
            changed += sum(r["code"] in gone for r in rows)
            self._agencies = [r for r in rows if r["code"] not in gone]
            return {"count": len(self._agencies), "changed": changed}

    @property
    def system_count(self) -> int:
        return len(self._systems)

    def add_fault(self, spec: Mapping[str, Any]) -> Fault:
        """Register a fault from its JSON spec (see devstack.axis_simulator); raises ValueError on a bad spec."""
        fault = fault_from_spec(spec)
        with self._lock:
            self._fault_seq += 1
            fault.id = self._fault_seq
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> int:
        with self._lock:
            n = len(self._faults)
            self._faults.clear()
        return n

    def faults(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.to_dict() for f in self._faults]

    def packages(self, to: str | None = None, sender: str | None = None,
                 messagetype: str | None = None) -> dict[str, Any]:
        """What the axis holds, for assertions: envelopes (optionally for one recipient/sender/type) and counts."""
        with self._lock:
            items = [e for e in self._envelopes.values()
                     if (to is None or e.to == to) and (sender is None or e.sender == sender)
                     and (messagetype is None or e.messagetype == messagetype)]
        items.sort(key=lambda e: e.created)
        return {"count": len(items), "pending": sum(not e.acknowledged for e in items),
                "items": [{**e.listing(), "sendId": e.send_id, "acknowledged": e.acknowledged,
                           "sha256": e.sha256} for e in items]}

    def package_path(self, doc_id: str) -> str | None:
        with self._lock:
            env = self._envelopes.get(doc_id)
        return env.path if env else None

    def reset(self) -> None:
        """Forget every envelope and fault (systems and directory stay)."""
        with self._lock:
            self._envelopes.clear()
            self._sends.clear()
            self._faults.clear()
        for name in os.listdir(self.package_dir):
            os.unlink(os.path.join(self.package_dir, name))

    # -- protocol ------------------------------------------------------------------------------------------------

    def secret_for(self, system_id: str) -> str | None:
        with self._lock:
            return self._systems.get(system_id)

    def known(self, code: str) -> bool:
        """Whether `code` may receive: a system on the axis, or an agency in the directory."""
        return code in self._systems or any(a["code"] == code for a in self._agencies)

    def matching_faults(self, path: str, system_id: str) -> list[Fault]:
        """The faults that fire on this request, in the order they were added."""
        with self._lock:
            return [fault for fault in self._faults if fault.draw(path, system_id)]

    def hit(self, fault: Fault) -> None:
        with self._lock:
            fault.hits += 1

    def wait(self, seconds: float) -> bool:
        """Sleep unless the simulator stops; True when it is stopping."""
        return self._stopping.wait(seconds)

    def store(self, sender: str, recipients: list[str], messagetype: str, path: str, size: int, sha: str,
              copies: int = 1) -> str:
        send_id = secrets.token_hex(12)
        now = _now()
        # A send to one recipient is one envelope: its DocId is the one sendEdoc answered (as the gateway keeps it).
        single = len(recipients) == 1 and copies == 1
        with self._lock:
            ids = []
            for to in recipients:
                for _ in range(copies):
                    env_id = send_id if single else secrets.token_hex(12)
                    env = Envelope(env_id, send_id, sender, to, messagetype, now, path, size, sha)
                    self._envelopes[env.doc_id] = env
                    ids.append(env.doc_id)
            self._sends[send_id] = ids
        return send_id

    def received(self, system_id: str, messagetype: str, params: Mapping[str, str]) -> list[dict[str, Any]]:
        with self._lock:
            items = [e for e in self._envelopes.values()
                     if e.to == system_id and e.messagetype == messagetype and not e.acknowledged
                     and _in_dates(e, params)]
        items = _page(sorted(items, key=lambda e: e.created), params)
        return [e.listing() for e in items]

    def envelope_for_recipient(self, doc_id: str, system_id: str) -> Envelope:
        with self._lock:
            env = self._envelopes.get(doc_id)
        if env is None or env.to != system_id:
            raise Fail(E_NOT_FOUND, "Không tìm thấy gói tin hoặc hệ thống không phải nơi nhận.")
        return env

    def acknowledge(self, doc_id: str, system_id: str, status: str) -> None:
        env = self.envelope_for_recipient(doc_id, system_id)
        with self._lock:
            env.status = status
            env.updated = _now()
            if status in ("done", "fail"):
                env.acknowledged = True

    def sent(self, doc_id: str, system_id: str, messagetype: str) -> list[dict[str, Any]]:
        """getSentEdocList for one send (`docId`), per recipient."""
        with self._lock:
            ids = self._sends.get(doc_id)
            if ids is None and doc_id in self._envelopes:
                ids = [doc_id]
            envs = [self._envelopes[i] for i in ids or () if i in self._envelopes]
        if not envs or any(e.sender != system_id for e in envs):
            raise Fail(E_NOT_FOUND, "Không tìm thấy gói tin đã gửi của hệ thống này.")
        return [{"docId": e.doc_id, "toCode": e.to, "sendStatus": "done", "receiveStatus": e.status,
                 "sendTime": _iso(e.created), "receiveTime": _iso(e.updated)}
                for e in envs if e.messagetype == messagetype]

    def sent_by(self, system_id: str, messagetype: str, params: Mapping[str, str]) -> list[dict[str, Any]]:
        """getSentEdocList without `docId` (the EXTENSION in devstack.axis_simulator): the caller's own sends."""
        to = params.get("toCode", "").strip()
        with self._lock:
            items = [e for e in self._envelopes.values()
                     if e.sender == system_id and e.messagetype == messagetype and (not to or e.to == to)
                     and _in_dates(e, params)]
        items = _page(sorted(items, key=lambda e: e.created), params)
        return [{"docId": e.send_id, "toCode": e.to, "messageType": e.messagetype, "hashFile": e.sha256,
                 "sendStatus": "done", "receiveStatus": e.status, "sendTime": _iso(e.created),
                 "receiveTime": _iso(e.updated)} for e in items]

    def agencies(self) -> list[dict[str, Any]]:
        return [dict(a) for a in self._agencies]
