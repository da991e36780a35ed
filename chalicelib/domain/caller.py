"""Who calls a use case: the agency they act for, and whether they administer the gateway.

Why in domain: every area's use cases (outbound, inbound, admin) decide on the caller, while only the API builds
one (from the verified JWT, chalicelib.api.auth); with the record here, no use case imports the API layer
(the layers contract in pyproject.toml).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Caller"]


@dataclass(frozen=True)
class Caller:
    """Who is calling: the agency they act for, and whether they administer the gateway."""

    username: str
    organ_id: str
    is_admin: bool
