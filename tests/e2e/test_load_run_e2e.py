"""The load run's driver in the suite (issue 11), at a size the suite can afford and with no timing assertion:
`make bench-load` runs the 1,000 documents and prints the numbers.

Given a stack of its own with two processes per SQS function (moto and the axis simulator with the PKI in processes
of their own), when 10 documents from the five served agencies (two recipients each) go through the load driver,
then every document is DISPATCHED, each recipient holds exactly one package per document, nothing is dead-lettered,
every process of the stack is measured, and the pollers' SQS calls are counted apart from the functions' own.
When every process of the signing and dispatching functions is then SIGKILLed, the stack starts each again
(stack.json names new pids, as many as before) and a further burst goes through.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from devstack.chaos_run import ChaosPlan, ChaosReport, _kill_and_wait
from devstack.load_run import LoadPlan, as_json, run, start_load_stack

PLAN = LoadPlan(documents=10, upload_workers=4, sqs_processes=2, sqs_concurrency=1, sqs_wait_seconds=1,
                settle_seconds=240.0)


@pytest.fixture(scope="module")
def load_stack(tmp_path_factory: pytest.TempPathFactory):
    state_dir = Path(tmp_path_factory.mktemp("load"))
    handle = start_load_stack(state_dir, PLAN)
    try:
        yield handle, state_dir
    finally:
        handle.stop()


def test_a_burst_through_the_load_driver_is_dispatched_once_and_measured(load_stack, sample_pdf: Path) -> None:
    handle, state_dir = load_stack
    info = handle.info
    assert {"moto", "axis_pki", "stack"} <= set(info["processes"])
    assert len(info["functions"]["sign_document"]["pids"]) == 2
    assert len(info["functions"]["poll_axis"]["pids"]) == 1, "a scheduled function runs in one container"

    report = run(info, state_dir, sample_pdf.read_bytes(), PLAN)

    assert report.failures == [], report.failures
    assert report.states == {"DISPATCHED": PLAN.documents}
    assert sum(expected for _, expected in report.packages.values()) == 2 * PLAN.documents
    assert len(report.latencies) == PLAN.documents and report.elapsed > 0
    assert report.processes["moto"]["cpu_ms"] > 0 and report.processes["sign_document"]["cpu_ms"] > 0
    assert report.processes["sign_document"]["peak_rss_mb"] > 0
    ops = {(by, op) for (_, by, op) in report.calls}
    assert ("poller", "sqs:ReceiveMessage") in ops and ("function", "kms:Sign") in ops
    assert ("function", "sqs:ReceiveMessage") not in ops, "the poller's calls are tagged as the poller's"
    assert report.s3_bytes > 0
    out = json.loads(json.dumps(as_json(report)))
    assert out["N"] == PLAN.documents and out["calls_per_document"]["kms:Sign"]["function"] >= 1
    assert set(out["functions"]) >= {"sign_document", "dispatch_document", "api_handler"}


def test_every_container_of_a_killed_function_is_started_again(load_stack, sample_pdf: Path) -> None:
    handle, state_dir = load_stack
    killed = ChaosReport(ChaosPlan())
    _kill_and_wait(state_dir, killed, "test")

    assert len(killed.kills) == 4, killed.kills  # two functions, two containers each
    assert all(k["restarted_pid"] not in (None, k["pid"]) for k in killed.kills), killed.kills
    report = run(handle.info, state_dir, sample_pdf.read_bytes(), replace(PLAN, documents=5, seed=12))
    assert report.failures == [], report.failures
