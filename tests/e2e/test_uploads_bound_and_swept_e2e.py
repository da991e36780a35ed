"""Uploads bound to their record, and nothing left in limbo, on the embedded stack (issue 8).

- A foreign object at an agency's key: agency A's presigned POST fields used to write agency B's key (moto ignores
  POST policies, so the write goes through) is refused by the signing handler; B's document is not signed with A's
  bytes, keeps waiting, and is signed with B's own upload when it comes.
- The sweep (`sweep_documents`, run by `stack_handle.run_schedules()`): an AWAITING_UPLOAD record past its due time
  becomes EXPIRED; a record forced into UPLOADED with no message left for it (written with boto3 against the stack's
  moto) is retried to DISPATCHED, or, its retries used up, ends FAILED `stuck_uploaded`.

The due times are moved into the past by a boto3 write to the record (the stack's clock is the machine's: a test
cannot wait half an hour); what the sweep does with them is the gateway's own code path.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.core.settings import DOCUMENTS_TABLE, UPLOAD_QUEUE
from chalicelib.domain import sweep_rules
from chalicelib.domain.object_keys import signed_key
from devstack.sample_pdf import render_text_pdf
from tests.e2e.helpers import eventually
from tests.support.documents import fresh_metadata
from tests.support.organs import G22

AGENCY_A = "000.00.00.H62"  # UBND tỉnh Vĩnh Phúc
AGENCY_B = "000.00.00.H03"  # UBND tỉnh Bắc Giang


def _aws(stack: dict[str, Any], service: str, resource: bool = False) -> Any:
    make = boto3.resource if resource else boto3.client
    return make(service, endpoint_url=stack["aws_endpoint_url"], region_name=stack["region"],
                aws_access_key_id=stack["aws_admin"]["access_key_id"],
                aws_secret_access_key=stack["aws_admin"]["secret_access_key"])


def _table(stack: dict[str, Any]) -> Any:
    return _aws(stack, "dynamodb", resource=True).Table(DOCUMENTS_TABLE)


def _force(stack: dict[str, Any], document_id: str, **fields: Any) -> None:
    """Write record fields directly (as a worker killed mid-way, or time passing, would leave them)."""
    names = {f"#n{i}": k for i, k in enumerate(fields)}
    values = {f":v{i}": v for i, v in enumerate(fields.values())}
    _table(stack).update_item(Key={"pk": f"DOC#{document_id}", "sk": "META"},
                              UpdateExpression="SET " + ", ".join(f"#n{i} = :v{i}" for i in range(len(fields))),
                              ExpressionAttributeNames=names, ExpressionAttributeValues=values)


def _past() -> Decimal:
    return Decimal(int(time.time()) - 60)


def _bucket(created: dict[str, Any]) -> str:
    return created["upload"]["url"].rstrip("/").rsplit("/", 1)[-1]


def _upload_queue_empty(stack: dict[str, Any]) -> bool:
    sqs = _aws(stack, "sqs")
    url = sqs.get_queue_url(QueueName=UPLOAD_QUEUE)["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed"])["Attributes"]
    return all(v == "0" for v in attrs.values())


@pytest.fixture(scope="module")
def pdf_a(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    out = tmp_path_factory.mktemp("agency-a") / "a.pdf"
    text = "Văn bản của cơ quan A, không phải của cơ quan B."
    return render_text_pdf("ỦY BAN NHÂN DÂN TỈNH VĨNH PHÚC", text, out).read_bytes()


# -- the foreign upload ---------------------------------------------------------------------------------------------


def test_agency_as_post_fields_on_agency_bs_key_do_not_get_bs_document_signed_with_as_bytes(
        client: Any, stack: dict[str, Any], stack_handle: Any, sample_pdf: Path, pdf_a: bytes) -> None:
    token_a = client.login(client.user_for(AGENCY_A))
    token_b = client.login(client.user_for(AGENCY_B))
    mine = client.create_document(token_a, fresh_metadata("FOREIGN-A", [G22]))
    theirs = client.create_document(token_b, fresh_metadata("FOREIGN-B", [G22]))
    their_key = theirs["upload"]["fields"]["key"]
    my_token = mine["upload"]["fields"]["x-amz-meta-upload-token"]

    # the policy pins the token: on AWS the POST below is refused by S3 itself
    policy = json.loads(base64.b64decode(mine["upload"]["fields"]["policy"]))
    assert {"x-amz-meta-upload-token": my_token} in policy["conditions"]

    # when A posts its own fields and bytes, but with B's key (moto does not check the policy)
    client.upload({**mine["upload"], "fields": {**mine["upload"]["fields"], "key": their_key}}, pdf_a)

    # then moto kept A's token on the object, and B's document refuses it and keeps waiting
    s3 = _aws(stack, "s3")
    assert s3.head_object(Bucket=_bucket(theirs), Key=their_key)["Metadata"] == {"upload-token": my_token}

    def refused() -> dict[str, Any]:
        doc = client.get_document(token_b, theirs["document_id"])
        return doc if any(e.get("refused") == "foreign_upload" for e in doc["timeline"]) else {}

    doc = eventually(stack_handle, refused, timeout=60, what="B's record notes the foreign upload")
    assert doc["state"] == "AWAITING_UPLOAD", doc
    assert [e["state"] for e in doc["timeline"]] == ["AWAITING_UPLOAD", "AWAITING_UPLOAD"]
    assert doc["timeline"][-1]["part"] == "main" and "signed_sha256" not in doc
    assert client.get_document(token_a, mine["document_id"])["state"] == "AWAITING_UPLOAD"

    # when B uploads its own document, it is signed with B's bytes, not A's
    client.upload(theirs["upload"], sample_pdf)
    done = client.wait_for(token_b, theirs["document_id"], {"DISPATCHED", "REJECTED", "FAILED"}, timeout=90)
    assert done["state"] == "DISPATCHED", done
    assert done["original_sha256"] == hashlib.sha256(sample_pdf.read_bytes()).hexdigest()
    assert done["original_sha256"] != hashlib.sha256(pdf_a).hexdigest()
    (kept,) = s3.list_object_versions(Bucket=_bucket(theirs), Prefix=their_key)["Versions"]
    foreign = s3.head_object(Bucket=_bucket(theirs), Key=their_key, VersionId=kept["VersionId"])
    assert foreign["Metadata"] == {"upload-token": my_token}, "the foreign object is kept as evidence"
    # B's own upload, signed, is gone from incoming/: it is the signed file's first original_size bytes
    signed = s3.get_object(Bucket=_bucket(theirs), Key=signed_key(AGENCY_B, theirs["document_id"]))["Body"]
    assert hashlib.sha256(signed.read()[:done["original_size"]]).hexdigest() == done["original_sha256"]


# -- the sweep ------------------------------------------------------------------------------------------------------


def test_an_awaiting_upload_past_its_due_time_becomes_expired(client: Any, stack: dict[str, Any],
                                                              stack_handle: Any) -> None:
    token = client.login(client.user_for(AGENCY_A))
    created = client.create_document(token, fresh_metadata("SWEEP-EXPIRE", [G22]))
    _force(stack, created["document_id"], sweep_due=_past(), sweep_from=_past())

    def expired() -> dict[str, Any]:
        doc = client.get_document(token, created["document_id"])
        return doc if doc["state"] != "AWAITING_UPLOAD" else {}

    doc = eventually(stack_handle, expired, timeout=60, what="the sweep expires the record")
    assert doc["state"] == "EXPIRED" and doc["reason"] == "upload_expired" and doc["reason_message"], doc
    # (the sweep's event, wherever it sorts: events are ordered by their writers' clocks, and once in a full run the
    # creation event sorted after it, which on one machine only a clock step can do)
    swept = [e for e in doc["timeline"] if e["state"] == "EXPIRED"]
    assert swept and swept[0] == {**swept[0], "by": "sweep", "reason": "upload_expired"}, doc["timeline"]
    item = _table(stack).get_item(Key={"pk": f"DOC#{created['document_id']}", "sk": "META"})["Item"]
    assert not {"sweep_lane", "sweep_from", "sweep_due"} & set(item), "out of the sparse index"


def test_a_record_stuck_in_uploaded_with_no_message_is_retried_to_dispatched(
        client: Any, stack: dict[str, Any], stack_handle: Any, sample_pdf: Path) -> None:
    token = client.login(client.user_for(AGENCY_A))
    created = client.create_document(token, fresh_metadata("SWEEP-STUCK", [G22]))
    document_id = created["document_id"]
    # given the upload in S3 and its notification gone (the handler skips a record it finds EXPIRED) ...
    _force(stack, document_id, state="EXPIRED")
    client.upload(created["upload"], sample_pdf)
    deadline = time.monotonic() + 60
    calm = 0
    while calm < 3 and time.monotonic() < deadline:
        calm = calm + 1 if _upload_queue_empty(stack) else 0
        time.sleep(0.5)
    assert calm >= 3, "the upload's notification was never consumed"
    # ... and the record in UPLOADED past its bound, as a signer killed by a timeout would leave it
    _force(stack, document_id, state="UPLOADED", sweep_due=_past(), sweep_from=_past(),
           lease_owner="killed-worker", lease_until=_past())
    assert client.get_document(token, document_id)["state"] == "UPLOADED"

    def moved() -> dict[str, Any]:
        doc = client.get_document(token, document_id)
        return doc if doc["state"] in {"DISPATCHED", "FAILED", "REJECTED"} else {}

    doc = eventually(stack_handle, moved, timeout=120, what="the sweep's retry reaches DISPATCHED")
    assert doc["state"] == "DISPATCHED", doc
    retries = [e for e in doc["timeline"] if e.get("sweep") == "retried"]
    assert [(e["state"], e["reason"], e["attempt"]) for e in retries] == [("UPLOADED", "stuck_uploaded", 1)]
    assert [e["state"] for e in doc["timeline"]][-3:] == ["UPLOADED", "SIGNED", "DISPATCHED"]
    assert doc["original_sha256"] == hashlib.sha256(sample_pdf.read_bytes()).hexdigest()


def test_a_record_stuck_in_uploaded_whose_retries_are_used_up_ends_failed_with_its_reason(
        client: Any, stack: dict[str, Any], stack_handle: Any) -> None:
    token = client.login(client.user_for(AGENCY_A))
    created = client.create_document(token, fresh_metadata("SWEEP-FAIL", [G22]))
    document_id = created["document_id"]
    _force(stack, document_id, state="UPLOADED", sweep_due=_past(), sweep_from=_past(),
           sweep_retries_uploaded=sweep_rules.MAX_SWEEP_RETRIES)

    def moved() -> dict[str, Any]:
        doc = client.get_document(token, document_id)
        return doc if doc["state"] != "UPLOADED" else {}

    doc = eventually(stack_handle, moved, timeout=60, what="the sweep fails the record")
    assert doc["state"] == "FAILED" and doc["reason"] == "stuck_uploaded" and doc["reason_message"], doc
    assert doc["timeline"][-1]["state"] == "FAILED" and doc["timeline"][-1]["by"] == "sweep"
