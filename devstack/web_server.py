"""The web page (issue 10) on the embedded stack: the static files of `web/`, its runtime configuration as
`/config.json`, and a same-origin door to moto's Cognito at `/cognito/`.

Why a server of its own: the page is a static single-page app (no build step); a deploy puts the same files and a
`config.json` in the web bucket behind CloudFront (infra/resources.yaml, docs/operations.md#web-page), and here this
small threaded server plays that part. It starts first, so that its origin (`http://127.0.0.1:<port>`) is known
before provisioning: the documents bucket's CORS rule and the API's `WEB_ORIGINS` name it, as the template names
the distribution's.

Why the Cognito door: a browser calls Cognito's JSON API cross-origin, which AWS answers with CORS, preflight
included; moto server answers the preflight (`OPTIONS /`, no `X-Amz-Target`, no signature) by routing it to its S3
backend, which fails under IAM enforcement (HTTP 500), so the browser never sends the call. The page therefore
talks to `<web_url>/cognito/` on the embedded stack only (`config.json` `cognito.endpoint`), which forwards the
user-pool operations a sign-in needs, and nothing else, to moto unchanged. On AWS the endpoint is
`https://cognito-idp.<region>.amazonaws.com/`.
"""

from __future__ import annotations

import json
import logging
import mimetypes
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from devstack.config import REPO_ROOT

__all__ = ["COGNITO_OPERATIONS", "COGNITO_PATH", "WEB_ROOT", "WebServer", "page_config"]

log = logging.getLogger("edoc.local.web")

WEB_ROOT = REPO_ROOT / "web"
COGNITO_PATH = "/cognito/"
#: What the page asks Cognito: sign in, answer the TOTP challenge, refresh, sign out.
COGNITO_OPERATIONS = frozenset(f"AWSCognitoIdentityProviderService.{op}" for op in (
    "InitiateAuth", "RespondToAuthChallenge", "RevokeToken", "GlobalSignOut"))
_MAX_COGNITO_BODY = 64 * 1024
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
          ".html": "text/html; charset=utf-8", ".svg": "image/svg+xml", ".json": "application/json; charset=utf-8"}


def page_config(api_url: str, region: str, user_pool_id: str, client_id: str, web_url: str) -> dict[str, Any]:
    """The page's runtime configuration on the embedded stack: the keys a deploy writes as `config.json`
    (infra/web_publish.py), with the Cognito door as the endpoint."""
    return {"api_url": api_url, "region": region, "stage": "local",
            "cognito": {"endpoint": web_url.rstrip("/") + COGNITO_PATH, "region": region,
                        "user_pool_id": user_pool_id, "client_id": client_id}}


class WebServer:
    """`web/` on a background thread; `origin` is known at once, `configure()` gives it `/config.json`."""

    def __init__(self, host: str, port: int, root: Path = WEB_ROOT) -> None:
        self.root = root.resolve()
        self.config: dict[str, Any] | None = None
        self.cognito_url: str | None = None
        self._server = ThreadingHTTPServer((host, port), _handler(self))
        self._server.daemon_threads = True
        self.origin = f"http://{host}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="web", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return self.origin + "/"

    def configure(self, config: dict[str, Any], cognito_url: str) -> None:
        self.config, self.cognito_url = config, cognito_url

    def csp(self) -> str:
        """The page's Content-Security-Policy: its own scripts and styles only; calls to itself and the API."""
        api = (self.config or {}).get("api_url", "")
        aws = self.cognito_url or ""
        return ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
                f"connect-src 'self' {api} {aws}; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler(web: WebServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "edoc-web"

        def log_message(self, fmt: str, *args: Any) -> None:
            log.debug("%s " + fmt, self.address_string(), *args)

        def _send(self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Referrer-Policy", "no-referrer")
            self.send_header("Content-Security-Policy", web.csp())
            for name, value in (extra or {}).items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            path = unquote(urlsplit(self.path).path)
            if path == "/config.json":
                if web.config is None:
                    self._send(503, b'{"error": "starting"}', _TYPES[".json"])
                else:
                    self._send(200, json.dumps(web.config, ensure_ascii=False).encode(), _TYPES[".json"],
                               {"Cache-Control": "no-store"})
                return
            file = (web.root / path.lstrip("/")).resolve()
            if path.endswith("/"):
                file = file / "index.html"
            if not file.is_relative_to(web.root) or not file.is_file():
                file = web.root / "index.html"  # the single-page app answers every other path itself
            content_type = _TYPES.get(file.suffix) or mimetypes.guess_type(file.name)[0] or "application/octet-stream"
            self._send(200, file.read_bytes(), content_type, {"Cache-Control": "no-cache"})

        do_HEAD = do_GET

        def do_POST(self) -> None:  # noqa: N802
            if urlsplit(self.path).path != COGNITO_PATH or web.cognito_url is None:
                self._send(404, b"{}", _TYPES[".json"])
                return
            target = self.headers.get("X-Amz-Target", "")
            length = int(self.headers.get("Content-Length") or 0)
            if target not in COGNITO_OPERATIONS or length > _MAX_COGNITO_BODY:
                self._send(400, b'{"__type": "InvalidParameterException", "message": "not forwarded"}',
                           "application/x-amz-json-1.1")
                return
            request = urllib.request.Request(  # noqa: S310 (moto's own http:// URL, from the stack)
                web.cognito_url, data=self.rfile.read(length), method="POST",
                headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target})
            try:
                with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 (moto's own URL)
                    status, body = answer.status, answer.read()
            except urllib.error.HTTPError as exc:
                status, body = exc.code, exc.read()
            self._send(status, body, "application/x-amz-json-1.1", {"Cache-Control": "no-store"})

    return Handler
