"""The axis client's bounds on what a peer answers (issue 8): the getEdoc download stops at its cap, list answers
are capped in bytes and entries, and nothing a hostile answer holds escapes as another exception type.

A scripted HTTP server on 127.0.0.1 plays the hostile axis (the simulator only answers what a sane axis would);
the simulator checks the cap on a real stored package. Time and memory are printed.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from chalicelib.adapters.axis.client import MAX_LIST_ENTRIES, AxisClient
from chalicelib.adapters.axis.errors import AxisAnswerTooLarge, AxisPackageTooLarge, AxisTransientError
from devstack.axis_simulator import AxisSimulator
from tests.support.organs import G22, H62
from tests.support.packages import vinh_phuc_7413_package

_MiB = 1024 * 1024
Answer = Callable[[BaseHTTPRequestHandler], None]
SCRIPT: dict[str, Answer] = {}


class Hostile(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *_: object) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            SCRIPT["/" + self.path.rsplit("/", 1)[-1]](self)
        except (BrokenPipeError, ConnectionResetError):  # the client stopped reading: what a cap does
            self.close_connection = True


def sized(body: bytes, status: int = 200) -> Answer:
    def answer(h: BaseHTTPRequestHandler) -> None:
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)
    return answer


def streamed(parts: Callable[[], Iterator[bytes]], status: int = 200, declared: int | None = None) -> Answer:
    """An answer written piece by piece, delimited by closing the connection (or announcing `declared` bytes)."""
    def answer(h: BaseHTTPRequestHandler) -> None:
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        if declared is not None:
            h.send_header("Content-Length", str(declared))
        else:
            h.send_header("Connection", "close")
        h.end_headers()
        h.close_connection = True
        for part in parts():
            h.wfile.write(part)
    return answer


@pytest.fixture(scope="module")
def hostile() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hostile)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def client(url: str, **kwargs: object) -> AxisClient:
    return AxisClient(url, G22, "secret", timeout=10, **kwargs)  # type: ignore[arg-type]


def measured(call: Callable[[], object]) -> tuple[BaseException, float, int]:
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(Exception) as caught:  # noqa: PT011 (the caller asserts the type)
            call()
        return caught.value, time.monotonic() - started, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


OK_LIST = sized(json.dumps({"status": "OK", "ErrorCode": "0", "data": []}).encode())


@pytest.mark.parametrize("announced", [True, False], ids=["with Content-Length", "without"])
def test_a_package_past_the_cap_stops_the_download_and_leaves_nothing(hostile: str, tmp_path: Path,
                                                                        announced: bool) -> None:
    package = os.urandom(5 * _MiB)
    body = b'{"status":"OK","ErrorCode":"0","data":"' + base64.b64encode(package) + b'"}'
    SCRIPT["/getEdoc"] = sized(body) if announced else streamed(lambda: (body[i:i + _MiB]
                                                                         for i in range(0, len(body), _MiB)))
    SCRIPT["/getReceivedEdocList"] = OK_LIST
    axis = client(hostile, max_package_bytes=1 * _MiB)
    dest = tmp_path / "p.edxml"
    error, seconds, peak = measured(lambda: axis.get_edoc("a" * 24, dest))
    print(f"5 MiB package (Content-Length: {announced}), cap 1 MiB: {type(error).__name__} in {seconds:.2f} s, "
          f"peak {peak / _MiB:.1f} MiB traced")
    assert isinstance(error, AxisPackageTooLarge) and error.code == "package_too_large"
    assert error.details["max_bytes"] == _MiB
    assert list(tmp_path.iterdir()) == []  # neither the file nor its .part
    assert peak < 8 * _MiB
    assert axis.get_received_edoc_list() == []  # the half-read connection was not handed to the next call
    assert client(hostile).get_edoc("a" * 24) == package  # under the default cap the same answer is fine


def test_endless_whitespace_in_data_is_counted_too(hostile: str, tmp_path: Path) -> None:
    def parts() -> Iterator[bytes]:
        yield b'{"status":"OK","ErrorCode":"0","data":"'
        for _ in range(400):
            yield b" " * (256 * 1024)  # 100 MiB of nothing that decodes
    SCRIPT["/getEdoc"] = streamed(parts)
    error, seconds, peak = measured(lambda: client(hostile, max_package_bytes=_MiB).get_edoc("a" * 24, tmp_path / "p"))
    print(f"100 MiB of whitespace, cap 1 MiB: {type(error).__name__} in {seconds:.2f} s, peak {peak / _MiB:.1f} MiB")
    assert isinstance(error, AxisPackageTooLarge)
    assert peak < 8 * _MiB


def test_an_announced_size_past_the_cap_is_refused_before_reading(hostile: str, tmp_path: Path) -> None:
    SCRIPT["/getEdoc"] = streamed(lambda: iter([b'{"status":"OK","data":"']), declared=10 * 1024 * _MiB)
    with pytest.raises(AxisPackageTooLarge):
        client(hostile).get_edoc("a" * 24, tmp_path / "p")
    assert list(tmp_path.iterdir()) == []


def test_a_list_answer_past_its_byte_cap_is_refused(hostile: str) -> None:
    entry = json.dumps({"docId": "a" * 24, "from": H62, "padding": "x" * 1000}).encode()

    def parts() -> Iterator[bytes]:
        yield b'{"status":"OK","ErrorCode":"0","data":['
        for _ in range(30_000):  # about 30 MB
            yield entry + b","
        yield entry + b"]}"
    SCRIPT["/getReceivedEdocList"] = streamed(parts)
    error, seconds, peak = measured(lambda: client(hostile).get_received_edoc_list())
    print(f"30 MB list: {type(error).__name__} in {seconds:.2f} s, peak {peak / _MiB:.1f} MiB traced")
    assert isinstance(error, AxisAnswerTooLarge) and error.code == "axis_answer_too_large"
    assert peak < 40 * _MiB


def test_a_long_list_keeps_its_first_entries_and_only_objects(hostile: str) -> None:
    data: list[object] = [{"docId": f"{i:024x}", "from": H62} for i in range(MAX_LIST_ENTRIES + 500)]
    data[3:3] = ["not an object", 7, None, ["x"]]
    SCRIPT["/getReceivedEdocList"] = sized(json.dumps({"status": "OK", "ErrorCode": "0", "data": data}).encode())
    listed = client(hostile).get_received_edoc_list()
    assert len(listed) == MAX_LIST_ENTRIES and all(isinstance(e, dict) for e in listed)
    assert listed[0]["docId"] == f"{0:024x}" and listed[3]["docId"] == f"{3:024x}"


@pytest.mark.parametrize("body", [
    b'{"status":"OK","data":' + b"[" * 200_000 + b"]" * 200_000 + b"}",  # deeper than json's recursion
    b'{"status":"OK","data":{"not":"a list"}}',
    b"\xff\xfe not json",
    b"[1, 2, 3]",
])
def test_malformed_list_answers_are_transient_errors(hostile: str, body: bytes) -> None:
    SCRIPT["/getReceivedEdocList"] = sized(body)
    with pytest.raises(AxisTransientError):
        client(hostile).get_received_edoc_list()


def test_a_huge_error_body_is_read_only_in_part(hostile: str) -> None:
    SCRIPT["/getReceivedEdocList"] = streamed(lambda: (b"x" * _MiB for _ in range(200)), status=503)
    error, seconds, _ = measured(lambda: client(hostile).get_received_edoc_list())
    print(f"200 MiB error body: {type(error).__name__} in {seconds:.2f} s")
    assert isinstance(error, AxisTransientError) and error.details["http_status"] == 503


@pytest.mark.parametrize("tail", [b'"data":"QUJD', b'"data":"QUJD"', b'"data":"QUJDRA=="', b'"data":"' + b"[" * 10])
def test_a_garbled_or_cut_download_is_a_transient_error(hostile: str, tmp_path: Path, tail: bytes) -> None:
    SCRIPT["/getEdoc"] = streamed(lambda: iter([b'{"status":"OK",' + tail]))  # cut short: no closing brace
    with pytest.raises(AxisTransientError):
        client(hostile).get_edoc("a" * 24, tmp_path / "p")
    assert list(tmp_path.iterdir()) == []


def test_the_cap_on_a_real_package_from_the_simulator(tmp_path: Path) -> None:
    systems = {H62: "s-h62", G22: "s-g22"}
    with AxisSimulator(systems) as sim:
        package = vinh_phuc_7413_package(tmp_path)  # about 1.4 MB as edXML
        AxisClient(sim.url, H62, systems[H62]).send_edoc(str(package), to=[G22])
        [envelope] = AxisClient(sim.url, G22, systems[G22]).get_received_edoc_list()
        small = AxisClient(sim.url, G22, systems[G22], max_package_bytes=package.stat().st_size - 1)
        with pytest.raises(AxisPackageTooLarge):
            small.get_edoc(envelope["docId"], tmp_path / "capped.edxml")
        assert not (tmp_path / "capped.edxml").exists() and not (tmp_path / "capped.edxml.part").exists()
        exact = AxisClient(sim.url, G22, systems[G22], max_package_bytes=package.stat().st_size)
        assert Path(exact.get_edoc(envelope["docId"], tmp_path / "whole.edxml")).read_bytes() == package.read_bytes()
