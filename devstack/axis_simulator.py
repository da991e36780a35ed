"""A local stand-in for the national document exchange axis, speaking the VXP protocol over real HTTP.

Development, demo and test only (production never imports `devstack`). It is a separate server from the
client on purpose: the client is tested against a server, not against itself. What it checks, as the axis does
(axis-api.md):

- every protocol call is authenticated from its `XroadVnpt-*` headers (`standards.axis_protocol.verify_headers`
  against the per-system secrets); a mismatch answers HTTP 401 with a JSON FAIL;
- sendEdoc: `from` must equal `systemid`, `hash-file` must be the SHA-256 of the body, every recipient must be known
  (a system or a directory entry); each recipient gets its own envelope with its own 24-hex DocId, and the answer
  carries the send's DocId, which getSentEdocList accepts;
- getReceivedEdocList lists only the caller's un-acknowledged envelopes of the requested `messagetype` (a status
  package is one sent with `messagetype=status`); getEdoc serves the base64 package only to its recipient;
  updateStatus `done`/`fail` acknowledges (the envelope stops being listed), `processing` only marks it;
- getAgenciesList answers the configured directory.

EXTENSION, not verified against the real axis: getSentEdocList WITHOUT `docId` answers the caller's own sends
(one item per recipient envelope, newest last, optional `fromDate`/`toDate`, `pageSize`/`pageIndex` as in
getReceivedEdocList, `toCode` to narrow to one recipient), each with `docId` (the DocId sendEdoc answered),
`toCode`, `messageType`, `hashFile` (the `hash-file` of the package), `sendStatus`, `receiveStatus` and times.
The official client library only ever calls getSentEdocList with a `docId`, and its answer documents `toCode`,
`sendStatus`, `receiveStatus` and times, not a hash. The gateway uses the extension to find a send whose answer
it never got (`chalicelib.outbound.dispatch`, "reconcile"); against an axis that refuses the call without `docId` it
stops and asks a person instead of sending twice.

Error codes it answers (`ErrorCode`; the real axis's own codes are not published): `401` authentication,
`1001` `from` ≠ system id, `1002` hash-file mismatch, `1003` unknown recipient, `1004` missing or invalid parameter,
`1005` unknown envelope or not the caller's, `1006` empty package, `1007` package too large.

Control endpoints for tests and demos, without HMAC and only from loopback addresses, under `/_sim/`:
`POST /_sim/faults` {"kind": "5xx"|"timeout"|"slow"|"duplicate"|"business_error"|"store_then_timeout",
"rate": 0..1 | "count": n, "paths": ["/sendEdoc", ...], "systems": [...], "error_code", "error_desc",
"http_status", "delay", "seed"} → {"id"}; `GET /_sim/faults`; `DELETE /_sim/faults`;
`GET /_sim/packages?to=<code>&from=&messagetype=` (counts and envelopes); `duplicate` stores a sent package twice
(sendEdoc) or lists every item twice (getReceivedEdocList, getSentEdocList); `GET /_sim/packages/<docId>` (the raw
package); `POST /_sim/reset`; `GET /_sim/health`.

`store_then_timeout` (sendEdoc only) stores the package, exactly as a successful send would, and then answers
nothing until `delay` has passed and drops the connection: from the sender's side this is what a worker killed
between sending and recording, or an answer lost on the way back, looks like, with no hook in the sender's code.

Run alone: `python -m devstack.axis_simulator --port 8701 --systems-json systems.json`.
"""

from __future__ import annotations

import argparse
import binascii
import contextlib
import hashlib
import json
import logging
import os
import random
import secrets
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from chalicelib.core.clock import VN_TZ
from chalicelib.standards.axis_protocol import SignatureError, verify_headers
from chalicelib.standards.identifiers import parent

logger = logging.getLogger(__name__)

PROTOCOL_PATHS = ("/sendEdoc", "/getReceivedEdocList", "/getEdoc", "/updateStatus", "/getSentEdocList",
                  "/getAgenciesList")
FAULT_KINDS = ("5xx", "timeout", "slow", "duplicate", "business_error", "store_then_timeout")
_DUPLICATE_PATHS = frozenset({"/sendEdoc", "/getReceivedEdocList", "/getSentEdocList"})
#: Faults that only make sense on some paths: without `paths`, they apply there only.
_DEFAULT_PATHS = {"duplicate": _DUPLICATE_PATHS, "store_then_timeout": frozenset({"/sendEdoc"})}
_DEFAULT_DELAY = {"timeout": 60.0, "slow": 1.0, "store_then_timeout": 60.0}
_CHUNK = 3 * 64 * 1024
_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})

E_AUTH, E_FROM, E_HASH, E_RECIPIENT, E_PARAM, E_NOT_FOUND, E_EMPTY, E_TOO_LARGE = (
    "401", "1001", "1002", "1003", "1004", "1005", "1006", "1007")


class _Fail(Exception):
    """An answer `{"status": "FAIL", ...}` with an HTTP status."""

    def __init__(self, error_code: str, error_desc: str, http_status: int = 200) -> None:
        super().__init__(error_code)
        self.error_code = error_code
        self.error_desc = error_desc
        self.http_status = http_status


@dataclass
class Fault:
    """One injected fault. `count` (remaining) wins over `rate`; neither means every matching request."""

    id: int
    kind: str
    rate: float | None = None
    count: int | None = None
    paths: frozenset[str] | None = None
    systems: frozenset[str] | None = None
    error_code: str = "9999"
    error_desc: str = "Lỗi nghiệp vụ giả lập."
    http_status: int = 503
    delay: float = 0.0
    rng: random.Random = field(default_factory=random.Random, repr=False)
    #: How many times the fault took effect (a matching request whose answer another fault decided first, e.g. a
    #: 5xx drawn before a store_then_timeout, does not count; `count` does).
    hits: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "rate": self.rate, "count": self.count, "hits": self.hits,
                "paths": sorted(self.paths) if self.paths else None,
                "systems": sorted(self.systems) if self.systems else None, "error_code": self.error_code,
                "http_status": self.http_status, "delay": self.delay}


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
        raise _Fail(E_PARAM, "pageSize/pageIndex phải là số.") from None
    return items[(index - 1) * size:index * size]


def _parse_day(value: str) -> date | None:
    for fmt in ("%Y-%m-%d", "%Y/%m/%d", "%d/%m/%Y", "%d-%m-%Y"):
        try:
            return datetime.strptime(value.strip()[:10], fmt).date()
        except ValueError:
            continue
    return None


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


class AxisSimulator:
    """The simulator: `systems` maps system id → secret, `agencies` is the directory getAgenciesList answers.

    `start()` serves on a background thread (port 0 picks a free port; see `url`), `stop()` ends it and deletes
    the stored packages. Tests may drive faults through the `/_sim/` endpoints or these methods.
    """

    def __init__(self, systems: Mapping[str, str], agencies: Iterable[Mapping[str, Any]] = (),
                 host: str = "127.0.0.1", port: int = 0, *, max_package_bytes: int = 512 * 1024 * 1024) -> None:
        self._systems = dict(systems)
        self._agencies = normalize_agencies(agencies)
        self.host = host
        self.max_package_bytes = max_package_bytes
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._envelopes: dict[str, Envelope] = {}
        self._sends: dict[str, list[str]] = {}  # send DocId → envelope DocIds
        self._faults: list[Fault] = []
        self._fault_seq = 0
        self._dir = tempfile.mkdtemp(prefix="axis-sim-")
        self._server = ThreadingHTTPServer((host, port), _Handler)
        self._server.daemon_threads = True
        self._server.simulator = self  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> AxisSimulator:
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="axis-simulator", daemon=True)
        self._thread.start()
        return self

    def serve(self) -> None:
        """Serve on the calling thread until interrupted (the `__main__` entry), then clean up."""
        try:
            self._server.serve_forever()
        finally:
            self._stopping.set()
            self._server.server_close()
            shutil.rmtree(self._dir, ignore_errors=True)

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> AxisSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- control (also over HTTP under /_sim/) -------------------------------------------------------------------

    def add_system(self, system_id: str, secret: str) -> None:
        with self._lock:
            self._systems[system_id] = secret

    def add_fault(self, spec: Mapping[str, Any]) -> Fault:
        """Register a fault from its JSON spec (see the module docstring); raises ValueError on a bad spec."""
        kind = spec.get("kind")
        if kind not in FAULT_KINDS:
            raise ValueError(f"kind must be one of {FAULT_KINDS}")
        rate = spec.get("rate")
        count = spec.get("count")
        if rate is not None and not (isinstance(rate, (int, float)) and 0 <= rate <= 1):
            raise ValueError("rate must be a number in 0..1")
        if count is not None and not (isinstance(count, int) and count >= 0):
            raise ValueError("count must be a non-negative integer")
        paths = spec.get("paths")
        if paths is not None:
            paths = frozenset(p if p.startswith("/") else "/" + p for p in paths)
            if not paths <= set(PROTOCOL_PATHS):
                raise ValueError(f"paths must be among {PROTOCOL_PATHS}")
        systems = spec.get("systems")
        with self._lock:
            self._fault_seq += 1
            fault = Fault(id=self._fault_seq, kind=kind, rate=None if rate is None else float(rate), count=count,
                          paths=paths, systems=frozenset(systems) if systems else None,
                          error_code=str(spec.get("error_code", "9999")),
                          error_desc=str(spec.get("error_desc", "Lỗi nghiệp vụ giả lập.")),
                          http_status=int(spec.get("http_status", 503)),
                          delay=float(spec.get("delay", _DEFAULT_DELAY.get(kind, 0.0))),
                          rng=random.Random(spec.get("seed")))
            if not 500 <= fault.http_status <= 599:
                raise ValueError("http_status must be 5xx")
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
        for name in os.listdir(self._dir):
            os.unlink(os.path.join(self._dir, name))

    # -- protocol ------------------------------------------------------------------------------------------------

    def _secret_for(self, system_id: str) -> str | None:
        with self._lock:
            return self._systems.get(system_id)

    def _known(self, code: str) -> bool:
        return code in self._systems or any(a["code"] == code for a in self._agencies)

    def _matching_faults(self, path: str, system_id: str) -> list[Fault]:
        hits = []
        with self._lock:
            for fault in self._faults:
                if fault.paths is not None and path not in fault.paths:
                    continue
                if fault.paths is None and path not in _DEFAULT_PATHS.get(fault.kind, frozenset(PROTOCOL_PATHS)):
                    continue
                if fault.systems is not None and system_id not in fault.systems:
                    continue
                if fault.count is not None:
                    if fault.count <= 0:
                        continue
                    fault.count -= 1
                elif fault.rate is not None and fault.rng.random() >= fault.rate:
                    continue
                hits.append(fault)
        return hits

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
        start = _parse_day(params["fromDate"]) if params.get("fromDate") else None
        end = _parse_day(params["toDate"]) if params.get("toDate") else None
        with self._lock:
            items = [e for e in self._envelopes.values()
                     if e.to == system_id and e.messagetype == messagetype and not e.acknowledged
                     and (start is None or e.created.date() >= start) and (end is None or e.created.date() <= end)]
        items = _page(sorted(items, key=lambda e: e.created), params)
        return [e.listing() for e in items]

    def envelope_for_recipient(self, doc_id: str, system_id: str) -> Envelope:
        with self._lock:
            env = self._envelopes.get(doc_id)
        if env is None or env.to != system_id:
            raise _Fail(E_NOT_FOUND, "Không tìm thấy gói tin hoặc hệ thống không phải nơi nhận.")
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
            raise _Fail(E_NOT_FOUND, "Không tìm thấy gói tin đã gửi của hệ thống này.")
        return [{"docId": e.doc_id, "toCode": e.to, "sendStatus": "done", "receiveStatus": e.status,
                 "sendTime": _iso(e.created), "receiveTime": _iso(e.updated)}
                for e in envs if e.messagetype == messagetype]

    def sent_by(self, system_id: str, messagetype: str, params: Mapping[str, str]) -> list[dict[str, Any]]:
        """getSentEdocList without `docId` (the EXTENSION in the module docstring): the caller's own sends."""
        start = _parse_day(params["fromDate"]) if params.get("fromDate") else None
        end = _parse_day(params["toDate"]) if params.get("toDate") else None
        to = params.get("toCode", "").strip()
        with self._lock:
            items = [e for e in self._envelopes.values()
                     if e.sender == system_id and e.messagetype == messagetype and (not to or e.to == to)
                     and (start is None or e.created.date() >= start) and (end is None or e.created.date() <= end)]
        items = _page(sorted(items, key=lambda e: e.created), params)
        return [{"docId": e.send_id, "toCode": e.to, "messageType": e.messagetype, "hashFile": e.sha256,
                 "sendStatus": "done", "receiveStatus": e.status, "sendTime": _iso(e.created),
                 "receiveTime": _iso(e.updated)} for e in items]

    def agencies(self) -> list[dict[str, Any]]:
        return [dict(a) for a in self._agencies]


class _Handler(BaseHTTPRequestHandler):
    """One request. HTTP/1.1 with a Content-Length on every answer, so clients may keep connections alive."""

    protocol_version = "HTTP/1.1"
    server_version = "AxisSimulator/1.0"
    disable_nagle_algorithm = True  # headers and body go out in separate writes: no 40 ms delayed-ACK stall

    @property
    def sim(self) -> AxisSimulator:
        return self.server.simulator  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("axis-sim %s " + format, self.client_address[0], *args)

    # -- plumbing ------------------------------------------------------------------------------------------------

    def _length(self) -> int | None:
        value = self.headers.get("Content-Length")
        try:
            return int(value) if value is not None else None
        except ValueError:
            return None

    def _drain(self) -> None:
        """Read and drop the request body, so an early answer does not break the client's upload or the next
        request on a kept-alive connection. A body without Content-Length (chunked) is not read: close instead."""
        if self._length() is None and self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            return
        remaining = self._length() or 0
        while remaining > 0:
            block = self.rfile.read(min(remaining, _CHUNK))
            if not block:
                break
            remaining -= len(block)

    def _send_json(self, body: Any, status: int = 200) -> None:
        raw = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _ok(self, **extra: Any) -> None:
        self._send_json({"status": "OK", "ErrorCode": "0", "ErrorDesc": "", **extra})

    def _fail(self, fail: _Fail) -> None:
        self._send_json({"status": "FAIL", "ErrorCode": fail.error_code, "ErrorDesc": fail.error_desc},
                        fail.http_status)

    # -- routing -------------------------------------------------------------------------------------------------

    def do_GET(self) -> None:  # http.server's naming
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def do_DELETE(self) -> None:
        self._route("DELETE")

    def _route(self, method: str) -> None:
        url = urlsplit(self.path)
        try:
            if url.path.startswith("/_sim/"):
                self._control(method, url.path, parse_qs(url.query))
                return
            path = "/" + url.path.rstrip("/").rsplit("/", 1)[-1]
            if path not in PROTOCOL_PATHS:
                self._drain()
                raise _Fail(E_PARAM, "Không có dịch vụ này.", 404)
            if method != "POST":
                self._drain()
                raise _Fail(E_PARAM, "Chỉ chấp nhận POST.", 405)
            self._protocol(path)
        except _Fail as fail:
            self._fail(fail)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _protocol(self, path: str) -> None:
        try:
            params = verify_headers(self.headers, self.sim._secret_for)
        except SignatureError as exc:
            self._drain()
            logger.info("axis-sim refused authentication: %s", exc.reason)
            raise _Fail(E_AUTH, f"Xác thực không thành công ({exc.reason}).", 401) from None
        system_id = params["systemid"]
        duplicate = False
        drop_after_store: Fault | None = None
        for fault in self.sim._matching_faults(path, system_id):
            if fault.kind == "store_then_timeout":
                drop_after_store = fault  # counted as a hit once the package is stored (`_send_edoc`)
                continue
            self.sim.hit(fault)
            if fault.kind == "slow":
                self.sim.wait(fault.delay)
            elif fault.kind == "duplicate":
                duplicate = True
            elif fault.kind == "5xx":
                self._drain()
                raise _Fail(str(fault.http_status), "Lỗi máy chủ giả lập.", fault.http_status)
            elif fault.kind == "business_error":
                self._drain()
                raise _Fail(fault.error_code, fault.error_desc)
            elif fault.kind == "timeout":
                self._drain()
                self.sim.wait(fault.delay)
                self.close_connection = True  # no answer at all: the client's read timeout fires
                return
        if path == "/sendEdoc":
            self._send_edoc(params, system_id, duplicate, drop_after_store)
            return
        self._drain()
        if path == "/getReceivedEdocList":
            messagetype = params.get("messagetype", "edoc")
            if messagetype not in ("edoc", "status"):
                raise _Fail(E_PARAM, "messagetype phải là edoc hoặc status.")
            items = self.sim.received(system_id, messagetype, params)
            self._ok(data=[i for item in items for i in ([item, item] if duplicate else [item])])
        elif path == "/getEdoc":
            self._get_edoc(self.sim.envelope_for_recipient(self._param(params, "docId"), system_id))
        elif path == "/updateStatus":
            status = self._param(params, "status")
            if status not in ("done", "fail", "processing"):
                raise _Fail(E_PARAM, "status phải là done, fail hoặc processing.")
            self.sim.acknowledge(self._param(params, "docId"), system_id, status)
            self._ok()
        elif path == "/getSentEdocList":
            messagetype = params.get("messagetype", "edoc")
            if params.get("docId", "").strip():
                sent = self.sim.sent(self._param(params, "docId"), system_id, messagetype)
            else:
                sent = self.sim.sent_by(system_id, messagetype, params)
            self._ok(data=[i for item in sent for i in ([item, item] if duplicate else [item])])
        elif path == "/getAgenciesList":
            self._ok(data=self.sim.agencies())

    @staticmethod
    def _param(params: Mapping[str, str], name: str) -> str:
        value = params.get(name, "").strip()
        if not value:
            raise _Fail(E_PARAM, f"Thiếu tham số {name}.")
        return value

    def _send_edoc(self, params: Mapping[str, str], system_id: str, duplicate: bool,
                   drop_after_store: Fault | None = None) -> None:
        sender = params.get("from", "")
        length = self._length()
        if length is None:
            self.close_connection = True
            raise _Fail(E_PARAM, "Thiếu Content-Length.", 411)
        if sender != system_id:
            self._drain()
            raise _Fail(E_FROM, "Tham số from phải trùng với mã hệ thống (systemid).")
        messagetype = params.get("messagetype", "edoc")
        if messagetype not in ("edoc", "status"):
            self._drain()
            raise _Fail(E_PARAM, "messagetype phải là edoc hoặc status.")
        try:
            to = json.loads(self._param(params, "to"))
        except ValueError:
            to = params.get("to", "").split(",")
        recipients = list(dict.fromkeys(str(c).strip() for c in (to if isinstance(to, list) else [to]) if c))
        if not recipients:
            self._drain()
            raise _Fail(E_PARAM, "Thiếu nơi nhận (to).")
        unknown = [c for c in recipients if not self.sim._known(c)]
        if unknown:
            self._drain()
            raise _Fail(E_RECIPIENT, f"Không có cơ quan nhận: {', '.join(unknown)}.")
        if length == 0:
            raise _Fail(E_EMPTY, "Gói tin rỗng.")
        if length > self.sim.max_package_bytes:
            self._drain()
            raise _Fail(E_TOO_LARGE, "Gói tin vượt quá dung lượng cho phép.", 413)
        fd, path = tempfile.mkstemp(dir=self.sim._dir, suffix=".edxml")
        digest = hashlib.sha256()
        remaining = length
        with os.fdopen(fd, "wb") as out:
            while remaining > 0:
                block = self.rfile.read(min(remaining, _CHUNK))
                if not block:
                    break
                digest.update(block)
                out.write(block)
                remaining -= len(block)
        if remaining:
            os.unlink(path)
            self.close_connection = True
            raise _Fail(E_PARAM, "Gói tin bị cắt ngang.", 400)
        if digest.hexdigest() != params.get("hash-file", "").strip().lower():
            os.unlink(path)
            raise _Fail(E_HASH, "hash-file không khớp với nội dung gói tin.")
        send_id = self.sim.store(system_id, recipients, messagetype, path, length, digest.hexdigest(),
                                 copies=2 if duplicate else 1)
        logger.info("axis-sim stored %s from %s for %s", send_id, system_id, recipients)
        if drop_after_store is not None:  # stored, but the sender never learns it: no answer, connection dropped
            self.sim.hit(drop_after_store)
            self.sim.wait(drop_after_store.delay)
            self.close_connection = True
            return
        self._ok(DocId=send_id)

    def _get_edoc(self, env: Envelope) -> None:
        """`{"status":"OK",...,"data":"<base64>"}` streamed from the stored file: flat memory like the client."""
        head = b'{"status":"OK","ErrorCode":"0","ErrorDesc":"","docId":"' + env.doc_id.encode() + b'","data":"'
        tail = b'"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(head) + 4 * ((env.size + 2) // 3) + len(tail)))
        self.end_headers()
        self.wfile.write(head)
        with open(env.path, "rb") as fh:
            while block := fh.read(_CHUNK):
                self.wfile.write(binascii.b2a_base64(block, newline=False))
        self.wfile.write(tail)

    # -- control -------------------------------------------------------------------------------------------------

    def _control(self, method: str, path: str, query: dict[str, list[str]]) -> None:
        if self.client_address[0] not in _LOOPBACK:
            self._drain()
            self._send_json({"error": "control endpoints answer only on loopback"}, 403)
            return
        length = self._length() or 0
        raw = self.rfile.read(length) if length else b""
        first = {k: v[0] for k, v in query.items()}
        if path == "/_sim/faults" and method == "POST":
            try:
                spec = json.loads(raw or b"{}")
                fault = self.sim.add_fault(spec if isinstance(spec, dict) else {})
            except ValueError as exc:
                self._send_json({"error": str(exc)}, 400)
                return
            self._send_json(fault.to_dict(), 201)
        elif path == "/_sim/faults" and method == "GET":
            self._send_json({"faults": self.sim.faults()})
        elif path == "/_sim/faults" and method == "DELETE":
            self._send_json({"cleared": self.sim.clear_faults()})
        elif path == "/_sim/packages" and method == "GET":
            self._send_json(self.sim.packages(first.get("to"), first.get("from"), first.get("messagetype")))
        elif path.startswith("/_sim/packages/") and method == "GET":
            found = self.sim.package_path(path.rsplit("/", 1)[-1])
            if found is None:
                self._send_json({"error": "not found"}, 404)
                return
            size = os.path.getsize(found)
            self.send_response(200)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            with open(found, "rb") as fh:
                shutil.copyfileobj(fh, self.wfile, _CHUNK)
        elif path == "/_sim/reset" and method == "POST":
            self.sim.reset()
            self._send_json({"reset": True})
        elif path == "/_sim/health" and method == "GET":
            self._send_json({"ok": True, "systems": len(self.sim._systems)})
        else:
            self._send_json({"error": "unknown control endpoint"}, 404)


def load_systems(path: str) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """Systems (and an optional directory) from a JSON file in any of the shapes the project writes:
    `{"<system_id>": "<secret>"}`, `{"systems": [{"system_id", "secret"}] | {...}, "agencies": [...]}` or the
    embedded stack's `{"served": {...}, "external": {...}}`."""
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    agencies: list[dict[str, Any]] = []
    if isinstance(data, dict) and ("served" in data or "external" in data):
        return {**data.get("served", {}), **data.get("external", {})}, agencies
    if isinstance(data, dict) and "systems" in data:
        agencies = list(data.get("agencies", []))
        systems = data["systems"]
        if isinstance(systems, list):
            return {s["system_id"]: s["secret"] for s in systems}, agencies
        return dict(systems), agencies
    if isinstance(data, dict):
        return {str(k): str(v) for k, v in data.items()}, agencies
    raise ValueError("unrecognised systems file")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local axis simulator (VXP protocol) for development and tests.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--systems-json", required=True, help="system ids and secrets (see load_systems)")
    parser.add_argument("--agencies-json", help="directory entries for getAgenciesList")
    args = parser.parse_args(argv)
    systems, agencies = load_systems(args.systems_json)
    if args.agencies_json:
        with open(args.agencies_json, encoding="utf-8") as fh:
            agencies = json.load(fh)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    sim = AxisSimulator(systems, agencies, host=args.host, port=args.port)
    print(f"axis simulator on {sim.url} ({len(systems)} systems, {len(agencies)} agencies)", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop cleanly (stored packages deleted) on SIGTERM
    with contextlib.suppress(KeyboardInterrupt):
        sim.serve()


if __name__ == "__main__":
    main()
