"""Cross-origin calls from the web page (issue 10): browser preflights answered, and the CORS headers on every
answer, errors included, for the origins of the `WEB_ORIGINS` setting.

Why our own and not Chalice's `CORSConfig`: Chalice writes its CORS answer into the API at `chalice package` time
(one literal origin in the generated OPTIONS method), while the web page's origin is known only once its
CloudFront distribution exists (infra/resources.yaml hands it to the function as `WEB_ORIGINS`) or, on the embedded
stack, once its web server has a port. So every path of the route table also gets an `OPTIONS` route
(`chalicelib.api.http.Routes`), answered here by the function itself (no token: browsers send none with a
preflight), and an HTTP middleware adds `Access-Control-Allow-Origin` to every answer whose request came from an
allowed origin, so a refusal's `{"error": {...}}` reaches the page instead of a bare "CORS error". A request from
any other origin gets no CORS header at all, which is how the browser is told no. No credentials mode: the page
sends its ID token in `Authorization`, never a cookie.

API Gateway's own refusals (unknown path, throttling) carry the header through the template's `GatewayResponses`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from chalice.app import Response

from chalicelib.core.settings import get_settings

__all__ = ["ALLOWED_HEADERS", "EXPOSED_HEADERS", "MAX_AGE_SECONDS", "allowed_origin", "cors_middleware",
           "preflight_answer"]

#: What the page sends: its token, and JSON or a PDF (POST /v1/verify).
ALLOWED_HEADERS = "Authorization, Content-Type"
#: What the page may read beyond the CORS-safelisted answer headers.
EXPOSED_HEADERS = "Content-Disposition"
#: How long a browser may reuse a preflight's answer (Chrome caps it at 2 hours).
MAX_AGE_SECONDS = 600


def allowed_origin(headers: Mapping[str, str] | None, origins: Iterable[str] | None = None) -> str | None:
    """The request's `Origin` when it is one of the allowed origins (`WEB_ORIGINS`), else None."""
    origin = str((headers or {}).get("origin") or (headers or {}).get("Origin") or "").strip()
    allowed = tuple(origins) if origins is not None else get_settings().web_origins
    return origin if origin and origin in allowed else None


def preflight_answer(methods: Iterable[str]) -> Response:
    """204 to a browser's `OPTIONS` preflight: the path's methods and the headers the page sends; the origin itself
    is added by `cors_middleware` (or not, for an origin that is not allowed)."""
    allow = ", ".join(sorted({*methods, "OPTIONS"}))
    return Response(body="", status_code=204, headers={
        "Access-Control-Allow-Methods": allow, "Access-Control-Allow-Headers": ALLOWED_HEADERS,
        "Access-Control-Max-Age": str(MAX_AGE_SECONDS), "Allow": allow, "Cache-Control": "no-store"})


def cors_middleware(event: Any, get_response: Any) -> Response:
    """Chalice HTTP middleware: `Access-Control-Allow-Origin` (and `Vary: Origin`) on every answer to an allowed
    origin, the gateway's refusals and Chalice's own (405, 415) included."""
    response = get_response(event)
    headers = dict(response.headers or {})
    vary = [v.strip() for v in str(headers.get("Vary", "")).split(",") if v.strip()]
    headers["Vary"] = ", ".join([*vary, "Origin"]) if "Origin" not in vary else headers["Vary"]
    origin = allowed_origin(getattr(event, "headers", None))
    if origin is not None:
        headers.update({"Access-Control-Allow-Origin": origin, "Access-Control-Expose-Headers": EXPOSED_HEADERS})
    response.headers = headers
    return response
