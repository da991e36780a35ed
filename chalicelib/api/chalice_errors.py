"""Refusals made before any route of ours runs, in the gateway's error shape (issue 9, "Uniform errors").

Chalice answers some requests itself, with `{"Code": "...", "Message": "..."}` in English: a method the path does
not have (405 `MethodNotAllowedError`), a `Content-Type` the route does not take (415 `UnsupportedMediaType`), an
error escaping every handler (500 `InternalServerError`), a binary answer the `Accept` header did not ask for (400
`BadRequest`). `uniform_chalice_errors`, an HTTP middleware `chalicelib.api.http.Routes` registers, rewrites those
into `{"error": {"code", "message", "details"}}` with stable codes and Vietnamese messages from the catalogue
(chalicelib.core.error_codes), so a client handles one shape whatever refused it.

API Gateway itself refuses some requests before Lambda runs (an unknown path answers 403 "Missing Authentication
Token"; 413, 429, its own 5xx): `GATEWAY_ERROR_CODES` is the table of those answers in the same shape, which
infra/resources.yaml carries as the API's `GatewayResponses` (a test keeps the two equal) and the embedded stack's
local gateway applies to its own copies of those refusals (devstack), so the stack answers as AWS does.
"""

from __future__ import annotations

import json
from typing import Any

from chalice.app import Response

from chalicelib.core import error_codes
from chalicelib.standards.xml_text import first_bad_char

__all__ = ["CHALICE_ERROR_CODES", "GATEWAY_ERROR_CODES", "error_body", "gateway_response_template",
           "uniform_chalice_errors"]

#: Chalice's own error `Code` → the gateway's code.
CHALICE_ERROR_CODES: dict[str, str] = {
    "MethodNotAllowedError": "method_not_allowed",
    "UnsupportedMediaType": "unsupported_media_type",
    "BadRequest": "bad_request",
    "BadRequestError": "bad_request",
    "NotFoundError": "route_not_found",
    "InternalServerError": "internal_error",
}

#: API Gateway response type → (the HTTP status it answers, or None to keep API Gateway's, and the gateway's code).
GATEWAY_ERROR_CODES: dict[str, tuple[int | None, str]] = {
    # an unknown path (or a method the path lacks) on a REST API: 403 "Missing Authentication Token" by default
    "MISSING_AUTHENTICATION_TOKEN": (404, "route_not_found"),
    "UNSUPPORTED_MEDIA_TYPE": (415, "unsupported_media_type"),
    "REQUEST_TOO_LARGE": (413, "body_too_large"),
    "THROTTLED": (429, "too_many_requests"),
    "DEFAULT_4XX": (None, "bad_request"),
    "DEFAULT_5XX": (None, "service_unavailable"),
}


def error_body(code: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """`{"error": {...}}` for a catalogue code, with its Vietnamese message."""
    entry = error_codes.CODES[code]
    return {"error": {"code": code, "message": entry.message, "details": details or {}}}


def gateway_response_template(code: str) -> str:
    """The body template of an API Gateway response (plain JSON: the template language is left unused)."""
    return json.dumps(error_body(code), ensure_ascii=False, sort_keys=True)


def _printable(text: str, limit: int = 200) -> str:
    """Client text safe to echo in `details` (what Chalice quoted from the request)."""
    return "".join(c if first_bad_char(c) is None else "?" for c in text[:limit])


def uniform_chalice_errors(event: Any, get_response: Any) -> Response:
    """Chalice HTTP middleware: the gateway's own answers pass as they are; Chalice's are rewritten."""
    response = get_response(event)
    body = response.body
    if response.status_code < 400 or not isinstance(body, dict) or set(body) != {"Code", "Message"}:
        return response
    fallback = "internal_error" if response.status_code >= 500 else "bad_request"
    code = CHALICE_ERROR_CODES.get(str(body["Code"]), fallback)
    headers = dict(response.headers or {})
    details: dict[str, Any] = {}
    if code == "method_not_allowed":
        details = {"method": _printable(str(getattr(event, "method", ""))),
                   "allowed": [m.strip() for m in str(headers.get("Allow", "")).split(",") if m.strip()]}
    elif code == "unsupported_media_type":
        request_headers = getattr(event, "headers", None) or {}
        details = {"content_type": _printable(str(request_headers.get("content-type", "")))}
    headers.update({"Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store"})
    return Response(body=json.dumps(error_body(code, details), ensure_ascii=False), status_code=response.status_code,
                    headers=headers)
