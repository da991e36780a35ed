"""The HTTP edge against hostile requests (chalicelib.api.http): deep, oversized, non-object and NaN JSON bodies,
text no record can carry anywhere in a body, in a path or in a query parameter; each a 4xx with its code."""

from __future__ import annotations

import json

import pytest
from chalice import Chalice
from chalice.test import Client

from chalicelib.api.http import MAX_JSON_BYTES, MAX_JSON_DEPTH, Routes

JSON = {"Content-Type": "application/json"}


@pytest.fixture()
def client():
    app = Chalice(app_name="hostile-edge-test")
    routes = Routes(app)

    @routes.route("/echo", methods=["POST"], auth=False)
    def echo() -> dict:
        return {"body": routes.body()}

    @routes.route("/any", methods=["POST"], auth=False)
    def any_json() -> dict:
        return {"body": routes.body(expect_object=False)}

    @routes.route("/items/{item_id}", auth=False)
    def item(item_id: str) -> dict:
        return {"item_id": item_id, "state": routes.query("state")}

    with Client(app) as c:
        yield c


def _post(client, path: str, raw: bytes):
    response = client.http.post(path, headers=JSON, body=raw)
    return response.status_code, json.loads(response.body)


def _error(client, path: str, raw: bytes) -> tuple[int, str, dict]:
    status, body = _post(client, path, raw)
    return status, body["error"]["code"], body["error"]["details"]


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 2000, 100_000])
def test_deep_json_is_json_too_deep_not_a_recursion_error(client, depth):
    """Past ~1000 levels Python's parser raises RecursionError; far past, it must still be a 400."""
    for raw in (b"[" * depth + b"]" * depth, b'{"a":' * depth + b"1" + b"}" * depth):
        status, code, details = _error(client, "/echo", raw)
        assert (status, code) == (400, "json_too_deep")
        assert details == {"max_depth": MAX_JSON_DEPTH}


def test_nesting_up_to_the_limit_is_fine(client):
    raw = b'{"a":' * (MAX_JSON_DEPTH - 1) + b"1" + b"}" * (MAX_JSON_DEPTH - 1)
    status, _ = _post(client, "/echo", raw)
    assert status == 200


def test_an_oversized_body_is_refused_before_parsing(client):
    raw = json.dumps({"subject": "x" * MAX_JSON_BYTES}).encode()
    status, code, details = _error(client, "/echo", raw)
    assert (status, code) == (413, "body_too_large") and details == {"max_bytes": MAX_JSON_BYTES}


@pytest.mark.parametrize("raw", [b"[]", b"[1, 2]", b'"text"', b"42", b"null", b"true"])
def test_a_body_that_is_not_an_object_is_json_not_object(client, raw):
    status, code, _ = _error(client, "/echo", raw)
    assert (status, code) == (400, "json_not_object")


def test_a_route_may_take_any_json_value(client):
    assert _post(client, "/any", b"[1, 2]") == (200, {"body": [1, 2]})


@pytest.mark.parametrize("raw", [b'{"x": NaN}', b'{"x": Infinity}', b'{"x": -Infinity}', b"{not json",
                                 b'{"x": 1' + b"1" * 5000 + b"}", b"\xff\xfe{}"])
def test_not_quite_json_is_invalid_json(client, raw):
    status, code, _ = _error(client, "/echo", raw)
    assert (status, code) == (400, "invalid_json")


@pytest.mark.parametrize(("raw", "field", "reason"), [
    (b'{"subject": "a\\u0001b"}', "subject", "control_character"),
    (b'{"signer": {"full_name": "\\ud800"}}', "signer.full_name", "surrogate"),
    (b'{"recipients": ["ok", "\\uffff"]}', "recipients.1", "noncharacter"),
    (b'{"a\\u0000": 1}', "a?", "control_character"),
    (b'"\\u0085"', "body", "control_character"),
])
def test_text_no_record_can_carry_is_refused_anywhere_in_a_body(client, raw, field, reason):
    status, code, details = _error(client, "/any", raw)
    assert (status, code) == (400, "invalid_text")
    assert details["field"] == field and details["reason"] == reason


def test_line_breaks_and_tabs_pass_the_edge_for_each_field_to_decide(client):
    assert _post(client, "/echo", b'{"subject": "a\\r\\n\\tb"}') == (200, {"body": {"subject": "a\r\n\tb"}})


def test_path_and_query_parameters_are_checked_text(client):
    response = client.http.get("/items/abc?state=SIGNED")
    assert json.loads(response.body) == {"item_id": "abc", "state": "SIGNED"}
    for path, field in (("/items/a\x01b", "path.item_id"), ("/items/abc?state=%1B", "query.state"),
                        ("/items/" + "x" * 5000, "path.item_id")):
        response = client.http.get(path)
        body = json.loads(response.body)
        assert response.status_code == 400, body
        assert body["error"]["code"] == "invalid_text" and body["error"]["details"]["field"] == field
