"""Số đến (issue 12): each inbound document filed for a served agency gets the next number of that agency's
register of incoming documents (sổ văn bản đến) of the year it arrived (Vietnam's calendar year), kept on the inbox
item (`arrival_number`, `arrival_year`).

NĐ 30/2020/NĐ-CP Art. 22: the văn thư registers every incoming document with a consecutive số đến per year. The
number is issued just before the inbox item is written (chalicelib.inbound.poll), for the item's id, after every
check that could refuse the package: a refused package uses none. The register answers the same number to the same
inbox id (chalicelib.adapters.register_store), so a poll that dies between the two, or a second envelope of the same
document, or a concurrent run filing the same item, all agree on one number, and none is skipped.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from chalicelib.domain.registers import register_year

__all__ = ["ArrivalRegister", "numbered"]


class ArrivalRegister(Protocol):
    def issue_arrival_number(self, organ_id: str, year: int, inbox_id: str,
                             entry: dict[str, Any]) -> dict[str, Any]: ...


def numbered(store: ArrivalRegister, item: dict[str, Any]) -> dict[str, Any]:
    """The inbox item with its số đến (issued now, or the one its id already holds)."""
    year = register_year(datetime.fromisoformat(str(item["received_at"]).replace("Z", "+00:00")))
    issued = store.issue_arrival_number(item["organ_id"], year, item["inbox_id"], {
        "inbox_id": item["inbox_id"], "from_organ_id": item.get("from_organ_id"), "from_name": item.get("from_name"),
        "document_number": item.get("number"), "notation": item.get("notation"), "subject": item.get("subject"),
        "type_name": item.get("type_name"), "issued_on": item.get("issued_on"), "received_at": item["received_at"]})
    return {**item, "arrival_number": issued["number"], "arrival_year": year}
