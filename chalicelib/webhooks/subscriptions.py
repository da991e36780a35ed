"""The subscriptions' use cases (issue 14): register, list, read, change, delete, rotate the secret.

`POST /v1/webhooks` answers the signing secret once (201); only its KMS ciphertext is stored
(chalicelib.adapters.webhook_store). An agency sees and changes only its own subscriptions: another agency's id
answers 404 `webhook_not_found`, exactly like an id that does not exist; admins see all (DESIGN.md, tenant
isolation). The URL passes the SSRF guard at registration and on every change (chalicelib.domain.webhook_urls,
resolved by chalicelib.adapters.webhook_http), and again at each delivery. Every call that changes a subscription
is audited at the HTTP edge (chalicelib.api.http), as every agency action that changes state.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from chalicelib.adapters.dynamo import ConditionFailed
from chalicelib.adapters.webhook_http import resolve_checked
from chalicelib.adapters.webhook_store import get_webhook_store
from chalicelib.core.clock import now_iso, utc_now
from chalicelib.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from chalicelib.core.settings import get_settings
from chalicelib.domain.caller import Caller
from chalicelib.domain.webhook_events import ALL_EVENTS, WILDCARD
from chalicelib.domain.webhook_urls import UrlRefused, parse_target
from chalicelib.standards.standard_webhooks import new_secret

__all__ = ["MAX_PER_AGENCY", "create", "delete", "get", "list_subscriptions", "owned", "present", "rotate_secret",
           "signing_secrets", "update"]

#: Subscriptions one agency may hold (each event is fanned out to each of them).
MAX_PER_AGENCY = 20
_URL_MESSAGES = {
    "webhook_url_invalid": "Địa chỉ nhận webhook không hợp lệ.",
    "webhook_url_insecure": "Địa chỉ nhận webhook phải dùng HTTPS.",
    "webhook_url_forbidden_address": "Địa chỉ nhận webhook trỏ tới mạng nội bộ hoặc địa chỉ bị cấm.",
    "webhook_url_unresolvable": "Không phân giải được tên miền của địa chỉ nhận webhook.",
}


class WebhookUrlRefused(ValidationFailed):
    """A URL the SSRF guard refuses: 422, like the other requests that are well-formed but cannot be accepted."""

    status = 422


def _not_found() -> NotFound:
    return NotFound("Không tìm thấy đăng ký webhook.", code="webhook_not_found")


def checked_url(url: Any) -> str:
    """The URL if the SSRF guard lets the gateway call it now (422 with the guard's reason otherwise)."""
    local = get_settings().webhook_local_receivers
    try:
        target = parse_target(url, local_receivers=local)
        resolve_checked(target, local_receivers=local)
    except UrlRefused as exc:
        raise WebhookUrlRefused(_URL_MESSAGES[exc.reason], code=exc.reason,
                               details={"field": "url", "reason": exc.detail}) from None
    return str(url)


def present(item: dict[str, Any]) -> dict[str, Any]:
    """The wire shape of a subscription (docs/contract.md#webhooks): never a secret or its ciphertext."""
    out = {k: item.get(k) for k in ("subscription_id", "organ_id", "url", "events", "description", "active",
                                    "created_at", "updated_at")}
    out["consecutive_failures"] = int(item.get("consecutive_failures") or 0)
    for name in ("disabled_reason", "disabled_at", "secret_rotated_at"):
        if item.get(name):
            out[name] = item[name]
    previous = [s for s in item.get("secrets", [])[1:] if s.get("expires_at")]
    if previous:
        out["previous_secret_expires_at"] = max(s["expires_at"] for s in previous)
    return out


def owned(caller: Caller, subscription_id: str) -> dict[str, Any]:
    """The subscription if the caller may see it: its agency's, or any for an admin; 404 otherwise."""
    try:
        uuid.UUID(subscription_id)
    except (ValueError, TypeError):
        raise _not_found() from None
    item = get_webhook_store().get(subscription_id)
    if item is None or not (caller.is_admin or item.get("organ_id") == caller.organ_id):
        raise _not_found()
    return item


def _events(value: Any) -> list[str]:
    """The event types asked for (the request model checked them; checked again for callers without it)."""
    if value is None:
        return [WILDCARD]
    if not isinstance(value, list) or not value or not set(value) <= {*ALL_EVENTS, WILDCARD}:
        raise ValidationFailed("Danh sách loại sự kiện webhook không hợp lệ.", code="invalid_webhook_events",
                               details={"allowed": [*ALL_EVENTS, WILDCARD]})
    return sorted(set(value))


def create(caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    """`POST /v1/webhooks` → 201 with the subscription and `secret` (shown this once)."""
    if not caller.organ_id:
        raise Forbidden(code="no_organ")
    store = get_webhook_store()
    if len(store.list(caller.organ_id)) >= MAX_PER_AGENCY:
        raise Conflict("Cơ quan đã có quá nhiều đăng ký webhook.", code="too_many_webhooks",
                       details={"max": MAX_PER_AGENCY})
    url = checked_url(body.get("url"))
    subscription_id, at, secret = str(uuid.uuid4()), now_iso(), new_secret()
    item = {"subscription_id": subscription_id, "organ_id": caller.organ_id, "url": url,
            "events": _events(body.get("events")), "description": body.get("description") or "", "active": True,
            "created_at": at, "updated_at": at, "created_by": caller.username, "consecutive_failures": 0,
            "version": 1, "secrets": [{"ciphertext": store.seal(subscription_id, secret), "created_at": at}]}
    store.add_subscribing_organ(caller.organ_id)  # first: its events are published from now on (within seconds)
    store.create(item)
    return {**present(item), "secret": secret}


def list_subscriptions(caller: Caller, organ_id: str | None = None) -> dict[str, Any]:
    """`GET /v1/webhooks`: the agency's own; an admin's, every agency's (or `?organ_id=`'s)."""
    store = get_webhook_store()
    items = store.list(organ_id if caller.is_admin else caller.organ_id)
    return {"items": [present(i) for i in items]}


def get(caller: Caller, subscription_id: str) -> dict[str, Any]:
    return present(owned(caller, subscription_id))


def update(caller: Caller, subscription_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """`PATCH /v1/webhooks/{id}`: `url` (checked again), `events`, `description`, `active` (turning it back on
    ends the run of failures that disabled it)."""
    item = owned(caller, subscription_id)
    fields: dict[str, Any] = {"updated_at": now_iso()}
    remove: tuple[str, ...] = ()
    if body.get("url") is not None:
        fields["url"] = checked_url(body["url"])
    if body.get("events") is not None:
        fields["events"] = _events(body["events"])
    if body.get("description") is not None:
        fields["description"] = body["description"]
    if body.get("active") is not None:
        fields["active"] = bool(body["active"])
        if body["active"]:
            get_webhook_store().add_subscribing_organ(str(item["organ_id"]))
            fields["consecutive_failures"] = 0
            remove = ("disabled_reason", "disabled_at")
        else:
            fields["disabled_reason"], fields["disabled_at"] = "by_agency", fields["updated_at"]
    try:
        get_webhook_store().update(subscription_id, fields, version=int(item.get("version") or 0), remove=remove)
    except ConditionFailed:
        raise Conflict("Đăng ký webhook vừa được thay đổi; hãy thử lại.", code="webhook_changed") from None
    return present({**{k: v for k, v in item.items() if k not in remove}, **fields})


def delete(caller: Caller, subscription_id: str) -> dict[str, Any]:
    """`DELETE /v1/webhooks/{id}`: deliveries still queued for it are dropped when they come up."""
    owned(caller, subscription_id)
    get_webhook_store().delete(subscription_id)
    return {"subscription_id": subscription_id, "deleted": True}


def rotate_secret(caller: Caller, subscription_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """`POST /v1/webhooks/{id}/rotate-secret` → the new secret (shown once). The old one keeps signing beside it
    for `grace_seconds` (default the setting, 24 h; Standard Webhooks sends one signature per secret), so a
    receiver can switch without losing a message; secrets already past their grace go."""
    item = owned(caller, subscription_id)
    store, at = get_webhook_store(), utc_now()
    grace = body.get("grace_seconds")
    grace = get_settings().webhook_secret_grace_seconds if grace is None else int(grace)
    expires = (at + timedelta(seconds=grace)).isoformat(timespec="seconds").replace("+00:00", "Z")
    now_text = at.isoformat(timespec="microseconds").replace("+00:00", "Z")
    secret = new_secret()
    kept = [{**s, "expires_at": s.get("expires_at") or expires} for s in item.get("secrets", [])
            if not s.get("expires_at") or s["expires_at"] > now_text]
    if grace <= 0:
        kept = []
    secrets = [{"ciphertext": store.seal(subscription_id, secret), "created_at": now_text}, *kept][:3]
    fields = {"secrets": secrets, "secret_rotated_at": now_text, "updated_at": now_text}
    try:
        store.update(subscription_id, fields, version=int(item.get("version") or 0))
    except ConditionFailed:
        raise Conflict("Đăng ký webhook vừa được thay đổi; hãy thử lại.", code="webhook_changed") from None
    return {**present({**item, **fields}), "secret": secret}


def signing_secrets(item: dict[str, Any], now: str) -> list[str]:
    """The secrets that sign a delivery now: the current one first, then those still in their grace period."""
    store = get_webhook_store()
    sid = item["subscription_id"]
    return [store.unseal(sid, s["ciphertext"]) for s in item.get("secrets", [])
            if not s.get("expires_at") or s["expires_at"] > now]
