"""The OpenAPI 3.1 document of the API, generated from the route registry (`Routes.operations`, what app.py
declares) and the models of `chalicelib.api.schemas` (issue 9, "OpenAPI"; DESIGN.md: generated from the same
pydantic models that validate the requests).

Served at `GET /v1/openapi.json` without a token and kept in the repo as docs/openapi.json
(`python -m chalicelib.api.openapi > docs/openapi.json`; a test fails when they differ). A route that does not say
what it takes and answers cannot be documented: `document()` raises `MissingModels` naming every such route, so a
route added without its models fails the tests instead of vanishing from the document.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from chalicelib.api.http import NO_BODY, PDF_BODY, UNDECLARED, Operation
from chalicelib.api.schemas import MODELS, ErrorAnswer

__all__ = ["ERROR_STATUSES", "MissingModels", "document", "missing_models"]

_REF = "#/components/schemas/{model}"
#: The refusals any route may answer (docs/error-codes.md), besides its own success status.
ERROR_STATUSES: dict[str, str] = {
    "400": "Yêu cầu không hợp lệ (mã lỗi trong error.code)",
    "401": "Chưa xác thực hoặc mã truy cập không hợp lệ",
    "403": "Không có quyền (forbidden, mfa_required, no_organ...)",
    "404": "Không tìm thấy",
    "405": "Phương thức không được hỗ trợ",
    "409": "Xung đột trạng thái",
    "413": "Nội dung quá lớn",
    "415": "Kiểu nội dung không được hỗ trợ",
    "422": "Không xử lý được (văn bản mật, nơi nhận không hợp lệ, chứng thư bị từ chối...)",
    "500": "Lỗi hệ thống",
    "503": "Tạm thời không phục vụ được",
}


class MissingModels(Exception):
    """Routes that do not name their request or answer model (the merger adds them in app.py and schemas.py)."""


def missing_models(operations: Iterable[Operation]) -> list[str]:
    """`"POST /v1/x: body"` for every declaration that is missing or names no model of chalicelib.api.schemas."""
    out = []
    for op in operations:
        if op.body == UNDECLARED or (op.body not in (NO_BODY, PDF_BODY) and op.body not in MODELS):
            out.append(f"{op.method} {op.path}: body ({op.body})")
        if op.answer == UNDECLARED or op.answer not in MODELS:
            out.append(f"{op.method} {op.path}: answer ({op.answer})")
    return out


def _schemas(names: set[str]) -> dict[str, Any]:
    """The components of the named models, their nested models ($defs) lifted beside them."""
    out: dict[str, Any] = {}
    for name in sorted(names):
        schema = MODELS[name].model_json_schema(ref_template=_REF)
        out.update(schema.pop("$defs", {}))
        out[name] = schema
    return out


def _parameters(op: Operation) -> list[dict[str, Any]]:
    # Ids and codes are far shorter than 256 characters; a longer bound would let a client build URLs past what
    # API Gateway (10 KB) and http.server (64 KB) take, answered 414 outside this document.
    path = [{"name": name, "in": "path", "required": True,
             "schema": {"type": "string", "minLength": 1, "maxLength": 256}}
            for name in re.findall(r"{(\w+)}", op.path)]
    query = [{"name": p.name, "in": "query", "required": False, "schema": p.schema,
              **({"description": p.description} if p.description else {})} for p in op.query]
    return path + query


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF.format(model=name)}


def _operation(op: Operation) -> dict[str, Any]:
    errors = {"$ref": "#/components/responses/Error"}
    out: dict[str, Any] = {
        "operationId": op.name, "summary": op.summary,
        "tags": ["admin" if op.admin else ("public" if not op.auth else "agency")],
        "responses": {str(op.status): {"description": "OK",
                                        "content": {"application/json": {"schema": _ref(op.answer)}}},
                      **{status: errors for status in ERROR_STATUSES}},
    }
    params = _parameters(op)
    if params:
        out["parameters"] = params
    if op.body == PDF_BODY:
        out["requestBody"] = {"required": True, "content": {
            "application/pdf": {"schema": {"type": "string", "contentMediaType": "application/pdf"}}}}
    elif op.body != NO_BODY:
        content: dict[str, Any] = {"application/json": {"schema": _ref(op.body)}}
        if "application/pdf" in op.content_types:
            content["application/pdf"] = {"schema": {"type": "string", "contentMediaType": "application/pdf"}}
        out["requestBody"] = {"required": False, "content": content}
    if not op.auth:
        out["security"] = []
    if op.admin:
        out["description"] = "Chỉ quản trị viên (nhóm `admins`, có xác thực hai yếu tố)."
    return out


def document(operations: Iterable[Operation], *, version: str = "1") -> dict[str, Any]:
    """The OpenAPI 3.1 document of these routes, or MissingModels."""
    operations = list(operations)
    missing = missing_models(operations)
    if missing:
        raise MissingModels("routes without their models: " + "; ".join(missing))
    paths: dict[str, Any] = {}
    for op in sorted(operations, key=lambda o: (o.path, o.method)):
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op)
    names = {op.answer for op in operations} | {op.body for op in operations if op.body not in (NO_BODY, PDF_BODY)}
    schemas = _schemas(names | {ErrorAnswer.__name__})
    return {
        "openapi": "3.1.0",
        "info": {"title": "edoc-gateway", "version": version,
                 "description": "Cổng ký số và gửi nhận văn bản điện tử qua Trục liên thông văn bản quốc gia. "
                                "Lỗi: {\"error\": {\"code\", \"message\", \"details\"}} (docs/error-codes.md)."},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                                           "description": "Cognito ID token (custom:organ_id, cognito:groups)"}},
            "responses": {"Error": {"description": "Lỗi", "content": {
                "application/json": {"schema": _ref(ErrorAnswer.__name__)}}}},
            "schemas": schemas,
        },
    }


def as_json(doc: dict[str, Any]) -> str:
    """The document as docs/openapi.json keeps it (stable order, UTF-8 as it is)."""
    return json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    import importlib
    import sys

    # The command line reads app.py's registry; the gateway's modules never import app (tests/architecture).
    sys.path.insert(0, ".")
    print(as_json(document(importlib.import_module("app").routes.operations)), end="")
