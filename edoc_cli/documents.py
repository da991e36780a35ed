"""The agency's commands: `send`, `send-dir`, `draft`, `list`, `status`, `download`, `verify`, `revoke` (issue 10;
`draft` and `send` without `--meta` read the metadata from the document itself, issue 12).

Each one is a few calls of the public API (docs/contract.md#routes): create the record, POST the PDF and its phụ
lục straight to S3 with a progress bar, follow the record until it is DISPATCHED, REJECTED or FAILED. A document
that ends REJECTED or FAILED is the gateway saying no: exit status 1, its reason on stderr.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from edoc_cli import manifest
from edoc_cli.errors import CliError
from edoc_cli.gateway import Gateway
from edoc_cli.main import Context, pass_ctx
from edoc_cli.output import Output, badge, when

__all__ = ["COMMANDS", "FINAL_STATES", "follow", "meta_of", "metadata_for", "number_of", "read_draft", "send_one"]

#: States a document does not leave by itself (docs/contract.md#states); `--wait` stops at the first of them.
FINAL_STATES = frozenset({"DISPATCHED", "REJECTED", "FAILED", "REVOKED", "EXPIRED"})
_REFUSED = frozenset({"REJECTED", "FAILED", "EXPIRED"})


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise click.BadParameter(f"{path}: {exc}", param_hint="--meta") from exc
    if not isinstance(value, dict):
        raise click.BadParameter(f"{path}: phải là một đối tượng JSON", param_hint="--meta")
    return value


def _progress(out: Output) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                    console=out.err, transient=True)


def send_one(gateway: Gateway, pdf: Path, metadata: dict[str, Any], attachments: list[Path],
             progress: Progress | None = None) -> dict[str, Any]:
    """Register one document and upload its PDF and phụ lục; the create answer (document_id, state)."""
    if attachments and len(metadata.get("attachments") or []) != len(attachments):
        named = list(metadata.get("attachments") or [])
        named += [{"name": f"Phụ lục {i}", "file_name": p.name}
                  for i, p in enumerate(attachments[len(named):], start=len(named) + 1)]
        metadata = {**metadata, "attachments": named}
    created = gateway.call("POST", "/v1/documents", json=metadata)
    parts = [(created["upload"], pdf), *zip(created.get("attachment_uploads") or [], attachments, strict=False)]
    for form, path in parts:
        task = progress.add_task(path.name, total=path.stat().st_size) if progress else None
        gateway.upload(form, path, (lambda n, t=task: progress.advance(t, n)) if progress else None)
        if progress and task is not None:
            progress.remove_task(task)
    return created


def follow(gateway: Gateway, document_id: str, *, timeout: float, on_change: Any = None) -> dict[str, Any]:
    """Poll the record until a final state (or `timeout` seconds); `on_change(record)` on every new state."""
    deadline = time.monotonic() + timeout
    seen = None
    delay = 0.5
    while True:
        record = gateway.call("GET", f"/v1/documents/{document_id}")
        if record["state"] != seen:
            seen = record["state"]
            if on_change:
                on_change(record)
        if record["state"] in FINAL_STATES:
            return record
        if time.monotonic() > deadline:
            raise CliError("wait_timeout", f"Văn bản {document_id} vẫn ở trạng thái {record['state']} sau "
                                           f"{timeout:.0f} giây.", {"document_id": document_id,
                                                                     "state": record["state"]})
        time.sleep(delay)
        delay = min(delay * 1.5, 3.0)


def _deliveries_table(out: Output, record: dict[str, Any]) -> Any:
    return out.table("Nơi nhận", ["Mã định danh", "Trạng thái", "Cập nhật"],
                     [(d["organ_id"], d.get("status"), when(d.get("updated_at")))
                      for d in record.get("deliveries", [])])


def _refusal(record: dict[str, Any], *, answered: bool) -> CliError:
    reason = record.get("reason") or record["state"].lower()
    return CliError(reason, f"Văn bản {record['document_id']} kết thúc ở trạng thái {record['state']}"
                            + (f": {record['reason']}" if record.get("reason") else "."),
                    {"document_id": record["document_id"], "state": record["state"],
                     **({"details": record["details"]} if record.get("details") else {})}, answered=answered)


_REQUIRED = ("notation", "type", "subject", "issued_on", "place", "signer", "recipients")
_DRAFT_MAX_BYTES = 5 * 1024 * 1024  # POST /v1/documents/draft's bound (docs/contract.md#document-draft)


def read_draft(gateway: Gateway, pdf: Path) -> dict[str, Any]:
    """What the document's own text says (POST /v1/documents/draft: NĐ 30 layout, issue 12)."""
    if pdf.stat().st_size > _DRAFT_MAX_BYTES:
        raise CliError("payload_too_large", f"{pdf.name} lớn hơn 5 MB: hãy nêu --meta.", {"file": str(pdf)})
    return gateway.call("POST", "/v1/documents/draft", data=pdf.read_bytes(),
                        headers={"Content-Type": "application/pdf"})


def metadata_for(gateway: Gateway, pdf: Path, given: dict[str, Any] | None) -> dict[str, Any]:
    """The body of POST /v1/documents: `--meta` as given, or read from the document with `--meta`'s fields (if
    any) over what the text says. A field neither gives is named, with the draft's own warnings."""
    if given is not None and all(given.get(f) for f in _REQUIRED):
        return given
    draft = read_draft(gateway, pdf)
    meta = {**draft.get("metadata", {}), **(given or {})}
    missing = [f for f in _REQUIRED if not meta.get(f)]
    if len(str(meta.get("issued_on", ""))) != 10 and "issued_on" not in missing:
        missing.append("issued_on")  # "2020-06": the văn thư fills the day at issuance
    if missing:
        raise CliError("metadata_incomplete", f"Văn bản {pdf.name} không cho biết: {', '.join(missing)}. Hãy nêu "
                                              "các trường này trong --meta (xem `edoc draft`).",
                       {"missing": missing, "warnings": draft.get("warnings", [])})
    return meta


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_ctx
def draft(ctx: Context, file: Path) -> None:
    """Đọc thông tin văn bản từ chính tệp PDF (số, ký hiệu, ngày, loại, trích yếu, người ký, nơi nhận)."""
    answer = read_draft(ctx.gateway, file)
    if ctx.json_mode:
        ctx.out.emit(answer)
        return
    meta, confidence = answer.get("metadata", {}), answer.get("confidence", {})
    rows = []
    for field in ("number", "notation", "type", "issued_on", "place", "subject", "signer"):
        value = meta.get(field)
        if isinstance(value, dict):
            value = " · ".join(v for v in (value.get("competence"), value.get("position"), value.get("full_name"))
                               if v)
        rows.append((field, "" if value is None else value, f"{confidence.get(field, 0):.0%}"))
    ctx.out.show(ctx.out.table(f"{file.name}: thông tin đọc từ văn bản", ["Trường", "Giá trị", "Tin cậy"], rows))
    ctx.out.show(ctx.out.table("Nơi nhận", ["Như văn bản ghi", "Mã định danh", "Bản giấy"],
                               [(r["text"], ", ".join(r.get("organ_ids", [])), "có" if r.get("paper") else "")
                                for r in answer.get("recipients", [])]))
    for warning in answer.get("warnings", []):
        ctx.out.note(f"[yellow]{warning.get('code')}[/]: {warning.get('message')}")


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--meta", "meta_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Thông tin văn bản (JSON, như thân của POST /v1/documents). Không nêu: đọc từ chính văn bản "
                   "(POST /v1/documents/draft); các trường nêu ở đây được ưu tiên.")
@click.option("--attach", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Phụ lục (PDF), lặp lại được, theo thứ tự.")
@click.option("--wait", is_flag=True, help="Theo dõi đến khi DISPATCHED, REJECTED hoặc FAILED.")
@click.option("--timeout", default=600.0, show_default=True, help="Số giây chờ tối đa với --wait.")
@pass_ctx
def send(ctx: Context, file: Path, meta_path: Path, attach: tuple[Path, ...], wait: bool, timeout: float) -> None:
    """Gửi một văn bản: đăng ký, tải PDF lên (kèm phụ lục), và với --wait theo dõi đến khi xong."""
    out = ctx.out
    metadata = metadata_for(ctx.gateway, file, _read_json(meta_path) if meta_path else None)
    with _progress(out) as progress:
        created = send_one(ctx.gateway, file, metadata, list(attach), progress)
    document_id = created["document_id"]
    if not wait:
        if ctx.json_mode:
            out.emit(created)
        else:
            out.show(f"{document_id}  {badge(created['state'])}  (đã tải lên {file.name})")
        return

    def changed(record: dict[str, Any]) -> None:
        if ctx.json_mode:
            out.emit({"document_id": document_id, "state": record["state"]}, line=True)
        else:
            out.show(f"{time.strftime('%H:%M:%S')}  {document_id}  {badge(record['state'])}"
                     + (f"  {record['reason']}" if record.get("reason") else ""))

    record = follow(ctx.gateway, document_id, timeout=timeout, on_change=changed)
    if ctx.json_mode:
        out.emit(record, line=True)
    elif record.get("deliveries"):
        out.show(_deliveries_table(out, record))
    if record["state"] in _REFUSED:
        raise _refusal(record, answered=ctx.json_mode)


@click.command("send-dir")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--manifest", "manifest_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Một tệp CSV thay cho tệp JSON đi kèm từng PDF (cột: file, number, notation, type, ...).")
@click.option("--wait/--no-wait", default=True, show_default=True, help="Theo dõi từng văn bản đến khi xong.")
@click.option("--timeout", default=900.0, show_default=True, help="Số giây chờ tối đa cho cả lô.")
@pass_ctx
def send_dir(ctx: Context, folder: Path, manifest_path: Path | None, wait: bool, timeout: float) -> None:
    """Gửi cả một thư mục PDF: mỗi tệp X.pdf với X.json (hoặc một tệp CSV), in bảng tổng hợp."""
    from edoc_cli.batch import run_batch

    items = manifest.from_manifest(folder, manifest_path) if manifest_path else manifest.from_sidecars(folder)
    if not items:
        raise CliError("empty_batch", f"Thư mục {folder} không có tệp PDF nào.")
    results = run_batch(ctx, items, wait=wait, timeout=timeout)
    failed = [r for r in results if r["error"] or (wait and r["state"] != "DISPATCHED")]
    if ctx.json_mode:
        ctx.out.emit({"items": results, "sent": len(results) - len(failed), "failed": len(failed)})
    if failed:
        names = ", ".join(r["file"] for r in failed)
        raise CliError("batch_failed", f"{len(failed)}/{len(results)} văn bản không gửi được: {names}.",
                       {"failed": [r["file"] for r in failed]}, answered=ctx.json_mode)


@click.command("list")
@click.option("--state", help="Chỉ các văn bản ở trạng thái này (vd. DISPATCHED).")
@click.option("--limit", default=50, show_default=True, help="Số văn bản tối đa.")
@pass_ctx
def list_documents(ctx: Context, state: str | None, limit: int) -> None:
    """Các văn bản đi của cơ quan, mới nhất trước."""
    items = list(ctx.gateway.pages("/v1/documents", {"state": state, "limit": min(limit, 100)}, limit=limit))
    if ctx.json_mode:
        ctx.out.emit({"items": items})
        return
    ctx.out.show(ctx.out.table(f"Văn bản đi ({len(items)})", ["Mã", "Số/Ký hiệu", "Trích yếu", "Trạng thái",
                                                               "Tạo lúc"],
                               [(i["document_id"], number_of(i), (meta_of(i).get("subject") or "")[:60],
                                 badge(i["state"]),
                                 when(i.get("created_at"))) for i in items]))


def meta_of(item: dict[str, Any]) -> dict[str, Any]:
    return item.get("metadata") or item


def number_of(item: dict[str, Any]) -> str:
    meta = meta_of(item)
    return f"{meta.get('number') or '…'}/{meta.get('notation') or ''}"


@click.command()
@click.argument("document_id")
@pass_ctx
def status(ctx: Context, document_id: str) -> None:
    """Một văn bản: trạng thái, dòng thời gian và từng nơi nhận."""
    record = ctx.gateway.call("GET", f"/v1/documents/{document_id}")
    if ctx.json_mode:
        ctx.out.emit(record)
        return
    out = ctx.out
    meta = record.get("metadata", {})
    out.show(f"[bold]{document_id}[/]  {badge(record['state'])}"
             + (f"  {record['reason']}" if record.get("reason") else ""))
    out.show(f"Số {number_of(record)} · {meta.get('type', '')} · {meta.get('subject', '')}")
    out.show(out.table("Dòng thời gian", ["Lúc", "Trạng thái"],
                       [(when(e.get("at")), badge(e.get("state"))) for e in record.get("timeline", [])]))
    if record.get("deliveries"):
        out.show(_deliveries_table(out, record))


@click.command()
@click.argument("document_id")
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False, path_type=Path),
              help="Tệp lưu (mặc định <mã>.pdf hoặc <mã>-att-N.pdf).")
@click.option("--part", help="Phụ lục: att-1, att-2, ...")
@pass_ctx
def download(ctx: Context, document_id: str, output: Path | None, part: str | None) -> None:
    """Tải về bản PDF đã ký số."""
    link = ctx.gateway.call("GET", f"/v1/documents/{document_id}/signed", params={"part": part})
    target = output or Path(f"{document_id}{'-' + part if part else ''}.pdf")
    with target.open("wb") as fh:
        size = ctx.gateway.fetch(link["url"], fh)
    if ctx.json_mode:
        ctx.out.emit({"document_id": document_id, "part": part or "main", "file": str(target), "bytes": size})
    else:
        ctx.out.note(f"Đã lưu {target} ({size:,} byte).")


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_ctx
def verify(ctx: Context, file: Path) -> None:
    """Kiểm tra chữ ký số của một tệp PDF bất kỳ (tối đa 5 MB)."""
    report = ctx.gateway.call("POST", "/v1/verify", data=file.read_bytes(),
                              headers={"Content-Type": "application/pdf"})
    if ctx.json_mode:
        ctx.out.emit(report)
        return
    sigs = report.get("signatures", [])
    yes = {True: "[green]có[/]", False: "[red]không[/]", None: "?"}
    ctx.out.show(ctx.out.table(f"{file.name}: {len(sigs)} chữ ký", [
        "Trường", "Tổ chức ký", "Thời điểm", "Nguyên vẹn", "Hợp lệ", "Tin cậy", "Toàn văn bản", "PAdES"],
        [(s.get("field"), s.get("organisation") or s.get("signer_subject"), s.get("signed_at"), yes[s.get("intact")],
          yes[s.get("valid")],
          yes[s.get("trusted")], yes[s.get("covers_whole_document")], s.get("pades_level")) for s in sigs]))


@click.command()
@click.argument("document_id")
@click.option("--reason", required=True, help="Lý do thu hồi.")
@pass_ctx
def revoke(ctx: Context, document_id: str, reason: str) -> None:
    """Thu hồi một văn bản đã gửi (gửi gói thu hồi tới từng nơi nhận)."""
    answer = ctx.gateway.call("POST", f"/v1/documents/{document_id}/revoke", json={"reason": reason})
    if ctx.json_mode:
        ctx.out.emit(answer)
    else:
        ctx.out.show(f"Đã yêu cầu thu hồi {document_id}.")


COMMANDS = [send, send_dir, draft, list_documents, status, download, verify, revoke]
