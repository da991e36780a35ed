"""The axis as other agencies' own systems use it, for end-to-end tests: packages sent and fetched by an agency's
system (signed requests, `GatewayClient.axis_system`), and the simulator's loopback control API (`/_sim/...`).
"""

from __future__ import annotations

import io
import json
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from chalicelib.standards.edxml import parse_package

__all__ = ["packages_for", "send_as", "sim"]


def sim(stack: dict, path: str, method: str = "GET", body: Any = None) -> Any:
    """One call to the axis simulator's control API of `stack` (its JSON answer; an HTTP error raises)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(stack["axis"]["url"] + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 (the local simulator)
        return json.loads(resp.read())


def send_as(axis: Any, data: bytes, to: list[str], folder: Path, messagetype: str = "edoc") -> str:
    """Send the package `data` as the agency system `axis` to `to`; the axis's DocId of the send."""
    path = folder / f"{uuid.uuid4().hex}.edxml"
    path.write_bytes(data)
    return axis.send_edoc(path, to=to, messagetype=messagetype).doc_id


def packages_for(client: Any, system_id: str, header_id: str) -> list[tuple[dict, Any, bytes]]:
    """(list entry, parsed package, its bytes) of every edoc package on the axis for `system_id` whose edXML
    DocumentId is `header_id`."""
    axis = client.axis_system(system_id)
    found = []
    for entry in axis.get_received_edoc_list("edoc"):
        data = axis.get_edoc(entry["docId"])
        package = parse_package(io.BytesIO(data))
        if package.document_id == header_id:
            found.append((entry, package, data))
    return found
