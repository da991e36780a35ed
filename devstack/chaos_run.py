"""The chaos run (`make chaos`, `python -m devstack chaos`): N documents through a stack at war with itself.

Issue 8: "200 documents while the event pump is SIGKILLed and restarted twice, and 10% of DynamoDB and S3 calls
fail (throttling, 5xx): every document DISPATCHED, one package per recipient, nothing lost."

How each part is real:
- The faults are AWS's own answers to one request (`devstack.chaos`, installed in every function's process by its
  worker): the gateway's botocore retries, conditional writes, leases and SQS redelivery meet them unchanged.
- The pumps are the SQS pollers inside the signing and dispatching functions' processes (`devstack.worker`): the
  run SIGKILLs those processes (as an out-of-memory or timed-out Lambda container ends) at a third and at two
  thirds of the way, whatever they are doing; the stack starts new ones under the same roles, and the messages they
  held come back when their visibility timeout ends.
- The clients are outside clients (Cognito, the HTTP API, presigned POSTs). The API's own AWS calls fail too, so a
  client may get a 5xx: it tries again, as an agency's software would (a document whose creation answered 5xx
  and was created anyway is an orphan the sweep expires; the run follows the documents it was given ids for).
- The check is at the axis: each recipient holds exactly one package per document addressed to it, the one its
  delivery row names; no dead letter; every document DISPATCHED.

The report is a table (`print_report`); `run()` returns it, and the exit status says whether every check held.
Development only: chalicelib never imports devstack.
"""

from __future__ import annotations

import json
import os
import random
import signal
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devstack.client import GatewayClient
from devstack.drive import axis_failures, check_axis, patiently, submit_all, wait_all
from devstack.drive import held as axis_held

__all__ = ["ChaosPlan", "main", "print_report", "run", "start_chaos_stack"]

#: Served agencies that send (each has a demo clerk) and external systems that receive: packages for agencies this
#: gateway serves would come back in as inbound documents and blur the count at the axis.
SENDERS = ("000.00.00.H62", "000.00.01.H62", "000.00.12.H62", "000.00.00.H03")
RECIPIENTS = ("000.00.00.G22", "000.00.00.K62", "000.00.00.H49")
#: The functions whose processes hold the event pumps (the SQS pollers): the ones the run kills.
PUMP_FUNCTIONS = ("sign_document", "dispatch_document")


@dataclass(frozen=True)
class ChaosPlan:
    """What the run does: `documents` from `SENDERS`, two recipients each; `rate` of the functions' DynamoDB and
    S3 calls fail; the pump processes are killed `kills` times, evenly through the run."""

    documents: int = 200
    rate: float = 0.1
    kills: int = 2
    seed: int = 8
    settle_seconds: float = 420.0
    recipients_per_document: int = 2
    services: tuple[str, ...] = ("dynamodb", "s3")


@dataclass
class ChaosReport:
    plan: ChaosPlan
    elapsed: float = 0.0
    states: Counter[str] = field(default_factory=Counter)
    kills: list[dict[str, Any]] = field(default_factory=list)
    faults: Counter[str] = field(default_factory=Counter)
    client_retries: int = 0
    packages: dict[str, tuple[int, int]] = field(default_factory=dict)  # recipient -> (held, expected)
    doubled: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)
    dead_letters: int = 0
    reconciled: int = 0

    @property
    def failures(self) -> list[str]:
        """Each check that did not hold, in words; empty when the run passed."""
        out = axis_failures(self, self.states, self.plan.documents, self.dead_letters)
        if len(self.kills) < self.plan.kills:
            out.append(f"{len(self.kills)} of {self.plan.kills} kills done")
        if any(k.get("restarted_pid") in (None, k["pid"]) for k in self.kills):
            out.append("a killed function was not started again")
        injected = sum(v for k, v in self.faults.items() if not k.endswith(":calls"))
        if self.plan.rate > 0 and injected == 0:
            out.append("no fault was injected")
        return out


def start_chaos_stack(state_dir: Path, plan: ChaosPlan) -> Any:
    """A stack of its own whose functions' AWS calls fail at `plan.rate`, with quick retries (2 s visibility
    timeout, 1-4 s dispatch backoff) and two invocations per queue, as Lambda runs several."""
    from devstack.stack import start_stack  # lazy: the run can also drive a stack started elsewhere

    stats_dir = state_dir / "chaos"
    stats_dir.mkdir(parents=True, exist_ok=True)
    return start_stack(state_dir, ports=0, retry_after=2, sqs_concurrency=2, app_env={
        "EDOC_CHAOS_RATE": str(plan.rate), "EDOC_CHAOS_SERVICES": ",".join(plan.services),
        "EDOC_CHAOS_STATS_DIR": str(stats_dir),
        "DISPATCH_BACKOFF_BASE_SECONDS": "1", "DISPATCH_BACKOFF_CAP_SECONDS": "4"})


def _functions(state_dir: Path) -> dict[str, Any]:
    return json.loads((state_dir / "stack.json").read_text(encoding="utf-8"))["functions"]


def _held(info: dict[str, Any]) -> int:
    return axis_held(info, SENDERS)


def _pids(entry: dict[str, Any]) -> list[int]:
    return list(entry.get("pids") or [entry["pid"]])


def _kill_and_wait(state_dir: Path, report: ChaosReport, when: str) -> None:
    """SIGKILL every process of every pump function (all its containers), then wait until the stack has started
    each again (stack.json's new pids: none of the killed ones left, as many as before)."""
    before = _functions(state_dir)
    killed = {name: _pids(before[name]) for name in PUMP_FUNCTIONS}
    for pids in killed.values():
        for pid in pids:
            os.kill(pid, signal.SIGKILL)

    def back(now: dict[str, Any]) -> bool:
        return all(len(_pids(now[n])) == len(pids) and not set(_pids(now[n])) & set(pids)
                   for n, pids in killed.items())

    deadline = time.monotonic() + 60
    now = _functions(state_dir)
    while not back(now) and time.monotonic() < deadline:
        time.sleep(0.2)
        now = _functions(state_dir)
    for name, pids in killed.items():
        fresh = _pids(now[name])
        for i, pid in enumerate(pids):
            restarted = fresh[i] if i < len(fresh) else None
            report.kills.append({"function": name, "pid": pid, "when": when,
                                 "restarted_pid": restarted if restarted not in pids else None})


def _killer(info: dict[str, Any], state_dir: Path, plan: ChaosPlan, report: ChaosReport, expected: int,
            stop: threading.Event) -> None:
    """Kill the pumps `plan.kills` times, when the axis holds 1/(k+1), 2/(k+1) … of the packages."""
    for k in range(1, plan.kills + 1):
        mark = expected * k // (plan.kills + 1)
        while not stop.is_set():
            held = _held(info)
            if held >= mark:
                _kill_and_wait(state_dir, report, f"{held}/{expected} packages at the axis")
                break
            time.sleep(0.5)


def _fault_counts(state_dir: Path) -> Counter[str]:
    total: Counter[str] = Counter()
    for path in (state_dir / "chaos").glob("*.json"):
        try:
            total.update(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue  # a file being replaced as we read it: the next fault rewrites it
    return total


def run(info: dict[str, Any], state_dir: Path, pdf: bytes, plan: ChaosPlan = ChaosPlan()) -> ChaosReport:
    """Drive `plan` through the running chaos stack described by `info` (its stack.json in `state_dir`)."""
    report = ChaosReport(plan)
    client = GatewayClient(info)
    tokens = {s: client.login(client.user_for(s)) for s in SENDERS}
    admin = client.login(client.user_for("000.00.01.H62", admin=True))
    rng = random.Random(plan.seed)  # noqa: S311 - a test plan, not a secret
    wanted = [(SENDERS[i % len(SENDERS)], rng.sample(RECIPIENTS, plan.recipients_per_document))
              for i in range(plan.documents)]
    expected = sum(len(r) for _, r in wanted)
    retries = [0]
    started = time.monotonic()
    stop = threading.Event()
    killer = threading.Thread(target=_killer, args=(info, state_dir, plan, report, expected, stop), daemon=True)
    killer.start()
    try:
        docs = submit_all(info, tokens, wanted, pdf, retries)
        views = wait_all(info, client, tokens, docs, started + plan.settle_seconds, retries)
    finally:
        stop.set()
        killer.join(timeout=90)
    report.elapsed = time.monotonic() - started
    report.states = Counter(v["state"] for v in views.values())
    report.client_retries = retries[0]
    check_axis(info, views, docs, RECIPIENTS, report)
    report.dead_letters = len(patiently(lambda: client.call("GET", "/v1/admin/dead-letters", admin),
                                         retries)["items"])
    report.reconciled = sum(1 for v in views.values() for d in v["deliveries"]
                            if any(h.get("reconciled") for h in d["history"]))
    report.faults = _fault_counts(state_dir)
    return report


def print_report(report: ChaosReport) -> None:
    """The run as a table: what was done to the stack, and what the stack did."""
    plan = report.plan
    calls = {k.split(":")[0]: v for k, v in report.faults.items() if k.endswith(":calls")}
    injected = Counter({k: v for k, v in report.faults.items() if not k.endswith(":calls")})
    rows = [
        ("documents", f"{plan.documents} from {len(SENDERS)} agencies, {plan.recipients_per_document} recipients each"),
        ("elapsed", f"{report.elapsed:.1f} s"),
        ("final states", ", ".join(f"{k} {v}" for k, v in sorted(report.states.items()))),
        ("AWS calls failed", ", ".join(f"{svc} {sum(v for k, v in injected.items() if k.startswith(svc + ':'))}"
                                       f"/{n}" for svc, n in sorted(calls.items())) or "none"),
        ("by fault", ", ".join(f"{k} {v}" for k, v in sorted(injected.items())) or "none"),
        ("pump processes killed", "; ".join(f"{k['function']} {k['pid']}→{k['restarted_pid']} at {k['when']}"
                                            for k in report.kills) or "none"),
        ("client retries of a 5xx", str(report.client_retries)),
        ("packages at the axis", ", ".join(f"{r} {h}/{e}" for r, (h, e) in sorted(report.packages.items()))),
        ("stored twice", str(len(report.doubled))),
        ("deliveries reconciled", str(report.reconciled)),
        ("dead letters", str(report.dead_letters)),
        ("result", "PASS" if not report.failures else "FAIL: " + "; ".join(report.failures)),
    ]
    width = max(len(k) for k, _ in rows)
    print(f"\nchaos run: {plan.rate:.0%} of {', '.join(plan.services)} calls fail, pumps killed {plan.kills} times")
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")


def main(argv: list[str] | None = None) -> int:
    import argparse

    from devstack.demo_data import SAMPLES
    from devstack.sample_pdf import render_text_pdf

    parser = argparse.ArgumentParser(prog="python -m devstack chaos", description=__doc__.split("\n")[0])
    parser.add_argument("--documents", type=int, default=ChaosPlan.documents)
    parser.add_argument("--rate", type=float, default=ChaosPlan.rate, help="share of DynamoDB and S3 calls failed")
    parser.add_argument("--kills", type=int, default=ChaosPlan.kills, help="times the pump processes are killed")
    args = parser.parse_args(argv)
    plan = ChaosPlan(documents=args.documents, rate=args.rate, kills=args.kills)
    state_dir = Path(tempfile.mkdtemp(prefix="edoc-chaos-"))
    pdf = render_text_pdf(SAMPLES[0].metadata["subject"], "Nội dung ngắn.", state_dir / "short.pdf").read_bytes()
    print(f"starting a chaos stack in {state_dir} …")
    handle = start_chaos_stack(state_dir, plan)
    try:
        report = run(handle.info, state_dir, pdf, plan)
    finally:
        handle.stop()
    print_report(report)
    print(f"\nstack log: {state_dir / 'stack.log'}")
    return 0 if not report.failures else 1
