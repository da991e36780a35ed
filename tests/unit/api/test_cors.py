"""The web page's browser calls (issue 10, chalicelib.api.cors): preflights answered without a token, and every
answer to an allowed origin, refusals included, carries `Access-Control-Allow-Origin`; other origins get none."""

from __future__ import annotations

import json

import pytest
from chalice import Chalice
from chalice.test import Client

from chalicelib.api import http
from chalicelib.api.http import Routes
from chalicelib.core import settings
from chalicelib.core.errors import NotFound
from chalicelib.domain.caller import Caller

WEB = "https://web.example.gov.vn"


@pytest.fixture()
def edge(monkeypatch):
    monkeypatch.setenv("WEB_ORIGINS", f"{WEB}, http://127.0.0.1:8080/")
    settings.get_settings.cache_clear()
    app = Chalice(app_name="cors-edge")
    routes = Routes(app)
    monkeypatch.setattr(http, "caller_from_headers", lambda headers: Caller("clerk", "000.00.01.H62", False))

    @routes.route("/v1/things/{thing_id}", answer="Health")
    def get_thing(caller: Caller, thing_id: str) -> dict:
        if thing_id == "missing":
            raise NotFound("Không tìm thấy.", code="document_not_found")
        return {"status": "ok", "stage": thing_id}

    @routes.route("/v1/things/{thing_id}", methods=["POST"], body="RevokeRequest", answer="Health")
    def post_thing(caller: Caller, thing_id: str) -> dict:
        return {"status": "ok", "stage": thing_id}

    with Client(app) as client:
        yield client
    settings.get_settings.cache_clear()


def test_a_preflight_from_the_web_page_is_answered_without_a_token(edge):
    response = edge.http.request("OPTIONS", "/v1/things/a", headers={
        "origin": WEB, "access-control-request-method": "POST", "access-control-request-headers": "authorization"})
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == WEB
    assert response.headers["Access-Control-Allow-Methods"] == "GET, OPTIONS, POST"
    assert "Authorization" in response.headers["Access-Control-Allow-Headers"]
    assert "Origin" in response.headers["Vary"]


def test_answers_and_refusals_carry_the_origin_so_the_page_reads_the_gateways_message(edge):
    ok = edge.http.get("/v1/things/a", headers={"origin": WEB})
    assert ok.status_code == 200 and ok.headers["Access-Control-Allow-Origin"] == WEB
    refused = edge.http.get("/v1/things/missing", headers={"origin": "http://127.0.0.1:8080"})
    assert refused.status_code == 404
    assert refused.headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:8080"
    assert json.loads(refused.body)["error"]["code"] == "document_not_found"
    chalice_refusal = edge.http.request("DELETE", "/v1/things/a", headers={"origin": WEB})
    assert chalice_refusal.status_code == 405
    assert chalice_refusal.headers["Access-Control-Allow-Origin"] == WEB
    assert json.loads(chalice_refusal.body)["error"]["code"] == "method_not_allowed"


def test_another_origin_gets_no_cors_header(edge):
    for response in (edge.http.get("/v1/things/a", headers={"origin": "https://evil.example"}),
                     edge.http.request("OPTIONS", "/v1/things/a", headers={"origin": "https://evil.example"}),
                     edge.http.get("/v1/things/a")):
        assert "Access-Control-Allow-Origin" not in response.headers


def test_the_gateways_app_has_a_preflight_on_every_path():
    import app as gateway_app

    assert all("OPTIONS" in methods for methods in gateway_app.app.routes.values())
