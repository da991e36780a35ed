"""What `edoc` prints: rich tables and progress for people on stderr/stdout, or with `--json` exactly one JSON
document on stdout (a command that follows a document live prints one JSON line per change, the record last), so
a script can parse stdout and still read the progress a person would see on stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from rich.console import Console
from rich.table import Table

__all__ = ["STATE_STYLE", "Output", "badge", "when"]

_VIETNAM = timezone(timedelta(hours=7))

#: Colours of the state badges (docs/contract.md#states): green done, red refused or failed, yellow under way.
STATE_STYLE = {
    "AWAITING_UPLOAD": "yellow", "UPLOADED": "yellow", "SIGNED": "cyan", "DISPATCHED": "green",
    "REJECTED": "red", "FAILED": "red", "REVOKED": "magenta", "EXPIRED": "dim",
}


class Output:
    def __init__(self, json_mode: bool) -> None:
        self.json_mode = json_mode
        self.out = Console(soft_wrap=True)
        self.err = Console(stderr=True, soft_wrap=True)

    def emit(self, value: Any, *, line: bool = False) -> None:
        """One JSON document (or one JSON line of a stream) on stdout, in --json mode."""
        text = json.dumps(value, ensure_ascii=False, indent=None if line else 2, default=str)
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

    def table(self, title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Table:
        table = Table(title=title, show_lines=False, header_style="bold")
        for column in columns:
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*("" if cell is None else cell if hasattr(cell, "__rich__") else str(cell)
                            for cell in row))
        return table

    def show(self, renderable: Any) -> None:
        self.out.print(renderable)

    def note(self, message: str) -> None:
        """For people only: on stderr, so --json's stdout stays one document."""
        self.err.print(message, highlight=False)


def when(value: str | None) -> str:
    """A UTC timestamp of the API as people in Vietnam read it: `2026-12-04 11:02` (UTC+07:00, Vietnam time)."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if moment.tzinfo is None:
        return value
    return moment.astimezone(_VIETNAM).strftime("%Y-%m-%d %H:%M")


def badge(state: str | None) -> str:
    state = state or "?"
    return f"[{STATE_STYLE.get(state, 'white')}]{state}[/]"
