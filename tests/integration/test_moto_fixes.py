"""devstack.moto_fixes: TransactWriteItems on moto stays all-or-nothing, per item, and isolated.

Why it exists: moto 5.2 restores a whole-table copy when a transaction fails, which undoes other workers' writes
made meanwhile (a concurrent lease claim vanished and a document was signed twice). These tests pin the rollback
the fix performs itself, and that a failed transaction leaves a concurrent write alone.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.moto_tables import REGION, mocked_aws

TABLE = "moto-fixes"


@pytest.fixture
def ddb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    import boto3

    from devstack import moto_fixes

    moto_fixes.apply()
    with mocked_aws(monkeypatch):
        client = boto3.client("dynamodb", region_name=REGION)
        client.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
        yield client


def _put(pk: str, value: int) -> dict[str, Any]:
    return {"Put": {"TableName": TABLE, "Item": {"pk": {"S": pk}, "v": {"N": str(value)}}}}


def _update(pk: str, value: int, condition: str | None = None) -> dict[str, Any]:
    op: dict[str, Any] = {"TableName": TABLE, "Key": {"pk": {"S": pk}}, "UpdateExpression": "SET v = :v",
                          "ExpressionAttributeValues": {":v": {"N": str(value)}}}
    if condition:
        op["ConditionExpression"] = condition
    return {"Update": op}


def _value(ddb: Any, pk: str) -> int | None:
    item = ddb.get_item(TableName=TABLE, Key={"pk": {"S": pk}}, ConsistentRead=True).get("Item")
    return int(item["v"]["N"]) if item else None


def test_a_transaction_applies_every_operation(ddb: Any) -> None:
    ddb.transact_write_items(TransactItems=[_put("a", 1), _put("b", 2)])
    assert (_value(ddb, "a"), _value(ddb, "b")) == (1, 2)


def test_a_failed_transaction_leaves_its_items_as_they_were(ddb: Any) -> None:
    ddb.put_item(TableName=TABLE, Item={"pk": {"S": "a"}, "v": {"N": "1"}})
    with pytest.raises(ddb.exceptions.TransactionCanceledException):
        ddb.transact_write_items(TransactItems=[_update("a", 2), _put("new", 3),
                                                _update("missing", 4, "attribute_exists(pk)")])
    assert (_value(ddb, "a"), _value(ddb, "new"), _value(ddb, "missing")) == (1, None, None)


def test_a_failed_transaction_does_not_undo_a_concurrent_write(ddb: Any) -> None:
    """A write to another item made while a transaction runs survives that transaction's failure."""
    from moto.dynamodb.models import DynamoDBBackend

    ddb.put_item(TableName=TABLE, Item={"pk": {"S": "lease"}, "v": {"N": "0"}})
    inside = threading.Event()
    written = threading.Event()
    real_get_item = DynamoDBBackend.get_item

    def slow_get_item(self: Any, table_name: str, keys: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        if keys.get("pk", {}).get("S") == "doomed" and not inside.is_set():
            inside.set()  # the transaction is under way: let the other worker write now
            written.wait(5)
        return real_get_item(self, table_name, keys, *args, **kwargs)

    DynamoDBBackend.get_item = slow_get_item  # type: ignore[method-assign]
    try:
        def other_worker() -> None:
            inside.wait(5)
            ddb.put_item(TableName=TABLE, Item={"pk": {"S": "claimed"}, "v": {"N": "1"}})
            written.set()

        worker = threading.Thread(target=other_worker)
        worker.start()
        with pytest.raises(ddb.exceptions.TransactionCanceledException):
            ddb.transact_write_items(TransactItems=[_update("lease", 9), _update("doomed", 1, "attribute_exists(pk)")])
        worker.join(5)
    finally:
        DynamoDBBackend.get_item = real_get_item  # type: ignore[method-assign]
    assert inside.is_set() and written.is_set()
    assert _value(ddb, "claimed") == 1  # moto's own rollback (a whole-table copy) would have erased it
    assert _value(ddb, "lease") == 0
