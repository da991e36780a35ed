#!/usr/bin/env python
"""`make bench-load N=1000`: a burst of N documents through an embedded stack of its own; prints a table and writes
build/bench-load.json (issue 11, acceptance 1). The run itself is devstack/load_run.py; this is its command line,
the naive signing baseline and the report.

    .venv/bin/python -m tests.bench.bench_load --documents 200                 # while developing
    .venv/bin/python -m tests.bench.bench_load --documents 1000 --sqs-processes 2 --sqs-concurrency 2

The baseline is pyHanko's documented naive path (tests/bench/bench_signing.py `_naive_ms`: in memory, SimpleSigner,
a fresh GlyphAccumulatorFactory stamp), measured in a child process before the stack starts, on the same machine:
naive documents/s = 1000 / median CPU ms. The run fails (exit 1) when a document is lost, doubled or dead-lettered,
a recipient's package count is off, or the stack's throughput is below that rate.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from devstack.load_run import LoadPlan, LoadReport, as_json, run, start_load_stack  # noqa: E402


def naive_child(rounds: int) -> None:
    """(child) The naive signing rate: `rounds` documents the documented way, median CPU ms → documents/s."""
    from tests.bench.bench_signing import _identity, _naive_ms, _sample

    with tempfile.TemporaryDirectory() as tmp:
        wd = Path(tmp)
        _, ca, raw = _identity(wd)
        src = _sample(wd, 0)
        ms = _naive_ms(src, wd / "naive.pdf", ca, raw, rounds)
    print(json.dumps({"median_ms": ms, "docs_per_s": 1000.0 / ms}))


def naive_rate(rounds: int) -> tuple[float, float]:
    """(median CPU ms, documents/s) of naive pyHanko signing, in a fresh child process."""
    proc = subprocess.run([sys.executable, "-m", "tests.bench.bench_load", "--naive-child", str(rounds)],
                          cwd=ROOT, capture_output=True, text=True, check=True)
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    return out["median_ms"], out["docs_per_s"]


def _f(value: float | None, fmt: str = ".2f") -> str:
    return "-" if value is None else format(value, fmt)


def print_report(report: LoadReport, naive_ms: float | None) -> None:
    plan, n = report.plan, report.plan.documents
    print(f"\nload run: {n} documents from 5 agencies, {plan.recipients_per_document} recipients each, "
          f"{plan.upload_workers} clients uploading at once; {plan.sqs_processes} processes x "
          f"{plan.sqs_concurrency} pollers per SQS function")
    rows = [
        ("elapsed (first create → last DISPATCHED)", f"{report.elapsed:.1f} s (uploads done at "
                                                     f"{report.uploads_done:.1f} s)"),
        ("documents/s", f"{report.throughput:.2f}"),
        ("naive pyHanko signing", f"{_f(report.naive_docs_per_s)} documents/s ({_f(naive_ms, '.0f')} ms CPU median)"),
        ("throughput / naive", _f(report.throughput / report.naive_docs_per_s if report.naive_docs_per_s else None)),
        ("upload → DISPATCHED p50/p95/p99", " / ".join(f"{_f(report.percentile(q), '.1f')} s" for q in (50, 95, 99))),
        ("final states", ", ".join(f"{k} {v}" for k, v in sorted(report.states.items()))),
        ("packages at the axis", ", ".join(f"{r} {h}/{e}" for r, (h, e) in sorted(report.packages.items()))),
        ("stored twice / not matching", f"{len(report.doubled)} / {len(report.mismatched)}"),
        ("dead letters", str(report.dead_letters)),
        ("client retries of a 5xx", str(report.client_retries)),
        ("S3 stored per document", f"{report.s3_bytes / n / 1024:.1f} KB in {report.s3_objects / n:.1f} objects"),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")

    head = (f"  {'process':<20} {'procs':>5} {'CPU ms/doc':>10} {'peak RSS MB':>11} {'invocations':>11} "
            f"{'billed ms':>10}")
    print(f"\n{head}\n  {'-' * (len(head) - 2)}")
    total = 0.0
    for label, p in sorted(report.processes.items(), key=lambda kv: -kv[1]["cpu_ms"]):
        m = report.metrics.get(label)
        total += p["cpu_ms"]
        restarted = f"  ({len(p['restarted'])} restarted)" if p["restarted"] else ""
        print(f"  {label:<20} {len(p['pids']):>5} {p['cpu_ms'] / n:10.1f} {p['peak_rss_mb']:11.0f} "
              f"{(m or {}).get('invocations', '-')!s:>11} {(m or {}).get('billed_ms', '-')!s:>10}{restarted}")
    busy = total / 1000 / max(report.elapsed, 1e-9)
    print(f"  {'all':<20} {'':>5} {total / n:10.1f}   (CPU-s per wall-s: {busy:.2f})")

    by_op: dict[str, list[float]] = {}
    for (_function, by, op), count in report.calls.items():
        entry = by_op.setdefault(op, [0.0, 0.0])
        entry[0 if by == "function" else 1] += count / n
    head = f"  {'AWS calls per document':<44} {'function':>8} {'poller':>8}"
    print(f"\n{head}\n  {'-' * (len(head) - 2)}")
    for op, (fn, poller) in sorted(by_op.items(), key=lambda kv: -sum(kv[1])):
        print(f"  {op:<44} {fn:8.2f} {poller:8.2f}")
    print(f"  {'all':<44} {sum(v[0] for v in by_op.values()):8.2f} {sum(v[1] for v in by_op.values()):8.2f}")
    print("\n  queue backlog at its peak (visible + in flight): " + ", ".join(
        f"{q} {n}" for q, n in sorted(report.peak_backlog.items())) + f"; dead letters {report.dead_letters}")
    print("\nresult: " + ("PASS" if not report.failures else "FAIL: " + "; ".join(report.failures)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_load", description=__doc__.split("\n")[0])
    parser.add_argument("--documents", type=int, default=LoadPlan.documents)
    parser.add_argument("--sqs-processes", type=int, default=LoadPlan.sqs_processes,
                        help="processes per SQS function (default %(default)s)")
    parser.add_argument("--sqs-concurrency", type=int, default=LoadPlan.sqs_concurrency,
                        help="pollers (invocations at once) per process (default %(default)s)")
    parser.add_argument("--sqs-wait-seconds", type=int, default=LoadPlan.sqs_wait_seconds,
                        help="long-poll wait of each ReceiveMessage (default %(default)s)")
    parser.add_argument("--upload-workers", type=int, default=LoadPlan.upload_workers,
                        help="outside clients creating and uploading at once (default %(default)s)")
    parser.add_argument("--naive-rounds", type=int, default=20, help="documents the naive baseline signs")
    parser.add_argument("--json", type=Path, default=ROOT / "build" / "bench-load.json")
    parser.add_argument("--profile", type=Path, default=None, metavar="DIR",
                        help="write sampling profiles of moto and the axis+PKI process to DIR")
    parser.add_argument("--naive-child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.naive_child is not None:
        naive_child(args.naive_child)
        return 0

    from devstack.demo_data import SAMPLES
    from devstack.sample_pdf import render_text_pdf

    plan = LoadPlan(documents=args.documents, upload_workers=args.upload_workers,
                    sqs_processes=args.sqs_processes, sqs_concurrency=args.sqs_concurrency,
                    sqs_wait_seconds=args.sqs_wait_seconds)
    print(f"naive pyHanko signing, {args.naive_rounds} documents …", flush=True)
    naive_ms, naive_docs_per_s = naive_rate(args.naive_rounds)
    state_dir = Path(tempfile.mkdtemp(prefix="edoc-load-"))
    pdf = render_text_pdf(SAMPLES[0].metadata["subject"], "Nội dung ngắn.", state_dir / "short.pdf").read_bytes()
    print(f"starting a stack in {state_dir} …", flush=True)
    handle = start_load_stack(state_dir, plan, profile_dir=args.profile)
    last = [0.0]

    def progress(done: int, expected: int, elapsed: float) -> None:
        if elapsed - last[0] >= 15:
            last[0] = elapsed
            print(f"  {elapsed:5.0f} s: {done}/{expected} packages at the axis", flush=True)

    try:
        report = run(handle.info, state_dir, pdf, plan, on_progress=progress)
    finally:
        handle.stop()
    report.naive_docs_per_s = naive_docs_per_s
    print_report(report, naive_ms)
    measured = {**as_json(report), "naive_median_ms": naive_ms, "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(measured, indent=2), encoding="utf-8")
    from tests.bench.bill import print_bills

    cost = print_bills(measured)
    if cost >= 0.05:
        print(f"FAIL: {cost:.4f} USD per 1,000 documents, over the 0.05 target")
        report_failed = True
    else:
        report_failed = False
    print(f"measurements: {args.json}; stack log: {state_dir / 'stack.log'}")
    return 0 if not report.failures and not report_failed else 1


if __name__ == "__main__":
    sys.exit(main())
