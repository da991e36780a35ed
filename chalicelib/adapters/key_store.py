"""DynamoDB for organisation signing keys: the key records and the agency item's active key.

- Key records are items of the documents table, `pk = KEY#<organ_id>`, `sk = <key_ref>`. Why there and not in
  `edoc-<stage>-agencies`: that table has only a hash key, so a key history would be a growing map on the agency
  item, and
  the signing handler reads that item for every document (every kilobyte of old CSRs and chains costs read units
  on the hot path). Here one Query lists an agency's keys, the agency item keeps only its active `signing_key` and
  a short `previous_keys` list, and activation is one transaction over both tables. Key items carry no `gsi1pk`,
  so they never appear in an agency's document list.
- The agency item is read raw here (the registry's `Agency` dataclass drops `key_ref` and `previous_keys`).

Every lost condition raises `chalicelib.adapters.dynamo.ConditionFailed`: the use cases (chalicelib.admin.keys)
decide what it means for the caller. `key_store()` builds the repository once per container.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import Any

from chalicelib.adapters import aws
from chalicelib.adapters.dynamo import ConditionFailed, all_pages, condition_failed_class, plain, transact
from chalicelib.core.settings import get_settings
from chalicelib.keys import certificates as keys

__all__ = ["KeyStore", "key_store"]


class KeyStore:
    """Key records (`KEY#<organ_id>` / `<key_ref>` in the documents table) and agency items (the agencies
    table)."""

    def __init__(self, table_name: str, agencies_table: str) -> None:
        self.table_name = table_name
        self.agencies_table = agencies_table

    @property
    def _table(self) -> Any:
        return aws.table(self.table_name)

    @staticmethod
    def key(organ_id: str, key_ref: str) -> dict[str, str]:
        return {"pk": keys.KEY_PK_PREFIX + organ_id, "sk": key_ref}

    # -- key records -----------------------------------------------------------------------------------------------
    def create(self, record: dict[str, Any]) -> None:
        item = {**self.key(record["organ_id"], record["key_ref"]), **record}
        self._table.put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")

    def get(self, organ_id: str, key_ref: str) -> dict[str, Any] | None:
        if not keys.valid_key_ref(key_ref):
            return None
        item = self._table.get_item(Key=self.key(organ_id, key_ref), ConsistentRead=True).get("Item")
        return plain(item) if item else None

    def list(self, organ_id: str) -> list[dict[str, Any]]:
        from boto3.dynamodb.conditions import Key  # lazy: boto3 costs ~150 ms at cold start

        return all_pages(self._table.query, KeyConditionExpression=Key("pk").eq(keys.KEY_PK_PREFIX + organ_id),
                         ConsistentRead=True)

    def update(self, organ_id: str, key_ref: str, fields: dict[str, Any], *, states: tuple[str, ...],
               event: dict[str, Any]) -> None:
        """Set `fields` if the record is in one of `states`; appends `event` to its history. ConditionFailed
        otherwise."""
        names = {f"#f{i}": k for i, k in enumerate(fields)}
        names["#state"] = "state"
        values: dict[str, Any] = {f":f{i}": v for i, v in enumerate(fields.values())}
        values.update({f":s{i}": s for i, s in enumerate(states)})
        values[":event"] = [event]
        values[":empty"] = []
        sets = [f"#f{i} = :f{i}" for i in range(len(fields))]
        sets.append("history = list_append(if_not_exists(history, :empty), :event)")
        table = self._table
        try:
            table.update_item(
                Key=self.key(organ_id, key_ref), UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression=f"#state IN ({', '.join(f':s{i}' for i in range(len(states)))})",
                ExpressionAttributeNames=names, ExpressionAttributeValues=values)
        except condition_failed_class(table) as exc:
            raise ConditionFailed(str(exc)) from exc

    # -- agency items ----------------------------------------------------------------------------------------------
    def agency_item(self, organ_id: str) -> dict[str, Any] | None:
        """The raw registry item, strongly consistent (key decisions are made on it)."""
        item = aws.table(self.agencies_table).get_item(Key={"organ_id": organ_id}, ConsistentRead=True).get("Item")
        return plain(item) if item else None

    def agency_items(self) -> Iterator[dict[str, Any]]:
        """Every registry item (for the renewal list: a full scan, an admin's occasional request)."""
        table = aws.table(self.agencies_table)
        kwargs: dict[str, Any] = {}
        while True:
            resp = table.scan(**kwargs)
            for raw in resp.get("Items", []):
                yield plain(raw)
            if "LastEvaluatedKey" not in resp:
                return
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    # -- the key switch (one transaction over both tables) ---------------------------------------------------------
    def renew_active_certificate(self, organ_id: str, key_ref: str, fields: dict[str, Any],
                                 event: dict[str, Any]) -> None:
        """A new certificate for the ACTIVE key: the registry's copy and the record change together."""
        self._transact([
            {"Update": {"TableName": self.agencies_table, "Key": {"organ_id": organ_id},
                        "UpdateExpression": "SET signing_key.certificate_pem = :c, signing_key.chain_pem = :ch, "
                                            "signing_key.not_after = :na",
                        "ConditionExpression": "signing_key.key_ref = :ref",
                        "ExpressionAttributeValues": {":c": fields["certificate_pem"], ":ch": fields["chain_pem"],
                                                      ":na": fields["certificate"]["not_after"], ":ref": key_ref}}},
            {"Update": {"TableName": self.table_name, "Key": self.key(organ_id, key_ref),
                        "UpdateExpression": "SET certificate_pem = :c, chain_pem = :ch, certificate = :info, "
                                            "certified_at = :at, "
                                            "history = list_append(if_not_exists(history, :e), :ev)",
                        "ConditionExpression": "#state = :active", "ExpressionAttributeNames": {"#state": "state"},
                        "ExpressionAttributeValues": {":c": fields["certificate_pem"], ":ch": fields["chain_pem"],
                                                      ":info": fields["certificate"], ":at": fields["certified_at"],
                                                      ":e": [], ":ev": [event], ":active": keys.ACTIVE}}},
        ])

    def switch_active_key(self, organ_id: str, key_ref: str, *, new_key: dict[str, Any],
                          current: dict[str, Any] | None, previous: dict[str, Any] | None, at: str,
                          activated: dict[str, Any], retired: tuple[str, dict[str, Any]] | None) -> None:
        """Make `key_ref` the agency's signing key: the agency item (conditional on the key it had, `current`, which
        goes to `previous_keys` as `previous`), the record ACTIVE, and the old record RETIRED (`retired` = its
        key_ref and history event, when it has a record), all or nothing."""
        values: dict[str, Any] = {":new": new_key, ":at": at}
        update = "SET signing_key = :new, keys_updated_at = :at"
        if current:
            update += ", previous_keys = list_append(if_not_exists(previous_keys, :empty), :old)"
            values.update({":empty": [], ":old": [previous], ":old_key_id": current["key_id"],
                           ":old_cert": current.get("certificate_pem", "")})
            condition = "signing_key.key_id = :old_key_id AND signing_key.certificate_pem = :old_cert"
        else:
            condition = "attribute_exists(organ_id) AND attribute_not_exists(signing_key)"
        operations: list[dict[str, Any]] = [
            {"Update": {"TableName": self.agencies_table, "Key": {"organ_id": organ_id}, "UpdateExpression": update,
                        "ConditionExpression": condition, "ExpressionAttributeValues": values}},
            {"Update": {"TableName": self.table_name, "Key": self.key(organ_id, key_ref),
                        "UpdateExpression": "SET #state = :active, activated_at = :at, "
                                            "history = list_append(if_not_exists(history, :e), :ev) REMOVE retired_at",
                        "ConditionExpression": "#state IN (:certified, :retired)",
                        "ExpressionAttributeNames": {"#state": "state"},
                        "ExpressionAttributeValues": {":active": keys.ACTIVE, ":at": at, ":e": [],
                                                      ":ev": [activated], ":certified": keys.CERTIFIED,
                                                      ":retired": keys.RETIRED}}},
        ]
        if retired is not None:
            old_ref, event = retired
            operations.append(
                {"Update": {"TableName": self.table_name, "Key": self.key(organ_id, old_ref),
                            "UpdateExpression": "SET #state = :retired, retired_at = :at, "
                                                "history = list_append(if_not_exists(history, :e), :ev)",
                            "ConditionExpression": "#state = :active", "ExpressionAttributeNames": {"#state": "state"},
                            "ExpressionAttributeValues": {":retired": keys.RETIRED, ":active": keys.ACTIVE,
                                                          ":at": at, ":e": [], ":ev": [event]}}})
        self._transact(operations)

    def _transact(self, operations: list[dict[str, Any]]) -> None:
        transact(aws.client("dynamodb"), self.table_name, operations)


def key_store() -> KeyStore:
    """The repository of the configured tables, built once per container (and per table names)."""
    settings = get_settings()
    return _store_for(settings.documents_table, settings.agencies_table)


@cache
def _store_for(table_name: str, agencies_table: str) -> KeyStore:
    return KeyStore(table_name, agencies_table)
