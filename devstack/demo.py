"""`make demo`: push the sample provincial documents through the gateway as their agencies would, in a live table
that shows each one move (AWAITING_UPLOAD → UPLOADED → SIGNED → DISPATCHED) while it moves (issue 10), then what
happened to each: final state, whether poppler's `pdfsig` accepts the signature, the axis DocId(s) and the seconds
from upload to dispatch.

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


_FINAL = {"DISPATCHED", "REJECTED", "FAILED"}
_STYLE = {"DISPATCHED": "green", "REJECTED": "red", "FAILED": "red", "SIGNED": "cyan"}


def _upload_all(client: GatewayClient, workdir: Path) -> list[dict[str, Any]]:
    """Register and upload every sample as its agency would; one row per document, still moving."""
    from devstack.sample_pdf import render_text_pdf

    rows = []
    for sample in SAMPLES:
        pdf = render_text_pdf(sample.metadata["subject"], sample.text(), workdir / sample.file.replace(".txt", ".pdf"))
        token = client.login(client.user_for(sample.uploader))
        row: dict[str, Any] = {"document": sample.file.removesuffix(".txt"), "state": "?", "signature": "-",
                               "axis": "-", "seconds": "-", "token": token, "id": None, "started": None}
        rows.append(row)
        try:
            created = client.create_document(token, sample.metadata)
            row.update(id=created["document_id"], state=created["state"], started=time.monotonic())
            client.upload(created["upload"], pdf)
        except ApiError as exc:
            row["state"] = f"error: {exc}"[:60]
    return rows


def _follow(client: GatewayClient, rows: list[dict[str, Any]], on_change: Any, timeout: float = 120.0) -> None:
    """Poll every moving document until it is final, calling `on_change(rows)` after each round (the live table)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        moving = [r for r in rows if r["id"] and r["state"] not in _FINAL]
        if not moving:
            return
        for row in moving:
            doc = client.get_document(row["token"], row["id"])
            row["state"] = doc["state"]
            row["reason"] = doc.get("reason")
            row["doc"] = doc
            if doc["state"] == "DISPATCHED":
                row["seconds"] = f"{time.monotonic() - row['started']:.1f}"
                row["axis"] = ", ".join(d.get("axis_doc_id", "?") for d in doc["deliveries"])
        on_change(rows)
        time.sleep(0.3)
    for row in rows:
        if row["id"] and row["state"] not in _FINAL:
            row["state"] += " (timed out)"


def _check_signatures(client: GatewayClient, rows: list[dict[str, Any]], workdir: Path) -> None:
    from devstack.pdftools import pdfsig_report

    for row in rows:
        if (row.get("doc") or {}).get("signed_sha256"):
            signed = workdir / f"{row['id']}.signed.pdf"
            signed.write_bytes(client.download_signed(row["token"], row["id"]))
            report = pdfsig_report(signed)
            row["signature"] = "valid" if report and all(s["valid"] for s in report) else "INVALID"
        if row.get("reason"):
            row["state"] = f"{row['state']} ({row['reason']})"


def run_samples(client: GatewayClient, workdir: Path, on_change: Any = None) -> list[dict[str, Any]]:
    """Upload every sample, follow them all as they move (`on_change(rows)` after each look), then check each signed
    PDF with pdfsig; returns one result row per document."""
    on_change = on_change or (lambda _rows: None)
    rows = _upload_all(client, workdir)
    on_change(rows)
    _follow(client, rows, on_change)
    _check_signatures(client, rows, workdir)
    return rows


_HEADERS = {"document": "document", "state": "state", "signature": "signature (pdfsig)", "axis": "axis DocId",
            "seconds": "upload→dispatch s"}


def live_table(rows: list[dict[str, Any]]) -> Any:
    """The rows as a rich table, each state coloured (green dispatched, red refused, cyan signed)."""
    from rich.table import Table

    table = Table(title="make demo: the sample documents through the gateway")
    for header in _HEADERS.values():
        table.add_column(header)
    for row in rows:
        state = str(row["state"])
        style = _STYLE.get(state.split(" ")[0], "yellow")
        table.add_row(row["document"], f"[{style}]{state}[/]", *(str(row[k]) for k in ("signature", "axis",
                                                                                        "seconds")))
    return table


def print_table(rows: list[dict[str, Any]]) -> None:
    from rich.console import Console

    Console().print(live_table(rows))


def main() -> int:
    info = _running_stack()
    handle = None
    if info is None:
        from devstack.stack import start_stack

        print("no running stack found: starting one for the demo …", flush=True)
        handle = start_stack(Path(tempfile.mkdtemp(prefix="edoc-demo-")))
        info = handle.info
    try:
        from rich.live import Live

        workdir = Path(tempfile.mkdtemp(prefix="edoc-demo-docs-"))
        with Live(live_table([]), refresh_per_second=8) as live:  # the documents move on screen as they move
            rows = run_samples(GatewayClient(info), workdir, on_change=lambda rs: live.update(live_table(rs)))
            live.update(live_table(rows))
        print(f"\nsigned PDFs kept in {workdir}")
        return 0 if all(r["state"] == "DISPATCHED" and r["signature"] == "valid" for r in rows) else 1
    finally:
        if handle is not None:
            handle.stop()


if __name__ == "__main__":
    sys.exit(main())
