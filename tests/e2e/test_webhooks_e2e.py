"""Signed webhooks on the embedded stack (issue 14), driven from outside: a receiver on 127.0.0.1 (the agency's own
system, devstack.webhook_receiver), the API as the agencies' clerks and the admin, the axis as external agencies.

Acceptance 1: a receiver subscribed to every event gets, for one document, uploaded → signed → dispatched → the
recipients' statuses in the order they happened, each verified with the Standard Webhooks library; and, for an
inbound document, `inbox.received` (then `inbox.revoked` when its sender revokes it). Acceptance 2: a receiver
answering 500 three times then 200 gets the event exactly once more after it recovers, under the same
`webhook-id`; a receiver that is down is retried and ends in the webhooks DLQ after the bound (4 attempts here,
tests/conftest.py WEBHOOK_ENV), listed for admins. Acceptance 3: registration refuses private and metadata
addresses; another agency's subscription answers 404; after a secret rotation, deliveries still verify with the
old secret during the grace period (and with the new).
"""

from __future__ import annotations

import contextlib
import socket
import time
import uuid
from dataclasses import replace as dataclass_replace
from datetime import date

import pytest
from standardwebhooks.webhooks import Webhook

from chalicelib.standards.edxml import Business, Organ, ResponseFor
from devstack.client import ApiError
from devstack.webhook_receiver import WebhookReceiver
from tests.e2e.helpers import eventually
from tests.support.axis import send_as as _send
from tests.support.documents import fresh_metadata
from tests.support.organs import G22, H03, H62
from tests.support.packages import about as _about
from tests.support.packages import status_package as _status
from tests.support.packages import vpcp_header, vpcp_package
from tests.support.pki import fresh_ca, local_identity

VPCP = Organ(G22, "Văn phòng Chính phủ", email="vpcp@chinhphu.vn", address="Hà Nội")


@pytest.fixture
def subscribe(client):
    """Register subscriptions for a clerk's agency; each is deleted (and its receiver stopped) after the test."""
    made: list[tuple[str, str, WebhookReceiver | None]] = []

    def make(organ_id: str, *, receiver: WebhookReceiver | None = None, url: str | None = None,
             events: list[str] | None = None) -> dict:
        token = client.login(client.user_for(organ_id))
        created = client.call("POST", "/v1/webhooks", token, json={"url": url or receiver.url,
                                                                    "events": events or ["*"]})
        if receiver is not None:
            receiver.secrets.append(created["secret"])
        made.append((token, created["subscription_id"], receiver))
        return {**created, "token": token}

    yield make
    for token, subscription_id, receiver in made:
        with contextlib.suppress(ApiError):
            client.call("DELETE", f"/v1/webhooks/{subscription_id}", token)
        if receiver is not None:
            receiver.stop()


def _interoperable(receiver: WebhookReceiver, secret: str) -> None:
    """Every 200 the receiver gave verifies with the specification's own library too."""
    for got in receiver.received:
        if got.status == 200:
            Webhook(secret).verify(got.body, got.headers)


def _take_package(axis, header_id: str) -> None:
    import io

    from chalicelib.standards.edxml import parse_package

    for entry in axis.get_received_edoc_list("edoc"):
        if parse_package(io.BytesIO(axis.get_edoc(entry["docId"]))).document_id == header_id:
            axis.update_status(entry["docId"], "done")
            return
    raise AssertionError(f"no package {header_id}")


def test_a_document_s_events_arrive_in_order_verified_and_an_inbound_one_too(client, stack, stack_handle,
                                                                              sample_pdf, tmp_path, subscribe):
    receiver = WebhookReceiver()
    sub = subscribe(H62, receiver=receiver)
    assert sub["secret"].startswith("whsec_") and sub["events"] == ["*"] and sub["active"] is True
    token = sub["token"]
    assert "secret" not in client.call("GET", f"/v1/webhooks/{sub['subscription_id']}", token)
    time.sleep(1.5)  # every function sees a new subscriber within WEBHOOK_SUBSCRIBERS_CACHE_SECONDS (1 s here)

    metadata = fresh_metadata("WEBHOOK-A", [G22])
    created = client.create_document(token, metadata)
    doc_id = created["document_id"]
    client.upload(created["upload"], sample_pdf)
    assert client.wait_for(token, doc_id, {"DISPATCHED", "REJECTED", "FAILED"}, timeout=90)["state"] == "DISPATCHED"
    g22 = client.axis_system(G22)
    header_id = f"{H62},2019/09/20,7413/{metadata['notation']}"
    _take_package(g22, header_id)
    ref = ResponseFor(H62, f"7413/{metadata['notation']}", header_id, date(2019, 9, 20))
    for code in ("01", "03"):
        _send(g22, _status(VPCP, ref, code), [H62], tmp_path, "status")
        eventually(stack_handle, lambda c=code: [h for h in next(
            d for d in client.get_document(token, doc_id)["deliveries"] if d["organ_id"] == G22)["history"]
            if h.get("code") == c], what=f"status {code} recorded")

    def about_the_document() -> list[dict]:
        events = [e for e in receiver.events() if (e.get("data") or {}).get("document_id") == doc_id]
        assert len(events) >= 5, [e["type"] for e in events]
        return events

    events = eventually(stack_handle, about_the_document, timeout=60, what="five webhooks about the document")
    assert [e["type"] for e in events] == ["document.uploaded", "document.signed", "document.dispatched",
                                           "delivery.status", "delivery.status"]
    assert [e["data"].get("code") for e in events[3:]] == ["01", "03"]
    assert all(e["organ_id"] == H62 for e in events)
    assert [e["data"]["state"] for e in events[:3]] == ["UPLOADED", "SIGNED", "DISPATCHED"]
    stamps = [e["occurred_at"] for e in events]
    assert stamps == sorted(stamps), "in order of occurrence"
    assert len({e["id"] for e in events}) == 5
    _interoperable(receiver, sub["secret"])
    got = [r for r in receiver.received if r.status == 200 and r.event["id"] == events[0]["id"]]
    assert got[0].headers["webhook-id"] == events[0]["id"]

    # An inbound document from Văn phòng Chính phủ: inbox.received.
    folder = tmp_path / "vpcp"
    identity = local_identity(fresh_ca(folder / "ca"), G22, VPCP.name)
    signed = folder / "vpcp.pdf"
    from chalicelib.signing.pades import sign_pdf_file

    sign_pdf_file(sample_pdf, signed, identity)
    notation = f"VPCP-WH{uuid.uuid4().hex[:6].upper()}"
    header = vpcp_header("124", notation, "V/v thử webhook văn bản đến", content="Thử.")
    package = vpcp_package(tmp_path / f"{notation}.edxml", VPCP, [Organ(H62, "UBND tỉnh Vĩnh Phúc")], header,
                           Business(), signed)
    _send(g22, package, [H62], tmp_path)

    def inbox_event() -> dict:
        found = [e for e in receiver.events() if e["type"] == "inbox.received"
                 and e["data"].get("notation") == notation]
        assert len(found) == 1
        return found[0]

    event = eventually(stack_handle, inbox_event, timeout=90, what="inbox.received")
    assert event["organ_id"] == H62 and event["data"]["from_organ_id"] == G22 and event["data"]["inbox_id"]

    # Its sender revokes it: inbox.revoked, after inbox.received.
    revocation = vpcp_package(tmp_path / f"{notation}-revoked.edxml", VPCP, [Organ(H62, "UBND tỉnh Vĩnh Phúc")],
                              dataclass_replace(header, response_for=[_about(header)]),
                              Business(doc_type=1, reason="Ban hành nhầm.", document_id=header.document_id), None)
    _send(g22, revocation, [H62], tmp_path)

    def revoked_event() -> list[dict]:
        about = [e for e in receiver.events() if e["data"].get("inbox_id") == event["data"]["inbox_id"]]
        assert [e["type"] for e in about] == ["inbox.received", "inbox.revoked"]
        return about

    revoked = eventually(stack_handle, revoked_event, timeout=90, what="inbox.revoked")[1]
    assert revoked["data"]["revoked"] is True
    _interoperable(receiver, sub["secret"])


def test_a_failing_receiver_gets_the_event_once_after_recovery_and_a_dead_one_ends_in_the_dlq(
        client, stack_handle, subscribe):
    receiver = WebhookReceiver()
    receiver.fail_next = 3
    sub = subscribe(H03, receiver=receiver)
    sid, token = sub["subscription_id"], sub["token"]
    queued = client.call("POST", f"/v1/webhooks/{sid}/test", token)

    def delivered() -> list:
        assert [r.status for r in receiver.received] == [500, 500, 500, 200]
        return receiver.received

    got = eventually(stack_handle, delivered, timeout=60, what="three 500s then one 200")
    assert {r.headers["webhook-id"] for r in got} == {queued["event_id"]}
    assert all(r.verified for r in got)
    time.sleep(5)  # longer than any backoff here: nothing more comes
    assert [r.status for r in receiver.received] == [500, 500, 500, 200]
    (delivery,) = [d for d in client.call("GET", f"/v1/webhooks/{sid}/deliveries", token)["items"]
                   if d["event_id"] == queued["event_id"]]
    assert delivery["status"] == "delivered"
    assert [a.get("status_code") for a in delivery["attempts"]] == [500, 500, 500, 200]
    assert all(a["at"] and a["duration_ms"] >= 0 for a in delivery["attempts"])

    # A receiver that is down: a port nobody listens on.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    down = subscribe(H03, url=f"http://127.0.0.1:{port}/down")
    dead_event = client.call("POST", f"/v1/webhooks/{down['subscription_id']}/test", down["token"])["event_id"]

    def dead() -> dict:
        (item,) = client.call("GET", f"/v1/webhooks/{down['subscription_id']}/deliveries", down["token"])["items"]
        assert item["status"] == "dead", item
        return item

    item = eventually(stack_handle, dead, timeout=60, what="dead-lettered after the bound")
    assert item["attempt_count"] == 4, item
    assert all(a.get("error") == "connection_error" and "status_code" not in a
               for a in item["attempts"]), item["attempts"]
    admin = client.login("admin")
    listed = client.call("GET", "/v1/admin/dead-letters", admin, params={"queue": "webhooks"})["items"]
    assert [d for d in listed if d["event_id"] == dead_event and d["subscription_id"] == down["subscription_id"]]
    everything = client.call("GET", "/v1/admin/dead-letters", admin)["items"]
    assert any(d.get("event_id") == dead_event for d in everything)


def test_forbidden_addresses_other_agencies_and_secret_rotation(client, stack_handle, subscribe):
    token = client.login(client.user_for(H62))
    for url, code in (("https://10.0.0.7/hook", "webhook_url_forbidden_address"),
                      ("https://192.168.1.10/hook", "webhook_url_forbidden_address"),
                      ("https://169.254.169.254/latest/meta-data/", "webhook_url_forbidden_address"),
                      ("https://[fd00:ec2::254]/", "webhook_url_forbidden_address"),
                      ("https://[::ffff:10.0.0.1]/", "webhook_url_forbidden_address"),
                      ("https://100.64.0.1/", "webhook_url_forbidden_address"),
                      ("http://example.com/hook", "webhook_url_insecure"),
                      ("ftp://example.com/hook", "webhook_url_invalid")):
        with pytest.raises(ApiError) as refused:
            client.call("POST", "/v1/webhooks", token, json={"url": url, "events": ["*"]})
        assert (refused.value.status, refused.value.code) == (422, code), url

    receiver = WebhookReceiver()
    sub = subscribe(H62, receiver=receiver, events=["document.signed"])
    sid = sub["subscription_id"]
    other = client.login(client.user_for(H03))
    for method, path, body in (("GET", f"/v1/webhooks/{sid}", None), ("PATCH", f"/v1/webhooks/{sid}",
                                                                         {"active": False}),
                               ("DELETE", f"/v1/webhooks/{sid}", None), ("POST", f"/v1/webhooks/{sid}/test", None),
                               ("GET", f"/v1/webhooks/{sid}/deliveries", None),
                               ("POST", f"/v1/webhooks/{sid}/rotate-secret", {})):
        with pytest.raises(ApiError) as hidden:
            client.call(method, path, other, json=body)
        assert (hidden.value.status, hidden.value.code) == (404, "webhook_not_found"), (method, path)
    assert sid not in {s["subscription_id"] for s in client.call("GET", "/v1/webhooks", other)["items"]}
    admin = client.login("admin")
    assert sid in {s["subscription_id"] for s in client.call("GET", "/v1/webhooks", admin)["items"]}

    old = sub["secret"]
    rotated = client.call("POST", f"/v1/webhooks/{sid}/rotate-secret", sub["token"], json={})
    new = rotated["secret"]
    assert new != old and rotated["previous_secret_expires_at"]
    receiver.secrets = [old]  # a receiver that has not switched yet
    event_id = client.call("POST", f"/v1/webhooks/{sid}/test", sub["token"])["event_id"]
    got = eventually(stack_handle, lambda: [r for r in receiver.received if r.headers.get("webhook-id") == event_id],
                     timeout=30, what="the test event after rotation")
    assert got[0].status == 200 and got[0].verified_with == [0]
    Webhook(old).verify(got[0].body, got[0].headers)
    Webhook(new).verify(got[0].body, got[0].headers)
    assert len(got[0].headers["webhook-signature"].split()) == 2
