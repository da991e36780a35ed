"""Webhook subscriptions and their deliveries in DynamoDB, and their signing secrets sealed with KMS (issue 14).

Items of the documents table (`edoc-<stage>-documents`, as the inbox, envelopes and admin settings are: one table
to provision, grant and back up, a few hundred subscriptions at most):
- `WEBHOOK#<id>` / `META`: the subscription (`organ_id`, `url`, `events`, `description`, `active`, `secrets`,
  `consecutive_failures`, `version`); in the keys-only `by_organ` index under `WEBHOOKS` /
  `<organ_id>#<created_at>#<id>`, so an agency's list and the fan-out are one Query of its prefix and an admin's
  list one Query of the partition (no scan of the documents);
- `WEBHOOK#<id>` / `DLV#<created_at>#<event_id>`: one delivery of one event (its exact body, `status`, the
  `attempts` with status code, duration and time), written once when the event is fanned out and conditionally
  after each attempt; `expires_at` (TTL, 30 days).

Secrets at rest: each secret is encrypted with the stage's documents key (`alias/edoc-gateway/<stage>/documents`,
KMS Encrypt with the encryption context `edoc-gateway:webhook` = the subscription id, so a ciphertext copied onto
another subscription does not decrypt), never stored in plain text. Why KMS and not Secrets Manager: one secret per
subscription and rotation would mean a secret (and $0.40 a month) each, while a ciphertext on the item costs a KMS
call on write and one Decrypt per warm container and subscription on delivery (cached here); only the API may
Encrypt and only the webhooks function may Decrypt (infra/resources.yaml).
"""

from __future__ import annotations

import base64
import threading
import time
from functools import cache
from typing import Any

from chalicelib.adapters import aws
from chalicelib.adapters.dynamo import (
    ConditionFailed,
    all_index_pages,
    condition_failed_class,
    conditional_update,
    plain,
)
from chalicelib.adapters.webhook_outbox import SUBSCRIBERS_KEY, forget_subscribers
from chalicelib.core.settings import get_settings

__all__ = ["DELIVERY_PREFIX", "MAX_ATTEMPTS_KEPT", "WebhookStore", "get_webhook_store", "use_webhook_store"]

INDEX = "by_organ"
INDEX_PK = "WEBHOOKS"
DELIVERY_PREFIX = "DLV#"
#: The attempts one delivery item keeps (the latest); its `attempt_count` counts them all.
MAX_ATTEMPTS_KEPT = 30
_RETENTION_SECONDS = 30 * 24 * 3600
_CONTEXT_KEY = "edoc-gateway:webhook"


def _pk(subscription_id: str) -> str:
    return f"WEBHOOK#{subscription_id}"


class WebhookStore:
    """Subscriptions, deliveries and secrets (module docstring)."""

    def __init__(self, table_name: str) -> None:
        self._name = table_name
        self._plain_secrets: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    @property
    def _table(self) -> Any:
        return aws.table(self._name)

    # -- subscriptions ----------------------------------------------------------------------------------------
    def add_subscribing_organ(self, organ_id: str) -> None:
        """Name the agency among those that subscribe (chalicelib.adapters.webhook_outbox: events are published
        only for them), before its subscription exists; never removed (a stale name costs a publish only)."""
        self._table.update_item(Key=dict(SUBSCRIBERS_KEY), UpdateExpression="ADD organs :o",
                                ExpressionAttributeValues={":o": {organ_id}})
        forget_subscribers()

    def create(self, item: dict[str, Any]) -> None:
        sid = item["subscription_id"]
        self._table.put_item(Item={"pk": _pk(sid), "sk": "META", "gsi1pk": INDEX_PK,
                                   "gsi1sk": f"{item['organ_id']}#{item['created_at']}#{sid}", **item},
                             ConditionExpression="attribute_not_exists(pk)")

    def get(self, subscription_id: str) -> dict[str, Any] | None:
        item = self._table.get_item(Key={"pk": _pk(subscription_id), "sk": "META"}, ConsistentRead=True).get("Item")
        return _public(plain(item)) if item else None

    def list(self, organ_id: str | None = None) -> list[dict[str, Any]]:
        """An agency's subscriptions (or everyone's), oldest first."""
        from boto3.dynamodb.conditions import Key  # lazy: with boto3

        condition = Key("gsi1pk").eq(INDEX_PK)
        if organ_id is not None:
            condition = condition & Key("gsi1sk").begins_with(f"{organ_id}#")
        return [_public(i) for i in all_index_pages(self._table, IndexName=INDEX, KeyConditionExpression=condition)]

    def update(self, subscription_id: str, fields: dict[str, Any], *, version: int,
               remove: tuple[str, ...] = ()) -> None:
        """Change a subscription if it is still at `version` (ConditionFailed otherwise)."""
        conditional_update(self._table, {"pk": _pk(subscription_id), "sk": "META"}, fields,
                           condition="#v = :v", names={"#v": "version"}, values={":v": version},
                           add={"version": 1}, remove=remove)

    def delete(self, subscription_id: str) -> None:
        self._table.delete_item(Key={"pk": _pk(subscription_id), "sk": "META"})

    def note_outcome(self, subscription_id: str, *, ok: bool) -> int:
        """Count a failed attempt (ADD, no read) or end a run of failures; returns the run's length after it."""
        key = {"pk": _pk(subscription_id), "sk": "META"}
        try:
            if ok:
                self._table.update_item(Key=key, UpdateExpression="SET consecutive_failures = :zero",
                                        ConditionExpression="attribute_exists(pk) AND consecutive_failures > :zero",
                                        ExpressionAttributeValues={":zero": 0})
                return 0
            resp = self._table.update_item(Key=key, UpdateExpression="ADD consecutive_failures :one",
                                           ConditionExpression="attribute_exists(pk)",
                                           ExpressionAttributeValues={":one": 1}, ReturnValues="UPDATED_NEW")
            return int(resp["Attributes"]["consecutive_failures"])
        except condition_failed_class(self._table):
            return 0

    def disable(self, subscription_id: str, reason: str, at: str) -> bool:
        """Switch an active subscription off (True) or find it already off or gone (False)."""
        try:
            conditional_update(self._table, {"pk": _pk(subscription_id), "sk": "META"},
                               {"active": False, "disabled_reason": reason, "disabled_at": at, "updated_at": at},
                               condition="active = :yes", values={":yes": True})
            return True
        except ConditionFailed:
            return False

    # -- secrets --------------------------------------------------------------------------------------------------
    def seal(self, subscription_id: str, secret: str) -> str:
        """A secret encrypted for this subscription (base64 ciphertext for the item)."""
        blob = aws.client("kms").encrypt(KeyId=get_settings().webhook_secrets_key, Plaintext=secret.encode(),
                                         EncryptionContext={_CONTEXT_KEY: subscription_id})["CiphertextBlob"]
        return base64.b64encode(blob).decode("ascii")

    def unseal(self, subscription_id: str, ciphertext: str) -> str:
        """The secret back (one Decrypt per warm container and ciphertext)."""
        cache_key = (subscription_id, ciphertext)
        with self._lock:
            found = self._plain_secrets.get(cache_key)
        if found is not None:
            return found
        # KeyId named (KMS's advice for symmetric keys): a ciphertext of any other key is refused, not decrypted.
        plain_text = aws.client("kms").decrypt(CiphertextBlob=base64.b64decode(ciphertext),
                                               KeyId=get_settings().webhook_secrets_key,
                                               EncryptionContext={_CONTEXT_KEY: subscription_id})["Plaintext"]
        secret = plain_text.decode()
        with self._lock:
            if len(self._plain_secrets) > 1000:
                self._plain_secrets.clear()
            self._plain_secrets[cache_key] = secret
        return secret

    # -- deliveries -----------------------------------------------------------------------------------------------
    def put_delivery(self, subscription_id: str, item: dict[str, Any]) -> bool:
        """A new delivery (False: this event was already fanned out to this subscription)."""
        try:
            self._table.put_item(Item={"pk": _pk(subscription_id), "sk": item["delivery_id_sk"],
                                       "expires_at": int(time.time()) + _RETENTION_SECONDS, **item},
                                 ConditionExpression="attribute_not_exists(pk)")
            return True
        except condition_failed_class(self._table):
            return False

    def get_delivery(self, subscription_id: str, sk: str) -> dict[str, Any] | None:
        item = self._table.get_item(Key={"pk": _pk(subscription_id), "sk": sk}, ConsistentRead=True).get("Item")
        return plain(item) if item else None

    def record_attempt(self, subscription_id: str, sk: str, attempt: dict[str, Any], status: str) -> None:
        """Append one attempt and set the delivery's status, unless it was delivered meanwhile (ConditionFailed)."""
        self._table.update_item(
            Key={"pk": _pk(subscription_id), "sk": sk},
            UpdateExpression="SET attempts = list_append(if_not_exists(attempts, :none), :a), #s = :s, "
                             "updated_at = :at ADD attempt_count :one",
            ConditionExpression="attribute_exists(pk) AND #s <> :delivered",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":none": [], ":a": [attempt], ":s": status, ":at": attempt["at"], ":one": 1,
                                       ":delivered": "delivered"})

    def set_delivery_status(self, subscription_id: str, sk: str, status: str, at: str, *,
                            unless: str | None = None) -> bool:
        """Set a delivery's status (e.g. `pending` again for a redelivery); False when it is `unless` or gone."""
        condition, values = "attribute_exists(pk)", {":s": status, ":at": at}
        if unless:
            condition += " AND #s <> :unless"
            values[":unless"] = unless
        try:
            self._table.update_item(Key={"pk": _pk(subscription_id), "sk": sk},
                                    UpdateExpression="SET #s = :s, updated_at = :at", ConditionExpression=condition,
                                    ExpressionAttributeNames={"#s": "status"}, ExpressionAttributeValues=values)
            return True
        except condition_failed_class(self._table):
            return False

    def deliveries(self, subscription_id: str, *, limit: int, cursor: dict[str, Any] | None
                   ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """A subscription's deliveries, newest first, one page."""
        from boto3.dynamodb.conditions import Key  # lazy: with boto3

        kwargs: dict[str, Any] = {"KeyConditionExpression": Key("pk").eq(_pk(subscription_id))
                                  & Key("sk").begins_with(DELIVERY_PREFIX), "ScanIndexForward": False,
                                  "Limit": limit}
        if cursor:
            kwargs["ExclusiveStartKey"] = cursor
        resp = self._table.query(**kwargs)
        return [plain(i) for i in resp.get("Items", [])], resp.get("LastEvaluatedKey")


def _public(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in ("pk", "sk", "gsi1pk", "gsi1sk")}


@cache
def _for_table(name: str) -> WebhookStore:
    return WebhookStore(name)


_override: Any = None


def get_webhook_store() -> Any:
    """The store, built once per container (tests point the use cases at a fake with `use_webhook_store`)."""
    return _override if _override is not None else _for_table(get_settings().documents_table)


def use_webhook_store(store: Any) -> None:
    global _override
    _override = store
