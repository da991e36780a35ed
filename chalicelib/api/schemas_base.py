"""What every answer model shares (chalicelib.api.schemas, chalicelib.api.admin_schemas): extra fields allowed
(DESIGN.md: "add fields freely, never rename these"), and the presigned POST several routes answer with."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["Answer", "PresignedPost"]


class Answer(BaseModel):
    """An answer: the listed fields, and any added later (never renamed)."""

    model_config = ConfigDict(extra="allow")


class PresignedPost(Answer):
    url: str
    fields: dict[str, str]
    expires_at: str
    max_bytes: int
