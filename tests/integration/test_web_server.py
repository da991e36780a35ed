"""The embedded stack's web server (devstack/web_server.py, issue 10): the page's files and nothing outside them,
its config.json once the stack is up, and a Cognito door that forwards the sign-in operations only."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from devstack.web_server import WebServer


@pytest.fixture()
def cognito() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A stand-in for moto's Cognito that records what reaches it."""
    seen: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            seen.append({"target": self.headers["X-Amz-Target"], "body": json.loads(body)})
            answer = b'{"ChallengeName": "SOFTWARE_TOKEN_MFA", "Session": "s"}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", seen
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture()
def web(tmp_path: Path) -> Iterator[WebServer]:
    root = tmp_path / "web"
    (root / "js").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><title>trang</title>", encoding="utf-8")
    (root / "js" / "app.js").write_text("export {};", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("not for browsers", encoding="utf-8")
    server = WebServer("127.0.0.1", 0, root)
    try:
        yield server
    finally:
        server.stop()


def test_the_page_and_only_the_page_is_served(web: WebServer) -> None:
    script = requests.get(web.url + "js/app.js", timeout=10)
    assert script.headers["Content-Type"].startswith("text/javascript")  # ES modules need a JavaScript type
    assert "script-src 'self'" in script.headers["Content-Security-Policy"]
    outside = requests.get(web.url + "..%2fsecret.txt", timeout=10)
    assert "not for browsers" not in outside.text and "trang" in outside.text  # the app's index instead
    assert "trang" in requests.get(web.url + "documents/abc", timeout=10).text


def test_config_json_waits_for_the_stack_then_names_the_api_and_the_pool(web: WebServer, cognito) -> None:
    assert requests.get(web.url + "config.json", timeout=10).status_code == 503
    web.configure({"api_url": "http://127.0.0.1:1", "cognito": {"client_id": "c"}}, cognito[0])
    answer = requests.get(web.url + "config.json", timeout=10)
    assert answer.json()["api_url"] == "http://127.0.0.1:1" and answer.headers["Cache-Control"] == "no-store"


def test_the_cognito_door_forwards_sign_in_operations_only(web: WebServer, cognito) -> None:
    upstream, seen = cognito
    web.configure({"api_url": "x"}, upstream)
    sign_in = requests.post(web.url + "cognito/", data=json.dumps({"ClientId": "c"}), timeout=10, headers={
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "AWSCognitoIdentityProviderService.InitiateAuth"})
    assert sign_in.json()["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
    refused = requests.post(web.url + "cognito/", data="{}", timeout=10, headers={
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "AWSCognitoIdentityProviderService.AdminCreateUser"})
    assert refused.status_code == 400
    assert seen == [{"target": "AWSCognitoIdentityProviderService.InitiateAuth", "body": {"ClientId": "c"}}]
