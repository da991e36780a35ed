"""The command line's HTTP side (edoc_cli.gateway): the streamed multipart body S3's presigned POST takes, and the
gateway's error shape turned into the one error the command reports."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import requests
from werkzeug.formparser import parse_form_data

from edoc_cli.errors import CliError
from edoc_cli.gateway import _error_of, _MultipartReader


def test_multipart_body_carries_the_fields_then_the_file_and_reports_progress(tmp_path: Path) -> None:
    pdf = tmp_path / "văn bản.pdf"
    content = b"%PDF-1.7\n" + bytes(range(256)) * 3000 + b"\n%%EOF\n"
    pdf.write_bytes(content)
    seen: list[int] = []
    body = _MultipartReader({"key": "incoming/a/b.pdf", "policy": "p", "x-amz-signature": "s"}, pdf, seen.append)

    data = b""
    while chunk := body.read(10_000):  # as requests/urllib3 read a file-like body
        data += chunk

    assert len(data) == len(body)  # the Content-Length sent is the body's
    assert sum(seen) == len(content)
    environ = {"REQUEST_METHOD": "POST", "CONTENT_TYPE": body.content_type, "CONTENT_LENGTH": str(len(data)),
               "wsgi.input": io.BytesIO(data)}
    _, form, files = parse_form_data(environ)
    assert dict(form) == {"key": "incoming/a/b.pdf", "policy": "p", "x-amz-signature": "s"}
    assert list(files) == ["file"] and files["file"].read() == content  # the file is the last part
    assert data.index(b'name="x-amz-signature"') < data.index(b'name="file"')


def _response(status: int, body: bytes, content_type: str = "application/json") -> requests.Response:
    resp = requests.Response()
    resp.status_code = status
    resp._content = body
    resp.headers["Content-Type"] = content_type
    return resp


def test_the_gateways_refusal_keeps_its_code_message_and_details() -> None:
    err = _error_of(_response(400, '{"error": {"code": "secret_document", "message": "Văn bản mật", '
                                   '"details": {"field": "secrecy"}}}'.encode()))
    assert (err.code, err.message, err.details, err.status) == ("secret_document", "Văn bản mật",
                                                                 {"field": "secrecy"}, 400)


@pytest.mark.parametrize("body", [b"<html>bad gateway</html>", b'{"message": "Internal server error"}', b""])
def test_an_answer_without_the_error_shape_is_http_error(body: bytes) -> None:
    err = _error_of(_response(502, body, "text/html"))
    assert isinstance(err, CliError) and (err.code, err.status) == ("http_error", 502)
