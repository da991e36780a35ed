"""An in-memory twin of the webhook store (chalicelib.adapters.webhook_store): subscriptions, deliveries and the
secrets' sealing, with the adapter's conditions (a version for changes, a delivery written once, no attempt after
`delivered`). `seal` hands out opaque tokens, so a test can show the plain secret is never what is stored."""

from __future__ import annotations

import copy
import itertools
from typing import Any

from chalicelib.adapters.dynamo import ConditionFailed

__all__ = ["FakeWebhookStore"]


class FakeWebhookStore:
    def __init__(self) -> None:
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.deliveries_by_sub: dict[str, dict[str, dict[str, Any]]] = {}
        self.sealed: dict[str, tuple[str, str]] = {}  # token → (subscription, secret)
        self._tokens = itertools.count(1)
        self.subscribing: set[str] = set()

    # subscriptions
    def add_subscribing_organ(self, organ_id: str) -> None:
        self.subscribing.add(organ_id)

    def create(self, item: dict[str, Any]) -> None:
        if item["subscription_id"] in self.subscriptions:
            raise ConditionFailed(item["subscription_id"])
        self.subscriptions[item["subscription_id"]] = copy.deepcopy(item)

    def get(self, subscription_id: str) -> dict[str, Any] | None:
        found = self.subscriptions.get(subscription_id)
        return copy.deepcopy(found) if found else None

    def list(self, organ_id: str | None = None) -> list[dict[str, Any]]:
        return [copy.deepcopy(s) for s in self.subscriptions.values() if organ_id in (None, s["organ_id"])]

    def update(self, subscription_id: str, fields: dict[str, Any], *, version: int,
               remove: tuple[str, ...] = ()) -> None:
        item = self.subscriptions.get(subscription_id)
        if item is None or item.get("version") != version:
            raise ConditionFailed(subscription_id)
        item.update(copy.deepcopy(fields))
        for name in remove:
            item.pop(name, None)
        item["version"] = version + 1

    def delete(self, subscription_id: str) -> None:
        self.subscriptions.pop(subscription_id, None)

    def note_outcome(self, subscription_id: str, *, ok: bool) -> int:
        item = self.subscriptions.get(subscription_id)
        if item is None:
            return 0
        item["consecutive_failures"] = 0 if ok else int(item.get("consecutive_failures") or 0) + 1
        return item["consecutive_failures"]

    def disable(self, subscription_id: str, reason: str, at: str) -> bool:
        item = self.subscriptions.get(subscription_id)
        if item is None or not item.get("active"):
            return False
        item.update(active=False, disabled_reason=reason, disabled_at=at)
        return True

    # secrets
    def seal(self, subscription_id: str, secret: str) -> str:
        token = f"sealed-{next(self._tokens)}"
        self.sealed[token] = (subscription_id, secret)
        return token

    def unseal(self, subscription_id: str, ciphertext: str) -> str:
        owner, secret = self.sealed[ciphertext]
        if owner != subscription_id:  # KMS's encryption context: another subscription's ciphertext fails
            raise PermissionError("encryption context mismatch")
        return secret

    # deliveries
    def put_delivery(self, subscription_id: str, item: dict[str, Any]) -> bool:
        box = self.deliveries_by_sub.setdefault(subscription_id, {})
        if item["delivery_id_sk"] in box:
            return False
        box[item["delivery_id_sk"]] = copy.deepcopy(item)
        return True

    def get_delivery(self, subscription_id: str, sk: str) -> dict[str, Any] | None:
        found = self.deliveries_by_sub.get(subscription_id, {}).get(sk)
        return copy.deepcopy(found) if found else None

    def record_attempt(self, subscription_id: str, sk: str, attempt: dict[str, Any], status: str) -> None:
        item = self.deliveries_by_sub.get(subscription_id, {}).get(sk)
        if item is None or item["status"] == "delivered":
            raise ConditionFailed(sk)
        item.setdefault("attempts", []).append(dict(attempt))
        item["attempt_count"] = int(item.get("attempt_count") or 0) + 1
        item["status"] = status

    def set_delivery_status(self, subscription_id: str, sk: str, status: str, at: str, *,
                            unless: str | None = None) -> bool:
        item = self.deliveries_by_sub.get(subscription_id, {}).get(sk)
        if item is None or (unless and item["status"] == unless):
            return False
        item["status"] = status
        return True

    def deliveries(self, subscription_id: str, *, limit: int, cursor: dict[str, Any] | None
                   ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        items = sorted(self.deliveries_by_sub.get(subscription_id, {}).values(),
                       key=lambda i: i["delivery_id_sk"], reverse=True)
        return [copy.deepcopy(i) for i in items[:limit]], None
