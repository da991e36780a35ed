"""The conditional writes amendments rely on, on moto's DynamoDB and SQS: a document is revoked once and only from
DISPATCHED, an update loses to a concurrent change, one run at a time sends an amendment, a FAILED one is taken up
again after a redrive, a lost message is queued again, and an inbox item takes each amendment package once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.moto_tables import REGION, mocked_aws
from tests.support.organs import G22, H62, K62

TABLE = "edoc-documents-test-amendments"
QUEUE = "edoc-dispatch-test-amendments"
DOC = "22222222-2222-2222-2222-222222222222"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    import boto3

    with mocked_aws(monkeypatch, documents_table=TABLE, DISPATCH_QUEUE=QUEUE):
        url = boto3.client("sqs", region_name=REGION).create_queue(QueueName=QUEUE)["QueueUrl"]
        from chalicelib.outbound.amendments import AmendmentStore

        store = AmendmentStore()
        store._table.put_item(Item={
            "pk": f"DOC#{DOC}", "sk": "META", "document_id": DOC, "organ_id": H62, "state": "DISPATCHED",
            "updated_at": "T0", "created_at": "T0"})
        store._table.put_item(Item={"pk": f"DOC#{DOC}", "sk": "META#BODY",  # chalicelib.adapters.record_body
                                    "metadata": {"recipients": [G22, K62]}})
        for organ in (G22, K62):
            store._table.put_item(Item={"pk": f"DOC#{DOC}", "sk": f"DELIVERY#{organ}", "organ_id": organ,
                                        "status": "SENT", "updated_at": "T0"})
        yield {"store": store, "queue_url": url, "sqs": boto3.client("sqs", region_name=REGION)}


def _messages(env: dict[str, Any]) -> list[dict[str, Any]]:
    resp = env["sqs"].receive_message(QueueUrl=env["queue_url"], MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in resp.get("Messages", [])]


def _revocation(at: str = "2026-11-25T03:00:00.000000Z") -> dict[str, Any]:
    from chalicelib.outbound import amendments as a

    return a.amendment_item(DOC, a.revocation_id(DOC), a.REVOKE, reason="sai", by="clerk", at=at,
                            targets=[G22, K62])


def test_a_document_is_revoked_once_and_only_from_dispatched(env):
    from chalicelib.adapters.dynamo import ConditionFailed

    store = env["store"]
    item = _revocation()
    store.create_revocation(item)
    record, events, _ = store.get_full(DOC)
    assert record["state"] == "REVOKED" and record["revocation_reason"] == "sai" and record["amendments_count"] == 1
    assert [e["state"] for e in events] == ["REVOKED"]
    with pytest.raises(ConditionFailed):
        store.create_revocation(item)
    assert store.get_amendment(DOC, item["amendment_id"])["status"] == "PENDING"


def test_an_update_loses_to_a_change_made_since_it_read_the_record(env):
    from chalicelib.adapters.dynamo import ConditionFailed
    from chalicelib.outbound import amendments as a

    store = env["store"]
    record = store.get(DOC)
    first = a.amendment_item(DOC, "u1", a.UPDATE, reason="r", by="c", at="T1", targets=[G22, K62],
                             recipients=[G22])
    store.create_update(record, first)
    assert store.get(DOC)["metadata"]["recipients"] == [G22]
    with pytest.raises(ConditionFailed):
        store.create_update(record, a.amendment_item(DOC, "u2", a.UPDATE, reason="r", by="c", at="T2",
                                                     targets=[G22, K62], recipients=[G22, K62]))
    assert store.get_amendment(DOC, "u2") is None, "all or nothing"


def test_one_run_at_a_time_sends_an_amendment_and_a_failed_one_is_taken_up_again(env):
    from chalicelib.outbound import amendments as a

    store = env["store"]
    item = _revocation()
    store.create_revocation(item)
    lease = store.claim_amendment(item)
    assert lease and store.claim_amendment(item) is None, "a second run waits"
    store.finish_amendment(item, lease, a.FAILED, {"reason_code": "axis_rejected", "failed_at": "T"})
    failed = store.get_amendment(DOC, item["amendment_id"])
    assert failed["status"] == "FAILED" and "gsi1pk" not in failed, "not requeued: it waits in the DLQ"
    again = store.claim_amendment(item)  # the message was redriven
    taken = store.get_amendment(DOC, item["amendment_id"])
    assert again and taken["status"] == "PENDING" and "reason_code" not in taken and taken["attempts"] == 2
    assert taken["reason"] == "sai", "the sender's reason stays: it goes into the package"
    store.finish_amendment(item, again, a.SENT, {"sent_at": "T"})
    assert store.claim_amendment(item) is None, "a SENT amendment is never sent again"


def test_a_request_is_marked_on_the_delivery_once_and_an_answer_is_not_overwritten_by_a_retry(env):
    from chalicelib.outbound import amendments as a

    store = env["store"]
    item = _revocation()
    request = a.delivery_request(item, G22)
    store.mark_asked(DOC, G22, "revocation", request)
    store._table.update_item(Key={"pk": f"DOC#{DOC}", "sk": f"DELIVERY#{G22}"},
                             UpdateExpression="SET revocation.#s = :agreed", ExpressionAttributeNames={"#s": "status"},
                             ExpressionAttributeValues={":agreed": "AGREED"})
    store.mark_asked(DOC, G22, "revocation", request)  # a retried run
    row = store.get_full(DOC)[2]
    assert next(d for d in row if d["organ_id"] == G22)["revocation"]["status"] == "AGREED"
    store.mark_asked(DOC, "000.00.00.H49", "revocation", request)  # never sent there: no row is made up
    assert "000.00.00.H49" not in {d["organ_id"] for d in store.get_full(DOC)[2]}


def test_a_lost_message_is_queued_again_once_the_amendment_is_stale(env):
    import time
    from datetime import UTC, datetime

    from chalicelib.outbound import amendments as a

    store = env["store"]
    queued = time.time() - a.STALE_SECONDS - 60
    item = _revocation(at=datetime.fromtimestamp(queued, UTC).isoformat(timespec="microseconds")
                       .replace("+00:00", "Z"))
    store.create_revocation(item)
    assert a.requeue_stale(now=queued + 60) == 0, "a minute after it was queued: not stale yet"
    assert a.requeue_stale() == 1
    assert _messages(env) == [{"type": "amendment", "document_id": DOC, "amendment_id": item["amendment_id"]}]
    assert a.requeue_stale() == 0, "queued again just now: it waits its time again"
    lease = store.claim_amendment(item)
    store.finish_amendment(item, lease, a.SENT, {"sent_at": "T"})
    assert a.requeue_stale(now=time.time() + 10 * a.STALE_SECONDS) == 0, "a SENT amendment leaves the open list"


def test_an_inbox_item_takes_each_amendment_package_once(env):
    from chalicelib.adapters.dynamo import ConditionFailed
    from chalicelib.adapters.inbound_store import InboundStore
    from chalicelib.inbound.amendments import answer_entry

    store = InboundStore()
    store._table.put_item(Item={"pk": "INBOX#i1", "sk": "META", "inbox_id": "i1", "organ_id": H62,
                                "status_history": [], "revoked": False})

    def apply(envelope: str, sha: str, *, only_if_not_revoked: bool) -> None:
        store.apply_amendment(
            "i1", sets={"revoked": True} if only_if_not_revoked else {},
            appends={"updates": [{"axis_doc_id": envelope}], "status_history": [answer_entry("T", "x")]}, at="T",
            outbox={"pk": f"OUTBOX#{H62}", "sk": f"STATUS#i1#15#{envelope}"},
            envelope={"axis_doc_id": envelope, "organ_id": H62, "received_at": "T", "outcome": "x"},
            package_sha256=sha, only_if_not_revoked=only_if_not_revoked)

    apply("e1", "h1", only_if_not_revoked=False)
    with pytest.raises(ConditionFailed):
        apply("e2", "h1", only_if_not_revoked=False)  # the same package in a second envelope
    apply("e3", "h3", only_if_not_revoked=True)
    with pytest.raises(ConditionFailed):
        apply("e4", "h4", only_if_not_revoked=True)  # revoked already
    item = store.get_inbox_item("i1")
    assert [u["axis_doc_id"] for u in item["updates"]] == ["e1", "e3"] and item["revoked"] is True
    assert len(item["status_history"]) == 2 and store.get_envelope("e2", H62) is None
