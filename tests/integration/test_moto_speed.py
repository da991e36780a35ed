"""devstack.moto_speed: the embedded moto's per-request shortcuts answer exactly what moto answers.

Why it exists: the load run (issue 11) found moto sorting a whole table for every Query on a secondary index; the
fix filters by the index's hash key first. A Query answer that changed (an item missed, another order, another
page boundary) would pass for a gateway bug, so each shape of Query the gateway uses is compared with moto's own
answer on a table with sparse index attributes: both orders, paged, with a range condition, on the base table.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.moto_tables import REGION, mocked_aws

TABLE = "moto-speed"


@pytest.fixture
def ddb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    import boto3

    from devstack import moto_speed

    moto_speed.apply()
    with mocked_aws(monkeypatch):
        client = boto3.client("dynamodb", region_name=REGION)
        client.create_table(
            TableName=TABLE, BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": a, "AttributeType": t}
                                  for a, t in (("pk", "S"), ("sk", "S"), ("g", "S"), ("gs", "S"), ("n", "N"))],
            GlobalSecondaryIndexes=[
                {"IndexName": "by-g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"},
                                                    {"AttributeName": "gs", "KeyType": "RANGE"}],
                 "Projection": {"ProjectionType": "ALL"}},
                {"IndexName": "by-g-only", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                 "Projection": {"ProjectionType": "KEYS_ONLY"}},
                {"IndexName": "by-n", "KeySchema": [{"AttributeName": "n", "KeyType": "HASH"}],
                 "Projection": {"ProjectionType": "ALL"}}])
        rnd = random.Random(11)
        for i in range(300):
            item = {"pk": {"S": f"p{rnd.randint(0, 30)}"}, "sk": {"S": f"s{i:03d}"}}
            if rnd.random() < 0.8:
                item["g"] = {"S": f"g{rnd.randint(0, 4)}"}
            if rnd.random() < 0.7:
                item["gs"] = {"S": f"{rnd.randint(0, 99):02d}"}
            if rnd.random() < 0.5:
                item["n"] = {"N": str(rnd.choice([1, 2, 3]))}
            client.put_item(TableName=TABLE, Item=item)
        yield client


def _queries(client: Any) -> list[Any]:
    out: list[Any] = []
    for index, name, values in (("by-g", "g", [{"S": "g0"}, {"S": "g3"}, {"S": "none"}]),
                                ("by-g-only", "g", [{"S": "g1"}]), ("by-n", "n", [{"N": "2"}, {"N": "2.0"}])):
        for value in values:
            for forward in (True, False):
                kwargs: dict[str, Any] = {"TableName": TABLE, "IndexName": index, "Limit": 7,
                                          "KeyConditionExpression": f"{name} = :v",
                                          "ExpressionAttributeValues": {":v": value}, "ScanIndexForward": forward}
                while True:
                    page = client.query(**kwargs)
                    out.append((page["Items"], page.get("LastEvaluatedKey")))
                    if "LastEvaluatedKey" not in page:
                        break
                    kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    between = {":g": {"S": "g2"}, ":a": {"S": "10"}, ":b": {"S": "60"}}
    out.append(client.query(TableName=TABLE, IndexName="by-g", KeyConditionExpression="g = :g AND gs BETWEEN :a AND :b",
                            ExpressionAttributeValues=between)["Items"])
    for pk, forward in (("p3", True), ("p7", False), ("none", True)):
        kwargs = {"TableName": TABLE, "KeyConditionExpression": "pk = :p", "ScanIndexForward": forward, "Limit": 3,
                  "ExpressionAttributeValues": {":p": {"S": pk}}}
        while True:  # the base table, paged, both orders
            page = client.query(**kwargs)
            out.append((page["Items"], page.get("LastEvaluatedKey")))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    out.append(client.query(TableName=TABLE, KeyConditionExpression="pk = :p AND begins_with(sk, :s)",
                            ExpressionAttributeValues={":p": {"S": "p5"}, ":s": {"S": "s1"}})["Items"])
    return out


def test_index_queries_answer_what_moto_answers(ddb: Any) -> None:
    from devstack import moto_speed

    with moto_speed.bypassed():
        expected = _queries(ddb)
    assert sum(len(items) for items, _ in expected[:40]) > 100, "the table must give the queries something to find"
    assert _queries(ddb) == expected


def test_a_write_between_queries_is_seen(ddb: Any) -> None:
    query = {"TableName": TABLE, "IndexName": "by-g", "KeyConditionExpression": "g = :g",
             "ExpressionAttributeValues": {":g": {"S": "fresh"}}}
    assert ddb.query(**query)["Items"] == []
    ddb.put_item(TableName=TABLE, Item={"pk": {"S": "p1"}, "sk": {"S": "new"}, "g": {"S": "fresh"}, "gs": {"S": "1"}})
    assert [i["sk"]["S"] for i in ddb.query(**query)["Items"]] == ["new"]


def test_an_index_query_survives_a_concurrent_write_removing_the_index_key(ddb: Any,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The race the load run hit (HTTP 500 `KeyError: 'g'`): another thread's UpdateItem REMOVEs an item's index
    key after the filter kept it and before moto sorts and pages the matches. The filter hands moto a snapshot of
    each item, so the Query answers as of its start."""
    from moto.dynamodb.models.table import Table

    filtered = Table.all_items

    def then_a_write_lands(self: Any) -> list[Any]:
        found = filtered(self)
        for hash_set in list(self.items.values()):  # the live items change under the Query
            for item in (list(hash_set.values()) if self.range_key_attr else [hash_set]):
                item.attrs.pop("g", None)
        return found

    expected = ddb.query(TableName=TABLE, IndexName="by-g", KeyConditionExpression="g = :g",
                         ExpressionAttributeValues={":g": {"S": "g0"}})["Items"]
    monkeypatch.setattr(Table, "all_items", then_a_write_lands)
    answer = ddb.query(TableName=TABLE, IndexName="by-g", KeyConditionExpression="g = :g",
                       ExpressionAttributeValues={":g": {"S": "g0"}})["Items"]
    assert answer == expected and answer
