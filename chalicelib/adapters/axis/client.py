"""HTTP adapter for the national document exchange axis (VXP connector, docs/axis-protocol.md#calls).

Each call is a POST to `<endpoint>/<method>` whose parameters travel as signed `XroadVnpt-*` headers
(`chalicelib.standards.axis_protocol`). The answers are JSON: `status` ("OK"/"FAIL"), `ErrorCode` ("0" = success),
`ErrorDesc`, plus `DocId` or `data`. Failures are sorted once, here, into transient (retry), business (permanent)
and authentication (configuration) errors (`chalicelib.adapters.axis.errors`).

Memory stays flat in the package size: `send_edoc` streams the package file as the body after hashing it in
chunks, and `get_edoc` decodes the base64 `data` of the answer as it arrives instead of loading the JSON.
Never logged: the secret, the signing headers, package contents.
"""

from __future__ import annotations

import binascii
import codecs
import io
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

import urllib3

from chalicelib.adapters.axis.errors import AxisAuthError, AxisBusinessError, AxisTransientError
from chalicelib.core.clock import VN_TZ
from chalicelib.standards.axis_protocol import sha256_file, sign_headers
from chalicelib.standards.base64_stream import Base64Sink

__all__ = ["ACK_STATUSES", "AxisClient", "LIST_FILTERS", "MESSAGE_TYPES", "SERVICE_TYPE", "SendResult",
    "extract_streaming", "logger"]

logger = logging.getLogger(__name__)

SERVICE_TYPE = "eDoc"
MESSAGE_TYPES = frozenset({"edoc", "status"})
#: `updateStatus` values: transport acknowledgement only (business statuses travel as status packages).
ACK_STATUSES = frozenset({"done", "fail", "processing"})
#: Optional filters of getReceivedEdocList, by their axis names.
LIST_FILTERS = frozenset({"fromDate", "toDate", "pageSize", "pageIndex"})

_CHUNK = 64 * 1024
_MAX_SMALL_VALUE = 16 * 1024 * 1024  # any JSON value but `data` larger than this is not an axis answer


@dataclass(frozen=True)
class SendResult:
    """The axis's answer to sendEdoc: its own envelope id `DocId` (keep it beside the edXML `DocumentId`)."""

    doc_id: str
    status: str
    error_code: str
    error_desc: str


class AxisClient:
    """One agency's system on the axis: `system_id` is its registered system id (here, its identifier code, so the
    `from` rule holds), `secret` its HMAC key from the secret store.

    `http` lets tests or a Lambda container share a `urllib3.PoolManager`; retries are off on purpose (a resent
    sendEdoc could duplicate a package: retrying is the queue's decision, with idempotency around it).
    """

    def __init__(self, endpoint: str, system_id: str, secret: str, *, timeout: float = 30.0,
                 http: urllib3.PoolManager | None = None) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.system_id = system_id
        self._secret = secret
        self.timeout = urllib3.Timeout(connect=min(timeout, 10.0), read=timeout)
        self.http = http or urllib3.PoolManager(retries=False, maxsize=4)

    def __repr__(self) -> str:  # never show the secret
        return f"AxisClient({self.endpoint!r}, {self.system_id!r})"

    # -- calls ---------------------------------------------------------------------------------------------------

    def send_edoc(self, package_path: str | os.PathLike[str], to: list[str], messagetype: str = "edoc", *,
                  sender: str | None = None, package_sha256: str | None = None) -> SendResult:
        """sendEdoc: upload one edXML package for `to` (identifier codes). `messagetype="status"` sends a status
        package. `sender` (`from`) defaults to the system id; the axis refuses any other value, the parameter
        exists only to show that rule. `package_sha256`: the package's hash if the caller already has it (saves
        reading a large package twice). Raises `AxisBusinessError` when the axis refuses the package."""
        if messagetype not in MESSAGE_TYPES:
            raise ValueError(f"messagetype must be one of {sorted(MESSAGE_TYPES)}")
        if not to:
            raise ValueError("sendEdoc needs at least one recipient")
        size = os.path.getsize(package_path)
        params = {"Content-Type": "application/octet-stream", "from": sender or self.system_id,
                  "to": json.dumps(list(to), separators=(",", ":")), "servicetype": SERVICE_TYPE,
                  "messagetype": messagetype, "hash-file": package_sha256 or sha256_file(package_path)}
        with open(package_path, "rb") as body:
            answer = self._json(self._post("/sendEdoc", params, body, size), "/sendEdoc")
        result = SendResult(doc_id=str(answer.get("DocId") or ""), status=str(answer.get("status", "")),
                            error_code=str(answer.get("ErrorCode", "")), error_desc=str(answer.get("ErrorDesc", "")))
        if not result.doc_id:
            raise AxisTransientError("Trục liên thông không trả về mã gói tin (DocId).")
        logger.info("axis sendEdoc ok", extra={"axis_doc_id": result.doc_id, "to": list(to), "bytes": size})
        return result

    def get_received_edoc_list(self, messagetype: str = "edoc", **filters: Any) -> list[dict[str, Any]]:
        """getReceivedEdocList: envelopes addressed to this system and not acknowledged yet (edoc or status).

        Filters by their axis names: `fromDate`, `toDate`, `pageSize`, `pageIndex`."""
        if messagetype not in MESSAGE_TYPES:
            raise ValueError(f"messagetype must be one of {sorted(MESSAGE_TYPES)}")
        unknown = set(filters) - LIST_FILTERS
        if unknown:
            raise TypeError(f"unknown getReceivedEdocList filters: {sorted(unknown)}")
        params = {"servicetype": SERVICE_TYPE, "messagetype": messagetype,
                  **{k: str(v) for k, v in filters.items() if v is not None}}
        return self._data_list("/getReceivedEdocList", params)

    def get_edoc(self, doc_id: str, dest: str | os.PathLike[str] | None = None) -> bytes | str:
        """getEdoc: the package of envelope `doc_id`. Returns its bytes, or with `dest` writes it there (streamed,
        constant memory) and returns the path."""
        params = {"docId": doc_id}
        if dest is None:
            sink = io.BytesIO()
            self._download(params, sink)
            return sink.getvalue()
        tmp = f"{os.fspath(dest)}.part"
        try:
            with open(tmp, "wb") as fh:
                self._download(params, fh)
            os.replace(tmp, dest)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return os.fspath(dest)

    def update_status(self, doc_id: str, status: str) -> dict[str, Any]:
        """updateStatus: acknowledge transport of a received envelope (`done`, `fail`) or mark it `processing`.
        Acknowledged envelopes stop appearing in getReceivedEdocList."""
        if status not in ACK_STATUSES:
            raise ValueError(f"status must be one of {sorted(ACK_STATUSES)}")
        return self._call("/updateStatus", {"docId": doc_id, "status": status})

    def get_sent_edoc_list(self, doc_id: str, messagetype: str = "edoc") -> list[dict[str, Any]]:
        """getSentEdocList: per recipient of a sent envelope, `toCode`, `sendStatus`, `receiveStatus` and times."""
        if messagetype not in MESSAGE_TYPES:
            raise ValueError(f"messagetype must be one of {sorted(MESSAGE_TYPES)}")
        return self._data_list("/getSentEdocList",
                               {"servicetype": SERVICE_TYPE, "messagetype": messagetype, "docId": doc_id})

    def list_sent_edocs(self, messagetype: str = "edoc", *, to_code: str | None = None, from_date: str | None = None,
                        page_size: int = 500, max_pages: int = 20) -> list[dict[str, Any]]:
        """getSentEdocList WITHOUT `docId`: this system's own recent sends, one item per recipient envelope, each
        with `docId`, `toCode` and `hashFile` (the package's `hash-file`).

        NOT the documented protocol: the official client library always passes `docId`, and its answer lists
        `toCode`, `sendStatus`, `receiveStatus` and times, no hash. The local simulator implements this form; an
        axis that does not is expected to refuse it (`AxisBusinessError`, missing parameter), which callers
        must treat as "cannot tell", never as "not sent". `from_date` is `dd/MM/yyyy`, as for the received list.
        """
        if messagetype not in MESSAGE_TYPES:
            raise ValueError(f"messagetype must be one of {sorted(MESSAGE_TYPES)}")
        params = {"servicetype": SERVICE_TYPE, "messagetype": messagetype, "pageSize": str(page_size)}
        if to_code:
            params["toCode"] = to_code
        if from_date:
            params["fromDate"] = from_date
        items: list[dict[str, Any]] = []
        for index in range(1, max_pages + 1):
            page = self._data_list("/getSentEdocList", {**params, "pageIndex": str(index)})
            items.extend(page)
            if len(page) < page_size:
                return items
        raise AxisTransientError("Danh sách gói tin đã gửi quá dài để đối chiếu.",
                                 details={"path": "/getSentEdocList", "pages": max_pages})

    def get_agencies_list(self) -> list[dict[str, Any]]:
        """getAgenciesList: the national directory (`id`, `pid`, `code`, `name`, `mail`)."""
        return self._data_list("/getAgenciesList", {})

    # -- plumbing ------------------------------------------------------------------------------------------------

    def _call(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        return self._json(self._post(path, params, b"{}", 2), path)

    def _data_list(self, path: str, params: dict[str, str]) -> list[dict[str, Any]]:
        data = self._call(path, params).get("data")
        if data is None:
            return []
        if not isinstance(data, list):
            raise AxisTransientError("Trục liên thông trả về dữ liệu không đúng định dạng.", details={"path": path})
        return data

    def _post(self, path: str, params: dict[str, str], body: bytes | IO[bytes], size: int,
              *, stream: bool = False) -> urllib3.BaseHTTPResponse:
        """POST with signed headers; sorts transport failures and HTTP statuses into the error classes."""
        headers = sign_headers(params, self.system_id, self._secret, datetime.now(VN_TZ))
        headers["Content-Length"] = str(size)  # a file body would otherwise go out chunked
        headers["Accept"] = "application/json"
        try:
            resp = self.http.request("POST", self.endpoint + path, body=body, headers=headers, timeout=self.timeout,
                                     retries=False, redirect=False, preload_content=not stream)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            logger.warning("axis unreachable", extra={"path": path, "error": type(exc).__name__})
            raise AxisTransientError(details={"path": path, "error": type(exc).__name__}) from exc
        if resp.status == 200:
            return resp
        answer = _safe_json(resp.read() if stream else resp.data)
        resp.release_conn()
        logger.warning("axis answered an error", extra={"path": path, "http_status": resp.status})
        if resp.status >= 500 or resp.status in (408, 429):
            raise AxisTransientError(details={"path": path, "http_status": resp.status})
        if resp.status in (401, 403):
            raise AxisAuthError(details={"path": path, "http_status": resp.status,
                                         "error_code": str(answer.get("ErrorCode", ""))})
        raise AxisBusinessError(str(answer.get("ErrorCode") or f"HTTP{resp.status}"),
                                str(answer.get("ErrorDesc", "")), path=path)

    def _json(self, resp: urllib3.BaseHTTPResponse, path: str) -> dict[str, Any]:
        answer = _safe_json(resp.data)
        if not answer:
            raise AxisTransientError("Trục liên thông trả lời không đúng định dạng.", details={"path": path})
        _raise_on_failure(answer, path)
        return answer

    def _download(self, params: dict[str, str], sink: IO[bytes]) -> None:
        resp = self._post("/getEdoc", params, b"{}", 2, stream=True)
        try:
            decoder = Base64Sink(sink, strict_tail=False)
            try:
                answer = extract_streaming(resp.stream(_CHUNK), "data", decoder.feed)
            except (ValueError, UnicodeDecodeError, binascii.Error) as exc:
                raise AxisTransientError("Trục liên thông trả về gói tin không đọc được.",
                                         details={"path": "/getEdoc"}) from exc
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                raise AxisTransientError(details={"path": "/getEdoc", "error": type(exc).__name__}) from exc
            _raise_on_failure(answer, "/getEdoc")
            if "data" not in answer:
                raise AxisTransientError("Trục liên thông không trả về nội dung gói tin.", details={"path": "/getEdoc"})
            decoder.finish()
        finally:
            resp.release_conn()


def _safe_json(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _raise_on_failure(answer: dict[str, Any], path: str) -> None:
    """`status` FAIL or an `ErrorCode` other than "0" is the axis refusing the request: permanent."""
    status = str(answer.get("status", "")).upper()
    code = answer.get("ErrorCode")
    if status == "FAIL" or (code not in (None, "", "0", 0)):
        raise AxisBusinessError(str(code if code not in (None, "") else "FAIL"), str(answer.get("ErrorDesc") or ""),
                                path=path)


def extract_streaming(chunks: Iterator[bytes], key: str, on_text: Any) -> dict[str, Any]:
    """Read a top-level JSON object from `chunks`, passing the string value of `key` to `on_text` piece by piece.

    Why: getEdoc answers `{"status": ..., "data": "<base64 of the package>"}`, and a 100 MB document makes that
    string larger than the document itself; this keeps memory flat. Every other member is parsed normally
    (bounded size) and returned; `key` maps to True when it was present. Raises ValueError on malformed JSON.
    """
    scanner = _Scanner(chunks)
    result: dict[str, Any] = {}
    scanner.expect("{")
    if scanner.peek_nonspace() == "}":
        scanner.take()
        return result
    while True:
        scanner.expect('"')
        name = json.loads('"' + scanner.read_string(None) + '"')
        scanner.expect(":")
        if name == key and scanner.peek_nonspace() == '"':
            scanner.take()
            scanner.read_string(on_text)
            result[name] = True
        else:
            result[name] = json.loads(scanner.read_value())
        sep = scanner.peek_nonspace()
        scanner.take()
        if sep == "}":
            return result
        if sep != ",":
            raise ValueError("malformed JSON object")


class _Scanner:
    """A minimal pull scanner over UTF-8 chunks: just enough JSON to stream one string member."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks = chunks
        self.decoder = codecs.getincrementaldecoder("utf-8")()
        self.buf = ""
        self.pos = 0

    def _fill(self) -> bool:
        for chunk in self.chunks:
            text = self.decoder.decode(chunk)
            if text:
                self.buf = self.buf[self.pos:] + text
                self.pos = 0
                return True
        return False

    def peek_nonspace(self) -> str:
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in " \t\r\n":
                self.pos += 1
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self._fill():
                raise ValueError("unexpected end of JSON")

    def take(self) -> str:
        char = self.peek_nonspace()
        self.pos += 1
        return char

    def expect(self, char: str) -> None:
        if self.take() != char:
            raise ValueError(f"expected {char!r} in JSON")

    def read_string(self, on_text: Any) -> str:
        """After the opening quote: the raw (still escaped) text up to the closing quote. With `on_text`, the
        decoded text goes there in pieces instead and "" is returned."""
        raw: list[str] = []
        size = 0
        while True:
            if self.pos >= len(self.buf) and not self._fill():
                raise ValueError("unterminated JSON string")
            quote = self.buf.find('"', self.pos)
            slash = self.buf.find("\\", self.pos)
            stop = min(i for i in (quote, slash, len(self.buf)) if i >= 0)
            piece = self.buf[self.pos:stop]
            if on_text is None:
                raw.append(piece)
                size += len(piece)
                if size > _MAX_SMALL_VALUE:
                    raise ValueError("JSON string too large")
            elif piece:
                on_text(piece)
            self.pos = stop
            if stop == len(self.buf):
                continue
            if stop == quote:
                self.pos += 1
                return "".join(raw)
            escape = self._escape()
            if on_text is None:
                raw.append(escape)
            else:
                on_text(json.loads('"' + escape + '"'))

    def _escape(self) -> str:
        while len(self.buf) - self.pos < 2 or (self.buf[self.pos + 1] == "u" and len(self.buf) - self.pos < 6):
            if not self._fill():
                raise ValueError("unterminated JSON escape")
        length = 6 if self.buf[self.pos + 1] == "u" else 2
        escape = self.buf[self.pos:self.pos + length]
        self.pos += length
        return escape

    def read_value(self) -> str:
        """The raw text of one JSON value other than the streamed string (objects/arrays by bracket depth)."""
        first = self.peek_nonspace()
        if first == '"':
            self.take()
            return '"' + self.read_string(None) + '"'
        raw: list[str] = []
        depth = 0
        size = 0
        while True:
            if self.pos >= len(self.buf) and not self._fill():
                if depth == 0 and raw:
                    return "".join(raw)
                raise ValueError("unexpected end of JSON")
            char = self.buf[self.pos]
            if depth == 0 and char in ",}]" and raw:
                return "".join(raw)
            self.pos += 1
            if char == '"':
                raw.append('"' + self.read_string(None) + '"')
                continue
            if char in "{[":
                depth += 1
            elif char in "}]":
                depth -= 1
            raw.append(char)
            size += 1
            if size > _MAX_SMALL_VALUE:
                raise ValueError("JSON value too large")
            if depth == 0 and char in "}]":
                return "".join(raw)
