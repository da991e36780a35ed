"""The `edoc` command group: global options, the shared context, exit codes (issue 10).

Exit codes: 0 done; 1 the gateway (or the command line, in the gateway's shape) said no, with its code and
Vietnamese message on stderr (and as `{"error": …}` on stdout with `--json`); 2 a usage error (click's own).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from functools import cached_property

import click

from edoc_cli.errors import CliError
from edoc_cli.gateway import Gateway
from edoc_cli.output import Output
from edoc_cli.session import Session
from edoc_cli.target import Target, resolve_target

__all__ = ["Context", "cli", "main", "pass_ctx"]


@dataclass
class Context:
    profile: str | None
    json_mode: bool
    user: str | None
    out: Output = field(init=False)

    def __post_init__(self) -> None:
        self.out = Output(self.json_mode)

    @cached_property
    def target(self) -> Target:
        return resolve_target(self.profile)

    @cached_property
    def session(self) -> Session:
        return Session(self.target)

    @cached_property
    def gateway(self) -> Gateway:
        return Gateway(self.target.api_url, lambda: self.session.id_token(as_user=self.user))


pass_ctx = click.make_pass_decorator(Context)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.option("--json", "json_mode", is_flag=True, help="Kết quả cho máy: một tài liệu JSON trên stdout.")
@click.option("--profile", envvar="EDOC_PROFILE", metavar="TÊN",
              help="Hồ sơ trong ~/.config/edoc/config.toml (mặc định: cổng cục bộ, .local/stack.json).")
@click.option("--user", envvar="EDOC_USER", metavar="TÊN",
              help="Cổng cục bộ: đăng nhập bằng người dùng mẫu này trước khi gọi (mật khẩu lấy từ stack.json).")
@click.version_option(package_name="edoc-gateway", message="edoc %(version)s")
@click.pass_context
def cli(ctx: click.Context, json_mode: bool, profile: str | None, user: str | None) -> None:
    """edoc: gửi, theo dõi và quản trị văn bản điện tử qua cổng edoc-gateway."""
    ctx.obj = Context(profile=profile, json_mode=json_mode, user=user)


def _register() -> None:
    from edoc_cli import admin, documents, inbox, login, registers, webhooks

    for module in (login, documents, inbox):
        for command in module.COMMANDS:
            cli.add_command(command)
    cli.add_command(admin.admin)
    cli.add_command(registers.registers)
    cli.add_command(webhooks.webhooks)
    admin.admin.add_command(webhooks.redeliver)


def _json_anywhere(command: click.Command) -> None:
    """`--json` after the command too (`edoc list --json`), as people type it; same meaning as before it."""

    def turn_on(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
        if value:
            obj = ctx.find_object(Context)
            if obj is not None:
                obj.json_mode = obj.out.json_mode = True

    command.params.append(click.Option(["--json"], is_flag=True, expose_value=False, callback=turn_on,
                                       help="Kết quả cho máy: một tài liệu JSON trên stdout."))
    for sub in getattr(command, "commands", {}).values():
        _json_anywhere(sub)


_register()
for _command in cli.commands.values():
    _json_anywhere(_command)


def main() -> None:
    """The console script: run, and turn a refusal into exit status 1 with its code and message."""
    try:
        cli.main(standalone_mode=False, prog_name="edoc")
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("Đã huỷ.", err=True)
        sys.exit(1)
    except CliError as exc:
        _report(exc, "--json" in sys.argv[1:])
        sys.exit(1)
    sys.exit(0)


def _report(exc: CliError, json_mode: bool) -> None:
    import json

    click.echo(f"lỗi {exc.code}: {exc.message}", err=True)
    if exc.details:
        click.echo("chi tiết: " + json.dumps(exc.details, ensure_ascii=False, default=str), err=True)
    if json_mode and not exc.answered:
        click.echo(json.dumps(exc.as_json(), ensure_ascii=False, default=str))
