"""The webhook routes' request and answer models (issue 14, docs/contract.md#webhooks), by name in
`chalicelib.api.schemas.MODELS` like every other; apart only to keep each module readable.

The URL's own rules (https, no private or metadata address) are the use case's (chalicelib.webhooks.subscriptions:
they need DNS), the model checks its shape and length; `events` lists known types or `*`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, StrictBool, StrictInt

from chalicelib.api.schemas_base import Answer as _Answer
from chalicelib.domain.text import ClientText
from chalicelib.domain.webhook_events import ALL_EVENTS, WILDCARD

__all__ = ["MODELS"]

EventType = Literal[(*ALL_EVENTS, WILDCARD)]  # type: ignore[valid-type]


def _code(code: str, **field: Any) -> Any:
    return Field(json_schema_extra={"x-error-code": code}, **field)


class WebhookCreate(BaseModel):
    """Đăng ký nhận webhook: the receiver's URL (https), the event types (`["*"]`: all), a description."""

    url: ClientText(2048, min_len=8) = _code("webhook_url_invalid", description="https://... của hệ thống nhận")
    events: list[EventType] = _code("invalid_webhook_events", min_length=1, max_length=20,
                                    description="loại sự kiện, hoặc [\"*\"] cho tất cả")
    description: ClientText(300) | None = _code("invalid_request", default=None)


class WebhookPatch(BaseModel):
    url: ClientText(2048, min_len=8) | None = _code("webhook_url_invalid", default=None)
    events: list[EventType] | None = _code("invalid_webhook_events", default=None, min_length=1, max_length=20)
    description: ClientText(300) | None = _code("invalid_request", default=None)
    active: StrictBool | None = _code("invalid_request", default=None,
                                      description="false tắt; true bật lại (xóa chuỗi lỗi)")


class RotateSecretRequest(BaseModel):
    grace_seconds: StrictInt | None = _code("invalid_request", default=None, ge=0, le=7 * 86400,
                                            description="bao lâu khóa cũ còn ký song song (mặc định 24 giờ)")


class RedeliverRequest(BaseModel):
    delivery_id: ClientText(200, min_len=1) = _code("webhook_delivery_not_found")


class Webhook(_Answer):
    subscription_id: str
    organ_id: str
    url: str
    events: list[str]
    description: str | None
    active: bool
    consecutive_failures: int
    created_at: str
    updated_at: str


class WebhookWithSecret(Webhook):
    secret: str = Field(description="whsec_...: chỉ hiện một lần")


class WebhookList(_Answer):
    items: list[Webhook]


class WebhookDeleted(_Answer):
    subscription_id: str
    deleted: bool


class WebhookQueued(_Answer):
    subscription_id: str
    delivery_id: str


class WebhookAttempt(_Answer):
    at: str
    attempt: int
    duration_ms: int
    status_code: int | None = None
    error: str | None = None


class WebhookDelivery(_Answer):
    delivery_id: str
    event_id: str
    type: str
    status: Literal["pending", "retrying", "delivered", "dead", "skipped"]
    attempt_count: int
    attempts: list[WebhookAttempt]


class WebhookDeliveryList(_Answer):
    items: list[WebhookDelivery]


MODELS: dict[str, type[BaseModel]] = {m.__name__: m for m in (
    WebhookCreate, WebhookPatch, RotateSecretRequest, RedeliverRequest, Webhook, WebhookWithSecret, WebhookList,
    WebhookDeleted, WebhookQueued, WebhookDeliveryList)}
