"""The embedded stack's PKI services over HTTP: OCSP responder, CRL, RFC 3161 timestamp authority, CA certificate.

Why our own and not certomancer's animator: certomancer serves a PKI declared up front in a YAML file, with its own
keys. The embedded stack's CA is `DemoCA`, which issues certificates at provisioning time for public keys that only
KMS holds the private half of, and revocations happen while the stack runs (a test revokes an agency's
certificate). These ~150 lines are real servers speaking the real protocols, over the real CA's data, with no new
dependency: cryptography builds OCSP responses and CRLs, pyHanko's `DummyTimeStamper` signs RFC 3161 tokens with
the TSA key (it is a complete TSA in all but name; here it is fed real `TimeStampReq`s over HTTP).

Routes (all on one port):
- `POST /ocsp` (`application/ocsp-request`) and `GET /ocsp/<base64 request>` (RFC 6960 Appendix A);
- `GET /crl/root.crl`: a fresh CRL from the revocation list;
- `POST /tsa` (`application/timestamp-query`): a timestamp token, `certReq` honoured (the TSA certificate included);
- `GET /certs/root.cer`: the root, DER.

Development and tests only: nothing here runs in Lambda.
"""

from __future__ import annotations

import base64
import logging
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from devstack.pki import DemoCA

__all__ = ["LocalPki"]

log = logging.getLogger("edoc.local.pki")

_MAX_BODY = 64 * 1024


class LocalPki:
    """`DemoCA`'s OCSP, CRL and TSA on `host:port` (0 = any free port), in a daemon thread."""

    def __init__(self, ca: DemoCA, host: str = "127.0.0.1", port: int = 0) -> None:
        from cryptography.hazmat.primitives.asymmetric import rsa

        self.ca = ca
        self._server = ThreadingHTTPServer((host, port), _handler_for(self))
        self._server.daemon_threads = True
        bound_host, bound_port = self._server.server_address[:2]
        self.url = f"http://{bound_host}:{bound_port}"
        self.ocsp_url = f"{self.url}/ocsp"
        self.crl_url = f"{self.url}/crl/root.crl"
        self.tsa_url = f"{self.url}/tsa"
        self.ca_cert_url = f"{self.url}/certs/root.cer"
        # The TSA key lives as long as this server; its certificate names this server's OCSP and CRL URLs.
        self._tsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.tsa_certificate = ca.issue_tsa_certificate(self._tsa_key.public_key(), ocsp_url=self.ocsp_url,
                                                        crl_url=self.crl_url)
        self._timestamper = self._make_timestamper()
        self._thread: threading.Thread | None = None

    def _make_timestamper(self) -> Any:
        from asn1crypto import cms, core, keys, x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
        from pyhanko.sign import general
        from pyhanko.sign.general import simple_cms_attribute
        from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
        from pyhanko_certvalidator.util import get_pyca_cryptography_hash

        key = self._tsa_key
        key_der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        cert = x509.Certificate.load(self.tsa_certificate.public_bytes(serialization.Encoding.DER))

        class Tsa(DummyTimeStamper):
            """pyHanko's DummyTimeStamper signing with the key loaded once: the original re-parses the private key
            for every token (~30 ms), which would pass for TSA latency in the benchmark. Same attributes."""

            def _sign_tst_info(self, tst_info_data: bytes, md_algorithm: str, when: Any) -> Any:
                digest = hashes.Hash(get_pyca_cryptography_hash(md_algorithm))
                digest.update(tst_info_data)
                signed_attrs = cms.CMSAttributes([
                    simple_cms_attribute("content_type", "tst_info"),
                    simple_cms_attribute("signing_time", cms.Time({"utc_time": core.UTCTime(when)})),
                    simple_cms_attribute("signing_certificate", general.as_signing_certificate(self.tsa_cert)),
                    simple_cms_attribute("message_digest", digest.finalize()),
                ])
                signature = key.sign(signed_attrs.dump(), PKCS1v15(),
                                     get_pyca_cryptography_hash(md_algorithm.upper()))
                return signature, signed_attrs

        return Tsa(tsa_cert=cert, tsa_key=keys.PrivateKeyInfo.load(key_der))

    @property
    def urls(self) -> dict[str, str]:
        """What stack.json and provisioning need: where each service answers."""
        return {"url": self.url, "ocsp_url": self.ocsp_url, "crl_url": self.crl_url, "tsa_url": self.tsa_url,
                "ca_cert_url": self.ca_cert_url}

    def start(self) -> LocalPki:
        self._thread = threading.Thread(target=self._server.serve_forever, name="pki", daemon=True)
        self._thread.start()
        log.info("local PKI (OCSP, CRL, TSA) at %s", self.url)
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> LocalPki:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the services ------------------------------------------------------------------------------------------
    def timestamp(self, request_der: bytes) -> bytes:
        from asn1crypto import tsp

        try:
            req = tsp.TimeStampReq.load(request_der)
            req.native  # noqa: B018 - parse fully now: a malformed request is the client's error
        except Exception:
            return tsp.TimeStampResp({"status": {"status": "rejection",
                                                 "fail_info": tsp.PKIFailureInfo({"bad_data_format"})}}).dump()
        resp = self._timestamper.request_tsa_response(req)
        if not req["cert_req"].native:  # RFC 3161 §2.4.1: certificates only when asked for
            resp["time_stamp_token"]["content"]["certificates"] = None
        return resp.dump()


def _handler_for(pki: LocalPki) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "edoc-local-pki/1"
        # Headers and body go out in two writes: without TCP_NODELAY, Nagle and the client's delayed ACK add
        # ~40 ms to every answer, a loopback artefact that would pass for TSA/OCSP latency in the benchmark.
        disable_nagle_algorithm = True

        def log_message(self, fmt: str, *args: Any) -> None:
            log.debug("%s " + fmt, self.address_string(), *args)

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _body(self) -> bytes | None:
            length = int(self.headers.get("Content-Length") or 0)
            if length <= 0 or length > _MAX_BODY:
                self._send(400, b"bad request body", "text/plain")
                return None
            return self.rfile.read(length)

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            path = urllib.parse.urlsplit(self.path).path
            if path == "/crl/root.crl":
                self._send(200, pki.ca.build_crl(), "application/pkix-crl")
            elif path == "/certs/root.cer":
                self._send(200, pki.ca.root_cert_der, "application/pkix-cert")
            elif path.startswith("/ocsp/"):
                try:
                    request = base64.b64decode(urllib.parse.unquote(path[len("/ocsp/"):]), validate=True)
                except ValueError:
                    self._send(400, b"bad OCSP request encoding", "text/plain")
                    return
                self._send(200, pki.ca.ocsp_response(request), "application/ocsp-response")
            else:
                self._send(404, b"not found", "text/plain")

        def do_POST(self) -> None:  # noqa: N802
            path = urllib.parse.urlsplit(self.path).path
            if path not in ("/ocsp", "/tsa"):
                self._send(404, b"not found", "text/plain")
                return
            body = self._body()
            if body is None:
                return
            if path == "/ocsp":
                self._send(200, pki.ca.ocsp_response(body), "application/ocsp-response")
            else:
                self._send(200, pki.timestamp(body), "application/timestamp-reply")

    return Handler
