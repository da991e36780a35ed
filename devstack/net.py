"""Two small waits on the network that the stack's start-up needs: "is this port free?" and "does it answer?".

Why they exist: ThreadedMotoServer.start() waits forever on a busy port, and a part that has bound its port may
not answer yet; failing fast with a sentence that names the part is what a developer needs on screen.
"""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request

__all__ = ["check_port_free", "wait_http"]


def check_port_free(host: str, port: int, what: str) -> None:
    """Fail fast with a clear message: ThreadedMotoServer.start() would otherwise wait forever on a busy port."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise RuntimeError(f"{what} port {port} on {host} is in use: pass --port-{what} 0 for any free port, "
                               f"or stop what holds it") from exc


def wait_http(url: str, *, expect_status: int | None, timeout: float, what: str) -> bytes:
    """GET `url` until it answers (with `expect_status`, if given); raises after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 (our own http://127.0.0.1 URLs)
                if expect_status is None or resp.status == expect_status:
                    return resp.read()
                last = f"HTTP {resp.status}"
        except urllib.error.HTTPError as exc:
            if expect_status is None:
                return b""
            last = f"HTTP {exc.code}"
        except OSError as exc:
            last = type(exc).__name__
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not answer at {url} within {timeout:.0f} s ({last})")
