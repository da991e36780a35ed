"""The demo agencies' axis credentials: made once per state directory, and stored where production keeps them.

Why they persist in `state_dir`: an outside client that saved an external agency's secret (from stack.json) keeps
working across restarts, and the axis simulator (started before provisioning, it needs the secrets at
construction) and the gateway's Secrets Manager entry see the same values.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from chalicelib.core import settings
from devstack import demo_data
from devstack.axis_sim.directory import generated_agencies
from devstack.provision.clients import Clients, put_secret
from devstack.provision.names import AXIS_SYSTEMS_FILE

__all__ = ["axis_directory", "load_or_create_axis_systems", "provision_axis_secret"]


def load_or_create_axis_systems(state_dir: Path) -> dict[str, dict[str, str]]:
    """`{"served": {organ_id: secret}, "external": {...}}`, one random secret per demo agency, kept in state_dir.

    Called by the stack before it starts the axis simulator (which needs the secrets at construction) and by
    `provision` (which stores the served ones in Secrets Manager), so both see the same values.
    """
    path = Path(state_dir) / AXIS_SYSTEMS_FILE
    stored: dict[str, dict[str, str]] = {"served": {}, "external": {}}
    if path.exists():
        stored = json.loads(path.read_text(encoding="utf-8"))
    changed = not path.exists()
    for agency in demo_data.AGENCIES:
        group = "served" if agency.served else "external"
        other = "external" if agency.served else "served"
        stored.setdefault(group, {})
        if stored.get(other, {}).pop(agency.organ_id, None) is not None:
            changed = True
        if agency.organ_id not in stored[group]:
            stored[group][agency.organ_id] = secrets.token_urlsafe(32)
            changed = True
    for organ_id in demo_data.UNREGISTERED_SYSTEMS:  # credentials held, registry entry missing (on purpose)
        if organ_id not in stored.setdefault("served", {}):
            stored["served"][organ_id] = secrets.token_urlsafe(32)
            changed = True
    if changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(stored, indent=2), encoding="utf-8")
        os.chmod(tmp, 0o600)
        tmp.replace(path)
    return stored


def axis_directory() -> list[dict[str, Any]]:
    """The directory the simulator serves: every demo agency, then a few hundred generated ones under the demo
    provinces that the registry does not hold until a sync adds them (devstack.axis_sim.directory)."""
    demo = [{"organ_id": a.organ_id, "name": a.name, "email": a.email, "address": a.address, "served": a.served}
            for a in demo_data.AGENCIES]
    return demo + generated_agencies()


def provision_axis_secret(c: Clients, axis_url: str, served: dict[str, str]) -> None:
    """`edoc-gateway/local/axis`: the endpoint and the served agencies' system secrets, as production holds them."""
    put_secret(c, settings.AXIS_SECRET_NAME, json.dumps({"endpoint": axis_url, "systems": served}),
               "Axis endpoint and per-agency system credentials")
