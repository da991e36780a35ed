"""`edoc webhooks …`: an agency's subscriptions to the gateway's events (issue 14, docs/contract.md#webhooks):
register one (its signing secret is shown once), list, show, change, test, rotate the secret, remove, and the
delivery attempts; an admin redelivers (`edoc admin redeliver`)."""

from __future__ import annotations

from typing import Any

import click

from edoc_cli.main import Context, pass_ctx
from edoc_cli.output import when

__all__ = ["redeliver", "webhooks"]


@click.group()
def webhooks() -> None:
    """Webhook: báo cho hệ thống quản lý văn bản của cơ quan mỗi khi có sự kiện."""


def _show(ctx: Context, hook: dict[str, Any], verb: str = "") -> None:
    if ctx.json_mode:
        ctx.out.emit(hook)
        return
    state = "bật" if hook.get("active") else "[red]tắt[/]"
    ctx.out.show(f"{verb}{hook['subscription_id']}  {hook['url']}  ({state}; sự kiện: {', '.join(hook['events'])})")
    if hook.get("secret"):
        ctx.out.show(f"Khoá ký (chỉ hiện một lần, hãy lưu lại): [bold]{hook['secret']}[/]")


@webhooks.command("add")
@click.argument("url")
@click.option("--event", "events", multiple=True, help="Loại sự kiện (lặp lại được); mặc định tất cả (*).")
@click.option("--description")
@pass_ctx
def add(ctx: Context, url: str, events: tuple[str, ...], description: str | None) -> None:
    """Đăng ký một địa chỉ nhận webhook (https)."""
    body: dict[str, Any] = {"url": url, "events": list(events) or ["*"]}
    if description:
        body["description"] = description
    _show(ctx, ctx.gateway.call("POST", "/v1/webhooks", json=body), "Đã đăng ký ")


@webhooks.command("list")
@click.option("--organ-id", help="Quản trị: chỉ của cơ quan này.")
@pass_ctx
def list_hooks(ctx: Context, organ_id: str | None) -> None:
    """Các đăng ký webhook của cơ quan (quản trị: tất cả)."""
    items = ctx.gateway.call("GET", "/v1/webhooks", params={"organ_id": organ_id}).get("items", [])
    if ctx.json_mode:
        ctx.out.emit({"items": items})
        return
    ctx.out.show(ctx.out.table(f"Webhook ({len(items)})", ["Mã", "Cơ quan", "Địa chỉ", "Sự kiện", "Bật",
                                                          "Lỗi liên tiếp"],
                               [(h["subscription_id"], h["organ_id"], h["url"], ", ".join(h["events"]),
                                 "có" if h.get("active") else "không", h.get("consecutive_failures"))
                                for h in items]))


@webhooks.command("show")
@click.argument("subscription_id")
@pass_ctx
def show(ctx: Context, subscription_id: str) -> None:
    """Một đăng ký."""
    _show(ctx, ctx.gateway.call("GET", f"/v1/webhooks/{subscription_id}"))


@webhooks.command("edit")
@click.argument("subscription_id")
@click.option("--url")
@click.option("--event", "events", multiple=True)
@click.option("--description")
@click.option("--active/--inactive", default=None, help="--active bật lại (xoá chuỗi lỗi).")
@pass_ctx
def edit(ctx: Context, subscription_id: str, url: str | None, events: tuple[str, ...], description: str | None,
         active: bool | None) -> None:
    """Sửa một đăng ký (chỉ các trường được nêu)."""
    body = {k: v for k, v in (("url", url), ("events", list(events) or None), ("description", description),
                              ("active", active)) if v is not None}
    if not body:
        raise click.UsageError("không có gì để sửa: nêu ít nhất một tuỳ chọn")
    _show(ctx, ctx.gateway.call("PATCH", f"/v1/webhooks/{subscription_id}", json=body), "Đã sửa ")


@webhooks.command("test")
@click.argument("subscription_id")
@pass_ctx
def test(ctx: Context, subscription_id: str) -> None:
    """Gửi thử một sự kiện tới địa chỉ đã đăng ký."""
    answer = ctx.gateway.call("POST", f"/v1/webhooks/{subscription_id}/test")
    if ctx.json_mode:
        ctx.out.emit(answer)
    else:
        ctx.out.show(f"Đã xếp hàng lần gửi thử {answer['delivery_id']}: xem `edoc webhooks deliveries "
                     f"{subscription_id}`.")


@webhooks.command("rotate")
@click.argument("subscription_id")
@click.option("--grace-seconds", type=int, help="Bao lâu khoá cũ còn ký song song (mặc định 24 giờ).")
@pass_ctx
def rotate(ctx: Context, subscription_id: str, grace_seconds: int | None) -> None:
    """Đổi khoá ký; khoá cũ vẫn ký song song trong thời gian chuyển tiếp."""
    body = {"grace_seconds": grace_seconds} if grace_seconds is not None else {}
    _show(ctx, ctx.gateway.call("POST", f"/v1/webhooks/{subscription_id}/rotate-secret", json=body), "Đã đổi khoá ")


@webhooks.command("remove")
@click.argument("subscription_id")
@pass_ctx
def remove(ctx: Context, subscription_id: str) -> None:
    """Xoá một đăng ký."""
    answer = ctx.gateway.call("DELETE", f"/v1/webhooks/{subscription_id}")
    if ctx.json_mode:
        ctx.out.emit(answer)
    else:
        ctx.out.show(f"Đã xoá {subscription_id}.")


@webhooks.command("deliveries")
@click.argument("subscription_id")
@click.option("--limit", default=50, show_default=True)
@pass_ctx
def deliveries(ctx: Context, subscription_id: str, limit: int) -> None:
    """Các lần gửi: trạng thái, mã HTTP, thời gian."""
    items = list(ctx.gateway.pages(f"/v1/webhooks/{subscription_id}/deliveries", {"limit": min(limit, 100)},
                                   limit=limit))
    if ctx.json_mode:
        ctx.out.emit({"items": items})
        return
    rows = []
    for d in items:
        last = (d.get("attempts") or [{}])[-1]
        rows.append((d["delivery_id"], d["type"], d["status"], d.get("attempt_count"), when(last.get("at")),
                     last.get("status_code") or last.get("error") or "", last.get("duration_ms")))
    ctx.out.show(ctx.out.table(f"Lần gửi ({len(items)})", ["Mã", "Sự kiện", "Trạng thái", "Số lần", "Lần cuối",
                                                          "Kết quả", "ms"], rows))


@click.command()
@click.argument("subscription_id")
@click.argument("delivery_id")
@pass_ctx
def redeliver(ctx: Context, subscription_id: str, delivery_id: str) -> None:
    """Gửi lại một sự kiện webhook (cùng webhook-id)."""
    answer = ctx.gateway.call("POST", f"/v1/admin/webhooks/{subscription_id}/redeliver",
                              json={"delivery_id": delivery_id})
    if ctx.json_mode:
        ctx.out.emit(answer)
    else:
        ctx.out.show(f"Đã xếp hàng gửi lại {answer['delivery_id']}.")
