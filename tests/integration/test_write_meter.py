"""devstack.write_meter: the write units the bill counts are DynamoDB's, write by write (issue 11, the bill).

Each rule of the meter is shown on a real moto table with the gateway's shapes of index: one projecting ALL, one
KEYS_ONLY, one INCLUDE and sparse; a new item, an update of an unprojected attribute, an update of a projected one,
a changed index key, a transaction, a lost condition, a delete, and the file the load run reads.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devstack import write_meter
from tests.support.moto_tables import REGION, mocked_aws

TABLE = "meter"


@pytest.fixture
def ddb(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    import boto3

    write_meter.apply(tmp_path_factory.mktemp("meter") / write_meter.FILE_NAME)
    with mocked_aws(monkeypatch):
        client = boto3.client("dynamodb", region_name=REGION)
        client.create_table(
            TableName=TABLE, BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in ("pk", "sk", "a", "k", "d")],
            GlobalSecondaryIndexes=[
                {"IndexName": "all", "KeySchema": [{"AttributeName": "a", "KeyType": "HASH"}],
                 "Projection": {"ProjectionType": "ALL"}},
                {"IndexName": "keys", "KeySchema": [{"AttributeName": "k", "KeyType": "HASH"}],
                 "Projection": {"ProjectionType": "KEYS_ONLY"}},
                {"IndexName": "done", "KeySchema": [{"AttributeName": "d", "KeyType": "HASH"}],
                 "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["state"]}}])
        yield client


def _delta(client: Any, call: Any) -> tuple[int, int]:
    """(table units, index units) one call spent."""
    before = dict(write_meter._totals)
    with contextlib.suppress(client.exceptions.ClientError):
        call()
    after = write_meter._totals
    return (after[f"{TABLE}:table_wru"] - before.get(f"{TABLE}:table_wru", 0),
            after[f"{TABLE}:index_wru"] - before.get(f"{TABLE}:index_wru", 0))


def _update(client: Any, expression: str, values: dict[str, Any], condition: str | None = None) -> Any:
    kwargs: dict[str, Any] = {"TableName": TABLE, "Key": {"pk": {"S": "p"}, "sk": {"S": "s"}},
                              "UpdateExpression": expression, "ExpressionAttributeValues": values}
    if condition:
        kwargs["ConditionExpression"] = condition
    return lambda: client.update_item(**kwargs)


def test_each_write_costs_what_dynamodb_bills(ddb: Any) -> None:
    big = "x" * 1500  # a 1.5 KB attribute: two units wherever it is written whole
    item = {"pk": {"S": "p"}, "sk": {"S": "s"}, "a": {"S": "A"}, "k": {"S": "K"}, "body": {"S": big},
            "nested": {"M": {"list": {"L": [{"S": "x"}, {"N": "1"}]}, "set": {"SS": ["b", "a"]}}}}
    # new: the table (2 units), ALL (2: the whole item), KEYS_ONLY (1); not in the sparse INCLUDE index
    assert _delta(ddb, lambda: ddb.put_item(TableName=TABLE, Item=item)) == (2, 3)
    # an attribute no index but ALL projects: the table and ALL only
    assert _delta(ddb, _update(ddb, "SET note = :n", {":n": {"S": "1"}})) == (2, 2)
    # the KEYS_ONLY index's key changes: its old entry deleted and the new one put; ALL rewritten
    assert _delta(ddb, _update(ddb, "SET k = :k", {":k": {"S": "K2"}})) == (2, 4)
    # into the sparse INCLUDE index, then a change of its projected attribute, then of one it does not project
    assert _delta(ddb, _update(ddb, "SET d = :d", {":d": {"S": "D"}})) == (2, 3)
    assert _delta(ddb, lambda: ddb.update_item(
        TableName=TABLE, Key={"pk": {"S": "p"}, "sk": {"S": "s"}}, UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "state"}, ExpressionAttributeValues={":s": {"S": "DONE"}})) == (2, 3)
    assert _delta(ddb, _update(ddb, "SET note = :n", {":n": {"S": "3"}})) == (2, 2)  # INCLUDE does not hold it
    # a change deep in a map is a change of what ALL projects
    assert _delta(ddb, lambda: ddb.update_item(
        TableName=TABLE, Key={"pk": {"S": "p"}, "sk": {"S": "s"}},
        UpdateExpression="SET nested.#l = list_append(nested.#l, :v)",
        ExpressionAttributeNames={"#l": "list"}, ExpressionAttributeValues={":v": {"L": [{"S": "y"}]}})) == (2, 2)
    # a lost condition still consumes the item's units, and writes no index
    assert _delta(ddb, _update(ddb, "SET note = :n", {":n": {"S": "2"}}, "attribute_not_exists(pk)")) == (2, 0)
    # small items in a transaction: twice the table's units; the indexes once
    small = {"TableName": TABLE, "Item": {"pk": {"S": "t"}, "sk": {"S": "1"}, "k": {"S": "T"}}}
    assert _delta(ddb, lambda: ddb.transact_write_items(TransactItems=[{"Put": small}])) == (2, 1)
    # a delete: the item's units and each index entry it leaves (ALL 2, KEYS_ONLY 1, INCLUDE 1)
    assert _delta(ddb, lambda: ddb.delete_item(TableName=TABLE, Key={"pk": {"S": "p"}, "sk": {"S": "s"}})) == (2, 4)


def test_the_totals_reach_the_file_the_load_run_reads(ddb: Any) -> None:
    ddb.put_item(TableName=TABLE, Item={"pk": {"S": "f"}, "sk": {"S": "1"}})
    path = Path(write_meter._applied["path"])
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and write_meter.read_totals(path).get("writes", 0) < write_meter._totals[
            "writes"]:
        time.sleep(0.1)
    totals = write_meter.read_totals(path)
    assert totals["writes"] == write_meter._totals["writes"] and totals[f"{TABLE}:put_item"] >= 1


def test_index_writes_follow_the_entry() -> None:
    one, two = ("k1",), ("k2",)
    assert write_meter.index_writes(None, None) == 0
    assert write_meter.index_writes(None, (one, ("p",), 100)) == 1
    assert write_meter.index_writes((one, ("p",), 2000), None) == 2
    assert write_meter.index_writes((one, ("p",), 100), (two, ("p",), 100)) == 2
    assert write_meter.index_writes((one, ("p",), 100), (one, ("q",), 1500)) == 2
    assert write_meter.index_writes((one, ("p",), 100), (one, ("p",), 100)) == 0
