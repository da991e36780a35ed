"""How much of an untrusted edXML package the reader accepts (issue 8, "bounds on all untrusted input").

Every received package comes from some system on the axis, that is from anyone: `parse_package` refuses, each with
its own stable code (`EdxmlReadError.code`, catalogued in `chalicelib.core.error_codes`), anything past these
bounds, counted as the bytes stream in and never trusted from a declared size. Each value is several times what a
real package needs, so a genuine document is never refused, and small enough that the poller (a Lambda with the
default 512 MB of /tmp and a few hundred MB of memory) survives the worst package within its limits.

What real packages look like (QCVN 102:2016, `docs/edxml.md`): a header of about 60 elements plus about 9 per
recipient, nesting at most 8 deep (`edXML/edXMLEnvelope/edXMLHeader/MessageHeader/.../ReplacementInfo/OrganIdList/
OrganId`), texts of a few hundred characters (the longest, `Content` or a status `Description`, a summary), and
one to a few dozen attachments, each base64 of a ZIP with one entry: the file, usually a signed PDF no larger than
the gateway's own upload limit (150 MiB, `core.settings.MAX_UPLOAD_BYTES`).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "MAX_ATTACHMENTS", "MAX_ATTACHMENT_BYTES", "MAX_DEPTH", "MAX_ELEMENTS", "MAX_PACKAGE_BYTES", "MAX_TEXT_CHARS",
    "MAX_TOKEN_BYTES", "MAX_TOTAL_ATTACHMENT_BYTES", "MAX_TOTAL_TEXT_CHARS", "MAX_ZIP_RATIO", "ZIP_RATIO_FLOOR",
    "ReadLimits",
]

_MiB = 1024 * 1024

#: Bytes of the whole package (`package_too_large`). A 150 MiB upload is 200 MiB as base64; the rest is headroom
#: for the XML and further attachments. Also the axis download's default cap (`core.settings`), so that the raw
#: package and its decoded attachments fit together in a Lambda's default 512 MB of /tmp.
MAX_PACKAGE_BYTES = 256 * _MiB
#: Element nesting (`xml_too_deep`): real packages nest 8 deep; 32 leaves room for any producer's wrappers.
MAX_DEPTH = 32
#: Elements in the package, comments, processing instructions and CDATA sections included (`too_many_elements`):
#: about 60 + 9 per recipient, so 20,000 is a document sent to some 2,000 agencies (more than every ministry and
#: province together); it keeps the parsed record small and the parser's calls few.
MAX_ELEMENTS = 20_000
#: Characters of one element's text, `ContentTransferEncoded` apart (`element_too_large`): the longest real text
#: (`Content`, a `Description`) is a summary of a few thousand characters; 64 Ki characters is still below what
#: one DynamoDB item (400 KB) can hold.
MAX_TEXT_CHARS = 64 * 1024
#: Characters of all element texts together (`text_too_large`): what the parsed package holds in memory.
MAX_TOTAL_TEXT_CHARS = 1024 * 1024
#: Bytes expat may buffer without reporting anything (`xml_token_too_large`): a start tag with its attributes, a
#: comment or a processing instruction is reported only once complete, so one huge token would sit whole in
#: memory. Real tags are well under a kilobyte; element text is reported as it streams and does not count.
MAX_TOKEN_BYTES = 1 * _MiB
#: Attachments in one package (`too_many_attachments`): the gateway sends at most 20 (`domain.attachments`), the
#: poller keeps 50; a document with more appendices than that is sent as several.
MAX_ATTACHMENTS = 50
#: Decoded bytes of one attachment, after unzipping (`attachment_too_large`): the gateway's 150 MiB upload limit
#: with a third more headroom for files another system produced.
MAX_ATTACHMENT_BYTES = 200 * _MiB
#: Decoded bytes of all attachments together (`attachments_too_large`): as much as the package itself, so a
#: package can never make the poller write more than twice its own size to /tmp.
MAX_TOTAL_ATTACHMENT_BYTES = 256 * _MiB
#: Decompressed/compressed ratio of a ZIP entry (`zip_ratio_exceeded`), checked while inflating once the output
#: passes `ZIP_RATIO_FLOOR`. PDFs and office files inflate 1.1 to 20 times, text and XML up to about 50; deflate's
#: own maximum is about 1032, which is what a zip bomb uses.
MAX_ZIP_RATIO = 200
#: Output bytes below which the ratio is not checked: a small file of blank pages may compress very well.
ZIP_RATIO_FLOOR = 8 * _MiB


@dataclass(frozen=True)
class ReadLimits:
    """The bounds `parse_package` applies, by default the constants above (tests shrink them to reach each one
    with small inputs). Every size is counted while streaming."""

    package_bytes: int = MAX_PACKAGE_BYTES
    depth: int = MAX_DEPTH
    elements: int = MAX_ELEMENTS
    text_chars: int = MAX_TEXT_CHARS
    total_text_chars: int = MAX_TOTAL_TEXT_CHARS
    token_bytes: int = MAX_TOKEN_BYTES
    attachments: int = MAX_ATTACHMENTS
    attachment_bytes: int = MAX_ATTACHMENT_BYTES
    total_attachment_bytes: int = MAX_TOTAL_ATTACHMENT_BYTES
    zip_ratio: int = MAX_ZIP_RATIO
    zip_ratio_floor: int = ZIP_RATIO_FLOOR
