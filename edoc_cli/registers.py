"""`edoc registers outgoing|incoming`: the văn thư's registers (sổ đăng ký văn bản đi / đến, NĐ 30/2020 Art. 15 and
22; issue 12), over `GET /v1/registers/outgoing|incoming` (docs/contract.md#registers).

A page of the register in number order (`--limit`, `--cursor`), or the whole year's register (`--all`, following
the cursor), as a table for people or one JSON document with `--json`; `--format xlsx` saves the year's register
as the gateway's workbook (the columns of NĐ 30 Phụ lục IV). A clerk reads their own agency's registers; an admin
names the agency with `--organ-id` (required when the admin acts for no agency).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from edoc_cli.main import Context, pass_ctx
from edoc_cli.output import badge, when

__all__ = ["registers"]

_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_WORD = {"outgoing": "đi", "incoming": "đến"}
_SLUG = {"outgoing": "di", "incoming": "den"}
#: The business statuses of an inbound document (docs/contract.md#revoke-and-inbox-status), as the register shows.
_STATUS = {"01": "Đã đến", "02": "Từ chối tiếp nhận", "03": "Đã tiếp nhận", "04": "Đã phân công",
           "05": "Đang xử lý", "06": "Hoàn thành"}


@click.group()
def registers() -> None:
    """Sổ đăng ký văn bản đi / đến của cơ quan (đánh số liên tục theo năm)."""


def _day(value: Any) -> str:
    """An ISO date as people write it: 20/09/2019."""
    text = str(value or "")[:10]
    parts = text.split("-")
    return f"{parts[2]}/{parts[1]}/{parts[0]}" if len(parts) == 3 else text


def _joined(value: Any) -> str:
    return "; ".join(str(v) for v in value) if isinstance(value, list) else str(value or "")


def _text(value: Any, width: int | None = None) -> str:
    """A document's own words, shown as they are (a "[" in a trích yếu is not rich markup)."""
    text = "" if value is None else str(value)
    return escape(text[:width] if width else text)


def _outgoing_rows(items: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(i.get("number"), _text(i.get("notation")), _day(i.get("issued_on")), i.get("type"),
             _text(i.get("subject"), 60), _text(i.get("signer")), _joined(i.get("recipients")),
             badge(i.get("state")) + (f" {_text(i['reason'])}" if i.get("reason") else ""), i.get("document_id"))
            for i in items]


def _incoming_status(item: dict[str, Any]) -> str:
    code = item.get("status_code") or ""
    text = f"{code} {_STATUS.get(code, item.get('status') or '')}".strip() or "—"
    return text + (" [magenta](thu hồi)[/]" if item.get("revoked") else "")


def _incoming_rows(items: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(i.get("number"), when(i.get("received_at")), _text(i.get("from_name") or i.get("from_organ_id")),
             _text(f"{i.get('document_number') or '…'}/{i.get('notation') or ''}"), _day(i.get("issued_on")),
             _text(i.get("subject"), 60), _incoming_status(i), i.get("inbox_id"))
            for i in items]


_COLUMNS = {
    "outgoing": ["Số", "Ký hiệu", "Ngày ban hành", "Loại", "Trích yếu", "Người ký", "Nơi nhận", "Trạng thái",
                 "Mã văn bản"],
    "incoming": ["Số đến", "Ngày đến", "Nơi gửi", "Số/Ký hiệu", "Ngày văn bản", "Trích yếu", "Tình trạng",
                 "Mã văn bản đến"],
}


def _read(ctx: Context, direction: str, params: dict[str, Any], every: bool) -> dict[str, Any]:
    """One page of the register, or with `every` all of them (the cursor followed; `next` then absent)."""
    path = f"/v1/registers/{direction}"
    answer = ctx.gateway.call("GET", path, params=params)
    items = list(answer.get("items") or [])
    while every and answer.get("next"):
        answer = ctx.gateway.call("GET", path, params={**params, "cursor": answer["next"]})
        items.extend(answer.get("items") or [])
    body = {k: v for k, v in answer.items() if k not in ("items", "next")}
    body["items"] = items
    if answer.get("next"):
        body["next"] = answer["next"]
    return body


def _save(ctx: Context, direction: str, params: dict[str, Any], output: Path | None) -> None:
    content = ctx.gateway.call("GET", f"/v1/registers/{direction}", params={**params, "format": "xlsx"},
                               headers={"Accept": _XLSX}, raw=True)
    organ = f"-{params['organ_id']}" if params.get("organ_id") else ""
    year = f"-{params['year']}" if params.get("year") else ""
    target = output or Path(f"so-van-ban-{_SLUG[direction]}{organ}{year}.xlsx")
    target.write_bytes(content)
    if ctx.json_mode:
        ctx.out.emit({"direction": direction, "organ_id": params.get("organ_id"), "year": params.get("year"),
                      "format": "xlsx", "file": str(target), "bytes": len(content)})
    else:
        ctx.out.note(f"Đã lưu {target} ({len(content):,} byte).")


def _run(ctx: Context, direction: str, year: int | None, organ_id: str | None, limit: int, every: bool,
         cursor: str | None, fmt: str, output: Path | None) -> None:
    if output is not None and fmt != "xlsx":
        raise click.UsageError("-o/--output chỉ dùng với --format xlsx")
    if every and cursor:
        raise click.UsageError("--all và --cursor không dùng cùng nhau")
    params: dict[str, Any] = {"year": year, "organ_id": organ_id}
    if fmt == "xlsx":
        _save(ctx, direction, params, output)
        return
    answer = _read(ctx, direction, {**params, "limit": limit, "cursor": cursor}, every)
    if ctx.json_mode or fmt == "json":
        ctx.out.emit(answer)
        return
    items = answer["items"]
    rows = _outgoing_rows(items) if direction == "outgoing" else _incoming_rows(items)
    title = (f"Sổ văn bản {_WORD[direction]} năm {answer.get('year', year or '')} · "
             f"{answer.get('organ_id', organ_id or '')} ({len(items)} số)")
    ctx.out.show(ctx.out.table(title, _COLUMNS[direction], rows))
    if answer.get("next"):
        ctx.out.note(f"Còn các số tiếp theo: thêm --all để xem cả sổ, hoặc --cursor {answer['next']}")


def _register_options(command: Any) -> Any:
    for option in reversed([
        click.option("--year", type=click.IntRange(1000, 9999), metavar="YYYY",
                     help="Năm của sổ (mặc định: năm nay, giờ Việt Nam)."),
        click.option("--organ-id", metavar="MÃ", help="Cơ quan (quản trị viên; văn thư: chỉ cơ quan mình)."),
        click.option("--limit", type=click.IntRange(1, 200), default=50, show_default=True,
                     help="Số mục mỗi trang (1–200)."),
        click.option("--all", "every", is_flag=True, help="Cả sổ của năm (đọc hết các trang)."),
        click.option("--cursor", metavar="CON_TRỎ", help="Trang tiếp theo (giá trị next của trang trước)."),
        click.option("--format", "fmt", type=click.Choice(["table", "json", "xlsx"]), default="table",
                     show_default=True, help="xlsx: cả sổ của năm trong một tệp Excel."),
        click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
                     help="Tệp lưu với --format xlsx (mặc định so-van-ban-di|den[-MÃ][-NĂM].xlsx)."),
    ]):
        command = option(command)
    return command


@registers.command()
@_register_options
@pass_ctx
def outgoing(ctx: Context, year: int | None, organ_id: str | None, limit: int, every: bool, cursor: str | None,
             fmt: str, output: Path | None) -> None:
    """Sổ đăng ký văn bản đi: số, ký hiệu, ngày, trích yếu, người ký, nơi nhận và trạng thái từng văn bản."""
    _run(ctx, "outgoing", year, organ_id, limit, every, cursor, fmt, output)


@registers.command()
@_register_options
@pass_ctx
def incoming(ctx: Context, year: int | None, organ_id: str | None, limit: int, every: bool, cursor: str | None,
             fmt: str, output: Path | None) -> None:
    """Sổ đăng ký văn bản đến: số đến, ngày đến, nơi gửi, số và ký hiệu, trích yếu và tình trạng xử lý."""
    _run(ctx, "incoming", year, organ_id, limit, every, cursor, fmt, output)
