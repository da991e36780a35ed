"""The OpenAPI 3.1 document (chalicelib.api.openapi) and the route table it is read from (issue 9, "OpenAPI",
"Uniform errors", "the admin check written once"; acceptance 3)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from chalice import Chalice
from chalice.test import Client
from openapi_spec_validator import validate

import app as gateway_app
from chalicelib.api import http, openapi
from chalicelib.api.http import UNDECLARED, Routes
from chalicelib.domain.caller import Caller

REPO = Path(__file__).resolve().parents[3]
DOCUMENT = openapi.document(gateway_app.routes.operations)


def test_the_document_in_the_repo_is_the_generated_one():
    kept = (REPO / "docs" / "openapi.json").read_text(encoding="utf-8")
    assert kept == openapi.as_json(DOCUMENT), "regenerate: python -m chalicelib.api.openapi > docs/openapi.json"


def test_the_document_is_valid_openapi_3_1():
    assert DOCUMENT["openapi"] == "3.1.0"
    validate(DOCUMENT)  # openapi-spec-validator: raises on an invalid document


def test_every_route_of_the_app_is_in_the_document_with_its_models():
    # OPTIONS is every path's CORS preflight (chalicelib.api.cors), not an operation of the API
    chalice_routes = {(path, method) for path, methods in gateway_app.app.routes.items() for method in methods
                      if method != "OPTIONS"}
    documented = {(path, method.upper()) for path, item in DOCUMENT["paths"].items() for method in item}
    assert documented == chalice_routes
    assert openapi.missing_models(gateway_app.routes.operations) == []
    schemas = DOCUMENT["components"]["schemas"]
    revoke = DOCUMENT["paths"]["/v1/documents/{document_id}/revoke"]["post"]
    assert revoke["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/RevokeRequest"}
    assert "reason" in schemas["RevokeRequest"]["required"]
    assert revoke["responses"]["202"]["content"]["application/json"]["schema"]["$ref"].endswith("AmendmentAnswer")
    assert revoke["responses"]["404"] == {"$ref": "#/components/responses/Error"}
    assert set(schemas["ErrorDetail"]["required"]) == {"code", "message", "details"}
    assert {p["name"] for p in revoke["parameters"]} == {"document_id"}


def test_health_and_the_document_itself_need_no_token_and_everything_else_a_bearer_jwt():
    assert DOCUMENT["security"] == [{"bearer": []}]
    assert DOCUMENT["components"]["securitySchemes"]["bearer"]["bearerFormat"] == "JWT"
    open_routes = sorted(path for path, item in DOCUMENT["paths"].items() for op in item.values()
                         if op.get("security") == [])
    assert open_routes == ["/v1/health", "/v1/openapi.json"]


def test_every_admin_route_declares_admin_and_no_other_does():
    """The admin check is written once (chalicelib.api.http): a route under /v1/admin/ that forgot `admin=True`
    would rely on its use case alone."""
    wrong = [f"{op.method} {op.path}" for op in gateway_app.routes.operations
             if op.admin != op.path.startswith("/v1/admin/")]
    assert wrong == []


def test_every_query_parameter_a_route_reads_is_declared():
    """`_query("x")` in a route's body without `query=(..., "x")` would be missing from the document."""
    tree = ast.parse((REPO / "app.py").read_text(encoding="utf-8"))
    declared = {op.name: {p.name for p in op.query} for op in gateway_app.routes.operations}
    read: dict[str, set[str]] = {}
    for func in (n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in declared):
        read[func.name] = {c.args[0].value for c in ast.walk(func) if isinstance(c, ast.Call)
                           and isinstance(c.func, ast.Name) and c.func.id == "_query"}
    assert {name: sorted(names - declared[name]) for name, names in read.items() if names - declared[name]} == {}
    assert read["list_documents"] == {"limit", "cursor", "state"}


def test_a_route_without_its_models_makes_the_generator_name_it():
    app = Chalice(app_name="undocumented")
    routes = Routes(app)

    @routes.route("/v1/admin/things", methods=["POST"], admin=True)
    def add_thing(caller: Caller) -> dict:
        return {}

    @routes.route("/v1/things", answer="NoSuchModel")
    def list_things(caller: Caller) -> dict:
        return {}

    assert routes.operations[0].body == routes.operations[0].answer == UNDECLARED
    with pytest.raises(openapi.MissingModels) as info:
        openapi.document(routes.operations)
    assert "POST /v1/admin/things: body (?)" in str(info.value)
    assert "POST /v1/admin/things: answer (?)" in str(info.value)
    assert "GET /v1/things: answer (NoSuchModel)" in str(info.value)


# -- the admin check, and Chalice's own refusals in the gateway's shape ---------------------------------------------
@pytest.fixture()
def edge(monkeypatch):
    app = Chalice(app_name="admin-edge")
    routes = Routes(app)
    callers = {"clerk": Caller("clerk", "000.00.01.H62", False), "admin": Caller("admin", "000.00.01.H62", True)}
    monkeypatch.setattr(http, "caller_from_headers", lambda headers: callers[headers["authorization"]])

    @routes.route("/v1/admin/things", admin=True, answer="Health")
    def things(caller: Caller) -> dict:
        return {"status": "ok", "stage": caller.username}

    @routes.route("/v1/things", methods=["POST"], body="RevokeRequest", answer="Health")
    def post_thing(caller: Caller) -> dict:
        return {"status": "ok", "stage": "x"}

    with Client(app) as client:
        yield client


def test_an_admin_route_refuses_a_clerk_with_the_one_forbidden_answer_and_serves_an_admin(edge):
    refused = edge.http.get("/v1/admin/things", headers={"authorization": "clerk"})
    assert refused.status_code == 403
    assert json.loads(refused.body)["error"]["code"] == "forbidden"
    assert json.loads(refused.body)["error"]["details"] == {"required_group": "admins"}
    served = edge.http.get("/v1/admin/things", headers={"authorization": "admin"})
    assert (served.status_code, json.loads(served.body)) == (200, {"status": "ok", "stage": "admin"})


def test_a_method_the_path_lacks_is_405_in_the_gateways_shape(edge):
    response = edge.http.delete("/v1/things", headers={"authorization": "clerk"})
    assert response.status_code == 405
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    error = json.loads(response.body)["error"]
    assert error["code"] == "method_not_allowed" and "phương thức" in error["message"]
    assert error["details"] == {"method": "DELETE", "allowed": ["POST", "OPTIONS"]}


def test_a_content_type_the_route_does_not_take_is_415_in_the_gateways_shape(edge):
    response = edge.http.post("/v1/things", body=b"reason=x",
                              headers={"authorization": "clerk", "content-type": "text/plain"})
    assert response.status_code == 415
    error = json.loads(response.body)["error"]
    assert error["code"] == "unsupported_media_type"
    assert error["details"] == {"content_type": "text/plain"}
    assert "Content-Type" in error["message"]
