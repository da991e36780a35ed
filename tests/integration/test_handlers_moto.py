"""The Lambda handlers `sign_document` and `dispatch_document`, invoked as Lambda invokes them, on moto.

Real pieces everywhere: the S3 → SQS notification moto sends for an upload, the SQS messages as received (receive
counts, redrive to the DLQ), the Lambda SQS event built from them, KMS signing, DynamoDB conditional writes, and
the axis simulator over HTTP. Only the poller is played by the test (tests/integration/conftest.py: LambdaQueue),
so each test can say exactly which messages Lambda hands over, and how often.

Contract checked throughout: a message that must be retried is reported in `batchItemFailures` (the queue's event
source mapping has ReportBatchItemFailures); a permanent outcome (REJECTED, FAILED for a business reason, a
duplicate, something to ignore) is not, so SQS deletes it.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import pytest

from devstack import demo_data
from tests.support import uploads
from tests.support.handlers import RECIPIENTS, HandlerEnv, assert_not_retried, assert_reported_failed, axis_packages
from tests.support.organs import G22, H03, H62, K62
from tests.support.records import full, incoming, object_bytes, raw_item, sha256, signed, states_of, versions

NO_KEY = "000.00.14.H62"  # a served agency registered without a signing key (set up by a test)


# -- fixtures ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def env(handler_env: HandlerEnv) -> HandlerEnv:
    return handler_env


@pytest.fixture(scope="module")
def initial_upload_messages(env: HandlerEnv) -> list[dict[str, Any]]:
    """What the upload queue held right after provisioning (before any test purged it)."""
    return env.upload.receive()


@pytest.fixture(autouse=True)
def clean(env: HandlerEnv, initial_upload_messages: list[dict[str, Any]]) -> Iterator[None]:
    """Empty queues, no faults, no packages on the axis: each test sees only its own traffic."""
    env.reset()
    yield
    env.simulator.reset()


@pytest.fixture(scope="module")
def pdf(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    from devstack.sample_pdf import render_text_pdf

    sample = demo_data.SAMPLES[0]
    path = render_text_pdf(sample.metadata["subject"], sample.text(), tmp_path_factory.mktemp("pdf") / "cv.pdf")
    return path.read_bytes()


# -- helpers ----------------------------------------------------------------------------------------------------


def create_record(organ_id: str = H62, recipients: list[str] | None = None) -> str:
    """`POST /v1/documents` as a clerk of `organ_id` would (the use case itself, not over HTTP)."""
    from chalicelib.api.auth import Caller
    from chalicelib.outbound.documents import create_document

    metadata = {**demo_data.SAMPLES[0].metadata, "recipients": list(recipients or RECIPIENTS)}
    return uploads.remember(create_document(Caller(f"clerk-{organ_id}", organ_id, False), metadata))["document_id"]


def put_upload(env: HandlerEnv, key: str, data: bytes) -> list[dict[str, Any]]:
    """The client's upload; returns the S3 notification message(s) it put on the upload queue."""
    env.s3.put_object(Bucket=env.bucket, Key=key, Body=data, ContentType="application/pdf",
                      Metadata=uploads.metadata(key))
    messages = env.upload.receive()
    assert len(messages) == 1, messages
    event = json.loads(messages[0]["Body"])
    assert [unquote_plus(r["s3"]["object"]["key"]) for r in event["Records"]] == [key]  # keys arrive URL-encoded
    return messages


def set_fields(document_id: str, **fields: Any) -> None:
    """Write record fields directly in DynamoDB (another worker's lease, a state), bypassing the app."""
    from chalicelib.adapters import aws
    from chalicelib.core import settings

    names = {f"#n{i}": k for i, k in enumerate(fields)}
    values = {f":v{i}": v for i, v in enumerate(fields.values())}
    aws.table(settings.DOCUMENTS_TABLE).update_item(
        Key={"pk": f"DOC#{document_id}", "sk": "META"},
        UpdateExpression="SET " + ", ".join(f"#n{i} = :v{i}" for i in range(len(fields))),
        ExpressionAttributeNames=names, ExpressionAttributeValues=values)


def dispatch_ids(messages: list[dict[str, Any]]) -> list[str]:
    return [json.loads(m["Body"])["document_id"] for m in messages]


@dataclass
class Doc:
    document_id: str
    organ_id: str
    upload_messages: list[dict[str, Any]]
    upload_record: dict[str, Any]  # the Lambda SQS record of the upload notification
    dispatch_messages: list[dict[str, Any]]


def upload_and_sign(env: HandlerEnv, pdf: bytes, organ_id: str = H62, recipients: list[str] | None = None) -> Doc:
    """Given a record and its upload, when sign_document handles the notification, then SIGNED (checked)."""
    document_id = create_record(organ_id, recipients)
    messages = put_upload(env, incoming(organ_id, document_id), pdf)
    record = env.upload.record(messages[0])
    assert_not_retried(env.upload.deliver(messages))
    assert raw_item(document_id)["state"] == "SIGNED"
    dispatch = env.dispatch.receive()
    assert dispatch_ids(dispatch) == [document_id]
    return Doc(document_id, organ_id, messages, record, dispatch)


# -- 1. the happy path --------------------------------------------------------------------------------------------


def test_upload_is_signed_then_dispatched_one_package_per_recipient_with_paper_flag(
        env: HandlerEnv, pdf: bytes, tmp_path: Path) -> None:
    from chalicelib.standards.edxml import parse_package

    # given a record AWAITING_UPLOAD and the client's upload, which makes S3 notify the upload queue
    document_id = create_record(H62, RECIPIENTS)
    messages = put_upload(env, incoming(H62, document_id), pdf)

    # when Lambda hands the notification to sign_document
    inv = env.upload.deliver(messages)

    # then the record is SIGNED with the digests of the uploaded and the signed bytes
    assert_not_retried(inv)
    record, events, deliveries = full(document_id)
    assert record["state"] == "SIGNED"
    assert states_of(events) == ["AWAITING_UPLOAD", "UPLOADED", "SIGNED"]
    assert "lease_owner" not in record and "lease_until" not in record
    signed_pdf = object_bytes(env, signed(H62, document_id))
    assert record["original_sha256"] == sha256(pdf)
    assert record["signed_sha256"] == sha256(signed_pdf)
    assert record["signed_key"] == signed(H62, document_id)
    assert record["signed_size"] == len(signed_pdf)
    # an incremental update of the original: its bytes come first, unchanged, then the signature
    assert signed_pdf.startswith(pdf) and len(signed_pdf) > len(pdf) and b"/ByteRange" in signed_pdf[len(pdf):]
    assert len(versions(env, signed(H62, document_id))) == 1
    # so the upload itself is dropped (one copy of the document, not two): its bytes are the signed file's start
    assert record["original_size"] == len(pdf) and versions(env, incoming(H62, document_id)) == []
    # and the signed document is a record of the archive: locked (governance) for ARCHIVE_RETENTION_DAYS (1 here)
    head = env.s3.head_object(Bucket=env.bucket, Key=signed(H62, document_id))
    assert head["ObjectLockMode"] == "GOVERNANCE"
    left = head["ObjectLockRetainUntilDate"] - datetime.now(UTC)
    assert timedelta(hours=23) < left <= timedelta(days=1)
    with pytest.raises(env.s3.exceptions.ClientError):  # no one deletes a version under retention without bypass
        env.s3.delete_object(Bucket=env.bucket, Key=signed(H62, document_id), VersionId=head["VersionId"])
    assert deliveries == {}
    # and exactly one dispatch message is waiting
    dispatch = env.dispatch.receive()
    assert dispatch_ids(dispatch) == [document_id]

    # when Lambda hands that message to dispatch_document
    inv = env.dispatch.deliver(dispatch)

    # then DISPATCHED, one SENT delivery per recipient carrying the DocId the axis answered
    assert_not_retried(inv)
    record, events, deliveries = full(document_id)
    assert record["state"] == "DISPATCHED"
    assert states_of(events) == ["AWAITING_UPLOAD", "UPLOADED", "SIGNED", "DISPATCHED"]
    assert "dispatch_lease" not in record and "dispatch_lease_until" not in record
    assert sorted(deliveries) == sorted(RECIPIENTS)
    packages = axis_packages(env)
    assert sorted(p["to"] for p in packages) == sorted(RECIPIENTS)  # one package per recipient, no more
    by_recipient = {p["to"]: p for p in packages}
    for organ_id, delivery in deliveries.items():
        package = by_recipient[organ_id]
        assert delivery["status"] == "SENT"
        assert delivery["axis_doc_id"] == package["sendId"] == package["docId"]
        assert package["from"] == H62 and package["messageType"] == "edoc"
        assert delivery["paper"] is (organ_id == K62)
        # and the package itself: Paper=1 only for the agency that also gets paper, the signed PDF attached
        with parse_package(env.simulator.package_path(package["docId"]), tmp_dir=str(tmp_path)) as parsed:
            assert parsed.paper == (1 if organ_id == K62 else 0)
            assert parsed.sender.organ_id == H62
            assert sorted(r.organ_id for r in parsed.recipients) == sorted(RECIPIENTS)
            assert parsed.code_number == "7413" and parsed.code_notation == "UBND-VX3"
            assert len(parsed.attachments) == 1
            assert sha256(Path(parsed.attachments[0].path).read_bytes()) == record["signed_sha256"]
    assert env.dispatch.receive() == []


# -- 2. duplicate upload notifications ----------------------------------------------------------------------------


def test_redelivered_upload_event_after_dispatch_changes_nothing(env: HandlerEnv, pdf: bytes) -> None:
    # given a document signed and dispatched
    doc = upload_and_sign(env, pdf)
    assert_not_retried(env.dispatch.deliver(doc.dispatch_messages))
    before_item = raw_item(doc.document_id)
    _, before_events, before_deliveries = full(doc.document_id)
    before_versions = versions(env, signed(H62, doc.document_id))
    assert len(axis_packages(env)) == len(RECIPIENTS)

    # when the same upload message is delivered again (same messageId, second receive)
    inv = env.upload.invoke([env.upload.redelivered(doc.upload_record, 2)])

    # then it is consumed and nothing changes: no second signature, no timeline entry, nothing re-sent
    assert_not_retried(inv)
    assert raw_item(doc.document_id) == before_item
    _, events, deliveries = full(doc.document_id)
    assert events == before_events and deliveries == before_deliveries
    assert versions(env, signed(H62, doc.document_id)) == before_versions
    assert env.dispatch.receive() == []
    assert len(axis_packages(env)) == len(RECIPIENTS)


def test_duplicate_notifications_in_one_batch_sign_once_and_dispatch_once(env: HandlerEnv, pdf: bytes) -> None:
    # given one upload whose notification arrives twice, as two SQS messages in the same batch
    document_id = create_record()
    messages = put_upload(env, incoming(H62, document_id), pdf)
    first = env.upload.record(messages[0])
    second = env.upload.duplicate(first)

    # when sign_document gets both in one invocation
    inv = env.upload.invoke([first, second])

    # then one signature: one object version, one SIGNED event, the digest of that one object
    assert_not_retried(inv)
    record, events, _ = full(document_id)
    assert states_of(events) == ["AWAITING_UPLOAD", "UPLOADED", "SIGNED"]
    assert len(versions(env, signed(H62, document_id))) == 1
    assert record["signed_sha256"] == sha256(object_bytes(env, signed(H62, document_id)))

    # when every dispatch message it produced is handled, in one batch
    dispatch = env.dispatch.receive()
    assert dispatch and set(dispatch_ids(dispatch)) == {document_id}
    assert_not_retried(env.dispatch.deliver(dispatch))

    # then exactly one package per recipient reached the axis
    assert full(document_id)[0]["state"] == "DISPATCHED"
    assert sorted(p["to"] for p in axis_packages(env)) == sorted(RECIPIENTS)


def test_concurrent_duplicate_notifications_sign_once(env: HandlerEnv, pdf: bytes) -> None:
    # given one upload notified twice, handled by two Lambda instances at the same moment
    document_id = create_record()
    messages = put_upload(env, incoming(H62, document_id), pdf)
    records = [env.upload.record(messages[0])]
    records.append(env.upload.duplicate(records[0]))
    # when both run concurrently
    results = env.upload.invoke_concurrently(records, timeout=60)
    assert len(results) == 2
    # and whatever lost the lease is retried by SQS until it finds the record SIGNED
    for inv in results:
        for message_id in inv.retried:
            record = next(r for r in records if r["messageId"] == message_id)
            assert_not_retried(env.upload.invoke([env.upload.redelivered(record, 2)]))

    # then the document was signed once
    record, events, _ = full(document_id)
    assert states_of(events).count("SIGNED") == 1 and record["state"] == "SIGNED"
    assert len(versions(env, signed(H62, document_id))) == 1
    assert record["signed_sha256"] == sha256(object_bytes(env, signed(H62, document_id)))
    # and however many dispatch messages there are, one package per recipient
    dispatch = env.dispatch.receive()
    assert_not_retried(env.dispatch.deliver(dispatch))
    assert sorted(p["to"] for p in axis_packages(env)) == sorted(RECIPIENTS)


# -- 3. redelivered dispatch message ------------------------------------------------------------------------------


def test_dispatch_message_redelivered_after_dispatched_sends_nothing(env: HandlerEnv, pdf: bytes) -> None:
    # given a dispatched document and the dispatch message's Lambda record
    doc = upload_and_sign(env, pdf)
    dispatch_record = env.dispatch.record(doc.dispatch_messages[0])
    assert_not_retried(env.dispatch.deliver(doc.dispatch_messages))
    before_item = raw_item(doc.document_id)
    _, before_events, before_deliveries = full(doc.document_id)
    sent = axis_packages(env)
    assert len(sent) == len(RECIPIENTS)

    # when SQS delivers the same message again, and a producer's duplicate too
    inv = env.dispatch.invoke([env.dispatch.redelivered(dispatch_record, 2), env.dispatch.duplicate(dispatch_record)])

    # then nothing is sent again and nothing changes
    assert_not_retried(inv)
    assert axis_packages(env) == sent
    assert raw_item(doc.document_id) == before_item
    _, events, deliveries = full(doc.document_id)
    assert events == before_events and deliveries == before_deliveries


# -- 4. a lease held by another worker ----------------------------------------------------------------------------


def test_upload_while_another_worker_holds_the_lease_is_retried_and_changes_nothing(env: HandlerEnv,
                                                                                    pdf: bytes) -> None:
    # given an upload another worker has claimed (UPLOADED, lease not expired)
    document_id = create_record()
    messages = put_upload(env, incoming(H62, document_id), pdf)
    set_fields(document_id, state="UPLOADED", lease_owner="another-worker", lease_until=int(time.time()) + 60)
    before_item = raw_item(document_id)
    _, before_events, _ = full(document_id)

    # when sign_document gets the notification
    inv = env.upload.invoke([env.upload.record(messages[0])])

    # then the record is untouched, nothing is signed or enqueued
    assert raw_item(document_id) == before_item
    assert full(document_id)[1] == before_events
    assert versions(env, signed(H62, document_id)) == []
    assert env.dispatch.receive() == []
    # and the message is reported in batchItemFailures, so SQS delivers it again later
    assert_reported_failed(inv, {messages[0]["MessageId"]})


def test_upload_whose_lease_expired_is_taken_over_and_signed(env: HandlerEnv, pdf: bytes) -> None:
    # given an upload claimed by a worker that died (lease expired)
    document_id = create_record()
    messages = put_upload(env, incoming(H62, document_id), pdf)
    set_fields(document_id, state="UPLOADED", lease_owner="dead-worker", lease_until=int(time.time()) - 1)

    # when SQS redelivers the notification
    inv = env.upload.invoke([env.upload.redelivered(env.upload.record(messages[0]), 2)])

    # then this worker takes over and signs; the lease is gone
    assert_not_retried(inv)
    record = raw_item(document_id)
    assert record["state"] == "SIGNED" and "lease_owner" not in record and "lease_until" not in record
    assert record["signed_sha256"] == sha256(object_bytes(env, signed(H62, document_id)))
    assert dispatch_ids(env.dispatch.receive()) == [document_id]


def test_dispatch_while_another_worker_holds_the_lease_is_retried_and_sends_nothing(env: HandlerEnv,
                                                                                   pdf: bytes) -> None:
    # given a signed document whose dispatch another worker has claimed
    doc = upload_and_sign(env, pdf)
    set_fields(doc.document_id, dispatch_lease="another-worker", dispatch_lease_until=int(time.time()) + 60)
    before_item = raw_item(doc.document_id)
    _, before_events, _ = full(doc.document_id)

    # when dispatch_document gets the message
    inv = env.dispatch.invoke([env.dispatch.record(doc.dispatch_messages[0])])

    # then nothing is sent, nothing changes, and SQS will deliver the message again
    assert axis_packages(env) == []
    assert raw_item(doc.document_id) == before_item
    assert full(doc.document_id)[1] == before_events
    assert_reported_failed(inv, {doc.dispatch_messages[0]["MessageId"]})


# -- 5. the axis refuses the package (permanent) ------------------------------------------------------------------


def test_axis_business_error_fails_the_record_without_retry(env: HandlerEnv, pdf: bytes) -> None:
    # given a signed document and an axis that refuses every package
    doc = upload_and_sign(env, pdf)
    env.simulator.add_fault({"kind": "business_error", "paths": ["/sendEdoc"], "error_code": "9001",
                             "error_desc": "Gói tin không hợp lệ (giả lập)."})

    # when dispatch_document handles the message
    inv = env.dispatch.deliver(doc.dispatch_messages)

    # then FAILED with the axis's code, and the message is consumed (retrying gives the same answer)...
    assert_not_retried(inv)
    record, events, deliveries = full(doc.document_id)
    assert record["state"] == "FAILED"
    assert record["reason"] == "axis_rejected"
    assert record["axis_error_code"] == "9001"
    assert "dispatch_lease" not in record and "dispatch_lease_until" not in record
    assert states_of(events)[-1] == "FAILED" and events[-1]["detail"]["reason"] == "axis_rejected"
    assert axis_packages(env) == []
    assert all(d["status"] != "SENT" for d in deliveries.values())
    assert env.dispatch.receive() == []
    # ...after the handler put it on the dead-letter queue itself, at once, for an administrator
    dead = env.dispatch_dlq.receive()
    assert dispatch_ids(dead) == [doc.document_id]
    assert dead[0]["MessageAttributes"]["reason"]["StringValue"] == "axis_rejected"
    assert dead[0]["MessageAttributes"]["axis_error_code"]["StringValue"] == "9001"


# -- 6. the axis is down (transient) ------------------------------------------------------------------------------


def test_axis_5xx_is_retried_then_fails_on_the_last_receive_and_goes_to_the_dlq(env: HandlerEnv,
                                                                                 pdf: bytes) -> None:
    # given two signed documents from two agencies, and an axis answering 503 to one of them (H62)
    faulty = upload_and_sign(env, pdf, H62, [G22, K62])
    healthy = upload_and_sign(env, pdf, H03, [G22])
    env.simulator.add_fault({"kind": "5xx", "paths": ["/sendEdoc"], "systems": [H62], "http_status": 503})
    messages = faulty.dispatch_messages + healthy.dispatch_messages

    # when both dispatch messages arrive in one batch
    inv = env.dispatch.deliver(messages)

    # then only the faulty one is reported in batchItemFailures; the other is dispatched
    assert inv.reported == {faulty.dispatch_messages[0]["MessageId"]}
    assert_reported_failed(inv, {faulty.dispatch_messages[0]["MessageId"]})
    assert full(healthy.document_id)[0]["state"] == "DISPATCHED"
    assert [p["to"] for p in axis_packages(env, sender=H03)] == [G22]
    # and the faulty one is still SIGNED, its lease released for the retry, nothing on the axis
    record = raw_item(faulty.document_id)
    assert record["state"] == "SIGNED" and int(record["dispatch_lease_until"]) == 0
    assert axis_packages(env, sender=H62) == []

    # when SQS delivers it again and again (receive counts 2..5) while the axis stays down
    counts = []
    for _ in range(4):
        again = env.dispatch.receive()
        assert [m["MessageId"] for m in again] == [faulty.dispatch_messages[0]["MessageId"]]
        counts.append(int(again[0]["Attributes"]["ApproximateReceiveCount"]))
        inv = env.dispatch.deliver(again)
        assert inv.retried == {again[0]["MessageId"]}  # every attempt is left for SQS
        if counts[-1] < 5:
            assert raw_item(faulty.document_id)["state"] == "SIGNED"

    # then on the fifth receive the record is FAILED (axis_unavailable), and the message is still failed...
    assert counts == [2, 3, 4, 5]
    record, events, _ = full(faulty.document_id)
    assert record["state"] == "FAILED" and record["reason"] == "axis_unavailable"
    assert record["last_error"] == "AxisTransientError"
    assert "dispatch_lease" not in record
    assert states_of(events)[-2:] == ["SIGNED", "FAILED"]
    # ...so SQS moves it to the dead-letter queue instead of a sixth delivery
    assert env.dispatch.receive() == []
    assert dispatch_ids(env.dispatch_dlq.receive()) == [faulty.document_id]
    assert axis_packages(env, sender=H62) == []


def test_dispatch_retried_after_one_transient_failure_completes_once_per_recipient(
        env: HandlerEnv, pdf: bytes, sequential_sends: None) -> None:
    from chalicelib.outbound.dispatch import IN_PLACE_TRIES

    # given a signed document and an axis that answers 503 to the next sendEdoc calls, as many as the handler
    # tries in place within one delivery
    doc = upload_and_sign(env, pdf)
    env.simulator.add_fault({"kind": "5xx", "paths": ["/sendEdoc"], "count": IN_PLACE_TRIES})

    # when the first delivery fails (its first recipient's delivery row is left PENDING)...
    first = env.dispatch.deliver(doc.dispatch_messages)
    assert first.retried == {doc.dispatch_messages[0]["MessageId"]}
    assert raw_item(doc.document_id)["state"] == "SIGNED"
    assert [d["status"] for d in full(doc.document_id)[2].values()] == ["PENDING"]
    # ...and SQS delivers the message again
    again = env.dispatch.receive()
    assert [int(m["Attributes"]["ApproximateReceiveCount"]) for m in again] == [2]
    inv = env.dispatch.deliver(again)

    # then the retry completes: DISPATCHED, every delivery SENT, one package per recipient on the axis
    assert_not_retried(inv)
    record, _, deliveries = full(doc.document_id)
    assert record["state"] == "DISPATCHED"
    assert {o: d["status"] for o, d in deliveries.items()} == {o: "SENT" for o in RECIPIENTS}
    assert sorted(p["to"] for p in axis_packages(env)) == sorted(RECIPIENTS)


def test_dispatch_after_a_worker_died_midway_skips_recipients_already_sent(env: HandlerEnv, pdf: bytes) -> None:
    from chalicelib.adapters.document_store import DocumentStore

    # given a signed document whose previous dispatch sent to G22 and then died (row SENT, lease expired)
    doc = upload_and_sign(env, pdf)
    store = DocumentStore()
    store.put_delivery_intent(doc.document_id, G22)
    store.mark_delivery_sent(doc.document_id, G22, "0123456789abcdef01234567", paper=False)
    set_fields(doc.document_id, dispatch_lease="dead-worker", dispatch_lease_until=int(time.time()) - 1,
               dispatch_started_at="2026-12-04T00:00:00Z")  # what its claim wrote

    # when SQS delivers the dispatch message again
    inv = env.dispatch.invoke([env.dispatch.redelivered(env.dispatch.record(doc.dispatch_messages[0]), 2)])

    # then only the recipients not served yet get a package; G22's delivery keeps its DocId
    assert_not_retried(inv)
    record, _, deliveries = full(doc.document_id)
    assert record["state"] == "DISPATCHED"
    assert sorted(p["to"] for p in axis_packages(env)) == sorted([K62, H03])
    assert deliveries[G22]["axis_doc_id"] == "0123456789abcdef01234567"
    assert {o: d["status"] for o, d in deliveries.items()} == {o: "SENT" for o in RECIPIENTS}


def test_axis_refusing_our_credentials_fails_the_record_on_the_last_receive(env: HandlerEnv, pdf: bytes) -> None:
    """An axis authentication failure (HTTP 401, AxisAuthError) is neither business nor transient: on the last
    receive it must still end FAILED, not leave the record SIGNED (and leased) while the message goes to the DLQ."""
    doc = upload_and_sign(env, pdf, H62, [G22])
    secret = env.provisioned.axis_systems_served[H62]
    env.simulator.add_system(H62, "a-secret-the-gateway-does-not-have")
    try:
        # when the last allowed delivery of the dispatch message meets the refusal
        inv = env.dispatch.invoke([env.dispatch.redelivered(env.dispatch.record(doc.dispatch_messages[0]), 5)])
    finally:
        env.simulator.add_system(H62, secret)

    # then the message is left to SQS (→ DLQ) and the record says FAILED, so an admin sees and retries it
    assert inv.retried == {doc.dispatch_messages[0]["MessageId"]}
    record = raw_item(doc.document_id)
    assert axis_packages(env) == []
    assert record["state"] == "FAILED", f"record left {record['state']} with the message on its way to the DLQ"
    assert record["reason"] == "axis_unavailable"
    assert "dispatch_lease" not in record


# -- 7. no signing key --------------------------------------------------------------------------------------------


def test_agency_without_signing_key_fails_without_retry(env: HandlerEnv, pdf: bytes) -> None:
    from chalicelib.adapters import aws
    from chalicelib.core import settings

    # given a served agency registered without a signing key, and its upload
    aws.table(settings.AGENCIES_TABLE).put_item(Item={
        "organ_id": NO_KEY, "name": "Sở Tư pháp tỉnh Vĩnh Phúc", "active": True, "served": True, "paper": False})
    document_id = create_record(NO_KEY, [G22])
    messages = put_upload(env, incoming(NO_KEY, document_id), pdf)

    # when sign_document handles the notification
    inv = env.upload.deliver(messages)

    # then FAILED (signing_key_unavailable) and the message is consumed: retrying cannot help, an admin must
    assert_not_retried(inv)
    record, events, _ = full(document_id)
    assert record["state"] == "FAILED" and record["reason"] == "signing_key_unavailable"
    assert "lease_owner" not in record and "lease_until" not in record
    assert states_of(events) == ["AWAITING_UPLOAD", "UPLOADED", "FAILED"]
    assert events[-1]["detail"]["reason"] == "signing_key_unavailable"
    assert versions(env, signed(NO_KEY, document_id)) == []
    assert env.dispatch.receive() == []
    assert env.upload.receive() == []


# -- 8. events to ignore ------------------------------------------------------------------------------------------


def test_s3_test_event_is_ignored(env: HandlerEnv, initial_upload_messages: list[dict[str, Any]]) -> None:
    # given the s3:TestEvent S3 sent when provisioning configured the bucket's notification
    tests = [m for m in initial_upload_messages if json.loads(m["Body"]).get("Event") == "s3:TestEvent"]
    assert tests, "moto sent no s3:TestEvent on put_bucket_notification_configuration"

    # when sign_document gets it
    inv = env.upload.invoke([env.upload.record(tests[0])])

    # then it is consumed and nothing happens
    assert_not_retried(inv)
    assert env.dispatch.receive() == []


@pytest.mark.parametrize("key_of", [
    lambda organ, doc: f"incoming/{organ}/{doc}.txt",
    lambda organ, doc: f"incoming/{organ}/extra/{doc}.pdf",
    lambda organ, doc: f"incoming/{organ}/{doc.upper()}.pdf",
    lambda organ, doc: f"incoming/{organ}/not-a-uuid.pdf",
], ids=["not-pdf", "nested", "uppercase-uuid", "not-a-uuid"])
def test_upload_outside_the_incoming_key_pattern_is_ignored(env: HandlerEnv, pdf: bytes, key_of: Any) -> None:
    # given a record AWAITING_UPLOAD and an object whose key is not incoming/<organ>/<uuid>.pdf
    document_id = create_record()
    key = key_of(H62, document_id)
    messages = put_upload(env, key, pdf)
    before_item = raw_item(document_id)

    # when sign_document gets its notification
    inv = env.upload.deliver(messages)

    # then it is consumed, the record is untouched, nothing is signed or enqueued
    assert_not_retried(inv)
    assert raw_item(document_id) == before_item
    assert versions(env, signed(H62, document_id)) == []
    assert env.dispatch.receive() == []


# -- 9. an object under another agency's prefix -------------------------------------------------------------------


def test_upload_under_another_organ_prefix_is_ignored(env: HandlerEnv, pdf: bytes) -> None:
    # given H62's record, and an object with its document id uploaded under H03's prefix
    document_id = create_record(H62)
    messages = put_upload(env, incoming(H03, document_id), pdf)
    before_item = raw_item(document_id)
    _, before_events, _ = full(document_id)

    # when sign_document gets the notification
    inv = env.upload.deliver(messages)

    # then it is consumed and ignored: H62's record unchanged, nothing signed under either prefix
    assert_not_retried(inv)
    assert raw_item(document_id) == before_item
    assert full(document_id)[1] == before_events
    assert versions(env, signed(H62, document_id)) == [] and versions(env, signed(H03, document_id)) == []
    assert env.dispatch.receive() == []


def test_unknown_document_id_is_ignored(env: HandlerEnv, pdf: bytes) -> None:
    # given an object at a well-formed key for which no record exists
    document_id = str(uuid.uuid4())
    messages = put_upload(env, incoming(H62, document_id), pdf)

    # when sign_document gets the notification
    inv = env.upload.deliver(messages)

    # then it is consumed, no record appears, nothing is signed
    assert_not_retried(inv)
    assert raw_item(document_id) is None
    assert versions(env, signed(H62, document_id)) == []
    assert env.dispatch.receive() == []


# -- 10. dispatch resilience: backoff, reconciling lost answers, dead letters and redrive -------------------------


ADMIN = "000.00.01.H62"


def admin() -> Any:
    from chalicelib.api.auth import Caller

    return Caller("admin", ADMIN, True)


def clerk() -> Any:
    from chalicelib.api.auth import Caller

    return Caller("clerk-ubnd-vp", H62, False)


@pytest.fixture
def sequential_sends(monkeypatch: pytest.MonkeyPatch) -> None:
    """One recipient after the other (DISPATCH_PARALLEL_SENDS=1): the fault scenarios below hit "the next send",
    which is only one recipient's when sends do not overlap."""
    import dataclasses

    from chalicelib.outbound import dispatch

    real = dispatch.get_settings()
    monkeypatch.setattr(dispatch, "get_settings", lambda: dataclasses.replace(real, dispatch_parallel_sends=1))


@pytest.fixture
def short_axis_timeout(env: HandlerEnv) -> Iterator[float]:
    """The axis secret's optional `timeout` set to 1 s (read by credentials.axis_client_for), restored afterwards."""
    from chalicelib.adapters import aws
    from chalicelib.adapters.axis import credentials
    from chalicelib.core import settings

    sm = aws.client("secretsmanager")
    original = sm.get_secret_value(SecretId=settings.AXIS_SECRET_NAME)["SecretString"]
    sm.put_secret_value(SecretId=settings.AXIS_SECRET_NAME,
                        SecretString=json.dumps({**json.loads(original), "timeout": 1}))
    credentials.clear_cache()
    try:
        yield 1.0
    finally:
        sm.put_secret_value(SecretId=settings.AXIS_SECRET_NAME, SecretString=original)
        credentials.clear_cache()


def one_package_each(env: HandlerEnv, sender: str, deliveries: dict[str, dict]) -> None:
    """The axis holds exactly one package from `sender` per recipient, the one each delivery row names."""
    packages = axis_packages(env, sender=sender)
    assert sorted(p["to"] for p in packages) == sorted(deliveries), packages
    for package in packages:
        delivery = deliveries[package["to"]]
        assert delivery["status"] == "SENT" and delivery["axis_doc_id"] == package["sendId"]
        assert delivery["package_sha256"] == package["sha256"]


def test_transient_failure_delays_the_redelivery_with_backoff(env: HandlerEnv, pdf: bytes,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    from chalicelib.core import settings
    from chalicelib.outbound import dispatch

    # given a signed document, an axis down for it, and a backoff of 2 s (the queue's own timeout is 120 s)
    doc = upload_and_sign(env, pdf, H62, [G22])
    env.simulator.add_fault({"kind": "5xx", "paths": ["/sendEdoc"], "systems": [H62]})
    quick = dataclasses.replace(settings.get_settings(), dispatch_backoff_base_seconds=2,
                                dispatch_backoff_cap_seconds=2)
    monkeypatch.setattr(dispatch, "get_settings", lambda: quick)

    # when the delivery fails (the poller leaves the message alone: Lambda does not touch a failed record)
    inv = env.dispatch.invoke([env.dispatch.record(doc.dispatch_messages[0])])

    # then it is reported failed, after the handler set its visibility to the backoff: hidden now, back in ~2 s
    assert_reported_failed(inv, {doc.dispatch_messages[0]["MessageId"]})
    assert env.dispatch.receive() == []
    deadline = time.monotonic() + 10
    again: list[dict[str, Any]] = []
    while not again and time.monotonic() < deadline:
        time.sleep(0.25)
        again = env.dispatch.receive()
    assert dispatch_ids(again) == [doc.document_id]
    assert int(again[0]["Attributes"]["ApproximateReceiveCount"]) == 2


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    from chalicelib.outbound.dispatch import backoff_seconds

    low = [backoff_seconds(n, 20, 600, rng=lambda a, b: a) for n in range(1, 8)]
    high = [backoff_seconds(n, 20, 600, rng=lambda a, b: b) for n in range(1, 8)]
    assert high == [20, 40, 80, 160, 320, 600, 600]
    assert low == [10, 20, 40, 80, 160, 300, 300]  # equal jitter: within the upper half
    assert backoff_seconds(1, 1, 1) == 1 and backoff_seconds(30, 10**6, 10**9) <= 43200  # SQS's limits


def test_answer_lost_after_the_axis_stored_the_package_is_reconciled_not_resent(
        env: HandlerEnv, pdf: bytes, short_axis_timeout: float, sequential_sends: None) -> None:
    # given a signed document, and an axis that stores the next package and then never answers
    doc = upload_and_sign(env, pdf, H62, [G22, H03])
    env.simulator.add_fault({"kind": "store_then_timeout", "count": 1, "delay": 3})

    # when dispatch_document handles the message
    inv = env.dispatch.deliver(doc.dispatch_messages)

    # then the lost answer is found on the axis's list of our sends: DISPATCHED, one package per recipient
    assert_not_retried(inv)
    record, events, deliveries = full(doc.document_id)
    assert record["state"] == "DISPATCHED"
    one_package_each(env, H62, deliveries)
    assert deliveries[G22]["reconciled"] is True and deliveries[H03]["reconciled"] is False
    assert deliveries[G22]["history"][-1] == {"status": "SENT", "at": deliveries[G22]["sent_at"], "reconciled": True}


def test_worker_killed_between_send_and_record_is_reconciled_on_the_next_delivery(
        env: HandlerEnv, pdf: bytes, monkeypatch: pytest.MonkeyPatch, sequential_sends: None) -> None:
    from chalicelib.adapters.document_store import DocumentStore

    # given a signed document, and a worker that dies right after the axis accepted the first package
    doc = upload_and_sign(env, pdf, H62, [G22, K62])
    real = DocumentStore.put_delivery_sent

    def killed(self: DocumentStore, *args: Any, **kwargs: Any) -> None:
        monkeypatch.setattr(DocumentStore, "put_delivery_sent", real)
        raise SystemExit("worker killed")  # not an Exception: nothing in the handler may catch it

    monkeypatch.setattr(DocumentStore, "put_delivery_sent", killed)
    with pytest.raises(SystemExit):
        env.dispatch.invoke([env.dispatch.record(doc.dispatch_messages[0])])
    assert [p["to"] for p in axis_packages(env)] == [G22]
    record, _, deliveries = full(doc.document_id)
    assert record["state"] == "SIGNED" and G22 not in deliveries
    assert f"{G22} {axis_packages(env)[0]['sha256']}" in record["send_intents"]  # the claim named the package
    set_fields(doc.document_id, dispatch_lease_until=int(time.time()) - 1)  # its lease runs out

    # when SQS delivers the message again
    inv = env.dispatch.invoke([env.dispatch.redelivered(env.dispatch.record(doc.dispatch_messages[0]), 2)])

    # then G22's package is found on the axis, not sent again; K62 gets its own; one package each
    assert_not_retried(inv)
    record, _, deliveries = full(doc.document_id)
    assert record["state"] == "DISPATCHED"
    one_package_each(env, H62, deliveries)
    assert deliveries[G22]["reconciled"] is True and deliveries[K62]["reconciled"] is False


def test_rebuilt_package_is_byte_identical(env: HandlerEnv, pdf: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every attempt sends the same bytes (edXML trace time fixed on the record), so a hash names the package."""
    from chalicelib.adapters.document_store import DocumentStore

    doc = upload_and_sign(env, pdf, H62, [G22])
    monkeypatch.setattr(DocumentStore, "put_delivery_sent",
                        lambda *a, **k: (_ for _ in ()).throw(RuntimeError("record lost")))
    env.dispatch.invoke([env.dispatch.record(doc.dispatch_messages[0])])
    monkeypatch.undo()
    env.simulator.reset()  # as if that package had never reached the axis: the retry must send again
    inv = env.dispatch.invoke([env.dispatch.redelivered(env.dispatch.record(doc.dispatch_messages[0]), 2)])
    assert_not_retried(inv)
    _, _, deliveries = full(doc.document_id)
    assert deliveries[G22]["send_attempts"] == 2 and deliveries[G22]["reconciled"] is False
    assert deliveries[G22]["package_hashes"] == {deliveries[G22]["package_sha256"]}  # both attempts: one hash


def test_axis_that_cannot_list_our_sends_fails_unconfirmed_and_a_retry_after_the_fix_reconciles(
        env: HandlerEnv, pdf: bytes, short_axis_timeout: float) -> None:
    from chalicelib.outbound.dead_letters import retry_document

    # given a package stored by the axis whose answer was lost, and an axis refusing getSentEdocList without docId
    doc = upload_and_sign(env, pdf, H62, [G22])
    env.simulator.add_fault({"kind": "store_then_timeout", "count": 1, "delay": 3})
    env.simulator.add_fault({"kind": "business_error", "paths": ["/getSentEdocList"], "error_code": "1004",
                             "error_desc": "Thiếu tham số docId."})

    # when dispatch_document handles the message
    inv = env.dispatch.deliver(doc.dispatch_messages)

    # then nothing is sent twice: FAILED axis_send_unconfirmed, dead-lettered for a person, consumed
    assert_not_retried(inv)
    record = raw_item(doc.document_id)
    assert record["state"] == "FAILED" and record["reason"] == "axis_send_unconfirmed"
    assert record["unconfirmed_recipient"] == G22
    assert len(axis_packages(env, to=G22)) == 1
    assert dispatch_ids(env.dispatch_dlq.receive()) == [doc.document_id]
    env.dispatch_dlq.drain()

    # when the axis can list again and an administrator retries (its DLQ message gone: a fresh one is queued)
    env.simulator.clear_faults()
    answer = retry_document(admin(), doc.document_id, {})
    assert answer["state"] == "SIGNED" and answer["from_dead_letters"] == 0
    assert_not_retried(env.dispatch.deliver(env.dispatch.receive()))

    # then the package already on the axis is recognised: DISPATCHED, still one package
    record, events, deliveries = full(doc.document_id)
    assert record["state"] == "DISPATCHED" and "reason" not in record
    assert states_of(events)[-3:] == ["FAILED", "SIGNED", "DISPATCHED"]
    assert events[-2]["detail"] == {"action": "retry", "by": "admin", "previous_reason": "axis_send_unconfirmed"}
    one_package_each(env, H62, deliveries)


def test_dead_letters_are_listed_without_being_consumed_and_redriven_once_the_cause_is_fixed(
        env: HandlerEnv, pdf: bytes) -> None:
    from chalicelib.core.errors import Forbidden
    from chalicelib.outbound.dead_letters import list_dead_letters, redrive

    # given a document the axis refused (business error), dead-lettered with its record FAILED
    doc = upload_and_sign(env, pdf, H62, [G22, H03])
    fault = env.simulator.add_fault({"kind": "business_error", "paths": ["/sendEdoc"], "error_code": "9002"})
    assert_not_retried(env.dispatch.deliver(doc.dispatch_messages))
    assert raw_item(doc.document_id)["state"] == "FAILED"

    # when an agency clerk asks: refused
    with pytest.raises(Forbidden):
        list_dead_letters(clerk())
    with pytest.raises(Forbidden):
        redrive(clerk(), {"queue": "dispatch"})

    # when an administrator lists the dead letters, twice
    first = list_dead_letters(admin())
    second = list_dead_letters(admin(), "dispatch")

    # then the document shows with its state, reason and the axis's code, and the listing consumed nothing (each
    # peek is a receive for SQS: receive_count says how many there were before this listing)
    assert [i["receive_count"] for i in first["items"] + second["items"]] == [0, 1]
    assert [{**i, "receive_count": 0} for i in second["items"]] == first["items"] and first["truncated"] is False
    [item] = first["items"]
    assert item["attempts"] == 1
    assert item["queue"] == "dispatch" and item["document_id"] == doc.document_id and item["organ_id"] == H62
    assert item["state"] == "FAILED" and item["reason"] == "axis_rejected" and item["axis_error_code"] == "9002"
    assert item["message_reason"] == "axis_rejected"
    still_there = env.dispatch_dlq.receive()
    assert dispatch_ids(still_there) == [doc.document_id]
    env.dispatch_dlq.make_visible(still_there)

    # when the cause is fixed and the administrator redrives the dispatch DLQ
    env.simulator.clear_faults()
    assert fault.kind == "business_error"
    answer = redrive(admin(), {"queue": "dispatch", "document_ids": [doc.document_id]})

    # then the record is SIGNED again, the message back on the dispatch queue, the DLQ empty...
    assert answer["redriven"][0]["documents"] == [{"document_id": doc.document_id, "state": "SIGNED"}]
    assert answer["not_found"] == [] and answer["failed"] == []
    assert list_dead_letters(admin())["items"] == []
    messages = env.dispatch.receive()
    assert dispatch_ids(messages) == [doc.document_id]
    # ...and the next delivery dispatches it once
    assert_not_retried(env.dispatch.deliver(messages))
    record, events, deliveries = full(doc.document_id)
    assert record["state"] == "DISPATCHED"
    assert states_of(events)[-3:] == ["FAILED", "SIGNED", "DISPATCHED"]
    one_package_each(env, H62, deliveries)


def test_redrive_and_retry_refuse_what_they_cannot_do(env: HandlerEnv, pdf: bytes) -> None:
    from chalicelib.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
    from chalicelib.outbound.dead_letters import redrive, retry_document

    doc = upload_and_sign(env, pdf, H62, [G22])
    assert_not_retried(env.dispatch.deliver(doc.dispatch_messages))
    with pytest.raises(Conflict):  # DISPATCHED: nothing to retry
        retry_document(admin(), doc.document_id, {})
    with pytest.raises(Forbidden):
        retry_document(clerk(), doc.document_id, {})
    with pytest.raises(NotFound):
        retry_document(admin(), str(uuid.uuid4()), {})
    with pytest.raises(ValidationFailed):
        redrive(admin(), {"queue": "everything"})
    with pytest.raises(ValidationFailed):
        redrive(admin(), {"queue": "dispatch", "document_ids": ["not-a-uuid"]})
    assert redrive(admin(), {"queue": "upload", "document_ids": [doc.document_id]})["not_found"] == [doc.document_id]
