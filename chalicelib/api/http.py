"""The API's HTTP edge: every route authenticates the caller and maps errors to their JSON answer here, once.

A use case raises a `GatewayError` (its family gives the HTTP status, the catalogue in
`chalicelib.core.error_codes` its code and Vietnamese message); `Routes.route` turns it into
`{"error": {"code", "message", "details"}}` with that status, and anything else into `internal_error` (500, logged
with its traceback, never shown). app.py builds one `Routes` for its Chalice app and stays the table of contents.

Importing this stays cheap (chalice, core, the token checks whose PyJWT import waits for the first token): every
Lambda of the app imports it at cold start.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from chalice import Chalice, Response

from chalicelib.api.auth import caller_from_headers
from chalicelib.core.errors import GatewayError, ValidationFailed
from chalicelib.core.log import logger

__all__ = ["Routes", "error_answer", "json_answer", "parse_json"]


def parse_json(raw: bytes | str | None) -> Any:
    """A request body as JSON (`{}` when empty), or ValidationFailed `invalid_json`."""
    try:
        return json.loads(raw or b"{}")
    except ValueError as exc:
        raise ValidationFailed("Nội dung yêu cầu không phải JSON hợp lệ.", code="invalid_json") from exc


def json_answer(status: int, body: Any) -> Response:
    """A JSON answer: UTF-8 Vietnamese as it is (not \\u-escaped), never cached."""
    return Response(body=json.dumps(body, ensure_ascii=False), status_code=status,
                    headers={"Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store"})


def error_answer(exc: GatewayError) -> Response:
    """The answer for a gateway error: its family's status, its code, message and details."""
    return json_answer(exc.status, exc.to_body())


class Routes:
    """The route decorator and request helpers of one Chalice app."""

    def __init__(self, app: Chalice) -> None:
        self.app = app

    def route(self, path: str, methods: list[str] | None = None, *, auth: bool = True, status: int = 200,
              content_types: list[str] | None = None) -> Callable:
        """A route that authenticates the caller (unless `auth=False`, passed as `caller=`) and answers `status`
        with the handler's result as JSON, or the error's answer."""

        def decorate(func: Callable) -> Callable:
            @functools.wraps(func)
            def handler(**params: str) -> Response:
                try:
                    if auth:
                        params["caller"] = caller_from_headers(dict(self.app.current_request.headers))
                    return json_answer(status, func(**params))
                except GatewayError as exc:
                    return error_answer(exc)
                except Exception:
                    logger.exception("unhandled error", extra={"path": path})
                    return error_answer(GatewayError(code="internal_error"))

            options = {"content_types": content_types} if content_types else {}
            return self.app.route(path, methods=methods or ["GET"], **options)(handler)

        return decorate

    def body(self) -> Any:
        """The request's JSON body (`{}` when empty), or ValidationFailed `invalid_json`."""
        return parse_json(self.app.current_request.raw_body)

    def query(self, name: str) -> str | None:
        """One query-string parameter, or None."""
        return (self.app.current_request.query_params or {}).get(name)
