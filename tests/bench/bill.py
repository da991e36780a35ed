#!/usr/bin/env python
"""The AWS bill per 1,000 documents, from what a load run measured (issue 11 "the bill").

Why a model and not a guess: every line is a measured quantity (invocations and billed milliseconds per function,
AWS calls per service and operation, bytes stored, items written and their size) times a published unit price for
ap-southeast-1 (Singapore), and the prices are printed beside it so that anyone can check them against
https://aws.amazon.com/pricing/ and re-run with new ones. Where a price has several tiers or AWS lists several
rates, the model takes the highest one that applies to the gateway (never a volume discount the province may not
get), and no free tier is counted: a province's account has other workloads using it.

Per-document costs only: what grows with the number of documents. The fixed monthly costs (a KMS key per agency,
the axis secret, the scheduled functions' runs) are printed apart (`fixed_monthly`).

    python -m tests.bench.bill build/bench-load.json     # the table, from a `make bench-load` run's measurements

`from_load_run` turns a load run's JSON into the measurements `estimate` takes, which are a dict: `documents`;
`functions`: name → {"invocations", "billed_ms", "memory_mb"}; `aws_calls`: "service:Operation" → count (the
functions' and Lambda's pollers' calls alike: SQS bills both); `transact_items`: items written inside
TransactWriteItems calls; `write_units`: DynamoDB's write units as the embedded moto metered them
(devstack.write_meter: `writes`, `table_wru`, `index_wru`, `transactional_writes`; without them the bill falls back
to a model from the call counts); `api_requests`: the HTTP requests to the API a document needs (its creation and one
read of its result: a load run's own polling is not an agency's); `s3_uploads`: presigned POSTs; `stored_bytes`:
bytes in S3 at the end; `dynamodb_item_bytes`: the mean size of an item in the tables at the end; `dynamodb_bytes`:
their total.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

__all__ = ["LATENCY_MS", "PRICES", "BillLine", "Prices", "estimate", "fixed_monthly", "format_bill", "from_load_run",
           "main", "memory_from_config", "parallel_sends_from_config", "print_bills"]

MILLION = 1_000_000


@dataclass(frozen=True)
class Prices:
    """USD unit prices, ap-southeast-1, on-demand, x86, checked 2026-12 (aws.amazon.com/<service>/pricing)."""

    lambda_gb_second: float = 0.0000166667
    lambda_request: float = 0.20 / MILLION
    #: REST API (Chalice's API Gateway), first 333 million requests a month.
    api_gateway_request: float = 4.25 / MILLION
    #: Sign on an RSA-2048 key (the agencies' keys): the symmetric rate. Other asymmetric key specs (RSA 3072/4096,
    #: ECC) are $0.15 per 10,000: set this to that if the province's CA issues on those.
    kms_asymmetric_request: float = 0.03 / 10_000
    #: Every other KMS request (DescribeKey, and SSE-KMS data keys; the bucket has an S3 Bucket Key, so those are rare).
    kms_request: float = 0.03 / 10_000
    #: PUT, COPY, POST, LIST.
    s3_write_request: float = 0.005 / 1_000
    #: GET, HEAD and the rest.
    s3_read_request: float = 0.0004 / 1_000
    s3_gb_month: float = 0.025
    #: Standard queue; each 64 KB chunk of a payload is one request (the gateway's messages are far smaller).
    sqs_request: float = 0.40 / MILLION
    #: On demand, after the November 2024 reduction (half the earlier $1.4269 and $0.285 per million).
    dynamodb_write_unit: float = 0.7135 / MILLION
    dynamodb_read_unit: float = 0.1425 / MILLION
    dynamodb_gb_month: float = 0.285
    secrets_manager_request: float = 0.05 / 10_000
    secrets_manager_secret_month: float = 0.40
    kms_key_month: float = 1.00


PRICES = Prices()

#: S3 operations billed at the write rate; DELETE is free; the rest are billed as reads.
_S3_WRITES = frozenset({"PutObject", "CopyObject", "PostObject", "ListObjectsV2", "ListObjects", "UploadPart",
                        "CreateMultipartUpload", "CompleteMultipartUpload", "PutObjectTagging"})
_S3_FREE = frozenset({"DeleteObject", "DeleteObjects"})
_DYNAMODB_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem"})
_DYNAMODB_READS = frozenset({"GetItem", "Query", "Scan"})
_KMS_ASYMMETRIC = frozenset({"Sign", "Verify", "GetPublicKey"})


@dataclass(frozen=True)
class BillLine:
    service: str
    what: str
    quantity: float  # per 1,000 documents
    unit: str
    unit_price: float
    cost: float  # USD per 1,000 documents


def _write_units(item_bytes: float) -> int:
    """DynamoDB on demand: one write unit per KB of item, rounded up (a transactional write costs two)."""
    return max(1, math.ceil(item_bytes / 1024))


def _read_units(item_bytes: float) -> float:
    """One read unit per 4 KB read strongly consistent; the gateway's reads are taken as strong (upper bound)."""
    return max(1, math.ceil(item_bytes / 4096))


def estimate(measured: dict[str, Any], prices: Prices = PRICES) -> list[BillLine]:
    """The per-document bill, scaled to 1,000 documents."""
    documents = int(measured["documents"])
    if documents <= 0:
        raise ValueError("no documents measured")
    scale = 1000 / documents
    lines: list[BillLine] = []

    def add(service: str, what: str, quantity: float, unit: str, price: float) -> None:
        q = quantity * scale
        lines.append(BillLine(service, what, q, unit, price, q * price))

    gb_seconds = invocations = 0.0
    for name, f in sorted(measured["functions"].items()):
        if not f.get("invocations"):
            continue
        gb_s = f["billed_ms"] / 1000 * f["memory_mb"] / 1024
        gb_seconds += gb_s
        invocations += f["invocations"]
        add("Lambda", f"{name}: {f['billed_ms'] / f['invocations']:.0f} ms × {f['memory_mb']} MB", gb_s, "GB-s",
            prices.lambda_gb_second)
    add("Lambda", "requests (invocations)", invocations, "requests", prices.lambda_request)
    add("API Gateway", "REST API requests", measured.get("api_requests", 0), "requests", prices.api_gateway_request)

    calls: dict[str, int] = measured["aws_calls"]

    def count(service: str, ops: frozenset[str] | None = None, *, exclude: frozenset[str] = frozenset()) -> int:
        return sum(n for key, n in calls.items() if key.split(":", 1)[0] == service
                   and (ops is None or key.split(":", 1)[1] in ops) and key.split(":", 1)[1] not in exclude)

    add("KMS", "Sign (asymmetric)", count("kms", _KMS_ASYMMETRIC), "requests", prices.kms_asymmetric_request)
    add("KMS", "other requests", count("kms", exclude=_KMS_ASYMMETRIC), "requests", prices.kms_request)
    uploads = int(measured.get("s3_uploads", 0))  # the agencies' presigned POSTs: not in any function's calls
    add("S3", "PUT/POST/LIST requests (uploads included)", count("s3", _S3_WRITES) + uploads, "requests",
        prices.s3_write_request)
    add("S3", "GET/HEAD requests", count("s3", exclude=_S3_WRITES | _S3_FREE), "requests", prices.s3_read_request)
    stored_gb = measured.get("stored_bytes", 0) / 1024**3
    add("S3", "a month of storage", stored_gb, "GB-month", prices.s3_gb_month)
    add("SQS", "requests (functions and pollers)", count("sqs"), "requests", prices.sqs_request)

    item_bytes = float(measured.get("dynamodb_item_bytes") or 1024)
    metered = measured.get("write_units") or {}
    if metered.get("writes"):
        # What the embedded moto metered, write by write, by DynamoDB's rules (devstack.write_meter): each item's
        # own size before and after, transactions at twice, each index by its projection and key changes.
        add("DynamoDB", f"write units (metered: {metered['writes'] * scale:.0f} writes, "
                        f"{metered.get('transactional_writes', 0) * scale:.0f} in transactions)",
            metered["table_wru"], "WRU", prices.dynamodb_write_unit)
        add("DynamoDB", "index writes (metered, by projection and key change)", metered.get("index_wru", 0), "WRU",
            prices.dynamodb_write_unit)
    else:
        # No meter (a run before it existed): the mean item size for every write and 3.5 index writes per
        # TransactWriteItems, the layout then (every state change a transaction, indexes projecting ALL).
        wru = _write_units(item_bytes)
        plain_writes = count("dynamodb", _DYNAMODB_WRITES)
        transact_items = int(measured.get("transact_items", 0))
        batch_items = int(measured.get("batch_write_items", 0))
        add("DynamoDB", f"write units ({wru} per {item_bytes / 1024:.1f} KB item; ×2 in a transaction)",
            (plain_writes + batch_items) * wru + transact_items * 2 * wru, "WRU", prices.dynamodb_write_unit)
        index_writes = count("dynamodb", frozenset({"TransactWriteItems"})) * float(
            measured.get("index_writes_per_change", 3.5))
        add("DynamoDB", "index writes (3.5 indexes per record write, modelled)", index_writes * wru, "WRU",
            prices.dynamodb_write_unit)
    reads = count("dynamodb", _DYNAMODB_READS) + int(measured.get("batch_get_items", count("dynamodb",
                                                                                          frozenset({"BatchGetItem"}))))
    add("DynamoDB", "read units (strongly consistent, upper bound)", reads * _read_units(item_bytes), "RRU",
        prices.dynamodb_read_unit)
    table_gb = measured.get("dynamodb_bytes", 0) / 1024**3
    add("DynamoDB", "a month of storage", table_gb, "GB-month", prices.dynamodb_gb_month)
    add("Secrets Manager", "GetSecretValue", count("secretsmanager"), "requests", prices.secrets_manager_request)
    return lines


#: Round trips a function waits for on Lambda, in ms (in-region AWS calls on a kept-alive connection; the TSA and the
#: axis are outside AWS, in Vietnam). The embedded stack's own round trips are moto's, which is slower than AWS and
#: shares this machine's two cores, so they are not AWS's: the model takes these instead, printed with the bill.
LATENCY_MS = {"dynamodb": 6.0, "sqs": 10.0, "s3": 20.0, "kms": 15.0, "secretsmanager": 20.0, "cognito-idp": 30.0,
              "sts": 20.0, "tsa": 150.0, "axis": 150.0}
#: Lambda gives a function one vCPU at 1,769 MB, in proportion below it.
_FULL_VCPU_MB = 1769


def from_load_run(load: dict[str, Any], memory_mb: dict[str, int], *, latency_ms: dict[str, float] = LATENCY_MS,
                  timestamped: bool = True, recipients: int = 2, parallel_sends: int = 1,
                  local_durations: bool = False) -> dict[str, Any]:
    """The bill's measurements from a load run's JSON (devstack.load_run.as_json) and each function's memory.

    Lambda duration per function: the CPU its processes used in the run (measured, /proc) stretched by the share
    of a vCPU its memory buys, plus its AWS calls (counted) times `latency_ms`, plus per signed document one TSA
    round trip (`timestamped`, PAdES B-T and up) and per package one axis round trip, `parallel_sends` of them at
    once (DISPATCH_PARALLEL_SENDS: a document's recipients are sent to side by side). `local_durations`: instead,
    the billed milliseconds the embedded stack's functions measured (an upper bound: moto's answers are slower than
    AWS's and its contention stretches every wait). The API is billed for what a document needs of it: its
    creation and one read of its result, at the API's mean cost per request in the run."""
    n = int(load["N"])
    calls: dict[str, float] = {}
    by_function: dict[str, dict[str, float]] = {}
    for key, count in load["calls"].items():
        function, _by, op = key.split("|")
        calls[op] = calls.get(op, 0) + count
        by_function.setdefault(function, {})
        by_function[function][op] = by_function[function].get(op, 0) + (count if _by == "function" else 0)
    functions: dict[str, dict[str, Any]] = {}
    for name, window in load["window_functions"].items():
        if not window or not window.get("invocations"):
            continue
        memory = int(memory_mb[name])
        invocations = int(window["invocations"])
        if local_durations:
            billed = float(window["billed_ms"])
        else:
            cpu_ms = load["processes"][name]["cpu_ms_per_document"] * n
            waits = sum(count * latency_ms.get(op.split(":", 1)[0], 20.0)
                        for op, count in by_function.get(name, {}).items())
            if name == "sign_document" and timestamped:
                waits += n * latency_ms["tsa"]
            if name == "dispatch_document":
                waits += n * math.ceil(recipients / max(1, parallel_sends)) * latency_ms["axis"]
            billed = cpu_ms / min(1.0, memory / _FULL_VCPU_MB) + waits + invocations  # + ~1 ms runtime a call
        if name == "api_handler":  # what a document needs: 2 requests at the mean cost of one
            billed, invocations = billed / invocations * 2 * n, 2 * n
        functions[name] = {"invocations": invocations, "billed_ms": billed, "memory_mb": memory}
    tables = load.get("tables") or {}
    items = sum(t["items"] for t in tables.values())
    table_bytes = sum(t["bytes"] for t in tables.values())
    return {
        "documents": n,
        "functions": functions,
        "aws_calls": {op: int(round(c)) for op, c in calls.items()},
        "transact_items": int(load.get("transact_items") or 0),
        "write_units": dict(load.get("write_units") or {}),
        "api_requests": 2 * n,
        "s3_uploads": n,
        "stored_bytes": int(load["s3"]["bytes"]),
        "dynamodb_item_bytes": table_bytes / items if items else 1024,
        "dynamodb_bytes": table_bytes,
    }


def fixed_monthly(agencies: int, prices: Prices = PRICES) -> list[tuple[str, float]]:
    """What the gateway costs a month whatever the volume (not in the per-1,000 figure)."""
    return [
        (f"KMS keys: one per agency ({agencies}) + the documents key", (agencies + 1) * prices.kms_key_month),
        ("Secrets Manager: the axis credentials secret", prices.secrets_manager_secret_month),
    ]


def format_bill(lines: list[BillLine], prices: Prices = PRICES, *, agencies: int | None = None) -> str:
    out = [f"{'service':<16} {'what':<58} {'per 1,000 docs':>16} {'unit price':>12} {'USD':>9}"]
    out.append("-" * len(out[0]))
    for line in lines:
        out.append(f"{line.service:<16} {line.what:<58} {line.quantity:>10.2f} {line.unit:<5} "
                   f"{line.unit_price:>12.3g} {line.cost:>9.5f}")
    total = sum(line.cost for line in lines)
    out.append("-" * len(out[0]))
    out.append(f"{'total per 1,000 documents':<92} {total:>9.4f}  (target < 0.05)")
    out.append("\nprices assumed (USD, ap-southeast-1, on demand, no free tier, first volume tier):")
    out += [f"  {f.name:<30} {getattr(prices, f.name):.10g}" for f in fields(prices)]
    if agencies:
        out.append("\nfixed a month, whatever the volume (not above):")
        out += [f"  {what:<60} {usd:>8.2f}" for what, usd in fixed_monthly(agencies, prices)]
    return "\n".join(out)


def parallel_sends_from_config(path: Path = Path(__file__).resolve().parents[2] / ".chalice" / "config.json") -> int:
    """DISPATCH_PARALLEL_SENDS as deployed (.chalice/config.json), 1 when not set."""
    config = json.loads(path.read_text(encoding="utf-8"))
    return max(1, int(config.get("environment_variables", {}).get("DISPATCH_PARALLEL_SENDS", "1")))


def memory_from_config(path: Path = Path(__file__).resolve().parents[2] / ".chalice" / "config.json") -> dict[str, int]:
    """Each function's `lambda_memory_size` in .chalice/config.json (what the deployed functions get)."""
    config = json.loads(path.read_text(encoding="utf-8"))
    return {name: int(f["lambda_memory_size"]) for name, f in config["lambda_functions"].items()}


def print_bills(load: dict[str, Any], memory_mb: dict[str, int] | None = None) -> float:
    """The modelled bill (the figure), then the upper bound from the stack's own durations; returns the figure."""
    memory_mb = memory_mb or memory_from_config()
    parallel = parallel_sends_from_config()
    lines = estimate(from_load_run(load, memory_mb, parallel_sends=parallel))
    print("\nThe AWS bill per 1,000 documents (Lambda: this run's CPU at each function's memory + AWS round trips)")
    print(format_bill(lines, agencies=5))
    print("  round trips assumed (ms): " + ", ".join(f"{k} {v:.0f}" for k, v in LATENCY_MS.items()))
    print("  Lambda memory (MB, .chalice/config.json): " + ", ".join(f"{k} {v}" for k, v in sorted(memory_mb.items()))
          + f"; recipients sent to at once: {parallel}")
    upper = sum(line.cost for line in estimate(from_load_run(load, memory_mb, local_durations=True)))
    figure = sum(line.cost for line in lines)
    print(f"  with the embedded stack's own durations instead (moto slower than AWS: an upper bound): {upper:.4f} USD")
    return figure


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m tests.bench.bill build/bench-load.json", file=sys.stderr)
        return 2
    print_bills(json.loads(Path(args[0]).read_text(encoding="utf-8")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
