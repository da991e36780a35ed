"""One webhook attempt over HTTP(S), connected to the address the SSRF guard checked (issue 14).

Why its own adapter: the guard (chalicelib.domain.webhook_urls) is only as good as the connection that follows it.
A client given the host name would resolve it again, and a name whose DNS answer changes between the check and the
connect (DNS rebinding) would reach a forbidden address. So: resolve once (`socket.getaddrinfo`), refuse if ANY
answer is forbidden, then open the connection to the first checked address with urllib3 while TLS still verifies
the certificate against the host NAME (SNI and hostname check via `server_hostname`/`assert_hostname`) and the
`Host` header names it. No redirects are followed (a 3xx is a failed attempt: a redirect could point anywhere), no
proxy from the environment, and only the status code of the answer is read (at most 64 KB of its body is drained).
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass

from chalicelib.domain.webhook_urls import UrlRefused, WebhookTarget, refusal_of

__all__ = ["BLOCKED_ADDRESS", "AttemptResult", "post", "resolve_checked"]

_MAX_ANSWER_BYTES = 64 * 1024
#: An attempt's `error` when the SSRF guard refused the URL or an address it resolved to.
BLOCKED_ADDRESS = "blocked_address"
_USER_AGENT = "edoc-gateway-webhooks/1"


@dataclass(frozen=True)
class AttemptResult:
    """What one attempt learnt: the HTTP status (None when no answer came), how long it took, and the error class
    when it failed before an answer (`blocked_address`, `dns_error`, `timeout`, `connection_error`, `tls_error`)."""

    status_code: int | None
    duration_ms: int
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def resolve_checked(target: WebhookTarget, *, local_receivers: bool) -> list[str]:
    """Every address `target.host` resolves to, if all are allowed; UrlRefused (`webhook_url_forbidden_address`,
    `webhook_url_unresolvable`) otherwise."""
    try:
        infos = socket.getaddrinfo(target.host.strip("[]"), target.port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UrlRefused("webhook_url_unresolvable", type(exc).__name__) from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise UrlRefused("webhook_url_unresolvable", "no address")
    for address in addresses:
        problem = refusal_of(address, local_receivers=local_receivers)
        if problem:
            raise UrlRefused("webhook_url_forbidden_address", problem)
    return addresses


def post(target: WebhookTarget, body: bytes, headers: dict[str, str], *, timeout: float,
         local_receivers: bool) -> AttemptResult:
    """POST `body` to the target, connected to a checked address (module docstring)."""
    import urllib3  # lazy: only the webhooks function sends

    started = time.monotonic()

    def result(status: int | None, error: str | None = None) -> AttemptResult:
        return AttemptResult(status, int((time.monotonic() - started) * 1000), error)

    try:
        address = resolve_checked(target, local_receivers=local_receivers)[0]
    except UrlRefused as exc:
        return result(None, BLOCKED_ADDRESS if exc.reason == "webhook_url_forbidden_address" else "dns_error")
    default_port = 443 if target.scheme == "https" else 80
    host_header = target.host if target.port == default_port else f"{target.host}:{target.port}"
    if ":" in target.host and not target.host.startswith("["):
        host_header = f"[{target.host}]" + ("" if target.port == default_port else f":{target.port}")
    request_headers = {**headers, "Host": host_header, "Content-Type": "application/json",
                       "User-Agent": _USER_AGENT}
    timeouts = urllib3.Timeout(connect=timeout, read=timeout)
    if target.scheme == "https":
        pool: urllib3.HTTPConnectionPool = urllib3.HTTPSConnectionPool(
            address, target.port, timeout=timeouts, retries=False, maxsize=1, cert_reqs="CERT_REQUIRED",
            server_hostname=target.host, assert_hostname=target.host)
    else:
        pool = urllib3.HTTPConnectionPool(address, target.port, timeout=timeouts, retries=False, maxsize=1)
    try:
        answer = pool.urlopen("POST", target.path, body=body, headers=request_headers, redirect=False,
                              preload_content=False, assert_same_host=False)
        try:
            answer.read(_MAX_ANSWER_BYTES)
        finally:
            answer.release_conn()
        return result(int(answer.status))
    except urllib3.exceptions.SSLError:
        return result(None, "tls_error")
    except urllib3.exceptions.NewConnectionError:  # before TimeoutError: urllib3 2 derives it from ConnectTimeoutError
        return result(None, "connection_error")
    except (TimeoutError, urllib3.exceptions.TimeoutError):
        return result(None, "timeout")
    except (urllib3.exceptions.HTTPError, OSError):
        return result(None, "connection_error")
    finally:
        pool.close()
