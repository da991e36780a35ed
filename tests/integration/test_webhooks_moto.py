"""Webhooks' adapters on moto (issue 14): a transition publishes its event to the FIFO queue before its write, and a
lost one marks its event cancelled on the record; the webhook store's subscriptions (by the keys-only index), its
delivery items and their conditions, and the secrets sealed with KMS under the subscription's encryption context."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.moto_tables import REGION, mocked_aws
from tests.support.organs import G22, H03, H62

TABLE = "edoc-documents-test-webhooks"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with mocked_aws(monkeypatch, documents_table=TABLE, WEBHOOK_SECRETS_KEY="alias/edoc-gateway/local/documents"):
        import boto3

        from chalicelib.core.settings import get_settings

        get_settings.cache_clear()
        kms = boto3.client("kms", region_name=REGION)
        key = kms.create_key()["KeyMetadata"]["KeyId"]
        kms.create_alias(AliasName="alias/edoc-gateway/local/documents", TargetKeyId=key)
        yield boto3
        get_settings.cache_clear()


def _messages(boto3: Any) -> list[dict[str, Any]]:
    from chalicelib.core import settings

    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.get_queue_url(QueueName=settings.WEBHOOKS_QUEUE)["QueueUrl"]
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get("Messages", [])
    return [{**json.loads(m["Body"]), "group": m["Attributes"]["MessageGroupId"]} for m in got]


def test_a_transition_publishes_first_and_a_lost_one_is_marked_cancelled(aws):
    from chalicelib.adapters.document_store import ConditionFailed, DocumentStore
    from chalicelib.adapters.webhook_outbox import is_cancelled, subscribing_organs
    from chalicelib.adapters.webhook_store import WebhookStore

    store = DocumentStore(TABLE)
    assert subscribing_organs() == frozenset()
    store.create({"document_id": "d-0", "organ_id": H62, "state": "AWAITING_UPLOAD",
                  "created_at": "2026-12-04T00:00:00Z", "updated_at": "2026-12-04T00:00:00Z",
                  "metadata": {"subject": "s", "recipients": [G22]}})
    store.transition("d-0", "UPLOADED")  # nobody subscribes: nothing is published
    assert _messages(aws) == []
    WebhookStore(TABLE).add_subscribing_organ(H62)
    assert subscribing_organs() == {H62}
    store.create({"document_id": "d-1", "organ_id": H62, "state": "AWAITING_UPLOAD",
                  "created_at": "2026-12-04T00:00:00Z",
                  "updated_at": "2026-12-04T00:00:00Z", "metadata": {"subject": "s", "recipients": [G22]}})
    store.transition("d-1", "UPLOADED")
    before = store.get("d-1")
    with pytest.raises(ConditionFailed):
        store.transition("d-1", "UPLOADED", from_states=frozenset({"AWAITING_UPLOAD"}))  # a duplicate run
    record, timeline, _ = store.get_full("d-1")
    first, second = _messages(aws)
    assert first["type"] == second["type"] == "document.uploaded" and first["group"] == "doc#d-1"
    assert first["confirm"]["timeline"] == {"state": "UPLOADED", "at": timeline[-1]["at"]}
    assert is_cancelled("d-1", second["id"]) and not is_cancelled("d-1", first["id"])
    assert record["state"] == "UPLOADED" and store.get("d-1") == before  # the lost write left the record alone


def test_subscriptions_deliveries_and_sealed_secrets(aws):
    from chalicelib.adapters.dynamo import ConditionFailed
    from chalicelib.adapters.webhook_store import WebhookStore

    store = WebhookStore(TABLE)
    for sid, organ in (("s-1", H62), ("s-2", H03), ("s-3", H62)):
        store.create({"subscription_id": sid, "organ_id": organ, "url": "https://r.example/h", "events": ["*"],
                      "active": True, "created_at": f"2026-12-04T00:00:0{sid[-1]}Z", "version": 1,
                      "secrets": [{"ciphertext": store.seal(sid, f"whsec_{sid}"), "created_at": "t"}]})
    assert [s["subscription_id"] for s in store.list(H62)] == ["s-1", "s-3"]
    assert {s["subscription_id"] for s in store.list()} == {"s-1", "s-2", "s-3"}
    item = store.get("s-1")
    assert "whsec_s-1" not in json.dumps(item) and store.unseal("s-1", item["secrets"][0]["ciphertext"]) == "whsec_s-1"
    with pytest.raises(Exception, match="InvalidCiphertext|AccessDenied|context"):
        WebhookStore(TABLE).unseal("s-2", item["secrets"][0]["ciphertext"])  # another subscription's context
    with pytest.raises(ConditionFailed):
        store.update("s-1", {"url": "https://other.example/"}, version=7)
    store.update("s-1", {"url": "https://other.example/"}, version=1)
    assert store.get("s-1")["version"] == 2

    delivery = {"delivery_id_sk": "DLV#t1#evt_1", "delivery_id": "t1#evt_1", "event_id": "evt_1", "status": "pending",
                "body": "{}", "type": "webhook.test"}
    assert store.put_delivery("s-1", delivery) and not store.put_delivery("s-1", delivery)
    store.record_attempt("s-1", "DLV#t1#evt_1", {"at": "t2", "status_code": 500, "duration_ms": 3}, "retrying")
    store.record_attempt("s-1", "DLV#t1#evt_1", {"at": "t3", "status_code": 200, "duration_ms": 2}, "delivered")
    with pytest.raises(Exception, match="ConditionalCheckFailed"):
        store.record_attempt("s-1", "DLV#t1#evt_1", {"at": "t4", "status_code": 200, "duration_ms": 2}, "delivered")
    (listed,), _ = store.deliveries("s-1", limit=10, cursor=None)
    assert listed["status"] == "delivered" and [a["status_code"] for a in listed["attempts"]] == [500, 200]
    assert store.note_outcome("s-1", ok=False) == 1 and store.note_outcome("s-1", ok=False) == 2
    assert store.note_outcome("s-1", ok=True) == 0
    assert store.disable("s-1", "too_many_failures", "t5") and not store.disable("s-1", "too_many_failures", "t6")
