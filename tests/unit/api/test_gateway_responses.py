"""API Gateway's own refusals answer in the gateway's error shape on AWS (infra/resources.yaml `GatewayResponses`)
and on the embedded stack (devstack's local gateway), both from one table (chalicelib.api.chalice_errors)."""

from __future__ import annotations

import json
from pathlib import Path

from cfnlint.decode import cfn_yaml

from chalicelib.api.chalice_errors import GATEWAY_ERROR_CODES, error_body
from chalicelib.core import error_codes

REPO = Path(__file__).resolve().parents[3]


def test_the_deployable_template_carries_the_table_as_the_apis_gateway_responses():
    template = cfn_yaml.load(str(REPO / "infra" / "resources.yaml"))
    responses = template["Resources"]["RestAPI"]["Properties"]["GatewayResponses"]
    assert set(responses) == set(GATEWAY_ERROR_CODES)
    for kind, (status, code) in GATEWAY_ERROR_CODES.items():
        response = responses[kind]
        assert response.get("StatusCode") == (str(status) if status is not None else None), kind
        body = json.loads(response["ResponseTemplates"]["application/json"])
        assert body == error_body(code), kind
        assert body["error"]["message"] == error_codes.CODES[code].message
        assert response["ResponseParameters"]["Headers"]["Cache-Control"] == "'no-store'"
        # the web page's origin (issue 10): without it the browser hides the gateway's message from the page
        assert response["ResponseParameters"]["Headers"]["Access-Control-Allow-Origin"]["Fn::If"][0] == "WebOriginGiven"


def test_an_unknown_path_is_404_route_not_found():
    assert GATEWAY_ERROR_CODES["MISSING_AUTHENTICATION_TOKEN"] == (404, "route_not_found")
