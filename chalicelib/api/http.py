"""The API's HTTP edge: every route authenticates the caller and maps errors to their JSON answer here, once.

A use case raises a `GatewayError` (its family gives the HTTP status, the catalogue in
`chalicelib.core.error_codes` its code and Vietnamese message); `Routes.route` turns it into
`{"error": {"code", "message", "details"}}` with that status, and anything else into `internal_error` (500, logged
with its traceback, never shown). app.py builds one `Routes` for its Chalice app and stays the table of contents.

Each route also declares what the OpenAPI document says of it (issue 9, "OpenAPI"): its request model (`body`), its
answer model (`answer`), its query parameters (`query`) and whether it is an admin route (`admin=True`: the admin
check written once, here, for every `/v1/admin/` route). Models are named, not imported (`"RevokeRequest"`, a class
of `chalicelib.api.schemas`): importing pydantic here would cost every Lambda its cold start budget; the generator
(`chalicelib.api.openapi`) resolves the names. `Routes.operations` is the registry it reads. Chalice's own refusals
(405, 415, its 500) are rewritten into the same error shape by `chalicelib.api.chalice_errors`.

Every answered call with a caller is then audited by the route's `audit` rule (issue 9, "Audit";
`chalicelib.domain.audit.audit_action`): one hook, `Routes._audited`, after the handler answered or failed.

Importing this stays cheap (chalice, core, the token checks whose PyJWT import waits for the first token, the audit
use case whose boto3 waits for the first entry): every Lambda of the app imports it at cold start.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chalice import Chalice, Response

from chalicelib.admin import audit as audit_trail
from chalicelib.api.auth import caller_from_headers
from chalicelib.api.chalice_errors import uniform_chalice_errors
from chalicelib.api.cors import cors_middleware, preflight_answer
from chalicelib.core.errors import Forbidden, GatewayError, ValidationFailed
from chalicelib.core.log import logger
from chalicelib.domain.audit import audit_action, entry_fields, resource_of
from chalicelib.domain.text import client_text
from chalicelib.standards.xml_text import first_bad_char

__all__ = ["MAX_JSON_BYTES", "MAX_JSON_DEPTH", "MAX_PARAM_CHARS", "NO_BODY", "PDF_BODY", "UNDECLARED", "BodyTooLarge",
           "Operation", "Param", "Routes", "error_answer", "json_answer", "parse_json"]

#: A JSON request body larger than this is refused before parsing (413 `body_too_large`): the largest legitimate
#: one, a document's metadata with 500 recipients and 20 phụ lục, is a few tens of KB.
MAX_JSON_BYTES = 1024 * 1024
#: Deeper nesting is refused (400 `json_too_deep`); no request of the API nests more than 4 levels.
MAX_JSON_DEPTH = 32
#: A path or query parameter longer than this is refused (400 `invalid_text`); ids and cursors are far shorter.
MAX_PARAM_CHARS = 4096


class BodyTooLarge(GatewayError):
    status = 413
    code = "body_too_large"


def _too_deep() -> ValidationFailed:
    return ValidationFailed("Nội dung JSON lồng nhau quá sâu.", code="json_too_deep",
                            details={"max_depth": MAX_JSON_DEPTH})


def _bad_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _check_tree(value: Any) -> None:
    """Depth and characters of a parsed body, without recursion: every string and key may carry only what XML 1.0
    and UTF-8 can (chalicelib.standards.xml_text; tab and line breaks are left to each field's own rule), so
    nothing a client sends can break a record or a package further on. Paths are spelled as the request models
    spell them (`attachments.0.name`)."""
    stack: list[tuple[Any, str, int]] = [(value, "", 1)]
    while stack:
        node, path, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise _too_deep()
        if isinstance(node, dict):
            for key, item in node.items():
                where = f"{path}.{key}" if path else str(key)
                _check_string(key, where)
                stack.append((item, where, depth + 1))
        elif isinstance(node, list):
            stack.extend((item, f"{path}.{n}" if path else str(n), depth + 1) for n, item in enumerate(node))
        elif isinstance(node, str):
            _check_string(node, path)


def _check_string(text: str, where: str) -> None:
    problem = first_bad_char(text, multiline=True)
    if problem is not None:
        raise ValidationFailed("Văn bản gửi lên chứa ký tự không hợp lệ hoặc độ dài không đúng.",
                               code="invalid_text", details={"field": _printable(where) or "body", **problem.details()})


def _printable(where: str) -> str:
    """A field path safe to echo in an answer (a key may itself be the bad text)."""
    return "".join(c if first_bad_char(c) is None else "?" for c in where)[:200]


def parse_json(raw: bytes | str | None) -> Any:
    """A request body as JSON (`{}` when empty), or ValidationFailed: `invalid_json` (not JSON, or NaN/Infinity),
    `json_too_deep` (more than MAX_JSON_DEPTH levels; Python's parser itself gives up near 1000 with a
    RecursionError, answered the same), `invalid_text` (a string no record or package can carry), or BodyTooLarge."""
    if raw and len(raw) > MAX_JSON_BYTES:
        raise BodyTooLarge("Nội dung yêu cầu quá lớn.", details={"max_bytes": MAX_JSON_BYTES})
    try:
        value = json.loads(raw or b"{}", parse_constant=_bad_constant)
    except RecursionError:
        raise _too_deep() from None
    except ValueError as exc:
        raise ValidationFailed("Nội dung yêu cầu không phải JSON hợp lệ.", code="invalid_json") from exc
    _check_tree(value)
    return value


def json_answer(status: int, body: Any) -> Response:
    """A JSON answer: UTF-8 Vietnamese as it is (not \\u-escaped), never cached."""
    return Response(body=json.dumps(body, ensure_ascii=False), status_code=status,
                    headers={"Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store"})


def error_answer(exc: GatewayError) -> Response:
    """The answer for a gateway error: its family's status, its code, message and details."""
    return json_answer(exc.status, exc.to_body())


#: `body=NO_BODY`: the route takes no request body (a POST that only acts, e.g. activate).
NO_BODY = "-"
#: `body=PDF_BODY`: the body is the PDF itself, nothing else (POST /v1/documents/draft).
PDF_BODY = "application/pdf"
#: What a route has not declared: the OpenAPI generator refuses it (`MissingModels`) so a new route cannot go
#: undocumented (issue 9: the routes merged after this one get their models before the document is regenerated).
UNDECLARED = "?"


@dataclass(frozen=True)
class Param:
    """A query parameter as the OpenAPI document shows it (`schema`: JSON Schema; strings by default)."""

    name: str
    description: str = ""
    schema: dict[str, Any] = field(default_factory=lambda: {"type": "string", "maxLength": 1024})


@dataclass(frozen=True)
class Operation:
    """One route and method as declared in app.py: what `chalicelib.api.openapi` turns into the document."""

    path: str
    method: str
    name: str
    summary: str
    status: int
    auth: bool
    admin: bool
    body: str  # a model name of chalicelib.api.schemas, NO_BODY or UNDECLARED
    answer: str  # a model name, or UNDECLARED
    query: tuple[Param, ...]
    content_types: tuple[str, ...]


class Routes:
    """The route decorator and request helpers of one Chalice app; `operations`, the registry of its routes."""

    def __init__(self, app: Chalice, check_body: Callable[[str, Any], None] | None = None) -> None:
        """`check_body(model name, body)`: runs a body through its request model, refusing it with a gateway error
        (app.py passes `chalicelib.api.request_bodies.validated`, imported when the first body comes: it brings
        pydantic, which neither app.py nor this module may import at cold start); None checks no model."""
        self.app = app
        self._check_body = check_body
        self.operations: list[Operation] = []
        self._preflights: set[str] = set()
        app.register_middleware(uniform_chalice_errors, "http")
        app.register_middleware(cors_middleware, "http")  # CORS headers on every answer (chalicelib.api.cors)

    def route(self, path: str, methods: list[str] | None = None, *, auth: bool = True, admin: bool = False,
              status: int = 200, content_types: list[str] | None = None, body: str | None = None,
              answer: str = UNDECLARED, query: tuple[Param | str, ...] = (),
              audit: str | bool | None = None) -> Callable:
        """A route that authenticates the caller (unless `auth=False`, passed as `caller=`), refuses a caller not in
        `admins` when `admin=True` (403 `forbidden`, the one answer for every admin route), and answers `status`
        with the handler's result as JSON (or as it is when the handler returns a chalice `Response`: a file,
        chalicelib.api.files), or the error's answer. `body`, `answer` and `query` name what the
        OpenAPI document shows (module docstring); a GET takes no body unless it says so.

        `audit` (issue 9, chalicelib.domain.audit.audit_action): None audits every non-GET call and every admin's
        call as the handler's name, a name audits every call under it, False none; calls without a caller
        (`auth=False`, a refused token) have no actor and are not audited."""
        methods = methods or ["GET"]
        declared_body = body if body is not None else (NO_BODY if methods == ["GET"] else UNDECLARED)
        declared_query = tuple(p if isinstance(p, Param) else Param(p) for p in query)

        def decorate(func: Callable) -> Callable:
            summary = (func.__doc__ or func.__name__.replace("_", " ")).strip().splitlines()[0]
            self.operations.extend(
                Operation(path, method, func.__name__, summary, status, auth, admin, declared_body, answer,
                          declared_query, tuple(content_types or ("application/json",)))
                for method in methods)

            @functools.wraps(func)
            def handler(**params: str) -> Response:
                caller, result, outcome = None, None, "ok"
                try:
                    caller = caller_from_headers(dict(self.app.current_request.headers)) if auth else None
                    if admin and not (caller is not None and caller.is_admin):  # the admin check, written once
                        raise Forbidden(details={"required_group": "admins"})
                    for name, value in params.items():  # path parameters: ids, codes (never multi-line text)
                        params[name] = client_text(value, f"path.{name}", max_len=MAX_PARAM_CHARS)
                    if declared_body not in (NO_BODY, UNDECLARED, PDF_BODY) and self._json_request():
                        self._through_model(declared_body)
                    if auth:
                        params["caller"] = caller
                    result = func(**params)
                    # A handler that built its own answer (a file: chalicelib.api.files) is answered as it is.
                    answered = result if isinstance(result, Response) else json_answer(status, result)
                except GatewayError as exc:
                    answered, outcome = error_answer(exc), exc.code
                except Exception:
                    logger.exception("unhandled error", extra={"path": path})
                    answered, outcome = error_answer(GatewayError(code="internal_error")), "internal_error"
                return self._audited(answered, caller, audit, func.__name__, path, params, result, outcome)

            options = {"content_types": content_types} if content_types else {}
            routed = self.app.route(path, methods=methods, **options)(handler)
            self._add_preflight(path)
            return routed

        return decorate

    def _add_preflight(self, path: str) -> None:
        """The path's `OPTIONS` route, once: a browser's preflight, answered without a token (chalicelib.api.cors)."""
        if path in self._preflights:
            return
        self._preflights.add(path)

        def preflight(**_params: str) -> Response:
            return preflight_answer(m for m in self.app.routes[path] if m != "OPTIONS")

        preflight.__name__ = "preflight_" + "".join(c if c.isalnum() else "_" for c in path).strip("_")
        self.app.route(path, methods=["OPTIONS"])(preflight)

    def _audited(self, answered: Response, caller: Any, rule: str | bool | None, name: str, path: str,
                 params: dict[str, Any], result: Any, outcome: str) -> Response:
        """The answer once its audit entry is written (issue 9); 503 `audit_unavailable` when it cannot be: the
        trail fails closed (chalicelib.admin.audit)."""
        if caller is None:
            return answered
        request = self.app.current_request
        action = audit_action(rule, method=request.method, handler_name=name, caller_is_admin=caller.is_admin)
        if action is None:
            return answered
        kind, resource_id = resource_of(path, {k: v for k, v in params.items() if k != "caller"}, result)
        identity = (request.context or {}).get("identity") or {}
        try:
            audit_trail.record(entry_fields(
                at=audit_trail.now(), username=caller.username, organ_id=caller.organ_id, admin=caller.is_admin,
                action=action, resource_type=kind, resource_id=resource_id, result=outcome,
                source_ip=str(identity.get("sourceIp") or "")))
        except GatewayError as exc:
            return error_answer(exc)
        return answered

    def _json_request(self) -> bool:
        """Whether the body is JSON (no Content-Type counts as JSON, as Chalice reads it): a route that also takes a
        file (`POST /v1/verify` with a PDF) has its file checked by its use case, not by a model."""
        content_type = (self.app.current_request.headers or {}).get("content-type") or "application/json"
        return content_type.split(";")[0].strip().lower() == "application/json"

    def _through_model(self, name: str) -> None:
        """The body through the route's request model before its handler runs (issue 9, "Uniform errors"): the
        rules live in the model, the refusal keeps its stable code (`check_body`, see __init__; the OpenAPI
        generator resolves the same model names)."""
        if self._check_body is not None:
            self._check_body(name, self.body(expect_object=False))

    def body(self, *, expect_object: bool = True) -> Any:
        """The request's JSON body (`{}` when empty), checked by `parse_json`; one that is not an object where an
        object is expected (every route's, by default) is ValidationFailed `json_not_object`."""
        value = parse_json(self.app.current_request.raw_body)
        if expect_object and not isinstance(value, dict):
            raise ValidationFailed("Nội dung yêu cầu phải là một đối tượng JSON.", code="json_not_object",
                                   details={"type": type(value).__name__})
        return value

    def query(self, name: str) -> str | None:
        """One query-string parameter, or None; its text checked (`invalid_text`, `details.field` `query.<name>`)."""
        value = (self.app.current_request.query_params or {}).get(name)
        if value is None:
            return None
        return client_text(value, f"query.{name}", max_len=MAX_PARAM_CHARS)
