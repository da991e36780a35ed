"""DynamoDB write units as DynamoDB would bill them, counted in the embedded moto (issue 11, the bill).

Why measured and not modelled: what a write costs depends on the item's size before and after it, on whether it
ran in a transaction, and on which secondary indexes it touches, which depends on their projections and on which
of their key attributes changed. A model of that ("3.5 index writes per state change") drifts the moment the data
layout changes; moto sees every write with both images, so the meter applies DynamoDB's published rules to each:

- a write to the table: one write unit per KB (rounded up) of the larger of the item's before and after images,
  at least one; twice that inside TransactWriteItems (prepare and commit); a write whose condition failed still
  consumes the units of the item it read (at least one);
- each global secondary index that holds the item before or after: nothing when neither image is in it (sparse
  indexes) or when the projected attributes are unchanged; a put or a delete of the index entry when the item
  enters or leaves it; a delete and a put (two writes) when its index key changes; one write when only projected
  attributes change. Each sized by the projected image (table keys, index keys, and the projection's attributes).

Sources: docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html (item size, write
units, transactions) and .../GSI.html#GSI.ThroughputConsiderations.Writes (index writes). Item sizes are moto's
(`DynamoType.size`: attribute names and values in bytes, as DynamoDB counts them).

Applied in the moto process (`devstack.moto_server`); the totals are rewritten to `path` (JSON) at most twice a
second while they change, and read by the load run (`read_totals`) before and after its window. Nothing here
changes what moto answers.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

__all__ = ["FILE_NAME", "apply", "index_writes", "read_totals", "write_units"]

#: The meter's file, beside the moto process's ready file.
FILE_NAME = "moto.dynamodb-writes.json"

_totals: Counter[str] = Counter()
_lock = threading.Lock()
_local = threading.local()
_applied: dict[str, Any] = {}


def write_units(size_bytes: int) -> int:
    """One write unit per KB, rounded up, at least one."""
    return max(1, math.ceil(size_bytes / 1024))


def index_writes(before: tuple[Any, Any, int] | None, after: tuple[Any, Any, int] | None) -> int:
    """Write units an index spends on one table write, from the item's projected images before and after:
    `(index key, projected attributes, size)` or None when the image is not in the index."""
    if before is None and after is None:
        return 0
    if before is None or after is None:
        return write_units((after or before)[2])  # type: ignore[index]  # one of them is there
    if before[0] != after[0]:
        return write_units(before[2]) + write_units(after[2])  # the old entry deleted, the new one put
    if before[1] != after[1]:
        return write_units(max(before[2], after[2]))
    return 0


def read_totals(path: Path) -> dict[str, int]:
    """The totals the meter wrote last ({} before the first write)."""
    try:
        return {k: int(v) for k, v in json.loads(path.read_text(encoding="utf-8")).items()}
    except (OSError, ValueError):
        return {}


def apply(path: Path) -> None:
    """Meter moto's DynamoDB writes into `path` (idempotent)."""
    if _applied:
        return
    from moto.dynamodb.models import DynamoDBBackend

    _applied["path"] = path
    for name in ("put_item", "update_item", "delete_item"):
        setattr(DynamoDBBackend, name, _metered(getattr(DynamoDBBackend, name), name))
    original_transact = DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, *args: Any, **kwargs: Any) -> Any:
        _local.in_transaction = True
        try:
            return original_transact(self, *args, **kwargs)
        finally:
            _local.in_transaction = False

    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    threading.Thread(target=_flush_loop, name="write-meter", daemon=True).start()


def _metered(original: Any, op: str) -> Any:
    def write(self: Any, table_name: str, *args: Any, **kwargs: Any) -> Any:
        table = self.tables.get(table_name)
        try:
            key = _key(self, table, op, args, kwargs) if table is not None else None
        except Exception:  # a malformed request: moto's own error follows, nothing was written
            key = None
        if key is None:
            return original(self, table_name, *args, **kwargs)
        before = _image(table, key)
        try:
            result = original(self, table_name, *args, **kwargs)
        except Exception:
            _count(table_name, op, base=write_units(before[0] if before else 0), index=0, failed=True)
            raise
        after = _image(table, key)
        size = max(before[0] if before else 0, after[0] if after else 0)
        indexes = sum(index_writes(before[1].get(name) if before else None, after[1].get(name) if after else None)
                      for name in _index_names(table))
        _count(table_name, op, base=write_units(size), index=indexes, failed=False)
        return result

    write.__doc__ = original.__doc__
    return write


def _key(backend: Any, table: Any, op: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, Any]:
    """(hash key, range key) the write is for, as moto's DynamoTypes."""
    if op == "put_item":
        attrs = kwargs.get("item_attrs", args[0] if args else None)
        keys = {table.hash_key_attr: attrs[table.hash_key_attr]}
        if table.range_key_attr:
            keys[table.range_key_attr] = attrs[table.range_key_attr]
    else:
        keys = kwargs.get("key", args[0] if args else None)
    return backend.get_keys_value(table, keys)


def _index_names(table: Any) -> list[str]:
    return [index.name for index in table.global_indexes]


def _image(table: Any, key: tuple[Any, Any]) -> tuple[int, dict[str, tuple[Any, Any, int]]] | None:
    """(the item's size, {index: its projected image}) as stored now, or None when there is no item."""
    item = table.get_item(*key)
    if item is None:
        return None
    attrs = item.attrs
    sizes = {name: len(name.encode("utf-8")) + value.size() for name, value in attrs.items()}
    table_keys = [table.hash_key_attr, *([table.range_key_attr] if table.range_key_attr else [])]
    images: dict[str, tuple[Any, Any, int]] = {}
    for index in table.global_indexes:
        index_keys = [k["AttributeName"] for k in index.schema]
        if any(k not in attrs for k in index_keys):
            continue  # sparse: not in this index
        projection = index.projection or {}
        kind = projection.get("ProjectionType", "ALL")
        if kind == "ALL":
            names = list(attrs)
        else:
            extra = projection.get("NonKeyAttributes", []) if kind == "INCLUDE" else []
            names = [n for n in dict.fromkeys([*table_keys, *index_keys, *extra]) if n in attrs]
        projected = tuple(sorted((n, json.dumps(_canon(attrs[n]), sort_keys=True)) for n in names))
        images[index.name] = (tuple(attrs[k].value for k in index_keys), projected, sum(sizes[n] for n in names))
    return sum(sizes.values()), images


def _canon(value: Any) -> Any:
    """A DynamoType (maps and lists of them nested) as plain JSON values, to compare images by."""
    if hasattr(value, "type") and hasattr(value, "value"):
        return {str(value.type): _canon(value.value)}
    if isinstance(value, dict):
        return {str(k): _canon(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [_canon(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, (set, frozenset)) else items
    if isinstance(value, bytes):
        return value.hex()
    return value


def _count(table_name: str, op: str, *, base: int, index: int, failed: bool) -> None:
    factor = 2 if getattr(_local, "in_transaction", False) else 1
    with _lock:
        _totals["writes"] += 1
        _totals["table_wru"] += base * factor
        _totals["index_wru"] += index
        _totals[f"{table_name}:{op}"] += 1
        _totals[f"{table_name}:table_wru"] += base * factor
        _totals[f"{table_name}:index_wru"] += index
        if factor == 2:
            _totals["transactional_writes"] += 1
        if failed:
            _totals["failed_writes"] += 1
        _totals["version"] += 1


def _flush_loop() -> None:
    written = -1
    while True:
        time.sleep(0.5)
        with _lock:
            snapshot = dict(_totals)
        if snapshot.get("version", 0) == written:
            continue
        path: Path = _applied["path"]
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(snapshot), encoding="utf-8")
        tmp.replace(path)
        written = snapshot.get("version", 0)
