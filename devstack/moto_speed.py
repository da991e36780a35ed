"""Per-request costs of moto's server that do no AWS work, removed; applied in the moto process
(`devstack.moto_server`) before the server starts. Nothing here changes what moto answers or authorises.

Why (measured with `devstack.sampler` under the load run, issue 11): moto's `DomainDispatcherApplication`
finds the backend for every request under one global lock, and on the way calls `backends.list_of_moto_modules()`
twice, which lists moto's package directory and stats each of its ~200 entries (`os.listdir` + `os.path.isdir`):
11% of moto's CPU, and the lock held meanwhile serialises every request of every function. The directory does not
change while the server runs, so the list is computed once; and the backend a host name maps to is a pure function
of the host (the URL patterns are fixed at import), so it is remembered per host. Requests whose backend is found
from the body (unsigned calls) still take moto's own path.

Then every backend lookup (`BackendDict[account]`, several per request) takes moto's global `backend_lock`, copies
the dict's keys into a list and searches the list of every BackendDict by `__eq__` (the `isinstance` calls showed up
at 3%); once a BackendDict holds the account and is registered, that work finds nothing to do, so it is skipped.

Last, a Query on a secondary index: moto takes `all_items()` (every item of the table, sorted by DynamoType
comparisons that recompute `cast_value` each time) and then keeps those whose index hash key matches: O(n log n)
per Query in the table's size, so the stack slowed as its tables filled (measured: the largest share of moto's CPU
at 200 documents). Here, during such a Query (and only on its thread), `all_items()` returns the items whose
attributes equal the query's hash-key conditions, sorted by the same key: the same items in the same order moto's
filter would keep, without sorting the table first. What the Query answers is unchanged. (`all_items()` also
works on snapshots of the table's dicts: moto's iterated them live and failed under concurrent writes.)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

__all__ = ["apply", "bypassed"]

_applied: dict[str, Any] = {}
#: While set (`bypassed()`, for the tests that compare with moto's own answers), the index Query takes moto's path.
_bypass = {"on": False}


@contextlib.contextmanager
def bypassed() -> Iterator[None]:
    """moto's own secondary-index Query for the duration (tests compare the two)."""
    _bypass["on"] = True
    try:
        yield
    finally:
        _bypass["on"] = False


def apply() -> None:
    """Patch moto's dispatcher (idempotent)."""
    if _applied:
        return
    from moto import backends
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules  # type: ignore[assignment]

    original = DomainDispatcherApplication.get_backend_for_host
    remembered: dict[str | None, Any] = {}

    def get_backend_for_host(self: Any, host: str | None) -> Any:
        try:
            return remembered[host]
        except KeyError:
            backend = original(self, host)
            if backend:  # only what was found: a miss may be found another way (the body) next time
                remembered[host] = backend
            return backend

    DomainDispatcherApplication.get_backend_for_host = get_backend_for_host  # type: ignore[method-assign]
    _applied["original"] = original
    _apply_backend_dict()


def _apply_backend_dict() -> None:
    from moto.core.base_backend import BackendDict

    original = BackendDict._create_account_specific_backend
    registered: set[int] = set()  # BackendDicts are module-level singletons: their ids never change

    def _create_account_specific_backend(self: Any, account_id: str) -> None:
        if id(self) in registered and dict.__contains__(self, account_id):
            return  # made and registered already: moto's version would take the lock and do nothing
        original(self, account_id)
        registered.add(id(self))

    BackendDict._create_account_specific_backend = _create_account_specific_backend  # type: ignore[method-assign]
    _apply_index_query()


def _apply_index_query() -> None:
    import threading

    from moto.dynamodb.models.table import Table

    original_query = Table.query
    local = threading.local()

    def all_items(self: Any) -> list[Any]:
        hash_only = getattr(local, "hash_only", {}).get(id(self))
        if hash_only is not None:
            # A Query on the base table keeps only the items of its hash key: read that partition, not the table
            # (moto sorted every item of the table for each such Query: O(n log n) as the table filled).
            found = self.items.get(hash_only[0])
            if found is None:
                return []
            partition = list(found.values()) if self.range_key_attr else [found]
            return sorted(partition, key=lambda x: (x.hash_key, x.range_key) if x.range_key else x.hash_key)
        conditions = getattr(local, "conditions", {}).get(id(self))
        items = []
        # Snapshots (list() of a dict is one step under the GIL): moto iterates the live dicts, and a PutItem on
        # another thread meanwhile failed its Query with "dictionary changed size during iteration" (HTTP 500).
        for hash_set in list(self.items.values()):
            for item in (list(hash_set.values()) if self.range_key_attr else [hash_set]):
                attrs = getattr(item, "attrs", None)
                if conditions is None or attrs is None or all(_equal(attrs.get(name), expected)
                                                              for name, expected in conditions):
                    # what moto's own loop would keep (items without attrs: its isinstance test), as it is now: an
                    # UpdateItem on another thread changes the live item in place, and one that REMOVEs the index
                    # key between this filter and moto's sort failed the Query with KeyError (HTTP 500)
                    items.append(_frozen(item) if attrs is not None else item)
        return sorted(items, key=lambda x: (x.hash_key, x.range_key) if x.range_key else x.hash_key)

    def query(self: Any, *args: Any, **kwargs: Any) -> Any:
        conditions = kwargs.get("hash_key_conditions")
        index_name = kwargs.get("index_name", args[7] if len(args) > 7 else None)
        hash_key = kwargs.get("hash_key", args[0] if args else None)
        if _bypass["on"]:
            return original_query(self, *args, **kwargs)
        if not index_name and hash_key is not None:
            only = local.__dict__.setdefault("hash_only", {})
            only[id(self)] = (hash_key,)
            try:
                return original_query(self, *args, **kwargs)
            finally:
                only.pop(id(self), None)
        if not index_name or not conditions:
            return original_query(self, *args, **kwargs)
        active = local.__dict__.setdefault("conditions", {})
        active[id(self)] = list(conditions)
        try:
            return original_query(self, *args, **kwargs)
        finally:
            active.pop(id(self), None)

    Table.all_items = all_items  # type: ignore[method-assign]
    Table.query = query  # type: ignore[method-assign]


def _frozen(item: Any) -> Any:
    """A shallow copy of a moto Item whose attribute map is its own (values are replaced by writes, not changed)."""
    import copy

    snapshot = copy.copy(item)
    snapshot.attrs = dict(item.attrs)
    return snapshot


def _equal(value: Any, expected: Any) -> bool:
    """DynamoType equality as moto's query loop tests it (`not value or value != expected` excludes): strings and
    binaries compare their raw values (their cast value is the value), other types moto's own way."""
    if not value or value.type != expected.type:
        return False
    if value.type in ("S", "B"):
        return bool(value.value == expected.value)
    return bool(value == expected)
