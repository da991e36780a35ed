"""The monthly and yearly KPI reports and their targets (issue 9, "Run the province"): admins only.

`GET /v1/admin/reports/monthly?month=YYYY-MM[&format=json|csv|xlsx]`, `GET /v1/admin/reports/yearly?year=YYYY`,
`GET`/`PUT /v1/admin/reports/targets`. The numbers are decided in chalicelib.domain.kpi (pure); this module reads
the month's facts:

- the month's terminal transitions from the sparse `by_done_month` index (chalicelib.adapters.document_store:
  `gsi3pk = DONE#YYYY-MM`, written in the same conditional write as DISPATCHED/REJECTED/FAILED), so no scan;
- for each dispatched document its delivery rows (one Query each): the `paper` flag dispatch recorded per recipient
  (the registry's flag at sending, Paper 1 in its package) and the recipients' first 03 (đã tiếp nhận);
- per agency its inbox items filed in the month (`by_organ` on `INBOX#<organ>`, one Query each);
- the served agencies (one Scan of the agency registry, a few hundred items) and the targets (one GetItem).

Cost, computed per request and not cached (a province sends a few thousand documents a month): 1 + ⌈month's
records / 1 MB⌉ Queries on the index, one Query per dispatched document, one per reported agency, one Scan of the
registry. At 3,000 documents a month that is about 3,100 small reads (~1,600 RCU on demand, a few seconds of
Lambda); the yearly view is twelve of these. Should that grow, a `paper_recipients` count and a `first_accepted_at`
written on the record would make it one Query per month.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from chalicelib.adapters.agency_registry import get_agency_registry
from chalicelib.adapters.inbound_store import inbound_store
from chalicelib.adapters.report_store import get_report_store
from chalicelib.admin.report_files import xlsx_bytes
from chalicelib.core.errors import Forbidden, ValidationFailed
from chalicelib.domain import kpi, states
from chalicelib.domain.axis_statuses import ACCEPTED
from chalicelib.domain.caller import Caller
from chalicelib.domain.report_months import (
    month_of,
    month_start_utc,
    next_month,
    parse_month,
    parse_year,
    seconds_between,
)
from chalicelib.standards.identifiers import level as level_of

__all__ = ["ReportPorts", "get_targets", "monthly", "monthly_report", "put_targets", "require_admin", "yearly"]

TARGETS_CONFIG = "report_targets"
FORMATS = ("json", "csv", "xlsx")


def require_admin(caller: Caller) -> None:
    """The use cases' own admin check, behind the routes' (`admin=True`, chalicelib.api.http): the same one answer,
    403 `forbidden`, should a use case ever be called from elsewhere."""
    if not getattr(caller, "is_admin", False):
        raise Forbidden(details={"required_group": "admins"})


@dataclass(frozen=True)
class ReportPorts:
    """What the reports read: `done_in_month(month)` records, `deliveries(document_id)` rows,
    `inbox_between(organ_id, lo, hi)` items, `agencies()` → `{organ_id: (name, served)}` of every registered
    agency, `get_config(name)` / `put_config(name, value, by=)` for the targets."""

    done_in_month: Callable[[str], list[dict[str, Any]]]
    deliveries: Callable[[str], list[dict[str, Any]]]
    inbox_between: Callable[[str, str, str], list[dict[str, Any]]]
    agencies: Callable[[], dict[str, tuple[str, bool]]]
    get_config: Callable[[str], dict[str, Any] | None]
    put_config: Callable[..., None]


def default_ports() -> ReportPorts:
    store = get_report_store()
    return ReportPorts(done_in_month=store.done_in_month, deliveries=store.deliveries,
                       inbox_between=inbound_store().inbox_between,
                       agencies=lambda: {a.organ_id: (a.name, a.served) for a in get_agency_registry().list_all()},
                       get_config=store.get_config, put_config=store.put_config)


# -- targets ----------------------------------------------------------------------------------------------------
def _targets(ports: ReportPorts) -> kpi.Targets:
    stored = ports.get_config(TARGETS_CONFIG)
    return kpi.Targets.model_validate(stored["value"]) if stored else kpi.default_targets()


def get_targets(caller: Caller, ports: ReportPorts | None = None) -> dict[str, Any]:
    """`GET /v1/admin/reports/targets`: the targets in force (the seeds' until an admin changes them)."""
    require_admin(caller)
    ports = ports or default_ports()
    stored = ports.get_config(TARGETS_CONFIG)
    out = _targets(ports).as_json()
    out["source"] = "stored" if stored else "default"
    if stored:
        out.update(updated_at=stored.get("updated_at"), updated_by=stored.get("updated_by"))
    return out


def put_targets(caller: Caller, body: Any, ports: ReportPorts | None = None) -> dict[str, Any]:
    """`PUT /v1/admin/reports/targets` {"levels": {"1".."4": {"electronic_only": [{from_year, share}], "signed":
    [...]}}}: validated whole (every level, shares 0..1, one step per year) and stored; answers the new targets."""
    require_admin(caller)
    ports = ports or default_ports()
    try:
        targets = kpi.parse_targets(body)
    except kpi.TargetsInvalid as exc:
        raise ValidationFailed("Mục tiêu báo cáo không hợp lệ.", code="invalid_targets",
                               details={"errors": exc.errors}) from None
    ports.put_config(TARGETS_CONFIG, targets.as_json(), by=caller.username)
    return get_targets(caller, ports)


# -- the monthly report -----------------------------------------------------------------------------------------
def _first_accept(deliveries: Iterable[dict[str, Any]]) -> str | None:
    times = [entry["at"] for d in deliveries for entry in d.get("history", [])
             if entry.get("code") == ACCEPTED and entry.get("at")]
    return min(times) if times else None


def _fact(record: dict[str, Any], ports: ReportPorts, month: str) -> kpi.SentFact | None:
    """What one record of the month's index counts for, or None: the index keeps a record's latest terminal
    transition, so a record found here that is neither REJECTED, FAILED nor dispatched this month (a FAILED one
    being retried, say) counts for nothing this month."""
    state, organ_id = record["state"], record["organ_id"]
    if state == states.REJECTED:
        return kpi.SentFact(organ_id, "rejected")
    if state == states.FAILED:
        return kpi.SentFact(organ_id, "failed")
    dispatched = record.get("dispatched_at")
    if state not in (states.DISPATCHED, states.REVOKED) or not dispatched or month_of(dispatched) != month:
        return None
    deliveries = ports.deliveries(record["document_id"])
    accepted = _first_accept(deliveries)
    return kpi.SentFact(
        organ_id, "sent", signed=bool(record.get("signed_sha256") and record.get("pades_level")),
        paper_recipients=sum(1 for d in deliveries if d.get("paper") and not d.get("added_by_amendment")),
        seconds_to_dispatch=seconds_between(record.get("uploaded_at") or record.get("created_at"), dispatched),
        seconds_to_accept=seconds_between(dispatched, accepted))


def _check_month(month: str | None) -> str:
    checked = parse_month(month)
    if checked is None:
        raise ValidationFailed("Tháng báo cáo phải có dạng YYYY-MM.", code="invalid_month", details={"month": month})
    return checked


def monthly_report(month: str, ports: ReportPorts, *, agencies: dict[str, tuple[str, bool]] | None = None,
                   targets: kpi.Targets | None = None) -> dict[str, Any]:
    """The monthly report `{"month", "agencies": [...], "totals": {...}}` (docs/contract.md#monthly-report): one
    row per served agency and per agency that sent, had a document rejected or failed, in the month, by organ_id."""
    agencies = agencies if agencies is not None else ports.agencies()
    targets = targets or _targets(ports)
    facts: dict[str, list[kpi.SentFact]] = defaultdict(list)
    for record in ports.done_in_month(month):
        fact = _fact(record, ports, month)
        if fact is not None:
            facts[fact.organ_id].append(fact)
    lo, hi = month_start_utc(month), month_start_utc(next_month(month))
    reported = sorted({o for o, (_, served) in agencies.items() if served} | set(facts))
    inboxes: dict[str, kpi.InboxFacts] = {}
    for organ_id in reported:
        items = ports.inbox_between(organ_id, lo, hi)
        answered = sum(1 for i in items if any(e.get("by") for e in i.get("status_history", [])))
        inboxes[organ_id] = kpi.InboxFacts(received=len(items), answered=answered)
    year = int(month[:4])
    rows = [kpi.agency_row(o, agencies.get(o, (o, False))[0], level_of(o), facts.get(o, []), inboxes[o], targets,
                           year) for o in reported]
    everything = [f for o in reported for f in facts.get(o, [])]
    return {"month": month, "agencies": rows, "totals": kpi.totals_row(rows, everything, inboxes.values())}


def monthly(caller: Caller, *, month: str | None, fmt: str | None,
            ports: ReportPorts | None = None) -> dict[str, Any] | tuple[bytes, str, str]:
    """`GET /v1/admin/reports/monthly`: the JSON report, or `(bytes, content type, file name)` for csv/xlsx."""
    require_admin(caller)
    checked = _check_month(month)
    fmt = (fmt or "json").lower()
    if fmt not in FORMATS:
        raise ValidationFailed("Định dạng báo cáo phải là json, csv hoặc xlsx.", code="invalid_format",
                               details={"format": fmt, "allowed": list(FORMATS)})
    report = monthly_report(checked, ports or default_ports())
    if fmt == "csv":
        return kpi.csv_bytes(report), "text/csv; charset=utf-8", f"bao-cao-{checked}.csv"
    if fmt == "xlsx":
        return xlsx_bytes(report), XLSX_TYPE, f"bao-cao-{checked}.xlsx"
    return report


XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def yearly(caller: Caller, *, year: str | None, ports: ReportPorts | None = None) -> dict[str, Any]:
    """`GET /v1/admin/reports/yearly?year=YYYY`: per agency the month-by-month trend (kpi.YEAR_FIELDS) and the
    year's own row, and the same for the totals; the months of the year so far (twelve monthly reports)."""
    require_admin(caller)
    checked = parse_year(year)
    if checked is None:
        raise ValidationFailed("Năm báo cáo phải có dạng YYYY.", code="invalid_year", details={"year": year})
    ports = ports or default_ports()
    agencies, targets = ports.agencies(), _targets(ports)
    months = [f"{checked:04d}-{m:02d}" for m in range(1, 13)]
    reports = [monthly_report(m, ports, agencies=agencies, targets=targets) for m in months]
    by_agency: dict[str, dict[str, Any]] = {}
    for report in reports:
        for row in report["agencies"]:
            by_agency.setdefault(row["organ_id"], {"organ_id": row["organ_id"], "name": row["name"],
                                                   "level": row["level"], "months": {}})
            by_agency[row["organ_id"]]["months"][report["month"]] = kpi.year_month(report["month"], row)
    out_agencies = []
    for organ_id in sorted(by_agency):
        entry = by_agency[organ_id]
        trend = [entry["months"].get(m) or kpi.year_month(m, _empty_row()) for m in months]
        out_agencies.append({**{k: entry[k] for k in ("organ_id", "name", "level")}, "months": trend,
                             "year": _year_sum(trend)})
    totals = [kpi.year_month(r["month"], r["totals"]) for r in reports]
    return {"year": checked, "months": months, "agencies": out_agencies,
            "totals": {"months": totals, "year": _year_sum(totals)}}


def _empty_row() -> dict[str, Any]:
    return {k: 0 for k in kpi.YEAR_FIELDS} | {"electronic_only_share": None, "signed_share": None,
                                              "below_target": False}


def _year_sum(trend: list[dict[str, Any]]) -> dict[str, Any]:
    counts = {k: sum(m[k] for m in trend) for k in ("sent", "signed", "electronic_only", "paper_in_parallel",
                                                   "rejected", "failed")}
    return {**counts, "electronic_only_share": kpi.share(counts["electronic_only"], counts["sent"]),
            "signed_share": kpi.share(counts["signed"], counts["sent"])}
