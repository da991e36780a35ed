"""`make demo`: push the sample provincial documents through the gateway as their agencies would, and print
what happened to each: final state, whether poppler's `pdfsig` accepts the signature, the axis DocId(s) and the
seconds from upload to dispatch.

Uses a running stack (`.local/stack.json` whose API answers) or starts one for the run.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from devstack.client import ApiError, GatewayClient
from devstack.demo_data import SAMPLES

__all__ = ["main", "print_table", "run_samples"]

STACK_JSON = Path(".local/stack.json")


def _running_stack() -> dict[str, Any] | None:
    if not STACK_JSON.exists():
        return None
    info = json.loads(STACK_JSON.read_text())
    try:
        ok = requests.get(info["api_url"].rstrip("/") + "/v1/health", timeout=2).status_code == 200
    except requests.RequestException:
        ok = False
    return info if ok else None


def run_samples(client: GatewayClient, workdir: Path) -> list[dict[str, Any]]:
    """Upload every sample; returns one result row per document."""
    from devstack.pdftools import pdfsig_report
    from devstack.sample_pdf import render_text_pdf

    rows = []
    for sample in SAMPLES:
        pdf = render_text_pdf(sample.metadata["subject"], sample.text(), workdir / sample.file.replace(".txt", ".pdf"))
        token = client.login(client.user_for(sample.uploader))
        row: dict[str, Any] = {"document": sample.file.removesuffix(".txt"), "state": "?", "signature": "-",
                               "axis": "-", "seconds": "-"}
        rows.append(row)
        try:
            created = client.create_document(token, sample.metadata)
            started = time.monotonic()
            client.upload(created["upload"], pdf)
            doc = client.wait_for(token, created["document_id"], {"DISPATCHED", "REJECTED", "FAILED"}, timeout=120)
        except (ApiError, TimeoutError) as exc:
            row["state"] = f"error: {exc}"[:60]
            continue
        row["state"] = doc["state"] + (f" ({doc['reason']})" if doc.get("reason") else "")
        if doc["state"] == "DISPATCHED":
            row["seconds"] = f"{time.monotonic() - started:.1f}"
            row["axis"] = ", ".join(d.get("axis_doc_id", "?") for d in doc["deliveries"])
        if doc.get("signed_sha256"):
            signed = workdir / f"{created['document_id']}.signed.pdf"
            signed.write_bytes(client.download_signed(token, created["document_id"]))
            report = pdfsig_report(signed)
            row["signature"] = "valid" if report and all(s["valid"] for s in report) else "INVALID"
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    headers = {"document": "document", "state": "final state", "signature": "signature (pdfsig)",
               "axis": "axis DocId", "seconds": "upload→dispatch s"}
    widths = {k: max(len(headers[k]), *(len(str(r[k])) for r in rows)) for k in headers}
    line = " | ".join(headers[k].ljust(widths[k]) for k in headers)
    print(line)
    print("-+-".join("-" * widths[k] for k in headers))
    for r in rows:
        print(" | ".join(str(r[k]).ljust(widths[k]) for k in headers))


def main() -> int:
    info = _running_stack()
    handle = None
    if info is None:
        from devstack.stack import start_stack

        print("no running stack found: starting one for the demo …", flush=True)
        handle = start_stack(Path(tempfile.mkdtemp(prefix="edoc-demo-")))
        info = handle.info
    try:
        workdir = Path(tempfile.mkdtemp(prefix="edoc-demo-docs-"))
        rows = run_samples(GatewayClient(info), workdir)
        print()
        print_table(rows)
        print(f"\nsigned PDFs kept in {workdir}")
        return 0 if all(r["state"] == "DISPATCHED" and r["signature"] == "valid" for r in rows) else 1
    finally:
        if handle is not None:
            handle.stop()


if __name__ == "__main__":
    sys.exit(main())
