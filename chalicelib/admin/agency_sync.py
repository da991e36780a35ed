"""`sync_agencies` and `POST /v1/admin/agencies/sync`: the registry synced from the axis directory.

getAgenciesList (docs/axis-protocol.md; issue 9), daily on a schedule (`sync_agencies` in app.py) and on demand
(`POST /v1/admin/agencies/sync`, 202 with the report).

Fetch, compare (pure: chalicelib.domain.agencies.compare, whose docstring holds the rules: what is added, renamed,
withdrawn or held for an admin), apply with conditional writes, each with its change-log item in the same
transaction, in the agencies table (chalicelib.adapters.agency_registry). It never changes a served agency's local
settings (served, paper, seal, stamp, contact, signing key: the sync writes only `name` and `active` of non-served
agencies, and only creates non-served ones), and never deletes.

Which credentials call getAgenciesList: the `AGENCY_DIRECTORY_SYSTEM` setting's served agency, else the first
served system in the axis secret in code order (any system registered on the axis may read the directory).

Synchronous, in one invocation: a province's scope (`AGENCY_SYNC_SCOPE`, level-1 codes) is a few hundred to a few
thousand agencies, and a sync writes only what changed (one conditional write per change); the API answers 202
because the registry changes as the report is written, not because work is left queued. A write that loses its
condition (an admin changed the agency meanwhile) is left for the next sync and listed in `conflicts`.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

from chalicelib.adapters.agency_registry import CHANGE_PREFIX, get_agency_registry
from chalicelib.adapters.axis.credentials import axis_client_for, axis_credentials
from chalicelib.adapters.dynamo import MAX_CURSOR_CHARS, ConditionFailed
from chalicelib.admin.agencies import request_model, require_admin
from chalicelib.core.clock import now_iso
from chalicelib.core.errors import GatewayError, ValidationFailed
from chalicelib.core.log import logger
from chalicelib.core.settings import get_settings
from chalicelib.domain.agencies import SOURCE_AXIS, compare, directory_entries, fold_name
from chalicelib.domain.agency_requests import SyncRequest
from chalicelib.domain.caller import Caller
from chalicelib.domain.paging import page_limit

__all__ = ["directory_rows", "list_changes", "run_sync", "sync_registry", "use_directory"]

_directory_override: Any = None


def use_directory(fetch: Any) -> None:
    """Unit tests: `fetch()` answers the directory rows instead of the axis (None: the axis again)."""
    global _directory_override
    _directory_override = fetch


def directory_rows() -> tuple[str, list[dict[str, Any]]]:
    """(system id that asked, getAgenciesList rows); `directory_unavailable` (503) when the axis cannot answer."""
    if _directory_override is not None:
        return "test", list(_directory_override())
    try:
        systems = sorted(axis_credentials().get("systems") or {})
        system = get_settings().agency_directory_system or (systems[0] if systems else "")
        if not system:
            raise PermissionError("no served system in the axis secret")
        return system, axis_client_for(system).get_agencies_list()
    except Exception as exc:  # any axis, network or secret failure: nothing changes, the caller retries later
        logger.warning("axis directory unavailable", extra={"error": type(exc).__name__})
        raise GatewayError(code="directory_unavailable", details={"error": type(exc).__name__}) from exc


def _in_scope(code: str, scope: tuple[str, ...]) -> bool:
    return not scope or code.rsplit(".", 1)[-1] in scope


def sync_registry(by: str = "schedule") -> dict[str, Any]:
    """Fetch, compare, apply, record; the report (`sync_id`, `added`, `renamed`, `withdrawn`, `held`,
    `unchanged`, `skipped`, `conflicts`)."""
    system, rows = directory_rows()
    scope = get_settings().agency_sync_scope
    entries, skipped = directory_entries(rows)
    entries = [e for e in entries if _in_scope(e.organ_id, scope)]
    registry = get_agency_registry()
    items = {i["organ_id"]: i for i in registry.items() if _in_scope(i["organ_id"], scope)}
    diff = compare(entries, items.values(), skipped)
    sync_id, at = str(uuid.uuid4()), now_iso()
    changes = 0
    conflicts: list[str] = []
    added: list[str] = []
    renamed: list[dict[str, str]] = []
    withdrawn: list[str] = []

    def change(code: str, kind: str, **detail: Any) -> dict[str, Any]:
        return {"organ_id": f"{CHANGE_PREFIX}{at}#{sync_id[:8]}#{code}", "subject": code, "change": kind,
                "sync_id": sync_id, "at": at, "by": by, **detail}

    for entry in diff.added:
        try:
            registry.create({"organ_id": entry.organ_id, "name": entry.name, "name_folded": fold_name(entry.name),
                             "short_name": "", "active": True, "served": False, "paper": False,
                             "email": entry.email, "telephone": "", "address": "", "source": SOURCE_AXIS,
                             "created_at": at, "updated_at": at, "created_by": by, "updated_by": by},
                            change=change(entry.organ_id, "added", to=entry.name))
        except ConditionFailed:
            conflicts.append(entry.organ_id)
            continue
        added.append(entry.organ_id)
    for rename in diff.renamed:
        version = int(items[rename.organ_id].get("version", 0))
        try:
            registry.update(rename.organ_id, {"name": rename.new, "name_folded": fold_name(rename.new),
                                              "updated_at": at, "updated_by": by}, version=version,
                            change=change(rename.organ_id, "renamed", **{"from": rename.old, "to": rename.new}))
        except ConditionFailed:
            conflicts.append(rename.organ_id)
            continue
        renamed.append(rename.as_dict())
    for code in diff.withdrawn:
        version = int(items[code].get("version", 0))
        try:
            registry.update(code, {"active": False, "withdrawn_at": at, "updated_at": at, "updated_by": by},
                            version=version, change=change(code, "withdrawn"))
        except ConditionFailed:
            conflicts.append(code)
            continue
        withdrawn.append(code)
    changes = len(added) + len(renamed) + len(withdrawn)
    report = {"sync_id": sync_id, "at": at, "system_id": system, "added": added, "renamed": renamed,
              "withdrawn": withdrawn, "held": [h.as_dict() for h in diff.held], "unchanged": diff.unchanged,
              "skipped": diff.skipped, "conflicts": conflicts}
    logger.info("agency directory synced", extra={
        "sync_id": sync_id, "by": by, "changes": changes, "added": len(added), "renamed": len(renamed),
        "withdrawn": len(withdrawn), "held": len(diff.held), "unchanged": diff.unchanged, "conflicts": len(conflicts)})
    return report


def run_sync(caller: Caller, body: Any = None) -> dict[str, Any]:
    """`POST /v1/admin/agencies/sync` (admins only; body `{}`): the sync now, its report in the answer."""
    require_admin(caller)
    request_model(SyncRequest, {} if body is None else body)
    return sync_registry(by=caller.username)


def _change_view(item: dict[str, Any]) -> dict[str, Any]:
    out = {name: item[name] for name in ("subject", "change", "sync_id", "at", "by") if name in item}
    out["organ_id"] = out.pop("subject", "")
    out.update({name: item[name] for name in ("from", "to") if name in item})
    return out


def _change_cursor(key: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"before": key}).encode()).decode().rstrip("=")


def _before(cursor: str) -> str:
    try:
        if len(cursor) > MAX_CURSOR_CHARS:
            raise ValueError("too long")
        value = json.loads(base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode("ascii")))
        if not (isinstance(value, dict) and set(value) == {"before"} and isinstance(value["before"], str)
                and value["before"].startswith(CHANGE_PREFIX) and len(value["before"]) <= 200):
            raise ValueError("not ours")
        return str(value["before"])
    except (ValueError, UnicodeError, RecursionError) as exc:
        raise ValidationFailed("Con trỏ phân trang không hợp lệ.", code="invalid_cursor") from exc


def list_changes(caller: Caller, *, organ_id: str | None = None, sync_id: str | None = None,
                 limit: str | None = None, cursor: str | None = None) -> dict[str, Any]:
    """`GET /v1/admin/agencies/changes[?organ_id=&sync_id=]`: the change log, newest first, paged
    (`{"items": [{"organ_id", "change", "from"?, "to"?, "sync_id", "at", "by"}], "next"?}`)."""
    require_admin(caller)
    size = page_limit(limit)
    before = _before(cursor) if cursor else None
    found = sorted((c for c in get_agency_registry().changes()
                    if (not organ_id or c.get("subject") == organ_id) and (not sync_id or c.get("sync_id") == sync_id)
                    and (before is None or c["organ_id"] < before)),
                   key=lambda c: c["organ_id"], reverse=True)
    page = found[:size]
    body: dict[str, Any] = {"items": [_change_view(c) for c in page]}
    if len(found) > size:
        body["next"] = _change_cursor(page[-1]["organ_id"])
    return body
