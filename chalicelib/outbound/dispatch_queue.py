"""The dispatch queue's messages, routed: `{"document_id"}` to dispatch, `{"type": "amendment", ...}` to the
amendments' sending (revocation and update packages of a sent document share dispatch's queue, retries and DLQ).

Why a module above both: the amendments' sending uses dispatch's delivery (`dispatch.deliver`), so dispatch cannot
also import the amendments to route to them (no import cycle, tests/architecture/test_house.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable

from chalicelib.domain.amendment_rules import MESSAGE_TYPE
from chalicelib.outbound import dispatch
from chalicelib.outbound.amendments import worker

__all__ = ["delay_redelivery", "handle_message"]

#: A failed message's redelivery backoff, for every message of the queue (app.py's `on_failure`).
delay_redelivery = dispatch.delay_redelivery


def handle_message(body: str, receive_count: int = 1, *, remaining_ms: Callable[[], int] | None = None) -> None:
    """One message of the dispatch queue (app.py's `dispatch_document`, record by record)."""
    data = json.loads(body)
    if data.get("type") == MESSAGE_TYPE:  # revocation/update packages of a sent document (outbound.amendments)
        worker.handle_message(data, receive_count, remaining_ms=remaining_ms)
        return
    dispatch.process_dispatch(data["document_id"], receive_count=receive_count, remaining_ms=remaining_ms)
