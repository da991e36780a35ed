"""A webhook receiver on 127.0.0.1 that verifies each delivery the Standard Webhooks way and prints it: what an
agency's document management system does with the gateway's webhooks (issue 14), for the demo and the tests.

`python -m devstack webhook-receiver` (with a stack running, `make run`) registers a subscription to every event
for a clerk's agency (default `clerk-ubnd-vp`), keeps the secret it is shown once, and prints each event it then
receives, verified, until Ctrl-C; `make demo` in another terminal gives it events. The tests use `WebhookReceiver`
directly: every request it received, whether it verified, and a programmable run of failures (`fail_next`, `down`).
Never shipped (devstack/).
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from chalicelib.standards.standard_webhooks import InvalidSignature, verify

__all__ = ["Received", "WebhookReceiver", "main"]


@dataclass
class Received:
    """One request as the receiver saw it."""

    headers: dict[str, str]
    body: bytes
    status: int
    verified: bool
    verified_with: list[int] = field(default_factory=list)  # which of `secrets` matched (their index)

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)


class WebhookReceiver:
    """An HTTP server on 127.0.0.1 (any free port): 200 to a request that verifies with one of `secrets`, 401 to
    one that does not; `fail_next` answers that many requests 500 first (the request is still recorded)."""

    def __init__(self, secrets: list[str] | None = None, *, quiet: bool = True) -> None:
        self.secrets: list[str] = list(secrets or [])
        self.received: list[Received] = []
        self.fail_next = 0
        self._lock = threading.Lock()
        self._quiet = quiet
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802  (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver._answer(self, body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  (http.server's signature)
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhook-receiver", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks/edoc"

    def _answer(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        headers = {k.lower(): v for k, v in handler.headers.items()}
        matched = []
        for n, secret in enumerate(self.secrets):
            try:
                verify(secret, headers, body, now=int(time.time()))
                matched.append(n)
            except InvalidSignature:
                continue
        with self._lock:
            failing = self.fail_next > 0
            if failing:
                self.fail_next -= 1
            status = 500 if failing else (200 if matched else 401)
            self.received.append(Received(headers, body, status, bool(matched), matched))
        if not self._quiet:
            event = json.loads(body) if body else {}
            print(f"{headers.get('webhook-id')} {event.get('type')} {event.get('occurred_at')} "
                  f"{'verified' if matched else 'NOT VERIFIED'} → {status}  "
                  f"{json.dumps(event.get('data'), ensure_ascii=False)[:160]}", flush=True)
        handler.send_response(status)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    def events(self, *, verified_only: bool = True) -> list[dict[str, Any]]:
        """The events answered 200, in arrival order (each once per delivery)."""
        with self._lock:
            return [r.event for r in self.received if r.status == 200 and (r.verified or not verified_only)]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def main(argv: list[str] | None = None) -> int:
    """`python -m devstack webhook-receiver`: register a subscription on the running stack and print its events."""
    from devstack.client import GatewayClient
    from devstack.config import DEFAULT_STATE_DIR

    parser = argparse.ArgumentParser(prog="python -m devstack webhook-receiver", description=__doc__)
    parser.add_argument("--user", default="clerk-ubnd-vp", help="the clerk whose agency subscribes")
    parser.add_argument("--stack", default=str(DEFAULT_STATE_DIR / "stack.json"), help="the stack's stack.json")
    args = parser.parse_args(argv)
    with open(args.stack, encoding="utf-8") as fh:
        client = GatewayClient(json.load(fh))
    token = client.login(args.user)
    receiver = WebhookReceiver(quiet=False)
    created = client.call("POST", "/v1/webhooks", token, json={"url": receiver.url, "events": ["*"],
                                                                "description": "devstack webhook-receiver"})
    receiver.secrets.append(created["secret"])
    print(f"subscription {created['subscription_id']} → {receiver.url} (all events); Ctrl-C to stop", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        client.call("DELETE", f"/v1/webhooks/{created['subscription_id']}", token)
        receiver.stop()
    return 0
