"""`edoc admin …`: the province's administration over the admin API (docs/contract.md#routes, group `admins`,
with MFA): the agency registry, the document search, the monthly report (JSON, CSV or XLSX), dead letters and their
redrive, keys that expire soon, the audit trail, and `bootstrap` (edoc_cli.bootstrap, issue 13)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from edoc_cli.documents import meta_of, number_of
from edoc_cli.main import Context, pass_ctx
from edoc_cli.output import badge, when

__all__ = ["admin"]

_FILE_TYPES = {"csv": "text/csv", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


@click.group()
def admin() -> None:
    """Quản trị cổng (tài khoản nhóm admins, có xác thực hai lớp)."""


def _yes(value: Any) -> str:
    return {True: "có", False: "không"}.get(value, "")


@admin.command()
@click.option("--q", help="Tìm theo tên (không phân biệt dấu).")
@click.option("--served/--external", default=None, help="Chỉ cơ quan do cổng phục vụ / cơ quan ngoài.")
@click.option("--active/--inactive", default=None)
@click.option("--limit", default=200, show_default=True)
@pass_ctx
def agencies(ctx: Context, q: str | None, served: bool | None, active: bool | None, limit: int) -> None:
    """Danh bạ cơ quan."""
    params = {"q": q, "served": None if served is None else str(served).lower(),
              "active": None if active is None else str(active).lower(), "limit": min(limit, 100)}
    items = list(ctx.gateway.pages("/v1/admin/agencies", params, limit=limit))
    if ctx.json_mode:
        ctx.out.emit({"items": items})
        return
    ctx.out.show(ctx.out.table(f"Cơ quan ({len(items)})", ["Mã định danh", "Tên", "Phục vụ", "Hoạt động",
                                                           "Song song giấy", "Con dấu"],
                               [(a["organ_id"], a["name"], _yes(a.get("served")), _yes(a.get("active")),
                                 _yes(a.get("paper_in_parallel")), "có" if a.get("seal") else "")
                                for a in items]))


def _contact(email: str | None, telephone: str | None, address: str | None) -> dict[str, str] | None:
    contact = {k: v for k, v in (("email", email), ("telephone", telephone), ("address", address)) if v}
    return contact or None


@admin.command("agency-add")
@click.argument("organ_id")
@click.argument("name")
@click.option("--short-name")
@click.option("--served", is_flag=True, help="Cơ quan do cổng phục vụ (ký số và gửi thay).")
@click.option("--paper-in-parallel", is_flag=True, help="Vẫn gửi kèm bản giấy.")
@click.option("--email")
@click.option("--telephone")
@click.option("--address")
@pass_ctx
def agency_add(ctx: Context, organ_id: str, name: str, short_name: str | None, served: bool,
               paper_in_parallel: bool, email: str | None, telephone: str | None, address: str | None) -> None:
    """Thêm một cơ quan vào danh bạ."""
    body: dict[str, Any] = {"organ_id": organ_id, "name": name, "served": served,
                            "paper_in_parallel": paper_in_parallel}
    if short_name:
        body["short_name"] = short_name
    if contact := _contact(email, telephone, address):
        body["contact"] = contact
    _show_agency(ctx, ctx.gateway.call("POST", "/v1/admin/agencies", json=body), "Đã thêm")


@admin.command("agency-edit")
@click.argument("organ_id")
@click.option("--name")
@click.option("--short-name")
@click.option("--served/--external", default=None)
@click.option("--active/--inactive", default=None, help="--inactive: ngừng hoạt động (không xoá).")
@click.option("--paper-in-parallel/--electronic-only", default=None)
@click.option("--email")
@click.option("--telephone")
@click.option("--address")
@pass_ctx
def agency_edit(ctx: Context, organ_id: str, name: str | None, short_name: str | None, served: bool | None,
                active: bool | None, paper_in_parallel: bool | None, email: str | None, telephone: str | None,
                address: str | None) -> None:
    """Sửa thông tin một cơ quan (chỉ các trường được nêu)."""
    body = {k: v for k, v in (("name", name), ("short_name", short_name), ("served", served), ("active", active),
                              ("paper_in_parallel", paper_in_parallel),
                              ("contact", _contact(email, telephone, address))) if v is not None}
    if not body:
        raise click.UsageError("không có gì để sửa: nêu ít nhất một tuỳ chọn")
    _show_agency(ctx, ctx.gateway.call("PATCH", f"/v1/admin/agencies/{organ_id}", json=body), "Đã sửa")


def _show_agency(ctx: Context, agency: dict[str, Any], verb: str) -> None:
    if ctx.json_mode:
        ctx.out.emit(agency)
    else:
        ctx.out.show(f"{verb} {agency['organ_id']} {agency['name']} (phục vụ: {_yes(agency.get('served'))}, "
                     f"hoạt động: {_yes(agency.get('active'))}).")


@admin.command()
@pass_ctx
def sync(ctx: Context) -> None:
    """Đồng bộ danh bạ với danh mục của Trục liên thông."""
    report = ctx.gateway.call("POST", "/v1/admin/agencies/sync", json={})
    if ctx.json_mode:
        ctx.out.emit(report)
        return
    counts = {k: (len(v) if isinstance(v, list) else v) for k, v in report.items() if k != "sync_id"}
    ctx.out.show(ctx.out.table(f"Đồng bộ {report.get('sync_id', '')}", ["", "Số cơ quan"], counts.items()))


@admin.command()
@click.option("--organ-id")
@click.option("--state")
@click.option("--recipient")
@click.option("--from", "from_", metavar="YYYY-MM-DD")
@click.option("--to", metavar="YYYY-MM-DD")
@click.option("--number")
@click.option("--notation")
@click.option("--q", help="Từ trong trích yếu (không phân biệt dấu).")
@click.option("--limit", default=100, show_default=True)
@pass_ctx
def search(ctx: Context, organ_id: str | None, state: str | None, recipient: str | None, from_: str | None,
           to: str | None, number: str | None, notation: str | None, q: str | None, limit: int) -> None:
    """Tìm văn bản của mọi cơ quan."""
    params = {"organ_id": organ_id, "state": state, "recipient": recipient, "from": from_, "to": to,
              "number": number, "notation": notation, "q": q, "limit": min(limit, 100)}
    items = list(ctx.gateway.pages("/v1/admin/documents", params, limit=limit))
    if ctx.json_mode:
        ctx.out.emit({"items": items})
        return
    ctx.out.show(ctx.out.table(f"Văn bản ({len(items)})", ["Mã", "Cơ quan", "Số/Ký hiệu", "Trích yếu",
                                                          "Trạng thái"],
                               [(i["document_id"], i.get("organ_id"), number_of(i),
                                 (meta_of(i).get("subject") or "")[:50], badge(i.get("state"))) for i in items]))


@admin.command()
@click.option("--month", required=True, metavar="YYYY-MM")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv", "xlsx"]), default="table",
              show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Tệp lưu (csv, xlsx); mặc định bao-cao-YYYY-MM.<định dạng>.")
@pass_ctx
def report(ctx: Context, month: str, fmt: str, output: Path | None) -> None:
    """Báo cáo tháng: văn bản gửi hoàn toàn điện tử, đã ký số, so với chỉ tiêu."""
    if fmt in _FILE_TYPES:
        content = ctx.gateway.call("GET", "/v1/admin/reports/monthly", params={"month": month, "format": fmt},
                                   headers={"Accept": _FILE_TYPES[fmt]}, raw=True)
        target = output or Path(f"bao-cao-{month}.{fmt}")
        target.write_bytes(content)
        if ctx.json_mode:
            ctx.out.emit({"month": month, "format": fmt, "file": str(target), "bytes": len(content)})
        else:
            ctx.out.note(f"Đã lưu {target} ({len(content):,} byte).")
        return
    answer = ctx.gateway.call("GET", "/v1/admin/reports/monthly", params={"month": month})
    if ctx.json_mode or fmt == "json":
        ctx.out.emit(answer)
        return

    def share(row: dict[str, Any], key: str, target_key: str) -> str:
        value, target = row.get(key), row.get(target_key)
        text = "—" if value is None else f"{value:.0%}"
        return f"[red]{text}[/]" if value is not None and target is not None and value < target else text

    rows = [(r["organ_id"], r.get("name", ""), r.get("sent"), share(r, "electronic_only_share",
             "target_electronic_only_share"), share(r, "signed_share", "target_signed_share"), r.get("failed"),
             r.get("received")) for r in answer.get("agencies", [])]
    ctx.out.show(ctx.out.table(f"Báo cáo tháng {month}", ["Mã", "Cơ quan", "Đã gửi", "Hoàn toàn điện tử",
                                                         "Đã ký số", "Lỗi", "Đã nhận"], rows))


@admin.command("dead-letters")
@click.option("--queue", type=click.Choice(["dispatch", "upload", "webhooks"]), default=None)
@pass_ctx
def dead_letters(ctx: Context, queue: str | None) -> None:
    """Thư chết (DLQ): các văn bản không xử lý được sau mọi lần thử lại."""
    answer = ctx.gateway.call("GET", "/v1/admin/dead-letters", params={"queue": queue})
    if ctx.json_mode:
        ctx.out.emit(answer)
        return
    ctx.out.show(ctx.out.table(f"Thư chết ({len(answer.get('items', []))})", [
        "Hàng đợi", "Văn bản", "Số lần nhận", "Vào DLQ lúc"],
        [(d.get("queue"), d.get("document_id"), d.get("receive_count"), when(d.get("dead_lettered_at")))
         for d in answer.get("items", [])]))


@admin.command()
@click.option("--queue", type=click.Choice(["dispatch", "upload", "webhooks"]), required=True)
@click.option("--document-id", "document_ids", multiple=True, help="Chỉ các văn bản này (lặp lại được).")
@pass_ctx
def redrive(ctx: Context, queue: str, document_ids: tuple[str, ...]) -> None:
    """Đưa thư chết trở lại hàng đợi để xử lý lại."""
    body: dict[str, Any] = {"queue": queue, **({"document_ids": list(document_ids)} if document_ids else {})}
    answer = ctx.gateway.call("POST", "/v1/admin/dead-letters/redrive", json=body)
    if ctx.json_mode:
        ctx.out.emit(answer)
    else:
        ctx.out.show(f"Đã đưa lại {len(answer.get('redriven', []))} thư; lỗi {len(answer.get('failed', []))}, "
                     f"không thấy {len(answer.get('not_found', []))}.")


@admin.command()
@click.option("--organ-id")
@click.option("--expiring", type=int, metavar="NGÀY", help="Chỉ các khoá có chứng thư hết hạn trong số ngày này.")
@pass_ctx
def keys(ctx: Context, organ_id: str | None, expiring: int | None) -> None:
    """Khoá ký số của các cơ quan và hạn chứng thư."""
    items = ctx.gateway.call("GET", "/v1/admin/keys", params={"organ_id": organ_id}).get("items", [])
    if expiring is not None:
        items = [k for k in items if k.get("days_left") is not None and k["days_left"] <= expiring]
    items.sort(key=lambda k: (k.get("days_left") is None, k.get("days_left") or 0))
    if ctx.json_mode:
        ctx.out.emit({"items": items})
        return
    ctx.out.show(ctx.out.table(f"Khoá ({len(items)})", ["Cơ quan", "Khoá", "Nơi giữ", "Trạng thái", "Hết hạn",
                                                        "Còn (ngày)"],
                               [(k["organ_id"], k["key_ref"], k["backend"], k["state"], (k.get("not_after") or "")[:10],
                                 k.get("days_left")) for k in items]))


@admin.command()
@click.option("--actor")
@click.option("--organ-id")
@click.option("--resource-id")
@click.option("--from", "from_", metavar="YYYY-MM-DD")
@click.option("--to", metavar="YYYY-MM-DD")
@click.option("--limit", default=100, show_default=True)
@pass_ctx
def audit(ctx: Context, actor: str | None, organ_id: str | None, resource_id: str | None, from_: str | None,
          to: str | None, limit: int) -> None:
    """Nhật ký kiểm toán, mới nhất trước."""
    params = {"actor": actor, "organ_id": organ_id, "resource_id": resource_id, "from": from_, "to": to,
              "limit": min(limit, 100)}
    items = list(ctx.gateway.pages("/v1/admin/audit", params, limit=limit))
    if ctx.json_mode:
        ctx.out.emit({"items": items})
        return
    ctx.out.show(ctx.out.table(f"Nhật ký ({len(items)})", ["Lúc", "Người", "Cơ quan", "Hành động", "Đối tượng",
                                                          "Kết quả"],
                               [(when(e.get("at")), (e.get("actor") or {}).get("username"),
                                 (e.get("actor") or {}).get("organ_id"), e.get("action"),
                                 (e.get("resource") or {}).get("id"), e.get("result"))
                                for e in items]))


def _register_bootstrap() -> None:
    from edoc_cli.bootstrap import bootstrap

    admin.add_command(bootstrap)


_register_bootstrap()
