"""The answer model of `POST /v1/documents/draft` (issue 12, "Read the document"; docs/contract.md#document-draft),
what chalicelib.outbound.draft returns: the fields of `POST /v1/documents` the text gives, a confidence per field,
the recipients as written with the codes they name, and the reader's doubts."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from chalicelib.api.schemas_base import Answer

__all__ = ["DocumentDraft", "DraftMetadata", "DraftRecipient", "DraftSigner", "DraftWarning"]


class DraftSigner(Answer):
    full_name: str
    position: str
    competence: str


class DraftMetadata(Answer):
    """Only what the text gives; `issued_on` is `YYYY-MM-DD`, or `YYYY-MM` / `YYYY` while the day (and month) are
    blank on the page (NĐ 30/2020 Art. 16: the văn thư fills them at issuance); `number` is `""` when blank."""

    number: str | None = None
    notation: str | None = None
    type: str | None = Field(default=None, description="Phụ lục III abbreviation, or CV for công văn")
    subject: str | None = None
    issued_on: str | None = Field(default=None, pattern=r"^\d{4}(-\d{2}(-\d{2})?)?$")
    place: str | None = None
    signer: DraftSigner | None = None
    recipients: list[str] | None = Field(default=None, description="mã định danh, every list's codes once")


class DraftRecipient(Answer):
    text: str = Field(description="as written under Kính gửi / Nơi nhận / Bản điện tử")
    organ_ids: list[str]
    paper: bool = Field(description="written in the paper list (Nơi nhận: VB, or beside a Bản điện tử list)")
    list: Literal["kinh_gui", "noi_nhan", "ban_dien_tu"]
    note: Literal["archive", "as_above", "group", "internal", "unresolved"] | None = None


class DraftWarning(Answer):
    code: str
    message: str
    field: str | None = None


class DocumentDraft(Answer):
    metadata: DraftMetadata
    confidence: dict[str, float] = Field(description="per metadata field, 0..1")
    recipients: list[DraftRecipient]
    warnings: list[DraftWarning]
    nd30_header: bool = Field(description="the first page has the NĐ 30 header (Số line and date line)")
    pages: int
