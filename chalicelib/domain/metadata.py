"""Document metadata as agencies submit it (pydantic). English names; Vietnamese terms in docstrings.

The rules come from NĐ 30/2020 (Phụ lục III: document types and their abbreviations) and QCVN 102:2016
(identifier codes of recipients). Secret documents are recognised here but refused by the service with the
distinct code `secret_document`: they never go over the axis (QĐ 28/2018).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from chalicelib.domain.document_codes import DOCUMENT_TYPES, URGENCY_PRIORITY
from chalicelib.domain.text import ClientText
from chalicelib.standards.identifiers import is_strict

__all__ = ["AttachmentSpec", "DocumentMetadata", "Secrecy", "Signer", "StampPlacement", "Urgency"]


def _fold(text: str) -> str:
    """ASCII-fold Vietnamese (Đ→D, strip marks) so `QD` finds `QĐ`; case is kept (`QyĐ` ≠ `QĐ`)."""
    text = text.replace("Đ", "D").replace("đ", "d")
    return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")


_FOLDED_TYPES = {_fold(k): k for k in DOCUMENT_TYPES}
_NOTATION = re.compile(r"^[0-9A-Za-zĐđ][0-9A-Za-zĐđ.\-&]*$")

_UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"

#: Client text (chalicelib.domain.text: XML 1.0 characters, NFC, lengths counted after NFC) of each size used below.
_Text20 = ClientText(20)
_Notation = ClientText(60, min_len=1)
_Text100 = ClientText(100, min_len=1)
_Text200 = ClientText(200, min_len=1)
_OptText200 = ClientText(200)
_FileName = ClientText(120, min_len=5)
_Subject = ClientText(2000, min_len=1, multiline=True)

Urgency = Literal["normal", "urgent", "very_urgent", "flash"]
Secrecy = Literal["none", "confidential", "secret", "top_secret"]


class Signer(BaseModel):
    """Người ký: họ tên, chức vụ, thẩm quyền ký (e.g. `KT. CHỦ TỊCH`)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    full_name: _Text100
    position: _OptText200 = ""
    competence: _OptText200 = ""


class StampPlacement(BaseModel):
    """Vị trí chữ ký số của cơ quan (con dấu, tên cơ quan, thời gian ký) on the document, when the signer's
    signature box is not where the agency's default puts it (signature-appearance.md).

    `page` counts from 1; a negative number counts from the end (-1, the default, is the last page). `x`/`y` are
    the box's lower-left corner in points (1/72 inch) from the page's lower-left corner; left out, the box goes to
    the lower right of the page with a 2 cm margin. `width`/`height` in points; left out, 300 x 100 (the seal is
    drawn at the box's height, at most 40% of its width, with name and time beside it). A page the uploaded PDF
    does not have, or a box entirely off the page, makes the upload `REJECTED` (`stamp_page_missing`,
    `stamp_outside_page`).
    """

    model_config = ConfigDict(extra="forbid")

    page: int = Field(default=-1, ge=-10000, le=10000, description="trang, từ 1; số âm đếm từ cuối (-1: trang cuối)")
    x: float | None = Field(default=None, ge=0, le=14400, allow_inf_nan=False)
    y: float | None = Field(default=None, ge=0, le=14400, allow_inf_nan=False)
    width: float | None = Field(default=None, ge=72, le=1000, allow_inf_nan=False)
    height: float | None = Field(default=None, ge=24, le=1000, allow_inf_nan=False)

    @field_validator("page")
    @classmethod
    def _page_not_zero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("số trang bắt đầu từ 1 (hoặc -1 cho trang cuối)")
        return value

    def as_record(self) -> dict[str, object]:
        """The placement as the document record keeps it (DynamoDB takes no floats: Decimal, 0.01 pt)."""
        out: dict[str, object] = {"page": self.page}
        for name in ("x", "y", "width", "height"):
            value = getattr(self, name)
            if value is not None:
                out[name] = Decimal(str(round(value, 2)))
        return out


class AttachmentSpec(BaseModel):
    """Một phụ lục uploaded as its own PDF with the document: `name` is what OtherInfo/Appendixes/Appendix says
    (e.g. "Phụ lục I"), `file_name` the AttachmentName it travels under (derived from số/ký hiệu when left out)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: _Text200 = Field(description="tên phụ lục, e.g. Phụ lục I")
    file_name: _FileName | None = Field(default=None, pattern=r"^[^/\\\x00-\x1f]+\.pdf$",
                                                         description="tên tệp khi gửi đi (.pdf, không có dấu /)")


class DocumentMetadata(BaseModel):
    """Thông tin văn bản đi. See docs/contract.md#document-metadata."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    number: _Text20 = Field(default="", pattern=r"^[0-9]*$",
                            description='số; "" (or absent) or "auto": the gateway issues the next number of the '
                                        "agency's register of outgoing documents when it signs (NĐ 30 Art. 15)")
    notation: _Notation = Field(description="ký hiệu, e.g. UBND-VX3")
    type: _Text20 = Field(description="Phụ lục III abbreviation (QĐ, CT, TB…) or CV for công văn")
    subject: _Subject = Field(description="trích yếu")
    issued_on: date = Field(description="ngày ban hành")
    place: _Text100 = Field(description="địa danh")
    signer: Signer
    urgency: Urgency = "normal"
    secrecy: Secrecy = "none"
    recipients: list[_Text20] = Field(min_length=1, max_length=500, description="mã định danh of each recipient")
    due_date: date | None = None
    steering_type: int = Field(default=0, ge=0, le=2, description="0 none, 1 steering, 2 report on steering")
    reply_to: _OptText200 | None = Field(default=None, description="edXML DocumentId answered")
    replaces: str | None = Field(default=None, pattern=_UUID,
                                 description="văn bản thay thế: document_id của văn bản đã gửi mà văn bản này thay "
                                             "thế (BussinessDocType 3)")
    stamp: StampPlacement | None = Field(default=None, description="vị trí chữ ký số của cơ quan; mặc định theo "
                                                                   "cấu hình của cơ quan, rồi góc dưới phải trang cuối")
    attachments: list[AttachmentSpec] = Field(default_factory=list, max_length=20,
                                              description="phụ lục tải lên thành các tệp PDF riêng (tối đa 20)")

    @field_validator("number", mode="before")
    @classmethod
    def _auto_number(cls, value: object) -> object:
        """`"auto"` is the same request as no number: stored as `""`, numbered at signing."""
        return "" if isinstance(value, str) and value.strip().lower() == "auto" else value

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value in DOCUMENT_TYPES:
            return value
        folded = _FOLDED_TYPES.get(_fold(value))
        if folded is None:
            raise ValueError("loại văn bản không có trong Phụ lục III NĐ 30/2020")
        return folded

    @field_validator("notation")
    @classmethod
    def _notation_shape(cls, value: str) -> str:
        if not _NOTATION.match(value):
            raise ValueError("ký hiệu chỉ gồm chữ, số, dấu chấm và gạch nối")
        return value

    @field_validator("recipients")
    @classmethod
    def _recipient_codes(cls, value: list[str]) -> list[str]:
        bad = [code for code in value if not is_strict(code)]
        if bad:
            raise ValueError(f"mã định danh không hợp lệ: {', '.join(bad[:5])}")
        if len(set(value)) != len(value):
            raise ValueError("mã định danh cơ quan nhận bị trùng")
        return value

    @model_validator(mode="after")
    def _due_after_issue(self) -> DocumentMetadata:
        if self.due_date and self.due_date < self.issued_on:
            raise ValueError("hạn xử lý trước ngày ban hành")
        return self

    @property
    def type_name(self) -> str:
        return DOCUMENT_TYPES[self.type]

    @property
    def priority(self) -> int:
        return URGENCY_PRIORITY[self.urgency]
