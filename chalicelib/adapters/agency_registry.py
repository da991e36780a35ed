"""The agency registry: every addressable agency (synced from the axis directory in production), which ones
this gateway serves, their paper-in-parallel flag (NĐ 30 Art. 23(4)) and their signing key.

Data the admin manages, never a table in code (identifiers.md: merged provinces' codes are not published): the
admin routes (chalicelib.admin.agencies) register and change items here, the directory sync
(chalicelib.admin.agency_sync) adds, renames and withdraws them, each with its change-log item in the same
transaction and table (`organ_id = CHANGE#<at>#<sync>#<organ_id>`, `record_type = "agency_change"`; the table has
only a hash key, and the sync's role may touch this table and nothing else). Readers of "every agency" skip those items.
Every write of an agency item bumps its `version`, so a PATCH based on a stale read loses (`ConditionFailed`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

from chalicelib.adapters import aws
from chalicelib.adapters.dynamo import (
    ConditionFailed,
    all_pages,
    condition_failed_class,
    conditional_update,
    plain,
    transact,
)
from chalicelib.core.settings import get_settings
from chalicelib.core.ttl_cache import TtlCache

#: The change-log items' `record_type`, and their key prefix (chalicelib.admin.agency_sync).
CHANGE_RECORD = "agency_change"
CHANGE_PREFIX = "CHANGE#"
VERSION_FIELD = "version"
#: How long a warm container answers `cached_many` from memory (issue 11: fewer AWS calls per document). Safe for
#: what its callers read: names, the paper flag, `served` and `active` of senders and recipients. A renamed agency
#: or a changed paper flag reaches packages within this; an agency deactivated stops being accepted as a recipient
#: (POST /v1/documents) within this; the container that made the change (the API's admin routes, the directory
#: sync) forgets the item at once. Never used to sign: `sign_document` reads the agency (its signing key) fresh for
#: each document, so a rotated key never signs after its activation (chalicelib.admin.keys.activate).
AGENCY_TTL_SECONDS = 60
_agency_cache: TtlCache[tuple[str, str], Agency] = TtlCache(AGENCY_TTL_SECONDS, 4096)


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
    #: Agree or say why (issue 12, chalicelib.outbound.text_check): `reject` (the default) a document whose NĐ 30
    #: header contradicts its metadata, only `warn`, or `off`.
    metadata_check: str = "reject"

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
            metadata_check=str(item.get("metadata_check") or "reject"),
        )


class AgencyRegistry:
    """Reads agencies from the `edoc-<stage>-agencies` table."""

    def __init__(self, table_name: str | None = None) -> None:
        self.table_name = table_name or get_settings().agencies_table

    def get(self, organ_id: str) -> Agency | None:
        """The agency as stored now (one GetItem; no cache: the signing handler decides on its signing key)."""
        item = aws.table(self.table_name).get_item(Key={"organ_id": organ_id}).get("Item")
        return Agency.from_item(item) if item else None

    # -- the admin's registry (raw items: the `Agency` dataclass drops the registry's own fields) -----------------
    def item(self, organ_id: str) -> dict[str, Any] | None:
        """The raw item, strongly consistent (a PATCH decides on it), never a change-log item."""
        if organ_id.startswith(CHANGE_PREFIX):
            return None
        raw = aws.table(self.table_name).get_item(Key={"organ_id": organ_id}, ConsistentRead=True).get("Item")
        return plain(raw) if raw else None

    def items(self) -> list[dict[str, Any]]:
        """Every agency item (a paginated Scan: a province's registry is a few hundred to a few thousand items,
        a few MB at most; the change log is filtered out by DynamoDB)."""
        table = aws.table(self.table_name)
        kwargs: dict[str, Any] = {"FilterExpression": "attribute_not_exists(record_type)"}
        return all_pages(table.scan, **kwargs)

    def changes(self) -> list[dict[str, Any]]:
        """Every change-log item (a Scan filtered to them: a few per sync, read by an admin now and then)."""
        table = aws.table(self.table_name)
        kwargs: dict[str, Any] = {"FilterExpression": "record_type = :change",
                                  "ExpressionAttributeValues": {":change": CHANGE_RECORD}}
        return all_pages(table.scan, **kwargs)

    def create(self, item: dict[str, Any], *, change: dict[str, Any] | None = None) -> None:
        """Put a new agency item (and its change-log item, in the same transaction); ConditionFailed when the code
        is registered already."""
        _agency_cache.forget((self.table_name, item["organ_id"]))
        put = {"Item": {**item, VERSION_FIELD: 1}, "ConditionExpression": "attribute_not_exists(organ_id)"}
        if change is not None:
            self._transact([{"Put": put}, self._change_put(change)])
            return
        table = aws.table(self.table_name)
        try:
            table.put_item(**put)
        except condition_failed_class(table) as exc:
            raise ConditionFailed(item["organ_id"]) from exc

    def update(self, organ_id: str, fields: dict[str, Any], *, version: int, remove: tuple[str, ...] = (),
               change: dict[str, Any] | None = None) -> None:
        """SET `fields` (REMOVE `remove`) if the item is still at `version` (0: an item never versioned, as the
        provisioned ones), with its change-log item in the same transaction when given; ConditionFailed otherwise."""
        _agency_cache.forget((self.table_name, organ_id))
        condition = ("attribute_exists(organ_id) AND attribute_not_exists(#ver)" if not version
                     else "#ver = :ver")
        values = {":ver": version} if version else {}
        if change is None:
            conditional_update(aws.table(self.table_name), {"organ_id": organ_id},
                               {**fields, VERSION_FIELD: version + 1}, condition=condition, values=values,
                               names={"#ver": VERSION_FIELD}, remove=remove)
            return
        assigned = {**fields, VERSION_FIELD: version + 1}
        names = {"#ver": VERSION_FIELD, **{f"#f{i}": k for i, k in enumerate(assigned)}}
        expression = "SET " + ", ".join(f"#f{i} = :f{i}" for i in range(len(assigned)))
        if remove:
            names.update({f"#r{i}": k for i, k in enumerate(remove)})
            expression += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(remove)))
        update = {"Key": {"organ_id": organ_id}, "UpdateExpression": expression, "ConditionExpression": condition,
                  "ExpressionAttributeNames": names,
                  "ExpressionAttributeValues": {**values, **{f":f{i}": v for i, v in enumerate(assigned.values())}}}
        self._transact([{"Update": update}, self._change_put(change)])

    @staticmethod
    def _change_put(change: dict[str, Any]) -> dict[str, Any]:
        """A change-log item (its own `organ_id = CHANGE#...` key), never overwritten."""
        return {"Put": {"Item": {**change, "record_type": CHANGE_RECORD},
                        "ConditionExpression": "attribute_not_exists(organ_id)"}}

    def _transact(self, operations: list[dict[str, Any]]) -> None:
        """A change and its log item together or not at all (a fault between them would leave a change no log
        shows, and the next sync would see nothing to record)."""
        transact(aws.client("dynamodb"), self.table_name, operations)

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

    def cached_many(self, organ_ids: list[str]) -> dict[str, Agency]:
        """`get_many` answered from this container's memory for up to AGENCY_TTL_SECONDS (see there for why that
        is safe, and for whom it is not); only the codes not remembered are read, in one BatchGetItem."""
        table = self.table_name
        found = _agency_cache.get_many(
            [(table, i) for i in organ_ids],
            lambda keys: {(table, code): agency for code, agency in self.get_many([k[1] for k in keys]).items()})
        return {code: agency for (_, code), agency in found.items()}

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
    forget_cached_agencies()


def forget_cached_agencies() -> None:
    """Drop every agency `cached_many` remembers (tests, and the embedded stack when it changes the registry)."""
    _agency_cache.forget()


__all__ = ["AGENCY_TTL_SECONDS", "CHANGE_PREFIX", "CHANGE_RECORD", "VERSION_FIELD", "Agency", "AgencyRegistry",
           "SigningKeyRef", "forget_cached_agencies", "get_agency_registry", "use_agency_registry"]
