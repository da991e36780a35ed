"""Every request body through its pydantic model, once, at the edge (issue 9, "Uniform errors").

`chalicelib.api.http.Routes.route` calls `validated(name, body)` before the handler whenever a route's `body=` names
a model of `chalicelib.api.schemas.MODELS`, so the rules a body must meet live in that model and the OpenAPI document
(generated from the same models) says exactly what is enforced. This module is imported lazily, inside the handler:
it imports pydantic, which app.py and chalicelib.api.http must not pay at cold start (docs/contract.md#cold-start).

A refusal keeps the stable codes clients already branch on (chalicelib.core.error_codes):
1. refused client text (a bad character, too long) is `invalid_text` with `details.field` (chalicelib.domain.text);
2. a model validator that raises `PydanticCustomError("<code>", ...)` with a catalogue code answers that code
   (`reason_required` for a 02 without its reason, `nothing_to_verify`...);
3. a field that declares `json_schema_extra={"x-error-code": "<code>"}` answers that code for any other refusal of
   it (`invalid_queue`, `invalid_recipients`, `reason_required` for a blank reason...);
4. anything else is `invalid_request` with every error listed.
Models whose use case had its own mapping before this gate keep it (`_OWN_REFUSALS`: the agency registry's
`invalid_organ_id`, the report targets' `invalid_targets`). The use cases still receive the body as a dict, as
before, and keep their own checks of what no model can say (a document's state, duplicates, the registry).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ValidationError

from chalicelib.admin.agencies import request_model
from chalicelib.api.schemas import MODELS
from chalicelib.core import error_codes
from chalicelib.core.errors import GatewayError, ValidationFailed
from chalicelib.domain.kpi import TargetsInvalid, parse_targets
from chalicelib.domain.text import INVALID_TEXT, validation_failed

__all__ = ["ERROR_CODE_KEY", "model_of", "refusal", "validated"]

#: The key a request model's field uses in `json_schema_extra` to name the code its refusal answers.
ERROR_CODE_KEY = "x-error-code"
#: Generic pydantic-side codes that never override a field's declared code.
_GENERIC = {INVALID_TEXT, "invalid_request", "bad_request"}


def model_of(name: str) -> type[BaseModel]:
    """The request model a route names (`body="RevokeRequest"`)."""
    return MODELS[name]


def validated(name: str, body: Any) -> Any:
    """`body` once its model `name` accepted it (returned as it came: the use case reads the dict), or the gateway
    error the refusal maps to (module docstring)."""
    model = model_of(name)
    try:
        model.model_validate(body)
    except ValidationError as exc:
        raise refusal(model, exc, body) from exc
    return body


def refusal(model: type[BaseModel], exc: ValidationError, body: Any) -> GatewayError:
    """The answer for a body `model` refused (module docstring, rules 1–4)."""
    own = _OWN_REFUSALS.get(model.__name__)
    if own is not None:
        return own(model, exc, body)
    errors = exc.errors()
    coded = [e for e in errors if e["type"] not in _GENERIC and error_codes.get(e["type"]) is not None]
    if not isinstance(body, dict) and not coded:  # as chalicelib.api.http.Routes.body answers it
        return ValidationFailed("Nội dung yêu cầu phải là một đối tượng JSON.", code="json_not_object",
                                details={"type": type(body).__name__})
    text = validation_failed(exc)
    if text.code == INVALID_TEXT and not all(_too_short(e) for e in errors if e["type"] == INVALID_TEXT):
        return text
    for e in coded:
        return _coded(e["type"], e, text, message=e["msg"])
    for e in errors:
        code = _declared_code(model, e["loc"])
        if code is not None:
            return _coded(code, e, text)
    return text


def _too_short(error: dict[str, Any]) -> bool:
    return (error.get("ctx") or {}).get("reason") == "too_short"


def _declared_code(model: type[BaseModel], loc: tuple[Any, ...]) -> str | None:
    """The `x-error-code` of the field at the head of `loc`, looking into nested models (the innermost wins)."""
    code: str | None = None
    current: Any = model
    for part in loc:
        fields = getattr(current, "model_fields", None)
        if not isinstance(part, str) or not fields or part not in fields:
            break
        info = fields[part]
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        code = extra.get(ERROR_CODE_KEY, code)
        current = _model_in(info.annotation)
    return code


def _model_in(annotation: Any) -> Any:
    """The model class inside `X`, `X | None` or `list[X]`, if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _coded(code: str, error: dict[str, Any], listed: ValidationFailed, message: str | None = None) -> GatewayError:
    """The catalogue's answer for `code` (its message), with the field and every error listed. A code the
    catalogue gives no 400 keeps its own status (`attachment_not_found`: 404), as the use case answered it."""
    field = ".".join(str(p) for p in error["loc"]) or "body"
    details = {"field": field, "errors": listed.details.get("errors", [])}
    entry = error_codes.get(code)
    if entry is not None and entry.statuses and 400 not in entry.statuses:
        return GatewayError(message, code=code, details=details)
    return ValidationFailed(message, code=code, details=details)


def _agency_refusal(model: type[BaseModel], exc: ValidationError, body: Any) -> GatewayError:
    """The agency registry's own mapping (chalicelib.admin.agencies.request_model: `invalid_organ_id`...)."""
    try:
        request_model(model, body)
    except GatewayError as err:
        return err
    return validation_failed(exc)  # pragma: no cover - the same model refused it a moment ago


def _targets_refusal(model: type[BaseModel], exc: ValidationError, body: Any) -> GatewayError:
    """`PUT /v1/admin/reports/targets`'s own answer (chalicelib.admin.reports.put_targets: `invalid_targets`)."""
    try:
        parse_targets(body)
    except TargetsInvalid as err:
        return ValidationFailed("Mục tiêu báo cáo không hợp lệ.", code="invalid_targets",
                                details={"errors": err.errors})
    return validation_failed(exc)  # pragma: no cover - the same model refused it a moment ago


_OWN_REFUSALS: dict[str, Callable[[type[BaseModel], ValidationError, Any], GatewayError]] = {
    "AgencyCreate": _agency_refusal, "AgencyPatch": _agency_refusal, "SealConfirm": _agency_refusal,
    "SyncRequest": _agency_refusal, "ReportTargets": _targets_refusal,
}
