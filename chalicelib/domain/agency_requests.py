"""The request bodies of the agency registry's admin routes: pydantic models with Vietnamese messages, issue 9.

`level` and `parent` are not fields: they derive from the code (QCVN 102:2016, chalicelib.standards.identifiers).
`paper_in_parallel` is the registry's `paper` flag (NĐ 30/2020 Art. 23(4): the recipient still gets the paper copy),
which the recipient logic already reads. The stamp box is the documents' own `StampPlacement` (same bounds, same
meaning), so what an admin sets per agency and what a clerk sets per document cannot disagree.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator

from chalicelib.domain.metadata import StampPlacement
from chalicelib.domain.text import ClientText
from chalicelib.standards.identifiers import is_strict

__all__ = ["AgencyCreate", "AgencyPatch", "Contact", "SealConfirm", "SyncRequest"]

_Name = ClientText(300, min_len=1)
_Short = ClientText(100)
_Email = ClientText(254)
_Phone = ClientText(40)
_Address = ClientText(500)


class Contact(BaseModel):
    """Thông tin liên hệ: thư điện tử, điện thoại, địa chỉ."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    email: _Email = Field(default="", pattern=r"^$|^[^@\s]+@[^@\s]+\.[^@\s]+$",
                          description="thư điện tử, ví dụ vanthu@vinhphuc.gov.vn")
    telephone: _Phone = Field(default="", pattern=r"^[0-9+().\- ]*$", description="số điện thoại")
    address: _Address = Field(default="", description="địa chỉ")


class AgencyCreate(BaseModel):
    """`POST /v1/admin/agencies`: đăng ký một cơ quan vào danh bạ."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    organ_id: ClientText(64) = Field(description="mã định danh, ví dụ 000.00.12.H62")
    name: _Name = Field(description="tên cơ quan")
    short_name: _Short = ""
    contact: Contact = Field(default_factory=Contact)
    paper_in_parallel: StrictBool = Field(default=False, description="còn nhận kèm bản giấy")
    served: StrictBool = Field(default=False, description="cổng này phục vụ cơ quan (ký số, gửi, nhận thay)")

    @field_validator("organ_id")
    @classmethod
    def _strict_code(cls, value: str) -> str:
        if not is_strict(value):
            raise ValueError("mã định danh phải có dạng 000.00.00.H62 (QCVN 102:2016)")
        return value


class AgencyPatch(BaseModel):
    """`PATCH /v1/admin/agencies/{organ_id}`: any of the registration's fields, `active`, and the stamp box."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: _Name | None = None
    short_name: _Short | None = None
    contact: Contact | None = None
    paper_in_parallel: StrictBool | None = None
    served: StrictBool | None = None
    active: StrictBool | None = None
    stamp: StampPlacement | None = None
    metadata_check: Literal["reject", "warn", "off"] | None = Field(
        default=None, description="văn bản có thể thức NĐ 30 mà thông tin đăng ký không khớp: reject (từ chối, mặc "
                                  "định), warn (chỉ ghi nhận), off (không kiểm tra)")


class SealConfirm(BaseModel):
    """`PUT /v1/admin/agencies/{organ_id}/seal`: the key the presigned POST uploaded to."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    key: ClientText(200, min_len=1) = Field(description="seals/<organ_id>/<token>.png")


class SyncRequest(BaseModel):
    """`POST /v1/admin/agencies/sync`: no options (an empty object); the sync's scope is a setting."""

    model_config = ConfigDict(extra="forbid")
