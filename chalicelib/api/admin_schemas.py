"""The answer models of the administrators' routes (issue 9: agency registry, reports, audit, trust roots), by
name in `chalicelib.api.schemas.MODELS` like every other; apart only to keep each module readable (tests/architecture:
the size limit). Same rules as there: required fields are those every answer has, and an answer may carry more.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from chalicelib.api.schemas_base import Answer as _Answer
from chalicelib.api.schemas_base import PresignedPost
from chalicelib.domain.kpi import Targets

__all__ = ["Agency", "AgencyChangeList", "AgencyList", "AuditList", "AuditVerify", "MonthlyReport", "ReportTargets",
           "ReportTargetsAnswer", "SealUpload", "SyncReport", "TrustRoot", "TrustRootDeleted", "TrustRootList",
           "YearlyReport"]


# -- the agency registry (chalicelib.admin.agencies, chalicelib.admin.agency_sync; docs/contract.md#agency-registry)
class SealRef(_Answer):
    key: str
    etag: str


class Agency(_Answer):
    organ_id: str
    name: str
    short_name: str
    level: int | None
    parent: str | None
    active: bool
    served: bool
    paper_in_parallel: bool
    contact: dict[str, str]
    seal: SealRef | None
    stamp: dict[str, Any] | None
    metadata_check: Literal["reject", "warn", "off"] | None = None
    source: Literal["local", "axis"]
    updated_at: str | None
    created_at: str | None


class AgencyList(_Answer):
    items: list[Agency]
    next: str | None = None


class SealUpload(PresignedPost):
    key: str


class SyncRenamed(_Answer):
    organ_id: str
    from_: str = Field(alias="from")
    to: str


class SyncReport(_Answer):
    sync_id: str
    added: list[str]
    renamed: list[SyncRenamed]
    withdrawn: list[str]
    held: list[dict[str, str]]
    unchanged: int


class AgencyChange(_Answer):
    organ_id: str
    change: Literal["added", "renamed", "withdrawn"]
    sync_id: str
    at: str


class AgencyChangeList(_Answer):
    items: list[AgencyChange]
    next: str | None = None
class ReportRow(_Answer):
    """One agency's month (docs/contract.md#monthly-report; chalicelib.domain.kpi.AGENCY_FIELDS)."""

    organ_id: str
    name: str
    level: int | None
    sent: int
    signed: int
    electronic_only: int
    paper_in_parallel: int
    rejected: int
    failed: int
    electronic_only_share: float | None
    signed_share: float | None
    target_electronic_only_share: float | None
    target_signed_share: float | None
    below_target: bool
    median_seconds_to_dispatch: float | None
    p90_seconds_to_dispatch: float | None
    received: int
    answered: int
    median_seconds_to_accept: float | None


class MonthlyReport(_Answer):
    """Báo cáo tháng: one row per served agency and per agency that sent, and the totals."""

    month: str
    agencies: list[ReportRow]
    totals: dict[str, Any]


class YearlyReport(_Answer):
    """Báo cáo năm: per agency the month-by-month trend and the year, and the same for the totals."""

    year: int
    months: list[str]
    agencies: list[dict[str, Any]]
    totals: dict[str, Any]


class ReportTargets(Targets):
    """Mục tiêu theo cấp (1–4): per kind, the shares (0..1) by the year they apply from."""


class ReportTargetsAnswer(_Answer):
    levels: dict[str, Any]
    source: Literal["default", "stored"]
# -- the audit trail and trust roots (issue 9; chalicelib.admin.audit, chalicelib.admin.trust_roots) ----------------
class AuditActor(_Answer):
    username: str
    organ_id: str
    admin: bool


class AuditResource(_Answer):
    type: str
    id: str


class AuditEntry(_Answer):
    """One entry (docs/contract.md#audit-trail): who did what to which resource, the result, from where, chained."""

    day: str
    seq: int
    at: str
    actor: AuditActor
    action: str
    resource: AuditResource
    result: str = Field(description="`ok` or the error code answered")
    source_ip: str
    prev_hash: str
    hash: str


class AuditList(_Answer):
    items: list[AuditEntry]
    next: str | None = None


class AuditChain(_Answer):
    """One agency's chain on the day (issue 11: a chain per agency, docs/contract.md#audit-trail)."""

    organ_id: str
    entries: int
    valid: bool
    first_bad: dict[str, Any] | None = Field(default=None, description="`seq`, `sk`, `at`, `problem`")
    last_hash: str | None = None


class AuditVerify(_Answer):
    day: str
    entries: int = Field(description="entries of the day, every chain together")
    valid: bool = Field(description="every chain with entries that day holds")
    first_bad: dict[str, Any] | None = Field(default=None, description="the first bad entry of the first bad chain, "
                                                                       "with its `organ_id`")
    chains: list[AuditChain]


class TrustRoot(_Answer):
    fingerprint: str = Field(description="SHA-256 of the certificate (DER), hex")
    subject: str
    issuer: str
    not_before: str
    not_after: str
    source: Literal["configured", "admin"]
    pem: str


class TrustRootList(_Answer):
    items: list[TrustRoot]


class TrustRootDeleted(_Answer):
    fingerprint: str
    deleted: bool
