"""The sweep (chalicelib.outbound.sweep, rules in chalicelib.domain.sweep_rules) through the fakes of its ports: overdue
uploads expire, stuck records are retried a bounded number of times and then fail with a reason, and a record the
pipeline (or another sweep) moved in the meantime is left alone."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from chalicelib.core.settings import DISPATCH_QUEUE, UPLOAD_QUEUE, UPLOAD_URL_TTL_SECONDS
from chalicelib.domain import sweep_rules
from chalicelib.domain.caller import Caller
from chalicelib.domain.leases import DISPATCH, UPLOAD, Lease
from chalicelib.outbound.documents import create_document
from chalicelib.outbound.sweep import sweep_documents
from tests.fakes import InMemoryDocumentStore
from tests.unit.outbound.conftest import G22, H62, Ports, sample_metadata

CLERK = Caller("clerk-h62", H62, False)
REPO = Path(__file__).resolve().parents[3]


def _created(ports: Ports) -> tuple[str, dict[str, Any]]:
    answer = create_document(CLERK, sample_metadata([G22]))
    return answer["document_id"], answer


def _later(seconds: int) -> int:
    return int(time.time()) + seconds + 5


def _into(ports: Ports, document_id: str, *targets: str) -> None:
    for target in targets:
        ports.store.transition(document_id, target)


def _upload_keys(ports: Ports) -> list[str]:
    return [r["s3"]["object"]["key"] for m in ports.queues.messages(UPLOAD_QUEUE)
            for r in json.loads(m.body)["Records"]]


def _dispatch_ids(ports: Ports) -> list[str]:
    return [json.loads(m.body)["document_id"] for m in ports.queues.messages(DISPATCH_QUEUE)]


# -- AWAITING_UPLOAD ----------------------------------------------------------------------------------------------


def test_an_upload_that_never_came_expires_after_the_url_and_the_grace(ports: Ports) -> None:
    document_id, _ = _created(ports)
    early = _later(UPLOAD_URL_TTL_SECONDS)
    assert sweep_documents(now=early) == {"retimed": 1}, "the URL's life plus grace is not over yet"
    assert sweep_documents(now=early) == {}, "retimed to its due time: not read again before it"
    assert ports.store.get(document_id)["state"] == "AWAITING_UPLOAD"

    outcome = sweep_documents(now=_later(UPLOAD_URL_TTL_SECONDS + sweep_rules.UPLOAD_GRACE_SECONDS))

    assert outcome == {"expired": 1}
    record, events, _ = ports.store.get_full(document_id)
    assert record["state"] == "EXPIRED" and record["reason"] == "upload_expired" and record["reason_message"]
    assert not {"sweep_lane", "sweep_from", "sweep_due"} & set(record)
    assert events[-1]["state"] == "EXPIRED" and events[-1]["detail"] == {"by": "sweep", "reason": "upload_expired"}
    assert sweep_documents(now=_later(10**6)) == {}, "out of the index: never looked at again"


def test_an_upload_in_s3_whose_event_never_came_is_offered_again_then_expires(ports: Ports) -> None:
    document_id, answer = _created(ports)
    ports.objects.post(answer["upload"]["fields"], b"%PDF-1.7 ...")
    bound = UPLOAD_URL_TTL_SECONDS + sweep_rules.UPLOAD_GRACE_SECONDS

    assert sweep_documents(now=_later(bound)) == {"retried": 1}
    assert _upload_keys(ports) == [f"incoming/{H62}/{document_id}.pdf"]
    record = ports.store.get(document_id)
    assert record["state"] == "AWAITING_UPLOAD" and record["sweep_retries_awaiting"] == 1
    assert sweep_documents(now=_later(bound)) == {}, "pushed back by the retry"

    moment = _later(bound)
    for _ in range(sweep_rules.MAX_SWEEP_RETRIES):
        moment += sweep_rules.UPLOAD_GRACE_SECONDS + 1
        outcome = sweep_documents(now=moment)
    assert outcome == {"expired": 1} and len(_upload_keys(ports)) == sweep_rules.MAX_SWEEP_RETRIES
    assert ports.store.get(document_id)["state"] == "EXPIRED"


def test_a_foreign_object_at_the_key_does_not_keep_a_record_alive(ports: Ports) -> None:
    document_id, _ = _created(ports)
    ports.objects.put(f"incoming/{H62}/{document_id}.pdf", b"%PDF-1.7 not yours", {"upload-token": "guessed"})
    assert sweep_documents(now=_later(UPLOAD_URL_TTL_SECONDS + sweep_rules.UPLOAD_GRACE_SECONDS)) == {"expired": 1}
    assert _upload_keys(ports) == []


# -- UPLOADED and SIGNED ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("state", "path", "reason"), [
    ("UPLOADED", ["UPLOADED"], "stuck_uploaded"),
    ("SIGNED", ["UPLOADED", "SIGNED"], "stuck_signed"),
])
def test_a_stuck_record_is_retried_a_bounded_number_of_times_then_fails_with_its_reason(
        ports: Ports, state: str, path: list[str], reason: str) -> None:
    document_id, _ = _created(ports)
    _into(ports, document_id, *path)
    bound = sweep_rules.bound_seconds(state)
    early = _later(bound - 60)
    assert sweep_documents(now=early) in ({}, {"retimed": 1}), "not due yet (read once if it may have been)"
    assert sweep_documents(now=early) == {}

    moment = _later(bound)
    for attempt in range(1, sweep_rules.MAX_SWEEP_RETRIES + 1):
        assert sweep_documents(now=moment) == {"retried": 1}
        record = ports.store.get(document_id)
        assert record["state"] == state and record[sweep_rules.RETRY_FIELDS[state]] == attempt
        moment += sweep_rules.retry_after_seconds(state) + 1
    sent = _upload_keys(ports) if state == "UPLOADED" else _dispatch_ids(ports)
    assert sent == ([f"incoming/{H62}/{document_id}.pdf"] if state == "UPLOADED" else [document_id]) * 2

    assert sweep_documents(now=moment) == {"failed": 1}
    record, events, _ = ports.store.get_full(document_id)
    assert record["state"] == "FAILED" and record["reason"] == reason and record["reason_message"]
    assert record["sweep_retries"] == sweep_rules.MAX_SWEEP_RETRIES
    assert sweep_rules.RETRY_FIELDS[state] not in record, "an administrator's retry starts afresh"
    retries = [e["detail"]["attempt"] for e in events if e.get("detail", {}).get("sweep") == "retried"]
    assert retries == [1, 2]
    assert events[-1]["state"] == "FAILED" and events[-1]["detail"]["reason"] == reason


@pytest.mark.parametrize(("state", "path", "lease"), [("UPLOADED", ["UPLOADED"], UPLOAD),
                                                      ("SIGNED", ["UPLOADED", "SIGNED"], DISPATCH)])
def test_a_record_whose_worker_holds_its_lease_is_left_alone(ports: Ports, state: str, path: list[str],
                                                             lease: Any) -> None:
    document_id, _ = _created(ports)
    _into(ports, document_id, *path)
    moment = _later(sweep_rules.bound_seconds(state))
    held = Lease.new(lease, 90, now=moment)  # taken just now, by the sweep's clock
    ports.store.records[document_id].update(held.values())
    assert sweep_documents(now=moment) == {"left": 1}
    assert ports.store.get(document_id)["state"] == state and ports.queues.messages(UPLOAD_QUEUE) == []


def test_a_retry_of_the_pipeline_itself_pushes_the_due_time(ports: Ports) -> None:
    document_id, _ = _created(ports)
    _into(ports, document_id, "UPLOADED")
    first_due = ports.store.get(document_id)["sweep_due"]
    ports.store.now = lambda: int(time.time()) + 600  # type: ignore[method-assign]  # a redelivery 10 min later
    ports.store.transition(document_id, "UPLOADED", from_states=frozenset({"AWAITING_UPLOAD", "UPLOADED"}))
    assert ports.store.get(document_id)["sweep_due"] >= first_due + 600
    assert sweep_documents(now=first_due + 1) == {"retimed": 1}, "read, found not due, looked at later"
    assert ports.store.get(document_id)["sweep_from"] == ports.store.get(document_id)["sweep_due"]
    assert sweep_documents(now=first_due + 1) == {}


class _Interleaved(InMemoryDocumentStore):
    """A store whose next read of a record is followed at once by another worker's write (before the sweep's)."""

    def __init__(self, then: Any) -> None:
        super().__init__()
        self.then = then

    def get(self, document_id: str) -> dict[str, Any] | None:
        seen = super().get(document_id)
        if self.then is not None:
            then, self.then = self.then, None
            then(self, document_id)
        return seen


@pytest.mark.parametrize("meanwhile", ["signed", "another_sweep"])
def test_a_record_moved_between_the_sweeps_read_and_its_write_is_left_alone(ports: Ports, meanwhile: str) -> None:
    from chalicelib.adapters import document_store

    def signed(store: InMemoryDocumentStore, document_id: str) -> None:
        store.transition(document_id, "SIGNED")

    def another_sweep(store: InMemoryDocumentStore, document_id: str) -> None:
        record = InMemoryDocumentStore.get(store, document_id)
        store.record_sweep_retry(document_id, state="UPLOADED", version=record["version"], due=0,
                                 free=Lease.new(UPLOAD, 0), detail={"sweep": "retried"})

    store = _Interleaved(None)
    document_store.use_document_store(store)
    document_id = create_document(CLERK, sample_metadata([G22]))["document_id"]
    store.transition(document_id, "UPLOADED")
    store.then = signed if meanwhile == "signed" else another_sweep

    assert sweep_documents(now=_later(sweep_rules.UPLOADED_BOUND_SECONDS)) == {"raced": 1}
    record = store.get(document_id)
    assert record.get("sweep_retries_uploaded", 0) == (1 if meanwhile == "another_sweep" else 0)
    assert ports.queues.messages(UPLOAD_QUEUE) == [], "the winner sends, the loser does not"


# -- the bounds against what is deployed ----------------------------------------------------------------------------


def test_the_bounds_outlast_the_functions_and_their_queues_retries() -> None:
    from cfnlint.decode import cfn_yaml

    from chalicelib.outbound import dispatch, sign_upload

    config = json.loads((REPO / ".chalice" / "config.json").read_text())
    functions, env = config["lambda_functions"], config["environment_variables"]
    resources = cfn_yaml.load(str(REPO / "infra" / "resources.yaml"))["Resources"]

    def queue(name: str) -> tuple[int, int]:
        props = resources[name]["Properties"]
        return int(props["VisibilityTimeout"]), int(props["RedrivePolicy"]["maxReceiveCount"])

    visibility, receives = queue("UploadEventsQueue")
    signing = functions["sign_document"]["lambda_timeout"]
    assert receives == sign_upload.MAX_RECEIVES and visibility >= signing
    assert receives * visibility + sign_upload.LEASE_SECONDS < sweep_rules.UPLOADED_BOUND_SECONDS

    visibility, receives = queue("DispatchQueue")
    sending = functions["dispatch_document"]["lambda_timeout"]
    base, cap = int(env["DISPATCH_BACKOFF_BASE_SECONDS"]), int(env["DISPATCH_BACKOFF_CAP_SECONDS"])
    backoff = sum(min(base * 2 ** (n - 1), cap) for n in range(1, receives))
    assert receives == dispatch.MAX_RECEIVES
    assert receives * sending + backoff + visibility + dispatch.LEASE_SECONDS < sweep_rules.SIGNED_BOUND_SECONDS
    assert visibility <= sweep_rules.UPLOAD_GRACE_SECONDS, "an upload's event may wait a visibility timeout"
    sweep = functions["sweep_documents"]["lambda_timeout"]
    assert sweep < min(sweep_rules.retry_after_seconds(s) for s in sweep_rules.SWEPT), "one run ends before the next"
