"""The gateway's HTTP API as `edoc` calls it: JSON routes, the presigned POST to S3, downloads.

Why the multipart body is built here rather than by `requests`: `requests` reads a file into memory to encode it
and says nothing while it sends; a document may be 150 MB (MAX_UPLOAD_BYTES) and the person at the terminal wants a
progress bar (issue 10). `_MultipartReader` streams the form fields, then the file, then the closing boundary, with
a known length (S3's POST takes no chunked body) and a callback per chunk.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import requests

from edoc_cli.errors import CliError

__all__ = ["Gateway"]

_CHUNK = 256 * 1024


class _MultipartReader:
    """A file-like multipart/form-data body: `fields`, then `file` last, as the presigned POST requires."""

    def __init__(self, fields: dict[str, str], path: Path, progress: Callable[[int], None] | None,
                 content_type: str = "application/pdf") -> None:
        self.boundary = "edoc" + secrets.token_hex(16)
        head = b"".join(
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + str(value).encode()
            + b"\r\n" for name, value in fields.items())
        head += (f'--{self.boundary}\r\nContent-Disposition: form-data; name="file"; filename="upload"\r\n'
                 f"Content-Type: {content_type}\r\n\r\n").encode()
        self._parts: list[bytes | Path] = [head, path, f"\r\n--{self.boundary}--\r\n".encode()]
        self._length = len(head) + path.stat().st_size + len(self._parts[2])  # type: ignore[arg-type]
        self._progress = progress
        self._chunks = self._generate()
        self._pending = b""

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def __len__(self) -> int:
        return self._length

    def _generate(self) -> Iterator[bytes]:
        for part in self._parts:
            if isinstance(part, bytes):
                yield part
                continue
            with part.open("rb") as fh:
                while chunk := fh.read(_CHUNK):
                    if self._progress:
                        self._progress(len(chunk))
                    yield chunk

    def read(self, size: int = -1) -> bytes:
        out = [self._pending]
        have = len(self._pending)
        while size < 0 or have < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            out.append(chunk)
            have += len(chunk)
        data = b"".join(out)
        if size >= 0:
            data, self._pending = data[:size], data[size:]
        else:
            self._pending = b""
        return data


def _error_of(resp: requests.Response) -> CliError:
    try:
        body = resp.json()
    except ValueError:
        body = None
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict) and err.get("code"):
        return CliError(err["code"], err.get("message") or "", err.get("details") or {}, status=resp.status_code)
    return CliError("http_error", f"Cổng trả lời HTTP {resp.status_code}.", {"body": resp.text[:300]},
                    status=resp.status_code)


class Gateway:
    """One gateway's API, called with the ID token `token()` gives at each call (it may have been refreshed)."""

    def __init__(self, api_url: str, token: Callable[[], str] | None, *, timeout: float = 60.0) -> None:
        self.api_url = api_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.http = requests.Session()

    def call(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None,
             data: bytes | None = None, headers: dict[str, str] | None = None, raw: bool = False) -> Any:
        hdrs = dict(headers or {})
        if self.token is not None:
            hdrs["Authorization"] = f"Bearer {self.token()}"
        clean = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        try:
            resp = self.http.request(method, self.api_url + path, json=json, params=clean, data=data,
                                     headers=hdrs, timeout=self.timeout)
        except requests.RequestException as exc:
            raise CliError("gateway_unreachable", f"Không kết nối được tới cổng {self.api_url}: {exc}") from exc
        if resp.status_code >= 400:
            raise _error_of(resp)
        if raw:
            return resp.content
        return resp.json() if resp.content else None

    def upload(self, form: dict[str, Any], path: Path, progress: Callable[[int], None] | None = None, *,
               content_type: str = "application/pdf") -> None:
        """The presigned multipart POST of one file straight to S3 (docs/contract.md#step-2-upload)."""
        body = _MultipartReader(form["fields"], path, progress, content_type)
        try:
            resp = requests.post(form["url"], data=body, headers={"Content-Type": body.content_type},
                                 timeout=self.timeout)
        except requests.RequestException as exc:
            raise CliError("upload_failed", f"Tải tệp lên không thành công: {exc}", {"file": str(path)}) from exc
        if resp.status_code >= 300:
            code = "file_too_large" if "EntityTooLarge" in resp.text else "upload_refused"
            raise CliError(code, f"Kho lưu trữ từ chối tệp {path.name} (HTTP {resp.status_code}).",
                           {"file": str(path), "status": resp.status_code, "body": resp.text[:300]})

    def fetch(self, url: str, out: IO[bytes]) -> int:
        """Stream a presigned download into `out`; the bytes written."""
        written = 0
        try:
            with requests.get(url, stream=True, timeout=self.timeout) as resp:
                if resp.status_code >= 300:
                    raise CliError("download_failed", f"Tải về không thành công (HTTP {resp.status_code}).")
                for chunk in resp.iter_content(_CHUNK):
                    out.write(chunk)
                    written += len(chunk)
        except requests.RequestException as exc:
            raise CliError("download_failed", f"Tải về không thành công: {exc}") from exc
        return written

    def pages(self, path: str, params: dict[str, Any] | None = None, *, limit: int | None = None) -> Iterator[Any]:
        """Every item of a paged list (`{"items", "next"?}`), following the cursor, at most `limit` items."""
        params = dict(params or {})
        count = 0
        while True:
            page = self.call("GET", path, params=params)
            for item in page.get("items", []):
                yield item
                count += 1
                if limit is not None and count >= limit:
                    return
            if not page.get("next"):
                return
            params["cursor"] = page["next"]
