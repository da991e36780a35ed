"""`edoc login`, `edoc logout`, `edoc whoami`: the signed-in user of the current gateway (edoc_cli.session)."""

from __future__ import annotations

import base64
import json
import sys

import click

from edoc_cli.main import Context, pass_ctx

__all__ = ["COMMANDS"]


def _claims(id_token: str) -> dict:
    """The token's claims, for display only: the gateway verifies the signature (docs/contract.md#auth)."""
    payload = id_token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


@click.command()
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Đọc mật khẩu từ stdin (dòng đầu).")
@click.option("--mfa-code", metavar="MÃ", help="Mã 6 chữ số của ứng dụng xác thực (tài khoản quản trị).")
@pass_ctx
def login(ctx: Context, username: str, password_stdin: bool, mfa_code: str | None) -> None:
    """Đăng nhập (Cognito) và giữ phiên cho các lệnh sau. Trên cổng cục bộ, mật khẩu mẫu lấy từ stack.json."""
    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else None
    ask = None if password_stdin or not sys.stdin.isatty() else (
        lambda prompt: click.prompt(prompt, hide_input=prompt.startswith("Mật")))
    tokens = ctx.session.login(username, password, mfa_code=mfa_code, ask=ask)
    claims = _claims(tokens["id_token"])
    who = {"username": username, "organ_id": claims.get("custom:organ_id"),
           "groups": claims.get("cognito:groups", []), "gateway": ctx.target.api_url}
    if ctx.json_mode:
        ctx.out.emit(who)
    else:
        ctx.out.note(f"Đã đăng nhập [bold]{username}[/] ({who['organ_id']}) vào {who['gateway']}.")


@click.command()
@pass_ctx
def logout(ctx: Context) -> None:
    """Xoá phiên đăng nhập đã lưu."""
    removed = ctx.session.logout()
    if ctx.json_mode:
        ctx.out.emit({"logged_out": removed})
    else:
        ctx.out.note("Đã đăng xuất." if removed else "Chưa đăng nhập.")


@click.command()
@pass_ctx
def whoami(ctx: Context) -> None:
    """Người đang đăng nhập và cổng đang dùng."""
    claims = _claims(ctx.session.id_token(as_user=ctx.user))
    who = {"username": claims.get("cognito:username"), "organ_id": claims.get("custom:organ_id"),
           "groups": claims.get("cognito:groups", []), "gateway": ctx.target.api_url}
    if ctx.json_mode:
        ctx.out.emit(who)
    else:
        ctx.out.show(f"{who['username']} · {who['organ_id']} · {', '.join(who['groups']) or 'văn thư'} · "
                     f"{who['gateway']}")


COMMANDS = [login, logout, whoami]
