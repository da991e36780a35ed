"""edXML packages (QCVN 102:2016/BTTTT, amended 2022): what travels over the national document exchange axis.

The standard in the repo's words: `docs/edxml.md`. One XML package carries one document
(`write_new_document_package`) or one status report (`write_status_package`); `parse_package` reads both. The
shape follows the official client library's samples, because the parsers on the other side are name-based and
order-sensitive:

- namespace `http://www.mic.gov.vn/TBT/QCVN_102_2016`; the root `edXML` declares it as the default namespace, the
  `edXMLEnvelope` element declares the prefix `edXML` for the same URI and every header/body element carries that
  prefix; `AttachmentEncoded` sits OUTSIDE the envelope as the root's second child (unprefixed, default namespace);
- the standard's misspellings are kept on purpose: `Bussiness`, `BussinessDocType`, `BussinessDocReason`,
  `BussinessDocumentInfo`, `TyperNotation`, `OrganAdd`, `Appendixes`, `ContentTransferEncoded`;
- dates `yyyy/MM/dd`, timestamps `yyyy/MM/dd HH:mm:ss` in Vietnam local time (UTC+7) without a zone;
- `ContentTransferEncoded` is base64 of a ZIP archive holding one entry, the file itself.

Memory stays flat in the attachment size both ways. Secret documents have no field here because they never travel
over the axis (QĐ 28/2018).

One concern per module, the public surface re-exported here:

- `model`: namespace, code values (`STATUS_CODES`, `DOC_TYPE_*`) and the records (`Organ`, `DocumentHeader`...);
- `dates`: the date and timestamp forms; `docid`: the `DocumentId` form;
- `markup`: escaping and the elements both writers share; `writer`: document packages; `status`: status packages;
- `transfer`: `ContentTransferEncoded` (zip + base64) both ways; `reader`: `parse_package`;
- `errors`: `EdxmlError` and its two kinds, plain `ValueError`s.
"""

from __future__ import annotations

from chalicelib.core.clock import VN_TZ
from chalicelib.standards.edxml.dates import format_date, format_timestamp, parse_date, parse_timestamp
from chalicelib.standards.edxml.docid import document_id, split_document_id
from chalicelib.standards.edxml.errors import EdxmlError, EdxmlReadError, EdxmlWriteError
from chalicelib.standards.edxml.model import (
    DOC_TYPE_NEW,
    DOC_TYPE_REPLACE,
    DOC_TYPE_REVOKE,
    DOC_TYPE_UPDATE,
    MAX_ATTACHMENT_BYTES,
    MAX_TEXT_CHARS,
    NS,
    PREFIX,
    STATUS_CODES,
    AttachmentSource,
    Business,
    DocumentHeader,
    DocumentInfoUpdate,
    Organ,
    ParsedAttachment,
    ParsedPackage,
    Receiver,
    ReplacementInfo,
    ResponseFor,
    SignerInfo,
    StaffInfo,
    TraceEntry,
    status_meaning,
)
from chalicelib.standards.edxml.reader import parse_package
from chalicelib.standards.edxml.status import build_status_package, write_status_package
from chalicelib.standards.edxml.writer import write_new_document_package

__all__ = [
    "DOC_TYPE_NEW", "DOC_TYPE_REPLACE", "DOC_TYPE_REVOKE", "DOC_TYPE_UPDATE", "MAX_ATTACHMENT_BYTES",
    "MAX_TEXT_CHARS", "NS", "PREFIX", "STATUS_CODES",
    # Vietnam local time (UTC+7), the zone edXML timestamps are written in: chalicelib.core.clock's, re-exported
    # because importers of the edXML API have long taken it from here.
    "VN_TZ",
    "AttachmentSource", "Business", "DocumentHeader", "DocumentInfoUpdate", "EdxmlError", "EdxmlReadError",
    "EdxmlWriteError", "Organ", "ParsedAttachment", "ParsedPackage", "Receiver", "ReplacementInfo", "ResponseFor",
    "SignerInfo", "StaffInfo", "TraceEntry",
    "build_status_package", "document_id", "format_date", "format_timestamp", "parse_date", "parse_package",
    "parse_timestamp", "split_document_id", "status_meaning", "write_new_document_package", "write_status_package",
]
