"""The reader tests' expectations (tests/fixtures/nd30): the registry they resolve against, code ranges, and the
field-by-field comparison the corpus is scored with (issue 12: at least 95% of fields exact)."""

from __future__ import annotations

import re
from typing import Any

from chalicelib.domain.recipient_names import Known
from devstack.axis_sim.directory import generated_agencies
from devstack.demo_data import AGENCIES

__all__ = ["FIELDS", "compare", "expand_codes", "stack_registry"]

#: The fields scored per document (signer's three parts apart: each is a field of the form).
FIELDS = ("number", "notation", "type", "subject", "issued_on", "place", "signer.full_name", "signer.position",
          "signer.competence", "recipients")
_RANGE = re.compile(r"\{(\d+)\.\.(\d+)\}")


def stack_registry() -> list[Known]:
    """The embedded stack's registry once the axis directory is synced: the demo agencies and the directory's."""
    return [Known(a.organ_id, a.name) for a in AGENCIES] + [Known(r["organ_id"], r["name"])
                                                           for r in generated_agencies()]


def expand_codes(codes: list[str]) -> list[str]:
    """"000.00.{20..35}.H62" → the sixteen codes (every range in a code, zero-padded to its width)."""
    out: list[str] = []
    for code in codes:
        pending = [code]
        while pending:
            item = pending.pop(0)
            match = _RANGE.search(item)
            if not match:
                out.append(item)
                continue
            width = len(match[1])
            pending = [item[:match.start()] + f"{n:0{width}d}" + item[match.end():]
                       for n in range(int(match[1]), int(match[2]) + 1)] + pending
    return out


def _get(metadata: dict[str, Any], name: str) -> Any:
    if name.startswith("signer."):
        return (metadata.get("signer") or {}).get(name.split(".", 1)[1])
    if name == "recipients":
        return sorted(metadata.get("recipients") or [])
    return metadata.get(name)


def compare(got: dict[str, Any], expected: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """{field: (got, expected)} for every scored field that differs (an absent field is None)."""
    want = dict(expected)
    if "recipients" in want:
        want["recipients"] = expand_codes(want["recipients"])
    return {name: (_get(got, name), _get(want, name)) for name in FIELDS if _get(got, name) != _get(want, name)}
