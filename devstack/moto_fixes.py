"""A fix for moto's DynamoDB TransactWriteItems, applied by the embedded stack before it starts moto in-process.

moto 5.2 backs up a transaction by deep-copying the WHOLE table once per operation, and on any failure puts that
copy back as the table. Two consequences for a stack where the API and the event pump write concurrently:

- cost grows with the table: with a few hundred documents (a thousand items) every transaction spends tens of
  milliseconds copying, which made the embedded stack's throughput fall with its own history (measured: 37% of
  the process's busy CPU on 100-200 documents);
- a failed transaction (a lost lease, a duplicate transition: routine with at-least-once delivery) restores the
  copy, silently undoing every write other threads made meanwhile, and a copy taken while another thread writes
  fails with "dictionary changed size during iteration" (HTTP 500).

Real DynamoDB has neither problem: a transaction is isolated and touches only its items. So the fix is the
semantics DynamoDB documents, not a shortcut: transactions run one at a time (a lock), the backup is a copy of the
items the transaction names (taken before it runs), and a failure restores exactly those. Plain PutItem/UpdateItem
from other threads are not serialised against a transaction; DynamoDB rejects such a conflicting write instead,
which moto never did either. Development and test only; nothing in production imports `devstack`.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

__all__ = ["apply"]

_lock = threading.RLock()
_applied = False


def apply() -> None:
    """Patch moto's DynamoDB backend (idempotent)."""
    global _applied
    with _lock:
        if _applied:
            return
        from moto.dynamodb.models import DynamoDBBackend
        from moto.dynamodb.models.table import Table

        original = DynamoDBBackend.transact_write_items

        def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
            with _lock:
                saved = _snapshot(self, transact_items)
                own = Table.__dict__.get("__deepcopy__")
                Table.__deepcopy__ = _by_reference  # moto's whole-table backup: a reference, never restored from
                try:
                    return original(self, transact_items)
                except Exception:
                    _restore(self, saved)
                    raise
                finally:
                    if own is None:
                        del Table.__deepcopy__
                    else:
                        Table.__deepcopy__ = own

        transact_write_items.__doc__ = original.__doc__
        DynamoDBBackend.transact_write_items = transact_write_items
        _applied = True


def _by_reference(self: Any, memo: dict[int, Any]) -> Any:
    return self


def _snapshot(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any], Any]]:
    """(table, key, a copy of the item or None) for each item the transaction names; [] when the request is too
    malformed to tell (moto's own validation then refuses it before writing anything)."""
    saved = []
    try:
        for entry in transact_items:
            _, op = next(iter(entry.items()))
            table_name = op["TableName"]
            if "Key" in op:
                key = op["Key"]
            else:
                table = backend.get_table(table_name)
                key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = op["Item"][table.range_key_attr]
            saved.append((table_name, key, copy.deepcopy(backend.get_item(table_name, key))))
    except Exception:
        return []
    return saved


def _restore(backend: Any, saved: list[tuple[str, dict[str, Any], Any]]) -> None:
    for table_name, key, item in reversed(saved):
        if item is None:
            backend.delete_item(table_name, key)
        else:
            backend.put_item(table_name, item.to_json()["Attributes"])
