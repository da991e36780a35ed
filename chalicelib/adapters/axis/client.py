"""HTTP adapter for the national document exchange axis (VXP connector, docs/axis-protocol.md#calls).

Each call is a POST to `<endpoint>/<method>` whose parameters travel as signed `XroadVnpt-*` headers
(`chalicelib.standards.axis_protocol`). The answers are JSON: `status` ("OK"/"FAIL"), `ErrorCode` ("0" = success),
`ErrorDesc`, plus `DocId` or `data`. Failures are sorted once, here, into transient (retry), business (permanent)
and authentication (configuration) errors (`chalicelib.adapters.axis.errors`).

Memory stays flat in the package size: `send_edoc` streams the package file as the body after hashing it in
chunks, and `get_edoc` decodes the base64 `data` of the answer as it arrives instead of loading the JSON.
Never logged: the secret, the signing headers, package contents.

Bounded (issue 8, bounds on all untrusted input): `get_edoc` stops past `max_package_bytes` decoded (or the
base64 text that would carry them, whitespace included) with `AxisPackageTooLarge` (`package_too_large`) and deletes
the partial file; every other answer is read up to `MAX_ANSWER_BYTES` (`AxisAnswerTooLarge`), and a list keeps at
most `MAX_LIST_ENTRIES` objects (the rest stay listed on the axis for the next call). Never trusted: Content-Length.

Signed fresh: every request, a retry included, is signed when it is sent, with a timestamp later than any this
process signed before for the same system (at least 1 ms apart, the timestamp's resolution), so no two requests
carry the same signature and an axis that refuses replays (the simulator's window and cache) never refuses ours.
"""

from __future__ import annotations

import binascii
import io
import json
import logging
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import IO, Any

import urllib3

from chalicelib.adapters.axis.errors import (
    AxisAnswerTooLarge,
    AxisAuthError,
    AxisBusinessError,
    AxisPackageTooLarge,
    AxisTransientError,
)
from chalicelib.adapters.axis.json_stream import extract_streaming
from chalicelib.core.clock import VN_TZ
from chalicelib.core.settings import AXIS_MAX_PACKAGE_BYTES
from chalicelib.standards.axis_protocol import sha256_file, sign_headers
from chalicelib.standards.base64_stream import Base64Sink, Base64TooLarge

__all__ = ["ACK_STATUSES", "AxisClient", "LIST_FILTERS", "MAX_ANSWER_BYTES", "MAX_LIST_ENTRIES", "MESSAGE_TYPES",
    "SERVICE_TYPE", "SendResult", "extract_streaming", "logger"]

logger = logging.getLogger(__name__)

SERVICE_TYPE = "eDoc"
MESSAGE_TYPES = frozenset({"edoc", "status"})
#: `updateStatus` values: transport acknowledgement only (business statuses travel as status packages).
ACK_STATUSES = frozenset({"done", "fail", "processing"})
#: Optional filters of getReceivedEdocList, by their axis names.
LIST_FILTERS = frozenset({"fromDate", "toDate", "pageSize", "pageIndex"})

#: Bytes of any answer but getEdoc's: a list of 2,000 envelopes is under 1 MB; an error body is a few hundred bytes.
MAX_ANSWER_BYTES = 16 * 1024 * 1024
#: Objects kept from a list answer; the poller takes the rest on its next run (they stay listed until acknowledged).
MAX_LIST_ENTRIES = 2_000
#: getAgenciesList is the national directory (about 100,000 agencies, some 20 MB as JSON): its own bounds.
_DIRECTORY_CAPS = (96 * 1024 * 1024, 250_000)
_ERROR_BODY_BYTES = 64 * 1024
_CHUNK = 64 * 1024
_ONE_MS = timedelta(milliseconds=1)
_STEP_BACK = timedelta(seconds=2)
_stamp_lock = threading.Lock()
_last_stamp: dict[str, datetime] = {}  # system id → the latest timestamp this process signed with


def _vn_now() -> datetime:
    return datetime.now(VN_TZ)


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
                 http: urllib3.PoolManager | None = None, max_package_bytes: int = AXIS_MAX_PACKAGE_BYTES,
                 clock: Callable[[], datetime] = _vn_now) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.system_id = system_id
        self._secret = secret
        self.timeout = urllib3.Timeout(connect=min(timeout, 10.0), read=timeout)
        self.http = http or urllib3.PoolManager(retries=False, maxsize=4)
        self.max_package_bytes = max_package_bytes
        self._clock = clock

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
            answer = self._json(self._post("/sendEdoc", params, body, size), "/sendEdoc", _ERROR_BODY_BYTES)
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
        constant memory) and returns the path. Past `max_package_bytes`: `AxisPackageTooLarge`, nothing kept."""
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

    def _call(self, path: str, params: dict[str, str], max_bytes: int = MAX_ANSWER_BYTES) -> dict[str, Any]:
        return self._json(self._post(path, params, b"{}", 2), path, max_bytes)

    def _data_list(self, path: str, params: dict[str, str]) -> list[dict[str, Any]]:
        max_bytes, max_entries = _DIRECTORY_CAPS if path == "/getAgenciesList" else (MAX_ANSWER_BYTES, MAX_LIST_ENTRIES)
        data = self._call(path, params, max_bytes).get("data")
        if data is None:
            return []
        if not isinstance(data, list):
            raise AxisTransientError("Trục liên thông trả về dữ liệu không đúng định dạng.", details={"path": path})
        items = [item for item in data if isinstance(item, dict)]
        if len(items) != len(data) or len(items) > max_entries:
            logger.warning("axis list cut to its bounds", extra={
                "path": path, "listed": len(data), "not_objects": len(data) - len(items), "kept": max_entries})
        return items[:max_entries]

    def _timestamp(self) -> datetime:
        """Now, at the timestamp's millisecond resolution, and later than anything signed just before for this
        system: two requests in one millisecond (or across a small step back of the clock) get distinct stamps. A
        clock far behind the last stamp (a test's, or one stepped back a long way) is taken as it is."""
        now = self._clock()
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)
        with _stamp_lock:
            last = _last_stamp.get(self.system_id)
            if last is not None and last - _STEP_BACK < now <= last:
                now = last + _ONE_MS
            _last_stamp[self.system_id] = now
        return now

    def _post(self, path: str, params: dict[str, str], body: bytes | IO[bytes], size: int) -> urllib3.BaseHTTPResponse:
        """POST with signed headers (signed now, for this attempt only); sorts transport failures and HTTP statuses
        into the error classes. The answer's body is left unread (streamed) for the caller, within its bounds."""
        headers = sign_headers(params, self.system_id, self._secret, self._timestamp())
        headers["Content-Length"] = str(size)  # a file body would otherwise go out chunked
        headers["Accept"] = "application/json"
        try:
            resp = self.http.request("POST", self.endpoint + path, body=body, headers=headers, timeout=self.timeout,
                                     retries=False, redirect=False, preload_content=False)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            logger.warning("axis unreachable", extra={"path": path, "error": type(exc).__name__})
            raise AxisTransientError(details={"path": path, "error": type(exc).__name__}) from exc
        if resp.status == 200:
            return resp
        try:
            answer = _safe_json(_read_capped(resp, _ERROR_BODY_BYTES, path, truncate=True))
        except AxisTransientError:
            answer = {}
        _drop(resp)
        logger.warning("axis answered an error", extra={"path": path, "http_status": resp.status})
        if resp.status >= 500 or resp.status in (408, 429):
            raise AxisTransientError(details={"path": path, "http_status": resp.status})
        if resp.status in (401, 403):
            raise AxisAuthError(details={"path": path, "http_status": resp.status,
                                         "error_code": str(answer.get("ErrorCode", ""))})
        raise AxisBusinessError(str(answer.get("ErrorCode") or f"HTTP{resp.status}"),
                                str(answer.get("ErrorDesc", "")), path=path)

    def _json(self, resp: urllib3.BaseHTTPResponse, path: str, max_bytes: int) -> dict[str, Any]:
        try:
            raw = _read_capped(resp, max_bytes, path)
        except BaseException:
            _drop(resp)
            raise
        resp.release_conn()
        answer = _safe_json(raw)
        if not answer:
            raise AxisTransientError("Trục liên thông trả lời không đúng định dạng.", details={"path": path})
        _raise_on_failure(answer, path)
        return answer

    def _download(self, params: dict[str, str], sink: IO[bytes]) -> None:
        resp = self._post("/getEdoc", params, b"{}", 2)
        cap = self.max_package_bytes
        too_large = AxisPackageTooLarge(details={"path": "/getEdoc", "max_bytes": cap})
        # The base64 text of `cap` bytes, with room for line breaks and the answer's other members: the text is
        # counted too, or an answer of endless whitespace would stream forever without a decoded byte.
        raw_cap = cap // 3 * 4 + cap // 16 + 1024 * 1024
        done = False
        try:
            if _declared_length(resp) > raw_cap:
                raise too_large
            decoder = Base64Sink(sink, limit=cap, strict_tail=False)
            try:
                answer = extract_streaming(_counted(resp.stream(_CHUNK), raw_cap, too_large), "data", decoder.feed)
            except Base64TooLarge:
                raise too_large from None
            except (ValueError, UnicodeDecodeError, binascii.Error, RecursionError) as exc:
                raise AxisTransientError("Trục liên thông trả về gói tin không đọc được.",
                                         details={"path": "/getEdoc"}) from exc
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                raise AxisTransientError(details={"path": "/getEdoc", "error": type(exc).__name__}) from exc
            done = True
            _raise_on_failure(answer, "/getEdoc")
            if "data" not in answer:
                raise AxisTransientError("Trục liên thông không trả về nội dung gói tin.", details={"path": "/getEdoc"})
            try:
                decoder.finish()
            except Base64TooLarge:
                raise too_large from None
            except (ValueError, binascii.Error) as exc:
                raise AxisTransientError("Trục liên thông trả về gói tin không đọc được.",
                                         details={"path": "/getEdoc"}) from exc
        finally:
            if done:
                resp.release_conn()
            else:
                _drop(resp)


def _declared_length(resp: urllib3.BaseHTTPResponse) -> int:
    """The answer's Content-Length, only to refuse early what is announced too large (never to trust as small)."""
    try:
        return int(resp.headers.get("Content-Length") or 0)
    except ValueError:
        return 0


def _counted(chunks: Iterator[bytes], cap: int, error: Exception) -> Iterator[bytes]:
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total > cap:
            raise error
        yield chunk


def _read_capped(resp: urllib3.BaseHTTPResponse, cap: int, path: str, *, truncate: bool = False) -> bytes:
    """The body, read in chunks up to `cap` bytes: past it `AxisAnswerTooLarge` (or, `truncate`, the first `cap`)."""
    if not truncate and _declared_length(resp) > cap:
        raise AxisAnswerTooLarge(details={"path": path, "max_bytes": cap})
    parts: list[bytes] = []
    total = 0
    try:
        for chunk in resp.stream(_CHUNK):
            parts.append(chunk)
            total += len(chunk)
            if total > cap:
                if truncate:
                    break
                raise AxisAnswerTooLarge(details={"path": path, "max_bytes": cap})
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise AxisTransientError(details={"path": path, "error": type(exc).__name__}) from exc
    return b"".join(parts)[:cap]


def _drop(resp: urllib3.BaseHTTPResponse) -> None:
    """Give up an answer read only in part: close its connection (the unread rest must not reach the next request
    on a kept-alive connection), then hand it back to the pool, which opens a new one when needed."""
    resp.close()
    resp.release_conn()


def _safe_json(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw or b"{}")
    except (ValueError, RecursionError):  # not JSON, or nested deeper than the parser's recursion allows
        return {}
    return value if isinstance(value, dict) else {}


def _raise_on_failure(answer: dict[str, Any], path: str) -> None:
    """`status` FAIL or an `ErrorCode` other than "0" is the axis refusing the request: permanent."""
    status = str(answer.get("status", "")).upper()
    code = answer.get("ErrorCode")
    if status == "FAIL" or (code not in (None, "", "0", 0)):
        raise AxisBusinessError(str(code if code not in (None, "") else "FAIL"), str(answer.get("ErrorDesc") or ""),
                                path=path)
