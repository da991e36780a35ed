"""Which recipients a document may be addressed to: registered in the agency registry, and active there.

Why one function: `POST /v1/documents` and a recipients update (`POST /v1/documents/{id}/update`) both address
agencies, and the registry is the one that decides (issue 9): a code it does not hold is `unknown_recipient`, one an
admin set inactive (or the axis directory withdrew) is `recipient_inactive`, each with the codes in
`details.recipients`. Unknown codes are reported first: a typo is the likelier mistake.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from chalicelib.core.errors import RecipientInactive, UnknownRecipient

__all__ = ["refuse_bad_recipients"]


def refuse_bad_recipients(codes: Iterable[str], agencies: Mapping[str, Any]) -> None:
    """Raise UnknownRecipient or RecipientInactive unless every code names an active registered agency
    (`agencies`: the registry's answer by code, objects with an `active` attribute)."""
    codes = list(codes)
    unknown = [c for c in codes if c not in agencies]
    if unknown:
        raise UnknownRecipient(details={"recipients": unknown})
    inactive = [c for c in codes if not agencies[c].active]
    if inactive:
        raise RecipientInactive(details={"recipients": inactive})
