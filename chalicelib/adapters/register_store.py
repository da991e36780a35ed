"""DynamoDB storage of the registers (chalicelib.domain.registers): one partition per agency, direction and year in
the documents table (`REG#<organ_id>#<direction>#<year>`), holding

- `COUNTER`: `last`, the last number issued;
- `NUM#<n>`: the entry of number n (document or inbox id, issued_at, and what the register shows);
- `FOR#<id>`: which number that document (or inbox item) holds, so a retried issue answers the same number.

Why a transaction: issuing moves the counter from `last` to `last + 1` only if it still is `last`, and writes the
entry and the document's marker only if they do not exist, all or nothing. Two issuers racing for one number: one
wins, the other reads again and takes the next; a retry of the same document finds its marker. So numbers are never
issued twice and never skipped (NĐ 30/2020 Art. 15), under concurrency and at-least-once delivery alike.
"""

from __future__ import annotations

import time
from functools import cache
from typing import Any

from boto3.dynamodb.conditions import Key

from chalicelib.adapters.document_store import DocumentStore
from chalicelib.adapters.dynamo import ConditionFailed, batch_get, decode_cursor, encode_cursor, plain
from chalicelib.core.clock import now_iso
from chalicelib.core.errors import ValidationFailed
from chalicelib.core.settings import get_settings
from chalicelib.domain.registers import OUTGOING, format_number, register_key, slot_key

__all__ = ["Issued", "RegisterStore", "get_register_store"]

COUNTER = "COUNTER"
_ATTEMPTS = 50


class Issued(dict):
    """`{"n", "number", "year", "issued_at", "reused"}`: the number a document holds in its register."""


class RegisterStore(DocumentStore):
    """The registers' items in the documents table; every write conditional."""

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        item = self._table.get_item(Key={"pk": pk, "sk": sk}, ConsistentRead=True).get("Item")
        return plain(item) if item else None

    def issue(self, organ_id: str, direction: str, year: int, holder_id: str,
              entry: dict[str, Any] | None = None) -> Issued:
        """The next number of the register for `holder_id`, or the one it already holds (idempotent)."""
        pk = register_key(organ_id, direction, year)
        marker = f"FOR#{holder_id}"
        for attempt in range(_ATTEMPTS):
            held = self._get(pk, marker)
            if held is not None:
                return Issued(n=held["n"], number=format_number(held["n"]), year=year,
                              issued_at=held["issued_at"], reused=True)
            last = (self._get(pk, COUNTER) or {}).get("last", 0)
            n, at = last + 1, now_iso()
            counter: dict[str, Any] = {
                "Key": {"pk": pk, "sk": COUNTER}, "UpdateExpression": "SET #last = :n, updated_at = :at",
                "ExpressionAttributeNames": {"#last": "last"}, "ExpressionAttributeValues": {":n": n, ":at": at}}
            if last:
                counter["ConditionExpression"] = "#last = :prev"
                counter["ExpressionAttributeValues"][":prev"] = last
            else:
                counter["ConditionExpression"] = "attribute_not_exists(#last)"
            slot = {"pk": pk, "sk": slot_key(n), "n": n, "number": format_number(n), "holder_id": holder_id,
                    "organ_id": organ_id, "direction": direction, "year": year, "issued_at": at, **(entry or {})}
            try:
                self._transact([
                    {"Update": counter},
                    {"Put": {"Item": slot, "ConditionExpression": "attribute_not_exists(pk)"}},
                    {"Put": {"Item": {"pk": pk, "sk": marker, "n": n, "issued_at": at},
                             "ConditionExpression": "attribute_not_exists(pk)"}},
                ])
            except ConditionFailed:
                time.sleep(min(0.005 * (attempt + 1), 0.1))  # another issuer took n (or this holder's run did)
                continue
            return Issued(n=n, number=format_number(n), year=year, issued_at=at, reused=False)
        raise ConditionFailed(f"no number issued in {pk} after {_ATTEMPTS} attempts")

    def held(self, organ_id: str, direction: str, year: int, holder_id: str) -> int | None:
        """The number `holder_id` holds in the register, or None (nothing issued to it)."""
        held = self._get(register_key(organ_id, direction, year), f"FOR#{holder_id}")
        return int(held["n"]) if held is not None else None

    def note(self, organ_id: str, direction: str, year: int, n: int, fields: dict[str, Any]) -> None:
        """Add to an entry what happened since (the document's state, a failure): the number itself never moves."""
        names = {f"#f{i}": k for i, k in enumerate(fields)}
        values = {f":v{i}": v for i, v in enumerate(fields.values())}
        self._table.update_item(
            Key={"pk": register_key(organ_id, direction, year), "sk": slot_key(n)},
            UpdateExpression="SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields))),
            ConditionExpression="attribute_exists(pk)", ExpressionAttributeNames=names,
            ExpressionAttributeValues=values)

    def page(self, organ_id: str, direction: str, year: int, *, limit: int = 100,
             cursor: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
        """One page of the register in number order; the cursor is opaque and checked (`invalid_cursor`)."""
        pk = register_key(organ_id, direction, year)
        kwargs: dict[str, Any] = {"KeyConditionExpression": Key("pk").eq(pk) & Key("sk").begins_with("NUM#"),
                                  "Limit": limit}
        if cursor:
            start = decode_cursor(cursor, keys=frozenset({"pk", "sk"}))
            if start.get("pk") != pk:
                raise ValidationFailed(code="invalid_cursor")
            kwargs["ExclusiveStartKey"] = start
        resp = self._table.query(**kwargs)
        items = [{k: v for k, v in plain(i).items() if k not in ("pk", "sk")} for i in resp.get("Items", [])]
        nxt = resp.get("LastEvaluatedKey")
        return items, encode_cursor(nxt) if nxt else None

    def holders(self, direction: str, ids: list[str]) -> dict[str, dict[str, Any]]:
        """The current state of each numbered document (its record's state item: `state`, `reason`) or inbox item
        (`status`, `status_code`, `revoked`), by id, in one BatchGetItem per 100: the register shows it beside each
        number (chalicelib.registers.listing). Eventually consistent, as a list may be."""
        prefix, fields = (("DOC#", ("state", "reason")) if direction == OUTGOING
                          else ("INBOX#", ("status", "status_code", "revoked")))
        keys = [{"pk": f"{prefix}{i}", "sk": "META"} for i in dict.fromkeys(ids)]
        found = {}
        for item in batch_get(self._table, keys):
            held = plain(item)
            found[str(held["pk"]).removeprefix(prefix)] = {k: held[k] for k in fields if k in held}
        return found


@cache
def _for_table(table_name: str) -> RegisterStore:
    return RegisterStore(table_name)


def get_register_store() -> RegisterStore:
    """The registers' repository (the documents table), built once per container per table."""
    return _for_table(get_settings().documents_table)
