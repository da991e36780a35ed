"""Faults the simulator injects on request, so tests and demos can show what the gateway does when the axis fails.

Why they are part of the simulator and not mocks in the gateway's tests: a fault must look, from the client's
side, exactly as a real failure does (a 5xx, no answer until the read timeout, a package stored twice, an answer
lost after the package was stored), with no hook in the sender's code.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DUPLICATE_PATHS", "FAULT_KINDS", "PROTOCOL_PATHS", "Fault", "fault_from_spec"]

PROTOCOL_PATHS = ("/sendEdoc", "/getReceivedEdocList", "/getEdoc", "/updateStatus", "/getSentEdocList",
                  "/getAgenciesList")
FAULT_KINDS = ("5xx", "timeout", "slow", "duplicate", "business_error", "store_then_timeout")
DUPLICATE_PATHS = frozenset({"/sendEdoc", "/getReceivedEdocList", "/getSentEdocList"})
#: Faults that only make sense on some paths: without `paths`, they apply there only.
_DEFAULT_PATHS = {"duplicate": DUPLICATE_PATHS, "store_then_timeout": frozenset({"/sendEdoc"})}
_DEFAULT_DELAY = {"timeout": 60.0, "slow": 1.0, "store_then_timeout": 60.0}
_DEFAULT_ERROR_DESC = "Lỗi nghiệp vụ giả lập."


@dataclass
class Fault:
    """One injected fault. `count` (remaining) wins over `rate`; neither means every matching request."""

    id: int
    kind: str
    rate: float | None = None
    count: int | None = None
    paths: frozenset[str] | None = None
    systems: frozenset[str] | None = None
    error_code: str = "9999"
    error_desc: str = _DEFAULT_ERROR_DESC
    http_status: int = 503
    delay: float = 0.0
    rng: random.Random = field(default_factory=random.Random, repr=False)
    #: How many times the fault took effect (a matching request whose answer another fault decided first, e.g. a
    #: 5xx drawn before a store_then_timeout, does not count; `count` does).
    hits: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "rate": self.rate, "count": self.count, "hits": self.hits,
                "paths": sorted(self.paths) if self.paths else None,
                "systems": sorted(self.systems) if self.systems else None, "error_code": self.error_code,
                "http_status": self.http_status, "delay": self.delay}

    def draw(self, path: str, system_id: str) -> bool:
        """Whether the fault fires on this request; uses up one of its `count` or draws against its `rate`.

        Call with the simulator's lock held: `count` and the random generator are shared between requests.
        """
        if self.paths is not None and path not in self.paths:
            return False
        if self.paths is None and path not in _DEFAULT_PATHS.get(self.kind, frozenset(PROTOCOL_PATHS)):
            return False
        if self.systems is not None and system_id not in self.systems:
            return False
        if self.count is not None:
            if self.count <= 0:
                return False
            self.count -= 1
        elif self.rate is not None and self.rng.random() >= self.rate:
            return False
        return True


def fault_from_spec(spec: Mapping[str, Any]) -> Fault:
    """A fault from its JSON spec (see devstack.axis_simulator), its `id` still 0 (the simulator numbers it);
    raises ValueError on a bad spec."""
    kind = spec.get("kind")
    if kind not in FAULT_KINDS:
        raise ValueError(f"kind must be one of {FAULT_KINDS}")
    rate = spec.get("rate")
    count = spec.get("count")
    if rate is not None and not (isinstance(rate, (int, float)) and 0 <= rate <= 1):
        raise ValueError("rate must be a number in 0..1")
    if count is not None and not (isinstance(count, int) and count >= 0):
        raise ValueError("count must be a non-negative integer")
    paths = spec.get("paths")
    if paths is not None:
        paths = frozenset(p if p.startswith("/") else "/" + p for p in paths)
        if not paths <= set(PROTOCOL_PATHS):
            raise ValueError(f"paths must be among {PROTOCOL_PATHS}")
    systems = spec.get("systems")
    fault = Fault(id=0, kind=kind, rate=None if rate is None else float(rate), count=count,
                  paths=paths, systems=frozenset(systems) if systems else None,
                  error_code=str(spec.get("error_code", "9999")),
                  error_desc=str(spec.get("error_desc", _DEFAULT_ERROR_DESC)),
                  http_status=int(spec.get("http_status", 503)),
                  delay=float(spec.get("delay", _DEFAULT_DELAY.get(kind, 0.0))),
                  rng=random.Random(spec.get("seed")))
    if not 500 <= fault.http_status <= 599:
        raise ValueError("http_status must be 5xx")
    return fault
