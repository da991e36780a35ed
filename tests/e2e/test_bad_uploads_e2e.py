"""Bad uploads through the real presigned POST end REJECTED with a stable reason, the original kept, and the
message not retried forever (the upload queue drains, its DLQ stays empty); PDF bombs too (issue 8)."""

from __future__ import annotations

import subprocess

import pytest

from devstack.client import operator_client
from devstack.demo_data import SAMPLES
from tests.support import pdf_bombs

SENDER = SAMPLES[0].uploader


def _aws(stack, service):
    return operator_client(stack, service)


def _encrypted(sample_pdf, tmp_path):
    out = tmp_path / "encrypted.pdf"
    subprocess.run(["qpdf", "--encrypt", "user", "owner", "256", "--", str(sample_pdf), str(out)], check=True)
    return out.read_bytes()


@pytest.mark.parametrize(("name", "make", "reason"), [
    ("empty", lambda pdf, tmp: b"", "empty_file"),
    ("text", lambda pdf, tmp: "Đây không phải PDF\n".encode() * 50, "not_a_pdf"),
    ("truncated", lambda pdf, tmp: pdf.read_bytes()[: pdf.stat().st_size // 2], "malformed_pdf"),
    ("encrypted", _encrypted, "encrypted_pdf"),
    ("oversized", lambda pdf, tmp: b"%PDF-1.7\n" + b"0" * (2 * 1024 * 1024 + 10), "file_too_large"),
    # Issue 8: bombs end REJECTED with their reason instead of killing the signing Lambda with no record left.
    ("xref-bomb", lambda pdf, tmp: pdf_bombs.xref_stream_bomb(), "pdf_too_complex"),
    ("page-tree-loop", lambda pdf, tmp: pdf_bombs.page_tree_loop(), "pdf_too_complex"),
    ("sig-not-dict", lambda pdf, tmp: pdf_bombs.sig_value_not_dict(b"[1 2 3]"), "malformed_pdf"),
])
def test_bad_upload_is_rejected_with_its_reason_and_kept(client, stack, sample_pdf, tmp_path, name, make, reason):
    token = client.login(client.user_for(SENDER))
    metadata = dict(SAMPLES[0].metadata, notation=f"UBND-BAD-{name.upper()}")
    created = client.create_document(token, metadata)
    content = make(sample_pdf, tmp_path)
    client.upload(created["upload"], content)

    doc = client.wait_for(token, created["document_id"], {"REJECTED", "SIGNED", "DISPATCHED", "FAILED"})
    assert doc["state"] == "REJECTED", doc
    assert doc["reason"] == reason
    assert doc["reason_message"]  # Vietnamese, for the clerk
    assert doc["timeline"][-1]["state"] == "REJECTED" and doc["timeline"][-1]["reason"] == reason
    assert "signed_sha256" not in doc

    s3 = _aws(stack, "s3")
    bucket = created["upload"]["url"].rstrip("/").rsplit("/", 1)[-1]
    kept = s3.get_object(Bucket=bucket, Key=f"incoming/{SENDER}/{created['document_id']}.pdf")["Body"].read()
    assert kept == content

    sqs = _aws(stack, "sqs")
    dlq = sqs.get_queue_url(QueueName="edoc-local-upload-events-dlq")["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == "0"
