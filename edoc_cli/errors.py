"""The one error `edoc` reports: the gateway's own refusal (its code, message and details), or the command line's
refusal in the same shape, so a script branches on `code` alike (exit status 1, README "edoc")."""

from __future__ import annotations

from typing import Any

__all__ = ["CliError"]


class CliError(Exception):
    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None, *, status: int | None = None,
                 answered: bool = False):
        """`answered`: the command already printed its --json answer (a batch summary, a record that ended
        REJECTED), so stdout stays that one document and only stderr and the exit status tell the refusal."""
        super().__init__(f"{code}: {message}")
        self.answered = answered
        self.code = code
        self.message = message
        self.details = details or {}
        self.status = status

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message, "details": self.details}
        if self.status is not None:
            body["status"] = self.status
        return {"error": body}
