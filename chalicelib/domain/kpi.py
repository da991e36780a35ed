"""The province's monthly KPI report, as pure computation: counts, shares, medians, targets, rows, CSV.

Issue 9: the Sở TTTT reports each month how far each agency is from the province's targets (văn bản đi gửi bằng bản
điện tử, không gửi bản giấy; văn bản ký số). The use case (chalicelib.admin.reports) reads the month's facts from
DynamoDB and hands them here as `SentFact`s and `InboxFacts`; everything a number in the answer depends on is
decided below, so the JSON, CSV and XLSX answers are built from the same rows and agree by construction.

Definitions (docs/contract.md#monthly-report):
- `sent`: documents that reached DISPATCHED in the month (by `dispatched_at`, Vietnam time); still counted when
  revoked later. `signed`: those carrying the organisation's signature (`signed_sha256` and `pades_level` on the
  record). `electronic_only`: no recipient took it on paper (the delivery rows' `paper`, the registry's flag when it
  was sent: Paper 1 in the package); `paper_in_parallel`: at least one did.
- `rejected` / `failed`: documents whose REJECTED / FAILED transition fell in the month and that are still so.
- `median_seconds_to_dispatch`, `p90_seconds_to_dispatch`: `uploaded_at` (the upload was taken by the signing
  handler) → `dispatched_at`, falling back to `created_at` for records without `uploaded_at`. The clerk's time
  between registering and uploading is not the gateway's.
- `received`: inbox items filed for the agency in the month; `answered`: those with a status reply from a clerk
  (any code after 01); `median_seconds_to_accept`: dispatch → the first 03 (đã tiếp nhận) any recipient reported.
- Shares are in 0..1 (4 decimals), null when `sent` is 0; `below_target` is true when either share is under its
  target, false when nothing was sent. p90 is the nearest-rank percentile (the smallest value with at least 90%
  of the values at or under it); the median of an even count is the mean of the two middle values.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from chalicelib.core.settings import KPI_TARGET_DEFAULTS

__all__ = ["AGENCY_FIELDS", "READ_ONLY_TARGET_FIELDS", "TOTAL_FIELDS", "YEAR_FIELDS", "InboxFacts", "SentFact",
           "Targets", "agency_row",
           "csv_bytes", "default_targets", "median", "p90", "parse_targets", "share", "table_rows", "totals_row"]

#: The agency row of the monthly report, in the issue's order (the CSV and XLSX columns too).
AGENCY_FIELDS: tuple[str, ...] = (
    "organ_id", "name", "level", "sent", "signed", "electronic_only", "paper_in_parallel", "rejected", "failed",
    "electronic_only_share", "signed_share", "target_electronic_only_share", "target_signed_share", "below_target",
    "median_seconds_to_dispatch", "p90_seconds_to_dispatch", "received", "answered", "median_seconds_to_accept")
#: The totals: the same counts, shares and medians over every agency's documents, and how many are below target.
TOTAL_FIELDS: tuple[str, ...] = (
    "agencies", "agencies_below_target", "sent", "signed", "electronic_only", "paper_in_parallel", "rejected",
    "failed", "electronic_only_share", "signed_share", "median_seconds_to_dispatch", "p90_seconds_to_dispatch",
    "received", "answered", "median_seconds_to_accept")
#: One month of the yearly trend.
YEAR_FIELDS: tuple[str, ...] = (
    "month", "sent", "signed", "electronic_only", "paper_in_parallel", "rejected", "failed", "electronic_only_share",
    "signed_share", "below_target")
_COUNTS = ("sent", "signed", "electronic_only", "paper_in_parallel", "rejected", "failed", "received", "answered")
KINDS = ("electronic_only", "signed")


@dataclass(frozen=True)
class SentFact:
    """One document of an agency that ended the month in a terminal transition of that month."""

    organ_id: str
    outcome: str  # "sent" | "rejected" | "failed"
    signed: bool = False
    paper_recipients: int = 0
    seconds_to_dispatch: float | None = None
    seconds_to_accept: float | None = None


@dataclass(frozen=True)
class InboxFacts:
    """An agency's inbox in the month."""

    received: int = 0
    answered: int = 0


# -- statistics -------------------------------------------------------------------------------------------------
def median(values: Iterable[float]) -> float | None:
    ordered = sorted(values)
    if not ordered:
        return None
    mid = len(ordered) // 2
    value = ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
    return round(value, 1)


def p90(values: Iterable[float]) -> float | None:
    """Nearest rank: the ceil(0.9·n)-th smallest value."""
    ordered = sorted(values)
    if not ordered:
        return None
    return round(ordered[math.ceil(0.9 * len(ordered)) - 1], 1)


def share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


# -- targets ----------------------------------------------------------------------------------------------------
class _Step(BaseModel):
    model_config = ConfigDict(extra="forbid")

    from_year: int = Field(ge=2000, le=2999, description="Năm bắt đầu áp dụng")
    share: float = Field(ge=0, le=1, description="Tỷ lệ mục tiêu (0..1)")


class _LevelTargets(BaseModel):
    model_config = ConfigDict(extra="forbid")

    electronic_only: list[_Step] = Field(min_length=1, max_length=20)
    signed: list[_Step] = Field(min_length=1, max_length=20)

    @field_validator("electronic_only", "signed")
    @classmethod
    def _distinct_years(cls, steps: list[_Step]) -> list[_Step]:
        years = [s.from_year for s in steps]
        if len(set(years)) != len(years):
            raise ValueError("Mỗi năm chỉ có một mức mục tiêu.")
        return sorted(steps, key=lambda s: s.from_year)


#: Fields of the GET answer that are not targets, ignored by PUT (Targets).
READ_ONLY_TARGET_FIELDS = frozenset({"source", "updated_at", "updated_by"})


class Targets(BaseModel):
    """The targets document (`GET`/`PUT /v1/admin/reports/targets`): per level "1".."4", per kind, the shares by
    the year they apply from. The share for a year is that of the latest step at or before it (the first step's
    before any)."""

    model_config = ConfigDict(extra="forbid")

    levels: dict[str, _LevelTargets]

    @model_validator(mode="before")
    @classmethod
    def _without_read_only_fields(cls, data: Any) -> Any:
        """What `GET` answered may be sent back as it is: where the targets came from and who stored them when
        are dropped, not refused (README's round trip)."""
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if k not in READ_ONLY_TARGET_FIELDS}
        return data

    @field_validator("levels")
    @classmethod
    def _every_level(cls, levels: dict[str, _LevelTargets]) -> dict[str, _LevelTargets]:
        if set(levels) != {"1", "2", "3", "4"}:
            raise ValueError("Phải có mục tiêu cho đủ các cấp 1, 2, 3 và 4.")
        return dict(sorted(levels.items()))

    def target(self, level: int | None, kind: str, year: int) -> float | None:
        """The target share of `kind` for an agency of `level` in `year` (None for a code with no level)."""
        if level is None or str(level) not in self.levels:
            return None
        steps: list[_Step] = getattr(self.levels[str(level)], kind)
        current = steps[0].share
        for step in steps:
            if step.from_year <= year:
                current = step.share
        return current

    def as_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def default_targets() -> Targets:
    """The seeds' targets (chalicelib.core.settings.KPI_TARGET_DEFAULTS)."""
    return Targets.model_validate({"levels": {
        level: {kind: [{"from_year": y, "share": s} for y, s in steps] for kind, steps in kinds.items()}
        for level, kinds in KPI_TARGET_DEFAULTS.items()}})


_MESSAGES = {"missing": "Thiếu trường bắt buộc.", "extra_forbidden": "Trường không được hỗ trợ.",
             "greater_than_equal": "Giá trị quá nhỏ.", "less_than_equal": "Giá trị quá lớn.",
             "too_short": "Danh sách không được rỗng.", "too_long": "Danh sách quá dài."}


def parse_targets(body: Any) -> Targets:
    """The body of `PUT /v1/admin/reports/targets`, or ValueError carrying Vietnamese per-field errors."""
    try:
        return Targets.model_validate(body)
    except ValidationError as exc:
        errors = [{"field": ".".join(str(p) for p in e["loc"]) or "body",
                   "message": _MESSAGES.get(e["type"], str(e.get("ctx", {}).get("error") or "Giá trị không hợp lệ."))}
                  for e in exc.errors()]
        raise TargetsInvalid(errors) from None


class TargetsInvalid(ValueError):
    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("invalid targets")
        self.errors = errors


# -- rows -------------------------------------------------------------------------------------------------------
def _measures(facts: Sequence[SentFact], inbox: InboxFacts) -> dict[str, Any]:
    sent = [f for f in facts if f.outcome == "sent"]
    out: dict[str, Any] = {
        "sent": len(sent), "signed": sum(1 for f in sent if f.signed),
        "electronic_only": sum(1 for f in sent if not f.paper_recipients),
        "paper_in_parallel": sum(1 for f in sent if f.paper_recipients),
        "rejected": sum(1 for f in facts if f.outcome == "rejected"),
        "failed": sum(1 for f in facts if f.outcome == "failed"),
    }
    out["electronic_only_share"] = share(out["electronic_only"], out["sent"])
    out["signed_share"] = share(out["signed"], out["sent"])
    to_dispatch = [f.seconds_to_dispatch for f in sent if f.seconds_to_dispatch is not None]
    out["median_seconds_to_dispatch"] = median(to_dispatch)
    out["p90_seconds_to_dispatch"] = p90(to_dispatch)
    out["received"], out["answered"] = inbox.received, inbox.answered
    out["median_seconds_to_accept"] = median(f.seconds_to_accept for f in sent if f.seconds_to_accept is not None)
    return out


def _below(measures: Mapping[str, Any], targets: Mapping[str, float | None]) -> bool:
    return any(measures[f"{kind}_share"] is not None and targets[kind] is not None
               and measures[f"{kind}_share"] < targets[kind] for kind in KINDS)


def agency_row(organ_id: str, name: str, level: int | None, facts: Sequence[SentFact], inbox: InboxFacts,
               targets: Targets, year: int) -> dict[str, Any]:
    """One agency's row, with exactly AGENCY_FIELDS."""
    measures = _measures(facts, inbox)
    wanted = {kind: targets.target(level, kind, year) for kind in KINDS}
    row = {"organ_id": organ_id, "name": name, "level": level, **measures,
           "target_electronic_only_share": wanted["electronic_only"], "target_signed_share": wanted["signed"],
           "below_target": _below(measures, wanted)}
    return {k: row[k] for k in AGENCY_FIELDS}


def totals_row(rows: Sequence[Mapping[str, Any]], facts: Sequence[SentFact],
               inbox: Iterable[InboxFacts]) -> dict[str, Any]:
    """The totals, with exactly TOTAL_FIELDS: counts summed, shares and medians over all documents (not an average
    of the agencies' shares)."""
    boxes = list(inbox)
    measures = _measures(facts, InboxFacts(sum(b.received for b in boxes), sum(b.answered for b in boxes)))
    total = {"agencies": len(rows), "agencies_below_target": sum(1 for r in rows if r["below_target"]), **measures}
    return {k: total[k] for k in TOTAL_FIELDS}


def year_month(month: str, row: Mapping[str, Any]) -> dict[str, Any]:
    """One month of the yearly trend from that month's row (an agency's or the totals)."""
    below = row.get("below_target", row.get("agencies_below_target"))
    return {k: (month if k == "month" else below if k == "below_target" else row[k]) for k in YEAR_FIELDS}


# -- files ------------------------------------------------------------------------------------------------------
TOTALS_LABEL = "Tổng cộng"


def table_rows(report: Mapping[str, Any]) -> list[list[Any]]:
    """The monthly report as a table: the header (AGENCY_FIELDS), one row per agency, and the totals row (its
    label in `name`, its counts, shares and medians under the same columns, targets empty, `below_target` the
    number of agencies below target). The CSV and the XLSX are written from this one table."""
    header = list(AGENCY_FIELDS)
    rows: list[list[Any]] = [header]
    rows.extend([agency[k] for k in header] for agency in report["agencies"])
    totals = report["totals"]
    rows.append([TOTALS_LABEL if k == "name" else totals["agencies_below_target"] if k == "below_target"
                 else totals.get(k) if k in totals else None for k in header])
    return rows


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def csv_bytes(report: Mapping[str, Any]) -> bytes:
    """UTF-8 with a BOM (Excel then reads the Vietnamese names right), comma-separated, CRLF line ends."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in table_rows(report):
        writer.writerow([_cell(v) for v in row])
    return buffer.getvalue().encode("utf-8-sig")
