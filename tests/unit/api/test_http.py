"""The API's HTTP edge (chalicelib.api.http): errors become their JSON answer once, for every route."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from chalice import Chalice
from chalice.test import Client

from chalicelib.api.http import Routes
from chalicelib.core.errors import Conflict, NotFound


@pytest.fixture()
def client():
    app = Chalice(app_name="http-edge-test")
    routes = Routes(app)

    @routes.route("/ok", auth=False, status=201)
    def ok() -> dict:
        return {"limit": routes.query("limit"), "text": "Văn bản"}

    @routes.route("/echo", methods=["POST"], auth=False)
    def echo() -> dict:
        return {"body": routes.body()}

    @routes.route("/missing/{item_id}", auth=False)
    def missing(item_id: str) -> dict:
        raise NotFound(code="inbox_item_not_found", details={"item_id": item_id})

    @routes.route("/busy", auth=False)
    def busy() -> dict:
        raise Conflict("Văn bản đang được xử lý.", code="not_retryable")

    @routes.route("/bug", auth=False)
    def bug() -> dict:
        raise RuntimeError("secret detail")

    @routes.route("/private")
    def private(caller: object) -> dict:
        return {"caller": str(caller)}

    with Client(app) as c:
        yield c


def _json(response) -> dict:
    return json.loads(response.body)


def test_a_result_is_json_with_the_routes_status_and_no_caching(client):
    response = client.http.get("/ok?limit=5")
    assert response.status_code == 201
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert response.headers["Cache-Control"] == "no-store"
    assert "Văn bản".encode() in response.body  # UTF-8 as it is, not \u-escaped
    assert _json(response) == {"limit": "5", "text": "Văn bản"}


def test_a_gateway_error_is_its_familys_status_and_the_catalogues_message(client):
    response = client.http.get("/missing/abc")
    assert response.status_code == 404
    assert _json(response) == {"error": {"code": "inbox_item_not_found", "message": "Không tìm thấy văn bản đến.",
                                         "details": {"item_id": "abc"}}}
    response = client.http.get("/busy")
    assert response.status_code == 409
    assert _json(response)["error"] == {"code": "not_retryable", "message": "Văn bản đang được xử lý.", "details": {}}


def test_an_unexpected_error_is_internal_error_and_shows_nothing(client):
    response = client.http.get("/bug")
    assert response.status_code == 500
    assert _json(response) == {"error": {"code": "internal_error", "message": "Lỗi hệ thống, vui lòng thử lại sau.",
                                         "details": {}}}
    assert b"secret detail" not in response.body


def test_the_body_is_json_or_invalid_json(client):
    headers = {"Content-Type": "application/json"}
    assert _json(client.http.post("/echo", headers=headers, body=b'{"a": 1}')) == {"body": {"a": 1}}
    assert _json(client.http.post("/echo", headers=headers, body=b"")) == {"body": {}}
    response = client.http.post("/echo", headers=headers, body=b"{not json")
    assert response.status_code == 400
    assert _json(response)["error"]["code"] == "invalid_json"


def test_a_route_with_auth_refuses_a_request_without_a_bearer_token(client):
    response = client.http.get("/private")
    assert response.status_code == 401
    assert _json(response)["error"] == {"code": "unauthorized",
                                        "message": "Chưa xác thực hoặc mã truy cập không hợp lệ.",
                                        "details": {"reason": "missing_bearer_token"}}


def test_importing_app_pulls_no_heavy_package():
    """Every Lambda of the app imports app.py (and so this edge) at cold start (docs/contract.md#cold-start: ≤ 300
    ms)."""
    # (botocore's bare package comes with aws_lambda_powertools' logger, ~2 ms; boto3 and its clients do not)
    heavy = ("boto3", "pydantic", "jwt", "pyhanko", "cryptography", "asn1crypto", "pkcs11")
    code = f"import app, sys; print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
