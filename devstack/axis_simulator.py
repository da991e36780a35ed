"""A local stand-in for the national document exchange axis, speaking the VXP protocol over real HTTP.

Development, demo and test only (production never imports `devstack`). It is a separate server from the
client on purpose: the client is tested against a server, not against itself. What it checks, as the axis does
(docs/axis-protocol.md#the-simulator):

- every protocol call is authenticated from its `XroadVnpt-*` headers (`standards.axis_protocol.verify_headers`
  against the per-system secrets); a mismatch answers HTTP 401 with a JSON FAIL;
- and is fresh, as the real axis requires: a signed timestamp more than `max_skew` (±5 minutes by default,
  `--max-skew-seconds`, 0 = off) from the simulator's clock is refused (`stale_timestamp`), and so is a signature
  already accepted within that window (`replayed_request`): a replayed request, even byte for byte, is refused
  before anything is stored, with the same 401 FAIL (`ErrorCode` 401, the reason in `ErrorDesc`);
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
package); `GET /_sim/directory` (what getAgenciesList answers); `POST /_sim/directory` {"replace"?, "reset"?,
"add"?, "rename"?, "withdraw"?} (change it: `AxisState.change_directory`); `POST /_sim/reset`; `GET /_sim/health`.

`store_then_timeout` (sendEdoc only) stores the package, exactly as a successful send would, and then answers
nothing until `delay` has passed and drops the connection: from the sender's side this is what a worker killed
between sending and recording, or an answer lost on the way back, looks like, with no hook in the sender's code.

The parts: `devstack.axis_sim.state` (what the axis holds and the rules above), `devstack.axis_sim.faults` (the
injected faults), `devstack.axis_sim.http` (the protocol and control endpoints on the wire); this module puts them
on a server and gives the command line.

Run alone: `python -m devstack.axis_simulator --port 8701 --systems-json systems.json`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import shutil
import signal
import sys
import threading
from collections.abc import Iterable, Mapping
from datetime import timedelta
from http.server import ThreadingHTTPServer
from typing import Any

from chalicelib.standards.axis_protocol import DEFAULT_MAX_SKEW
from devstack.axis_sim.http import Handler
from devstack.axis_sim.state import AxisState

__all__ = ["AxisSimulator", "load_systems", "main"]


class AxisSimulator(AxisState):
    """The simulator: `systems` maps system id → secret, `agencies` is the directory getAgenciesList answers.

    `start()` serves on a background thread (port 0 picks a free port; see `url`), `stop()` ends it and deletes
    the stored packages. Tests may drive faults through the `/_sim/` endpoints or these methods.
    """

    def __init__(self, systems: Mapping[str, str], agencies: Iterable[Mapping[str, Any]] = (),
                 host: str = "127.0.0.1", port: int = 0, *, max_package_bytes: int = 512 * 1024 * 1024,
                 max_skew: timedelta | None = DEFAULT_MAX_SKEW) -> None:
        super().__init__(systems, agencies, max_package_bytes=max_package_bytes, max_skew=max_skew)
        self.host = host
        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._server.simulator = self  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None

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
            shutil.rmtree(self.package_dir, ignore_errors=True)

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        shutil.rmtree(self.package_dir, ignore_errors=True)

    def __enter__(self) -> AxisSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


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
    parser.add_argument("--max-skew-seconds", type=float, default=DEFAULT_MAX_SKEW.total_seconds(),
                        help="timestamp window and replay cache (0: accept any timestamp, no replay cache)")
    args = parser.parse_args(argv)
    systems, agencies = load_systems(args.systems_json)
    if args.agencies_json:
        with open(args.agencies_json, encoding="utf-8") as fh:
            agencies = json.load(fh)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    skew = timedelta(seconds=args.max_skew_seconds) if args.max_skew_seconds > 0 else None
    sim = AxisSimulator(systems, agencies, host=args.host, port=args.port, max_skew=skew)
    print(f"axis simulator on {sim.url} ({len(systems)} systems, {len(agencies)} agencies)", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop cleanly (stored packages deleted) on SIGTERM
    with contextlib.suppress(KeyboardInterrupt):
        sim.serve()


if __name__ == "__main__":
    main()
