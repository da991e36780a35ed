"""The simulator over HTTP: the VXP protocol paths and the `/_sim/` control endpoints (devstack.axis_simulator).

Why it streams: packages run to hundreds of megabytes, so sendEdoc writes the body to a file while hashing it, and
getEdoc writes the base64 answer from the file block by block, with a Content-Length computed beforehand; the
client is tested against a server that keeps memory flat, as its own code must. HTTP/1.1 keep-alive is honoured
(every early answer drains the request body first), as a real client keeps connections open.
"""

from __future__ import annotations

import binascii
import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from chalicelib.standards.axis_protocol import SignatureError, verify_headers
from devstack.axis_sim.faults import PROTOCOL_PATHS, Fault
from devstack.axis_sim.state import (
    E_AUTH,
    E_EMPTY,
    E_FROM,
    E_HASH,
    E_PARAM,
    E_RECIPIENT,
    E_TOO_LARGE,
    AxisState,
    Envelope,
    Fail,
)

__all__ = ["Handler"]

logger = logging.getLogger("devstack.axis_simulator")

_CHUNK = 3 * 64 * 1024
_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


class Handler(BaseHTTPRequestHandler):
    """One request. HTTP/1.1 with a Content-Length on every answer, so clients may keep connections alive."""

    protocol_version = "HTTP/1.1"
    server_version = "AxisSimulator/1.0"
    disable_nagle_algorithm = True  # headers and body go out in separate writes: no 40 ms delayed-ACK stall

    @property
    def sim(self) -> AxisState:
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

    def _fail(self, fail: Fail) -> None:
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
                raise Fail(E_PARAM, "Không có dịch vụ này.", 404)
            if method != "POST":
                self._drain()
                raise Fail(E_PARAM, "Chỉ chấp nhận POST.", 405)
            self._protocol(path)
        except Fail as fail:
            self._fail(fail)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _protocol(self, path: str) -> None:
        try:
            params = verify_headers(self.headers, self.sim.secret_for, now=self.sim.clock(),
                                    max_skew=self.sim.max_skew, replay=self.sim.replay)
        except SignatureError as exc:
            self._drain()
            logger.info("axis-sim refused authentication: %s", exc.reason)
            raise Fail(E_AUTH, f"Xác thực không thành công ({exc.reason}).", 401) from None
        system_id = params["systemid"]
        duplicate = False
        drop_after_store: Fault | None = None
        for fault in self.sim.matching_faults(path, system_id):
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
                raise Fail(str(fault.http_status), "Lỗi máy chủ giả lập.", fault.http_status)
            elif fault.kind == "business_error":
                self._drain()
                raise Fail(fault.error_code, fault.error_desc)
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
                raise Fail(E_PARAM, "messagetype phải là edoc hoặc status.")
            items = self.sim.received(system_id, messagetype, params)
            self._ok(data=[i for item in items for i in ([item, item] if duplicate else [item])])
        elif path == "/getEdoc":
            self._get_edoc(self.sim.envelope_for_recipient(self._param(params, "docId"), system_id))
        elif path == "/updateStatus":
            status = self._param(params, "status")
            if status not in ("done", "fail", "processing"):
                raise Fail(E_PARAM, "status phải là done, fail hoặc processing.")
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
            raise Fail(E_PARAM, f"Thiếu tham số {name}.")
        return value

    def _send_edoc(self, params: Mapping[str, str], system_id: str, duplicate: bool,
                   drop_after_store: Fault | None = None) -> None:
        sender = params.get("from", "")
        length = self._length()
        if length is None:
            self.close_connection = True
            raise Fail(E_PARAM, "Thiếu Content-Length.", 411)
        if sender != system_id:
            self._drain()
            raise Fail(E_FROM, "Tham số from phải trùng với mã hệ thống (systemid).")
        messagetype = params.get("messagetype", "edoc")
        if messagetype not in ("edoc", "status"):
            self._drain()
            raise Fail(E_PARAM, "messagetype phải là edoc hoặc status.")
        try:
            to = json.loads(self._param(params, "to"))
        except ValueError:
            to = params.get("to", "").split(",")
        recipients = list(dict.fromkeys(str(c).strip() for c in (to if isinstance(to, list) else [to]) if c))
        if not recipients:
            self._drain()
            raise Fail(E_PARAM, "Thiếu nơi nhận (to).")
        unknown = [c for c in recipients if not self.sim.known(c)]
        if unknown:
            self._drain()
            raise Fail(E_RECIPIENT, f"Không có cơ quan nhận: {', '.join(unknown)}.")
        if length == 0:
            raise Fail(E_EMPTY, "Gói tin rỗng.")
        if length > self.sim.max_package_bytes:
            self._drain()
            raise Fail(E_TOO_LARGE, "Gói tin vượt quá dung lượng cho phép.", 413)
        fd, path = tempfile.mkstemp(dir=self.sim.package_dir, suffix=".edxml")
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
            raise Fail(E_PARAM, "Gói tin bị cắt ngang.", 400)
        if digest.hexdigest() != params.get("hash-file", "").strip().lower():
            os.unlink(path)
            raise Fail(E_HASH, "hash-file không khớp với nội dung gói tin.")
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
        elif path == "/_sim/directory" and method == "GET":
            self._send_json({"agencies": self.sim.agencies()})
        elif path == "/_sim/directory" and method == "POST":
            try:
                spec = json.loads(raw or b"{}")
                self._send_json(self.sim.change_directory(spec))
            except ValueError as exc:
                self._send_json({"error": str(exc)}, 400)
        elif path == "/_sim/reset" and method == "POST":
            self.sim.reset()
            self._send_json({"reset": True})
        elif path == "/_sim/health" and method == "GET":
            self._send_json({"ok": True, "systems": self.sim.system_count})
        else:
            self._send_json({"error": "unknown control endpoint"}, 404)
