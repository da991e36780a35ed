"""The agency's inbox: `edoc inbox` (the list, or one item with its verification report) and `edoc reply`
(the business status a clerk reports back to the sender over the axis, docs/contract.md#revoke-and-inbox-status)."""

from __future__ import annotations

from typing import Any

import click

from edoc_cli.main import Context, pass_ctx
from edoc_cli.output import when

__all__ = ["COMMANDS"]

_SUMMARY_STYLE = {"valid": "green", "untrusted": "yellow", "unsigned": "yellow", "partial": "yellow",
                  "invalid": "red", "unreadable": "red"}


def _arrival(item: dict[str, Any], *, with_year: bool = False) -> str:
    """Số đến (issue 12): the number in the agency's register of incoming documents (of `arrival_year`)."""
    number, year = item.get("arrival_number"), item.get("arrival_year")
    if not number:
        return ""
    return f"{number} (sổ văn bản đến năm {year})" if with_year and year else str(number)


def _summary(word: str | None) -> str:
    return f"[{_SUMMARY_STYLE.get(word or '', 'white')}]{word or '?'}[/]"


@click.command()
@click.argument("inbox_id", required=False)
@click.option("--limit", default=50, show_default=True, help="Số văn bản tối đa.")
@pass_ctx
def inbox(ctx: Context, inbox_id: str | None, limit: int) -> None:
    """Văn bản đến: danh sách, hoặc một văn bản (INBOX_ID) với kết quả kiểm tra chữ ký."""
    out = ctx.out
    if inbox_id:
        item = ctx.gateway.call("GET", f"/v1/inbox/{inbox_id}")
        if ctx.json_mode:
            out.emit(item)
            return
        out.show(f"[bold]{item['inbox_id']}[/] từ {item['from_organ_id']} · Số {item.get('number') or '…'}/"
                 f"{item.get('notation') or ''} · {item.get('subject') or ''}")
        if item.get("arrival_number"):
            out.show(f"Số đến: {_arrival(item, with_year=True)}")
        out.show(f"Chữ ký: {_summary(item.get('verification_summary'))} "
                 f"{', '.join(item.get('verification_reasons') or [])} · trạng thái {item.get('status')}"
                 + (" · [magenta]đã bị thu hồi[/]" if item.get("revoked") else ""))
        return
    items = list(ctx.gateway.pages("/v1/inbox", {"limit": min(limit, 100)}, limit=limit))
    if ctx.json_mode:
        out.emit({"items": items})
        return
    out.show(out.table(f"Văn bản đến ({len(items)})", ["Mã", "Số đến", "Từ", "Số/Ký hiệu", "Trích yếu", "Chữ ký",
                                                        "Trạng thái", "Nhận lúc"],
                       [(i["inbox_id"], _arrival(i) or "—", i["from_organ_id"],
                         f"{i.get('number') or '…'}/{i.get('notation') or ''}",
                         (i.get("subject") or "")[:50], _summary(i.get("verification_summary")),
                         i.get("status") + (" (thu hồi)" if i.get("revoked") else ""), when(i.get("received_at")))
                        for i in items]))


@click.command()
@click.argument("inbox_id")
@click.argument("code", type=click.Choice(["02", "03", "04", "05", "06"]))
@click.option("--reason", help="Lý do (bắt buộc với 02, từ chối tiếp nhận).")
@pass_ctx
def reply(ctx: Context, inbox_id: str, code: str, reason: str | None) -> None:
    """Báo trạng thái xử lý văn bản đến: 02 từ chối, 03 đã tiếp nhận, 04 phân công, 05 đang xử lý, 06 hoàn thành."""
    body = {"code": code, **({"reason": reason} if reason else {})}
    item = ctx.gateway.call("POST", f"/v1/inbox/{inbox_id}/status", json=body)
    if ctx.json_mode:
        ctx.out.emit(item)
    else:
        ctx.out.show(f"{inbox_id}: đã báo trạng thái {code}.")


COMMANDS = [inbox, reply]
