"""Refusals made before any route runs answer in the gateway's error shape on the stack (issue 9, "Uniform
errors"): what the schemathesis run (test_openapi_conformance_e2e.py) found, each kept as a regression here, where
it runs without schemathesis installed."""

from __future__ import annotations

import pytest
import requests


# -- what the run found, each kept as a regression ---------------------------------------------------------------
def test_an_unknown_path_answers_404_route_not_found_in_the_gateways_shape(stack):
    """chalice.local answered 403 "Missing Authentication Token" (API Gateway's default); the deployed API and the
    stack answer as infra/resources.yaml's GatewayResponses say."""
    response = requests.get(stack["api_url"].rstrip("/") + "/v1/no-such-route", timeout=30)
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] == "route_not_found"


@pytest.mark.parametrize("method", ["TRACE", "QUERY", "DELETE"])
def test_a_method_no_route_has_answers_405_in_the_gateways_shape(stack, method):
    """schemathesis found TRACE answered by http.server's HTML 501 page on the stack."""
    response = requests.request(method, stack["api_url"].rstrip("/") + "/v1/health", timeout=30)
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert response.json()["error"]["details"]["allowed"] == ["GET", "OPTIONS"]  # OPTIONS: the CORS preflight
