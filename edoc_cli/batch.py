"""`edoc send-dir`'s run: upload every document of a batch with one progress bar, then follow them all in one live
table until each is final, then the summary (issue 10: "a progress bar, a summary table, a non-zero exit when
any failed"). One document's refusal never stops the others; each result names its file."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from edoc_cli.documents import FINAL_STATES, send_one
from edoc_cli.errors import CliError
from edoc_cli.manifest import BatchItem
from edoc_cli.output import badge

if TYPE_CHECKING:
    from edoc_cli.main import Context

__all__ = ["run_batch"]


def _result(item: BatchItem) -> dict[str, Any]:
    return {"file": item.pdf.name, "document_id": None, "state": None, "reason": None, "error": item.problem and {
        "code": "missing_metadata", "message": item.problem}}


def _upload_all(ctx: Context, items: list[BatchItem], results: list[dict[str, Any]]) -> None:
    progress = Progress(TextColumn("Tải lên"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
                        TimeElapsedColumn(), console=ctx.out.err, transient=ctx.json_mode)
    with progress:
        task = progress.add_task("", total=len(items))
        for item, result in zip(items, results, strict=True):
            progress.update(task, description=item.pdf.name)
            if item.metadata is not None:
                try:
                    created = send_one(ctx.gateway, item.pdf, item.metadata, item.attachments)
                    result.update(document_id=created["document_id"], state=created["state"])
                except CliError as exc:
                    result["error"] = {"code": exc.code, "message": exc.message, "details": exc.details}
            progress.advance(task)


def _table(ctx: Context, results: list[dict[str, Any]]) -> Any:
    return ctx.out.table("Kết quả", ["Tệp", "Mã văn bản", "Trạng thái", "Lý do / lỗi"], [
        (r["file"], r["document_id"] or "—", badge(r["state"]) if r["state"] else "[red]không gửi[/]",
         (r["error"] or {}).get("code") and f"{r['error']['code']}: {r['error']['message']}" or r["reason"] or "")
        for r in results])


def _follow_all(ctx: Context, results: list[dict[str, Any]], timeout: float, live: Live | None) -> None:
    deadline = time.monotonic() + timeout
    pending = [r for r in results if r["document_id"] and r["state"] not in FINAL_STATES]
    while pending and time.monotonic() < deadline:
        for result in pending:
            record = ctx.gateway.call("GET", f"/v1/documents/{result['document_id']}")
            result.update(state=record["state"], reason=record.get("reason"))
        pending = [r for r in pending if r["state"] not in FINAL_STATES]
        if live:
            live.update(_table(ctx, results))
        if pending:
            time.sleep(1.0)
    for result in pending:
        result["error"] = {"code": "wait_timeout", "message": f"vẫn ở trạng thái {result['state']} khi hết giờ chờ"}


def run_batch(ctx: Context, items: list[BatchItem], *, wait: bool, timeout: float) -> list[dict[str, Any]]:
    """Send every item; the results in the items' order (file, document_id, state, reason, error)."""
    results = [_result(item) for item in items]
    _upload_all(ctx, items, results)
    if wait:
        if ctx.json_mode:
            _follow_all(ctx, results, timeout, None)
        else:
            with Live(_table(ctx, results), console=ctx.out.out, refresh_per_second=4) as live:
                _follow_all(ctx, results, timeout, live)
            return results
    if not ctx.json_mode:
        ctx.out.show(_table(ctx, results))
    return results
