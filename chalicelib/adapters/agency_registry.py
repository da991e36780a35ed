"""The agency registry: every addressable agency (synced from the axis directory in production), which ones
this gateway serves, their paper-in-parallel flag (NĐ 30 Art. 23(4)) and their signing key.

Data the admin manages, never a table in code (identifiers.md: merged provinces' codes are not published).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

from chalicelib.adapters import aws
from chalicelib.core.settings import get_settings


@dataclass(frozen=True)
class SigningKeyRef:
    """Where an agency's organisation key lives and the certificate issued for it."""

    backend: str
    key_id: str
    signing_algorithm: str
    certificate_pem: str
    chain_pem: str = ""


@dataclass(frozen=True)
class Agency:
    organ_id: str
    name: str
    active: bool = True
    served: bool = False
    paper: bool = False
    email: str = ""
    address: str = ""
    telephone: str = ""
    signing_key: SigningKeyRef | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: The organisation's seal: a transparent PNG in the documents bucket (`seals/<organ_id>.png`) and its ETag,
    #: which keys the signing handler's per-container cache of the decoded image.
    seal_key: str = ""
    seal_etag: str = ""
    #: Where the organisation's signature goes on its documents, `{page, x, y, width, height}` (page from 1, -1 =
    #: last; points from the lower-left corner); None = the default, lower right of the last page.
    stamp: dict[str, Any] | None = None

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Agency:
        key = item.get("signing_key")
        return cls(
            organ_id=item["organ_id"], name=item.get("name", item["organ_id"]),
            active=bool(item.get("active", True)), served=bool(item.get("served", False)),
            paper=bool(item.get("paper", False)), email=item.get("email", ""), address=item.get("address", ""),
            telephone=item.get("telephone", ""),
            signing_key=SigningKeyRef(
                backend=key.get("backend", "kms"), key_id=key["key_id"],
                signing_algorithm=key.get("signing_algorithm", "RSASSA_PKCS1_V1_5_SHA_256"),
                certificate_pem=key["certificate_pem"], chain_pem=key.get("chain_pem", ""),
            ) if key else None,
            seal_key=item.get("seal_key", ""), seal_etag=item.get("seal_etag", ""),
            stamp=dict(item["stamp"]) if item.get("stamp") else None,
        )


class AgencyRegistry:
    """Reads agencies from the `edoc-agencies` table."""

    def __init__(self, table_name: str | None = None) -> None:
        self.table_name = table_name or get_settings().agencies_table

    def get(self, organ_id: str) -> Agency | None:
        item = aws.table(self.table_name).get_item(Key={"organ_id": organ_id}).get("Item")
        return Agency.from_item(item) if item else None

    def get_many(self, organ_ids: list[str]) -> dict[str, Agency]:
        """Agencies by code; missing codes are simply absent from the answer."""
        found: dict[str, Agency] = {}
        ids = list(dict.fromkeys(organ_ids))
        resource = aws.table(self.table_name).meta.client
        for start in range(0, len(ids), 100):
            request = {self.table_name: {"Keys": [{"organ_id": i} for i in ids[start:start + 100]]}}
            while request:
                resp = resource.batch_get_item(RequestItems=request)
                for raw in resp.get("Responses", {}).get(self.table_name, []):
                    found[raw["organ_id"]] = Agency.from_item(raw)
                request = resp.get("UnprocessedKeys") or {}
        return found

    def list_all(self) -> list[Agency]:
        """Every registered agency (a Scan, every page: a province's registry is a few hundred items); the
        monthly report lists the served ones (chalicelib.admin.reports)."""
        table = aws.table(self.table_name)
        kwargs: dict[str, Any] = {}
        agencies: list[Agency] = []
        while True:
            resp = table.scan(**kwargs)
            agencies.extend(Agency.from_item(i) for i in resp.get("Items", []))
            if "LastEvaluatedKey" not in resp:
                return agencies
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]


@cache
def _for_table(table_name: str) -> AgencyRegistry:
    return AgencyRegistry(table_name)


_override: Any = None


def get_agency_registry() -> AgencyRegistry:
    """The agency directory (the `AgencyDirectory` port), built once per container per table."""
    return _override if _override is not None else _for_table(get_settings().agencies_table)


def use_agency_registry(registry: Any) -> None:
    """Point every use case at `registry` (an in-memory fake), or back at DynamoDB with None."""
    global _override
    _override = registry


__all__ = ["Agency", "AgencyRegistry", "SigningKeyRef", "get_agency_registry", "use_agency_registry"]
