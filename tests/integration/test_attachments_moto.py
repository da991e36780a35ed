"""The signing handler with phụ lục on moto: nothing is signed until every part has arrived, and the last
arrivals racing each other (or redelivered) sign once, at-least-once delivery notwithstanding."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from devstack import demo_data
from tests.support import uploads
from tests.support.handlers import RECIPIENTS, HandlerEnv, assert_not_retried, axis_packages
from tests.support.organs import H62
from tests.support.records import full, incoming, object_bytes, raw_item, sha256, signed, states_of, versions


@pytest.fixture(scope="module")
def env(handler_env: HandlerEnv) -> HandlerEnv:
    return handler_env


@pytest.fixture(autouse=True)
def clean(env: HandlerEnv) -> Iterator[None]:
    env.reset()
    yield
    env.simulator.reset()


@pytest.fixture(scope="module")
def pdfs(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    from devstack.sample_pdf import render_text_pdf

    out = tmp_path_factory.mktemp("pdf")
    sample = demo_data.SAMPLES[0]
    return [render_text_pdf(title, sample.text()[:400], out / f"{n}.pdf").read_bytes()
            for n, title in enumerate([sample.metadata["subject"], "PHỤ LỤC I", "PHỤ LỤC II"])]


def _create(names: list[str]) -> dict[str, Any]:
    from chalicelib.api.auth import Caller
    from chalicelib.outbound.documents import create_document

    metadata = {**demo_data.SAMPLES[0].metadata, "recipients": list(RECIPIENTS),
                "attachments": [{"name": n} for n in names]}
    return uploads.remember(create_document(Caller(f"clerk-{H62}", H62, False), metadata))


def _put(env: HandlerEnv, key: str, data: bytes) -> dict[str, Any]:
    env.s3.put_object(Bucket=env.bucket, Key=key, Body=data, ContentType="application/pdf",
                      Metadata=uploads.metadata(key))
    (message,) = env.upload.receive()
    return env.upload.record(message)


def _att(document_id: str, n: int) -> str:
    return f"incoming/{H62}/{document_id}/att-{n}.pdf"


def test_last_parts_arriving_together_sign_once_and_dispatch_one_package_each(env: HandlerEnv,
                                                                              pdfs: list[bytes]) -> None:
    created = _create(["Phụ lục I", "Phụ lục II"])
    document_id = created["document_id"]
    assert [u["index"] for u in created["attachment_uploads"]] == [1, 2]

    # given the main file alone: nothing happens, nothing is claimed
    assert_not_retried(env.upload.invoke([_put(env, incoming(H62, document_id), pdfs[0])]))
    item = raw_item(document_id)
    assert item["state"] == "AWAITING_UPLOAD" and "lease_owner" not in item
    assert env.dispatch.receive() == []

    # when both phụ lục arrive and their events are handled at the same moment by two instances
    records = [_put(env, _att(document_id, 1), pdfs[1]), _put(env, _att(document_id, 2), pdfs[2])]
    results = env.upload.invoke_concurrently(records, timeout=120)
    assert len(results) == 2
    for inv in results:
        for message_id in inv.retried:  # the loser of the lease, redelivered until it finds SIGNED
            record = next(r for r in records if r["messageId"] == message_id)
            assert_not_retried(env.upload.invoke([env.upload.redelivered(record, 2)]))
    # and a phụ lục uploaded again after signing (a new event) changes nothing
    assert_not_retried(env.upload.invoke([_put(env, _att(document_id, 1), pdfs[1])]))

    # then one signature per part, recorded with its digests
    record, events, _ = full(document_id)
    assert record["state"] == "SIGNED" and states_of(events).count("SIGNED") == 1
    assert len(versions(env, signed(H62, document_id))) == 1
    for n, entry in enumerate(record["attachments"], start=1):
        key = f"signed/{H62}/{document_id}/att-{n}.pdf"
        assert entry["signed_key"] == key and len(versions(env, key)) == 1
        assert entry["original_sha256"] == sha256(pdfs[n])
        assert entry["signed_sha256"] == sha256(object_bytes(env, key))

    # and dispatch sends one package per recipient, each with the document and both phụ lục
    dispatch = env.dispatch.receive()
    assert dispatch and {json.loads(m["Body"])["document_id"] for m in dispatch} == {document_id}
    assert_not_retried(env.dispatch.deliver(dispatch))
    assert full(document_id)[0]["state"] == "DISPATCHED"
    assert sorted(p["to"] for p in axis_packages(env)) == sorted(RECIPIENTS)
