"""Keep aiohttp out of a signing container's cold start: pyHanko imports it for clients the gateway never uses.

Why: `import pyhanko.sign` runs `pyhanko.sign.timestamps` (whose first line imports its aiohttp timestamp client)
and `pyhanko.sign.validation.ades` (which imports pyhanko-certvalidator's aiohttp fetchers); together they import
aiohttp, ~100 ms CPU, a quarter of the signer's first document (issue 11, "honest cold starts"). The gateway's
timestamps go through its own urllib client (`ltv`) and its revocation data through `keys.revocation`, so nothing on
the signing path constructs pyHanko's `HTTPTimeStamper` or `AIOHttpFetcherBackend`.

How: before pyHanko is first imported, stand-in modules take the place of those two modules; their classes build the
real ones on first construction (the real modules are imported then, and every module holding a stand-in class is
pointed at the real class). Nothing is lost, only deferred: code that does use pyHanko's aiohttp clients (a
validation without our fetchers) still gets them. Installed once per process by `chalicelib.signing`'s package
import, which every gateway module that imports `pyhanko.sign` runs first; a no-op where they are already loaded.
"""

from __future__ import annotations

import importlib
import sys
import threading
import types
from typing import Any

__all__ = ["STAND_INS", "install", "is_deferred", "load_real"]

#: module → the classes pyHanko imports from it at its own import time.
STAND_INS: dict[str, tuple[str, ...]] = {
    "pyhanko.sign.timestamps.aiohttp_client": ("HTTPTimeStamper", "AIOHttpTimeStamper"),
    "pyhanko_certvalidator.fetchers.aiohttp_fetchers": ("AIOHttpFetcherBackend",),
}
_lock = threading.RLock()


def is_deferred(module: str) -> bool:
    """True while `module` is the stand-in (the real one not imported)."""
    return bool(getattr(sys.modules.get(module), "_edoc_stand_in", False))


def load_real() -> None:
    """Import pyHanko's real aiohttp modules now, in place of the stand-ins (aiohttp is imported with them)."""
    with _lock:
        stand_ins = {name: sys.modules.pop(name) for name in STAND_INS if is_deferred(name)}
        if not stand_ins:
            return
        real = {name: importlib.import_module(name) for name in stand_ins}
        swaps = {id(getattr(stand_ins[m], cls)): getattr(real[m], cls)
                 for m in stand_ins for cls in STAND_INS[m] if hasattr(real[m], cls)}
        for module in list(sys.modules.values()):  # whoever did `from ... import HTTPTimeStamper` gets the real one
            namespace = getattr(module, "__dict__", None)
            if not isinstance(namespace, dict):
                continue
            for attr, value in list(namespace.items()):
                if id(value) in swaps and getattr(value, "_edoc_stand_in", False):
                    namespace[attr] = swaps[id(value)]


def _stand_in_class(module: str, name: str) -> type:
    def __new__(cls: type, *args: Any, **kwargs: Any) -> Any:  # noqa: N807 - the class's constructor
        load_real()
        return getattr(sys.modules[module], name)(*args, **kwargs)

    doc = f"Stand-in for pyHanko's `{name}`: constructing one imports aiohttp and returns the real one."
    return type(name, (), {"__new__": __new__, "__doc__": doc, "__module__": module, "_edoc_stand_in": True})


def install() -> None:
    """Put the stand-ins in place unless the real modules (or the stand-ins) are already loaded."""
    with _lock:
        for name, classes in STAND_INS.items():
            if name in sys.modules:
                continue
            module = types.ModuleType(name, f"Stand-in for {name} (chalicelib.signing.aiohttp_deferral).")
            module._edoc_stand_in = True  # type: ignore[attr-defined]
            module.__all__ = list(classes)  # type: ignore[attr-defined]
            for cls in classes:
                setattr(module, cls, _stand_in_class(name, cls))
            sys.modules[name] = module
