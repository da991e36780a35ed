"""Status packages (QCVN 102:2016 edXML, `docs/edxml.md#status-packages`): how a recipient tells the sender what
became of a document (01 đã đến … 06 hoàn thành, 13/15/16 around take-backs and updates; `STATUS_CODES`).

Same root and envelope as a document package, no body, no attachments.
"""

from __future__ import annotations

import io
from datetime import datetime
from typing import BinaryIO

from chalicelib.standards.edxml.dates import format_timestamp
from chalicelib.standards.edxml.markup import P, require, start_package
from chalicelib.standards.edxml.model import Organ, ResponseFor, StaffInfo

__all__ = ["build_status_package", "write_status_package"]


def write_status_package(out: BinaryIO, *, reporter: Organ, response_for: ResponseFor, status_code: str,
                         description: str = "", staff: StaffInfo | None = None, timestamp: datetime) -> None:
    """Write a status package: same root and envelope, no body, no attachments (QCVN 102:2016).

    `MessageHeader` holds, in order, `From` (who reports, normally the recipient), `ResponseFor` (the document),
    `StaffInfo`, `StatusCode` (01 đã đến … 06 hoàn thành, 13/15/16; see `STATUS_CODES`), `Description` (the
    reason, for 02) and `Timestamp`. A `TraceHeaderList` with the reporter's hop follows, as in document packages.
    """
    code = str(status_code).strip()
    require(bool(code) and code.isascii() and code.isdigit(), "StatusCode")
    require(bool(response_for.document_id), "ResponseFor/DocumentId")
    stamp = format_timestamp(timestamp)
    x = start_package()
    x.open(P + "MessageHeader")
    x.organ("From", reporter)
    x.response_for(response_for)
    x.staff(staff or StaffInfo())
    x.leaf(P + "StatusCode", code)
    x.leaf(P + "Description", description)
    x.leaf(P + "Timestamp", stamp)
    x.close(P + "MessageHeader")
    x.open(P + "TraceHeaderList")
    x.trace_header(reporter.organ_id, stamp)
    x.close(P + "TraceHeaderList")
    x.close(P + "edXMLHeader")
    x.close(P + "edXMLEnvelope")
    x.close("edXML")
    x.flush(out)


def build_status_package(*, reporter: Organ, response_for: ResponseFor, status_code: str, description: str = "",
                         staff: StaffInfo | None = None, timestamp: datetime) -> bytes:
    """`write_status_package` into bytes: status packages are small."""
    buf = io.BytesIO()
    write_status_package(buf, reporter=reporter, response_for=response_for, status_code=status_code,
                         description=description, staff=staff, timestamp=timestamp)
    return buf.getvalue()
