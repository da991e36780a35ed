"""`GET /v1/agencies?q=`: the agency registry as a clerk sees it, to pick a document's recipients (issue 10).

Why a route of its own: the registry's admin list (`GET /v1/admin/agencies`, chalicelib.admin.agencies) is for
admins only and shows what a clerk has no business reading (contacts, seals, stamp boxes, served flags); a clerk
addressing a document needs each active agency's identifier code and name, found by a few letters of either
("so noi vu", "000.00.13"), accent- and case-insensitive as the admin search is (chalicelib.domain.agencies).
Inactive agencies are left out: a document to one is refused (`recipient_inactive`).
"""

from __future__ import annotations

from typing import Any

from chalicelib.adapters.agency_registry import get_agency_registry
from chalicelib.core.errors import ValidationFailed
from chalicelib.domain.agencies import AgencyFilter, list_order, matches
from chalicelib.domain.caller import Caller
from chalicelib.domain.text import client_text

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "directory"]

DEFAULT_LIMIT = 20
MAX_LIMIT = 200


def directory(caller: Caller, *, q: str | None = None, limit: str | None = None) -> dict[str, Any]:
    """`{"items": [{"organ_id", "name"}]}`: active agencies whose name or code has every word of `q`, top level
    first, at most `limit` (default 20, at most 200; a picker narrows by typing, so there is no cursor)."""
    del caller  # any signed-in user of a served agency may address any active agency
    try:
        size = max(1, min(int(limit or DEFAULT_LIMIT), MAX_LIMIT))
    except ValueError as exc:
        raise ValidationFailed("Tham số limit phải là số nguyên.", code="invalid_limit") from exc
    words = client_text(q, "query.q", max_len=200) if q else None
    wanted = AgencyFilter(q=words or None, active=True)
    found = sorted((i for i in get_agency_registry().items() if matches(i, wanted)),
                   key=lambda i: list_order(str(i["organ_id"])))
    return {"items": [{"organ_id": str(i["organ_id"]), "name": str(i.get("name", ""))} for i in found[:size]]}
