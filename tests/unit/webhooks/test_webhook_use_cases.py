"""The webhooks' use cases with in-memory ports (tests/fakes/webhooks.py; the audit store of tests/unit/conftest.py):
registration, tenant isolation, rotation, and one delivery's attempts, backoff, dead letter and disabling."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.adapters.webhook_http import AttemptResult
from chalicelib.adapters.webhook_store import use_webhook_store
from chalicelib.core.errors import GatewayError
from chalicelib.core.settings import get_settings
from chalicelib.domain.caller import Caller
from chalicelib.standards.standard_webhooks import verify
from chalicelib.webhooks import deliveries, delivery, subscriptions
from tests.fakes.webhooks import FakeWebhookStore

H62 = Caller("clerk-ubnd-vp", "000.00.00.H62", False)
H03 = Caller("clerk-ubnd-bg", "000.00.00.H03", False)
ADMIN = Caller("admin", "000.00.00.H62", True)


@pytest.fixture
def store(monkeypatch) -> FakeWebhookStore:
    fake = FakeWebhookStore()
    use_webhook_store(fake)
    monkeypatch.setattr(subscriptions, "resolve_checked", lambda target, local_receivers: ["203.0.113.10"])
    yield fake
    use_webhook_store(None)


@pytest.fixture
def sent(monkeypatch) -> list[dict[str, Any]]:
    """Delivery messages queued (the SQS send, replaced)."""
    queued: list[dict[str, Any]] = []

    def enqueue(subscription_id, sk, event_id, group, *, round_="", dead=False):
        queued.append({"subscription_id": subscription_id, "delivery": sk, "id": event_id, "group": group,
                       "round": round_, "dead": dead})

    monkeypatch.setattr(delivery, "enqueue_delivery", enqueue)
    monkeypatch.setattr(deliveries, "enqueue_delivery", enqueue)
    return queued


def _create(caller: Caller = H62, url: str = "https://receiver.example/hooks") -> dict[str, Any]:
    return subscriptions.create(caller, {"url": url, "events": ["*"]})


def test_registration_shows_the_secret_once_and_stores_only_its_ciphertext(store):
    created = _create()
    assert created["secret"].startswith("whsec_") and created["events"] == ["*"]
    stored = store.subscriptions[created["subscription_id"]]
    assert created["secret"] not in json.dumps(stored)
    assert "secret" not in subscriptions.get(H62, created["subscription_id"])
    assert "secrets" not in subscriptions.get(H62, created["subscription_id"])


def test_another_agency_sees_404_and_an_admin_sees_all(store):
    sid = _create()["subscription_id"]
    for call in (lambda: subscriptions.get(H03, sid), lambda: subscriptions.update(H03, sid, {"active": False}),
                 lambda: subscriptions.delete(H03, sid), lambda: subscriptions.rotate_secret(H03, sid, {}),
                 lambda: deliveries.send_test(H03, sid), lambda: subscriptions.get(H03, "not-a-uuid")):
        with pytest.raises(GatewayError) as hidden:
            call()
        assert (hidden.value.status, hidden.value.code) == (404, "webhook_not_found")
    assert subscriptions.list_subscriptions(H03)["items"] == []
    assert [s["subscription_id"] for s in subscriptions.list_subscriptions(ADMIN)["items"]] == [sid]


def test_refused_urls_answer_422_with_the_guard_s_reason(store, monkeypatch):
    with pytest.raises(GatewayError) as refused:
        _create(url="https://169.254.169.254/latest/meta-data/")
    assert (refused.value.status, refused.value.code) == (422, "webhook_url_forbidden_address")
    from chalicelib.domain.webhook_urls import UrlRefused

    def rebinding(target, local_receivers):
        raise UrlRefused("webhook_url_forbidden_address", "private")

    monkeypatch.setattr(subscriptions, "resolve_checked", rebinding)
    with pytest.raises(GatewayError) as refused:
        _create(url="https://inside.example/hooks")  # a name that resolves to a private address
    assert refused.value.code == "webhook_url_forbidden_address"


def test_rotation_keeps_the_old_secret_signing_until_its_grace_ends(store):
    created = _create()
    sid = created["subscription_id"]
    rotated = subscriptions.rotate_secret(H62, sid, {"grace_seconds": 3600})
    item = store.get(sid)
    now = "2000-01-01T00:00:00Z"
    assert subscriptions.signing_secrets(item, now) == [rotated["secret"], created["secret"]]
    assert subscriptions.signing_secrets(item, "2999-01-01T00:00:00Z") == [rotated["secret"]]
    again = subscriptions.rotate_secret(H62, sid, {"grace_seconds": 0})
    assert subscriptions.signing_secrets(store.get(sid), now) == [again["secret"]]


def _queued_delivery(store, sent, caller=H62, url="https://receiver.example/hooks") -> tuple[dict, dict]:
    sub = _create(caller, url)
    deliveries.send_test(caller, sub["subscription_id"])
    return sub, sent[-1]


def test_a_delivery_is_signed_sent_once_and_recorded(store, sent, monkeypatch):
    sub, message = _queued_delivery(store, sent)
    posts: list[tuple[bytes, dict]] = []

    def post(target, body, headers, *, timeout, local_receivers):
        posts.append((body, headers))
        return AttemptResult(204, 12)

    monkeypatch.setattr(delivery, "post", post)
    delivery.handle_delivery({"kind": "delivery", **message}, 1)
    delivery.handle_delivery({"kind": "delivery", **message}, 2)  # SQS delivers it again: nothing is sent
    assert len(posts) == 1
    body, headers = posts[0]
    verify(sub["secret"], headers, body, now=int(headers["webhook-timestamp"]))
    assert headers["webhook-id"] == message["id"] == json.loads(body)["id"]
    item = store.get_delivery(sub["subscription_id"], message["delivery"])
    assert item["status"] == "delivered" and item["attempts"][0]["status_code"] == 204


def test_failures_back_off_keep_the_id_and_end_in_the_dlq_at_the_bound(store, sent, monkeypatch):
    sub, message = _queued_delivery(store, sent)
    seen: list[str] = []

    def post(target, body, headers, *, timeout, local_receivers):
        seen.append(headers["webhook-id"])
        return AttemptResult(500, 3)

    monkeypatch.setattr(delivery, "post", post)
    settings = get_settings()
    waits = []
    for attempt in range(1, settings.webhook_max_attempts):
        with pytest.raises(delivery._Later) as later:
            delivery.handle_delivery({"kind": "delivery", **message}, attempt)
        waits.append(later.value.seconds)
    assert waits[:3] == [30, 60, 120] and len(set(seen)) == 1
    delivery.handle_delivery({"kind": "delivery", **message}, settings.webhook_max_attempts)  # the last: no raise
    item = store.get_delivery(sub["subscription_id"], message["delivery"])
    assert item["status"] == "dead" and item["attempt_count"] == settings.webhook_max_attempts
    assert sent[-1]["dead"] is True and sent[-1]["id"] == message["id"]


def test_a_long_run_of_failures_disables_the_subscription_and_tells_the_agency(store, sent, monkeypatch,
                                                                              audit_store):
    sub, message = _queued_delivery(store, sent)
    threshold = get_settings().webhook_disable_after_failures
    store.subscriptions[sub["subscription_id"]]["consecutive_failures"] = threshold - 1
    monkeypatch.setattr(delivery, "post", lambda *a, **k: AttemptResult(None, 5, "connection_error"))
    with pytest.raises(delivery._Later):
        delivery.handle_delivery({"kind": "delivery", **message}, 1)
    assert store.get(sub["subscription_id"])["active"] is False
    entries = [i for i in audit_store.items.values() if i.get("action") == "webhook_disabled"]
    assert entries and entries[0]["actor"]["organ_id"] == H62.organ_id
    assert entries[0]["resource"] == {"type": "webhook", "id": sub["subscription_id"]}
    delivery.handle_delivery({"kind": "delivery", **message}, 2)  # disabled: skipped, not sent
    assert store.get_delivery(sub["subscription_id"], message["delivery"])["status"] == "skipped"


def test_the_batch_holds_back_a_failed_group_s_later_messages(monkeypatch):
    handled, delayed = [], []
    monkeypatch.setattr(delivery, "_delay", lambda queue, record, seconds: delayed.append((record["messageId"],
                                                                                          seconds)))

    def handle(body, count, sent_at):
        handled.append(body)
        if body == "a1":
            raise delivery._Later(7)

    monkeypatch.setattr(delivery, "_handle", handle)
    records = [{"messageId": m, "body": m, "receiptHandle": m, "attributes": {"MessageGroupId": m[0]}}
               for m in ("a1", "b1", "a2", "b2")]
    answer = delivery.handle_batch({"Records": records})
    assert handled == ["a1", "b1", "b2"]
    assert answer["batchItemFailures"] == [{"itemIdentifier": "a1"}, {"itemIdentifier": "a2"}]
    assert delayed == [("a1", 7), ("a2", 7)]


class _Documents:
    """The one read the fan-out makes of the documents table (chalicelib.adapters.document_store.get_full)."""

    def __init__(self, timeline: list[dict[str, Any]]) -> None:
        self.timeline = timeline

    def get_full(self, document_id: str):
        record = {"document_id": document_id, "organ_id": H62.organ_id, "state": "SIGNED", "created_at": "t0",
                  "updated_at": "t1", "metadata": {"number": "1", "notation": "UBND-VX", "subject": "Trích yếu"}}
        return record, self.timeline, []


def _event(at: str = "2026-12-04T00:00:01.000000Z") -> dict[str, Any]:
    return {"kind": "event", "id": "evt_x", "type": "document.signed", "occurred_at": at, "document_id": "d-1",
            "confirm": {"timeline": {"state": "SIGNED", "at": at}}}


def test_an_event_waits_for_its_write_and_is_fanned_out_once_it_shows(store, sent, monkeypatch):
    sub = _create()
    documents = _Documents([])
    monkeypatch.setattr(delivery, "get_document_store", lambda: documents)
    monkeypatch.setattr(delivery, "is_cancelled", lambda document_id, event_id: False)
    import time as clock

    with pytest.raises(delivery._Later) as later:  # published, not written yet
        delivery.handle_event(_event(), sent_at=clock.time(), receive_count=3)
    assert later.value.seconds == 4 and sent == []
    documents.timeline.append({"state": "SIGNED", "at": _event()["occurred_at"], "detail": {}})
    delivery.handle_event(_event(), sent_at=clock.time())
    (message,) = sent
    body = json.loads(store.get_delivery(sub["subscription_id"], message["delivery"])["body"])
    assert body["type"] == "document.signed" and body["organ_id"] == H62.organ_id
    assert body["data"]["state"] == "SIGNED" and body["data"]["metadata"]["notation"] == "UBND-VX"
    assert message["group"] == f"{sub['subscription_id']}#doc#d-1"


def test_an_event_whose_write_never_happened_is_dropped(store, sent, monkeypatch):
    _create()
    monkeypatch.setattr(delivery, "get_document_store", lambda: _Documents([]))
    monkeypatch.setattr(delivery, "is_cancelled", lambda document_id, event_id: False)
    import time as clock

    delivery.handle_event(_event(), sent_at=clock.time() - get_settings().webhook_confirm_seconds - 1)
    assert sent == []


def test_an_event_whose_writer_marked_it_lost_is_dropped_at_once(store, sent, monkeypatch):
    _create()
    monkeypatch.setattr(delivery, "get_document_store", lambda: _Documents([]))
    monkeypatch.setattr(delivery, "is_cancelled", lambda document_id, event_id: event_id == "evt_x")
    import time as clock

    delivery.handle_event(_event(), sent_at=clock.time())  # no _Later: the document's group is not held back
    assert sent == []


def test_registering_names_the_agency_among_those_whose_events_are_published(store):
    _create(H03)
    assert store.subscribing == {H03.organ_id}
