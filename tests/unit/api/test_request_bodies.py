"""Every route's body goes through its model at the edge (issue 9, "Uniform errors"), and a body the model refuses
is a gateway error (400/404/422 with a catalogued code), never a 500; the codes clients branch on are kept."""

from __future__ import annotations

from typing import Any

import pytest

import app
from chalicelib.api import request_bodies
from chalicelib.api.http import NO_BODY, PDF_BODY, UNDECLARED
from chalicelib.core import error_codes
from chalicelib.core.errors import GatewayError

_MODEL_ROUTES = sorted({(op.method, op.path, op.body) for op in app.routes.operations
                        if op.body not in (NO_BODY, UNDECLARED, PDF_BODY)})  # a PDF body has no model
#: Values no field of any request model accepts at once: tried in turn until the model refuses one.
_BAD_VALUES: tuple[Any, ...] = ([[["x"]]], 1.5, {"x": [[1]]}, "x" * 70_000)


def _violating(model: Any) -> list[dict[str, Any]]:
    bodies: list[dict[str, Any]] = [{}, {"not_a_field": 1}]
    for name in model.model_fields:
        bodies += [{name: value} for value in _BAD_VALUES]
    return [b for b in bodies if not _accepts(model, b)]


def _accepts(model: Any, body: dict[str, Any]) -> bool:
    from pydantic import ValidationError

    try:
        model.model_validate(body)
    except ValidationError:
        return False
    return True


def test_every_json_route_names_a_model():
    assert len(_MODEL_ROUTES) >= 18, "every POST/PUT/PATCH with a JSON body names its model"


@pytest.mark.parametrize(("method", "path", "name"), _MODEL_ROUTES)
def test_a_body_the_model_refuses_is_a_gateway_error(method: str, path: str, name: str):
    model = request_bodies.model_of(name)
    bodies = _violating(model)
    assert bodies, f"{name}: no violating body found"
    for body in bodies:
        with pytest.raises(GatewayError) as info:
            request_bodies.validated(name, body)
        assert info.value.status in (400, 404, 422), (name, body)
        assert error_codes.get(info.value.code) is not None, (name, body, info.value.code)


@pytest.mark.parametrize(("name", "body", "code"), [
    ("RevokeRequest", {}, "reason_required"), ("RevokeRequest", {"reason": "   "}, "reason_required"),
    ("RevokeRequest", {"reason": 5}, "reason_required"), ("RevokeRequest", {"reason": "a\x01"}, "invalid_text"),
    ("UpdateRecipientsRequest", {"reason": "x", "recipients_added": ["not-a-code"]}, "invalid_recipients"),
    ("UpdateRecipientsRequest", {"reason": "x", "recipients_added": "000.00.01.H62"}, "invalid_recipients"),
    ("UpdateRecipientsRequest", {"reason": "x", "recipients_removed": ["000.00.01.H62"] * 101},
     "invalid_recipients"),
    ("InboxStatusRequest", {"code": "01"}, "invalid_status_code"), ("InboxStatusRequest", {}, "invalid_status_code"),
    ("InboxStatusRequest", {"code": "02"}, "reason_required"),
    ("InboxStatusRequest", {"code": "03", "reason": 5}, "invalid_reason"),
    ("VerifyRequest", {}, "nothing_to_verify"),
    ("CreateKeyRequest", {}, "missing_organ_id"), ("CreateKeyRequest", {"organ_id": "  "}, "missing_organ_id"),
    ("CreateKeyRequest", {"organ_id": "000.00.01.H62", "backend": "hsm"}, "unsupported_key_backend"),
    ("CertificateRequest", {"certificate_pem": 5}, "invalid_certificate"),
    ("RedriveRequest", {}, "invalid_queue"), ("RedriveRequest", {"queue": "sign"}, "invalid_queue"),
    ("RedriveRequest", {"queue": "dispatch", "document_ids": []}, "invalid_document_ids"),
    ("RedriveRequest", {"queue": "dispatch", "document_ids": ["nope"]}, "invalid_document_ids"),
    ("RetryRequest", {"resend_unconfirmed": "yes"}, "invalid_request"),
    ("AgencyCreate", {"name": "x"}, "invalid_organ_id"), ("ReportTargets", {"levels": 5}, "invalid_targets"),
])
def test_refusals_keep_the_codes_clients_branch_on(name: str, body: dict[str, Any], code: str):
    with pytest.raises(GatewayError) as info:
        request_bodies.validated(name, body)
    assert info.value.code == code
    assert info.value.status == 400


@pytest.mark.parametrize(("name", "body"), [
    ("RevokeRequest", {"reason": "x" * 5000, "extra": 1}),  # cut to 1000 by the use case, not refused; extras ignored
    ("UpdateRecipientsRequest", {"reason": "r", "recipients_added": [" 000.00.01.H62 "]}),
    ("InboxStatusRequest", {"code": " 03 "}), ("InboxStatusRequest", {"code": "02", "reason": "sai nơi nhận"}),
    ("CreateKeyRequest", {"organ_id": "000.00.01.H62", "backend": None}), ("RetryRequest", {}),
    ("VerifyRequest", {"document_id": "d"}), ("RedriveRequest", {"queue": "upload"}),
])
def test_what_the_use_cases_accepted_the_models_accept(name: str, body: dict[str, Any]):
    assert request_bodies.validated(name, body) is body


def test_the_attachment_index_keeps_its_404():
    with pytest.raises(GatewayError) as info:
        request_bodies.validated("VerifyRequest", {"inbox_id": "i", "attachment": -1})
    assert (info.value.status, info.value.code) == (404, "attachment_not_found")



def test_report_targets_as_get_answers_them_pass_the_edge() -> None:
    """PUT /v1/admin/reports/targets takes back what GET answered (README): its read-only fields are dropped."""
    from chalicelib.api.request_bodies import validated
    from chalicelib.domain import kpi

    answer = {**kpi.default_targets().as_json(), "source": "stored", "updated_at": "2026-12-03T08:00:00Z",
              "updated_by": "admin"}
    validated("ReportTargets", answer)  # no refusal
    with pytest.raises(Exception) as refused:
        validated("ReportTargets", {**answer, "colour": "red"})
    assert getattr(refused.value, "code", None) == "invalid_targets"
