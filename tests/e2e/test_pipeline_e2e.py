"""The core pipeline end to end on the embedded stack, as an agency and a recipient system would see it.

Given a clerk of UBND tỉnh Vĩnh Phúc and the 7413/UBND-VX3 công văn, when they register it and upload the PDF
through the presigned POST, then it reaches DISPATCHED, the signed PDF passes pdfsig and qpdf, and Văn phòng
Chính phủ's own system fetches exactly one package from the axis whose header matches and whose attachment is
the signed PDF byte for byte.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

from devstack.client import operator_client
from devstack.demo_data import SAMPLES
from devstack.pdftools import pdfsig_report, qpdf_check
from tests.support.axis import packages_for as _packages_for
from tests.support.documents import fresh_metadata as _fresh_metadata
from tests.support.organs import G22

SAMPLE = SAMPLES[0]
SENDER = SAMPLE.uploader
VPCP = G22


def test_upload_is_signed_and_dispatched_to_each_recipient_exactly_once(client, sample_pdf, tmp_path):
    token = client.login(client.user_for(SENDER))
    metadata = _fresh_metadata("E2E1")
    created = client.create_document(token, metadata)
    assert created["state"] == "AWAITING_UPLOAD"
    assert {"url", "fields", "expires_at", "max_bytes"} <= set(created["upload"])

    client.upload(created["upload"], sample_pdf)
    doc = client.wait_for(token, created["document_id"], {"DISPATCHED", "REJECTED", "FAILED"}, timeout=90)

    assert doc["state"] == "DISPATCHED", doc
    assert [e["state"] for e in doc["timeline"]] == ["AWAITING_UPLOAD", "UPLOADED", "SIGNED", "DISPATCHED"]
    assert doc["original_sha256"] == hashlib.sha256(sample_pdf.read_bytes()).hexdigest()
    assert {d["organ_id"] for d in doc["deliveries"]} == set(metadata["recipients"])
    assert all(d["status"] == "SENT" and len(d["axis_doc_id"]) == 24 for d in doc["deliveries"])

    signed = client.download_signed(token, created["document_id"])
    assert hashlib.sha256(signed).hexdigest() == doc["signed_sha256"]
    signed_path = tmp_path / "signed.pdf"
    signed_path.write_bytes(signed)
    report = pdfsig_report(signed_path)
    assert len(report) == 1 and report[0]["valid"], report
    assert qpdf_check(signed_path)

    header_id = f"{SENDER},2019/09/20,7413/{metadata['notation']}"
    for recipient in metadata["recipients"]:
        packages = _packages_for(client, recipient, header_id)
        assert len(packages) == 1, f"{recipient} holds {len(packages)} packages"
        entry, package, _ = packages[0]
        assert package.sender.organ_id == SENDER
        assert [r.organ_id for r in package.recipients] == metadata["recipients"]
        assert package.code_number == "7413" and package.code_notation == metadata["notation"]
        assert package.paper == (1 if recipient == "000.00.00.K62" else 0)
        (attachment,) = package.attachments
        assert Path(attachment.path).read_bytes() == signed
        delivery = next(d for d in doc["deliveries"] if d["organ_id"] == recipient)
        assert entry["docId"] == delivery["axis_doc_id"]


def test_redelivered_upload_event_changes_nothing(client, stack, sample_pdf):
    token = client.login(client.user_for(SENDER))
    metadata = _fresh_metadata("E2E2")
    created = client.create_document(token, metadata)
    client.upload(created["upload"], sample_pdf)
    before = client.wait_for(token, created["document_id"], {"DISPATCHED"}, timeout=90)

    # Replay the S3 notification, as SQS at-least-once delivery (or S3 itself) may, and upload the file again.
    sqs = operator_client(stack, "sqs")
    key = f"incoming/{SENDER}/{created['document_id']}.pdf"
    event = {"Records": [{"eventName": "ObjectCreated:Post", "eventTime": datetime.now(UTC).isoformat(),
                          "s3": {"bucket": {"name": created["upload"]["url"].rstrip("/").rsplit("/", 1)[-1]},
                                 "object": {"key": key.replace(".", "%2E"), "size": sample_pdf.stat().st_size}}}]}
    url = sqs.get_queue_url(QueueName="edoc-local-upload-events")["QueueUrl"]
    for _ in range(2):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(event))
    dispatch_url = sqs.get_queue_url(QueueName="edoc-local-dispatch")["QueueUrl"]
    sqs.send_message(QueueUrl=dispatch_url, MessageBody=json.dumps({"document_id": created["document_id"]}))
    client.upload(created["upload"], sample_pdf)
    _wait_queues_empty(sqs, [url, dispatch_url])

    after = client.get_document(token, created["document_id"])
    assert after["state"] == "DISPATCHED"
    assert after["signed_sha256"] == before["signed_sha256"]
    assert after["timeline"] == before["timeline"]
    assert after["deliveries"] == before["deliveries"]
    header_id = f"{SENDER},2019/09/20,7413/{metadata['notation']}"
    assert len(_packages_for(client, "000.00.00.G22", header_id)) == 1


def _wait_queues_empty(sqs, urls, timeout=60.0):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counts = []
        for url in urls:
            attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
                "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
            counts.append(sum(int(v) for v in attrs.values()))
        if not any(counts):
            time.sleep(1.0)  # let the last handler finish its writes
            return
        time.sleep(0.3)
    raise TimeoutError("queues did not drain")
