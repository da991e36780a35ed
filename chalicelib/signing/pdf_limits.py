"""What an untrusted PDF may declare before the gateway parses it, checked from the bytes before pyHanko builds
anything (issue 8: a 230-byte PDF declaring 2 million xref entries cost 7 s of CPU and 500 MB in pyHanko).

pyHanko builds one Python entry per declared cross-reference entry (about 250 bytes and 3.5 µs each) before any
other check, and an xref stream with `/W [0 0 0]` declares entries that take no bytes at all. So `prescan` reads
only the cross-reference sections themselves (ISO 32000-2 §7.5.4 tables and §7.5.8 streams), following
`startxref`, `/Prev` and `/XRefStm`, and refuses with `PdfTooComplex` when a declared size passes `ParseLimits`:
`/Size` of a trailer or an xref stream, the entry counts of table subsections and of `/Index`, the `/W` widths,
the number of revisions. It reads a few KB per revision, never an object's contents; a section it cannot read is
left to pyHanko (whose parse runs bounded anyway, `chalicelib.signing.bounded`).

`signature_fields` lists the signature fields with what their value is (empty, a signature dictionary, or something
else, which pyHanko's validator would trip over with an AttributeError).

`check_object_streams` reads, once the cross-reference data is loaded, each object stream's dictionary (not its
data) and refuses one declaring more than `max_object_stream_entries` objects: pyHanko scans the header of the stream
linearly for every object it takes from it.

`check_page_tree` runs on pyHanko's reader (in the bounded child): it walks the page tree once with a set of the
nodes seen, so a loop or a tree deeper than `max_page_tree_depth` is refused before anything follows it.

Every refusal is the stable code `pdf_too_complex` (chalicelib.core.error_codes) with a `reason` naming the bound.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, BinaryIO

__all__ = ["DEFAULT_LIMITS", "ParseLimits", "PdfTooComplex", "XrefFacts", "check_object_streams", "check_page_tree",
           "prescan", "signature_fields"]

MiB = 1024 * 1024


@dataclass(frozen=True)
class ParseLimits:
    """Bounds on one untrusted PDF. The defaults leave room for large legitimate documents (a thousand-page tagged
    report has about 100,000 objects) while keeping pyHanko's structures under about 75 MB and 1 s."""

    #: Declared cross-reference entries, per section and summed over all revisions (and any `/Size`).
    max_xref_entries: int = 300_000
    #: Revisions (cross-reference sections) followed through `/Prev` and `/XRefStm`.
    max_revisions: int = 500
    #: Bytes per field in an xref stream's `/W` (8 bytes address any file).
    max_xref_width: int = 8
    #: Objects one object stream may declare (/N): pyHanko scans its header linearly for every object it reads
    #: there (writers use 100 to a few hundred; a million fit in pyHanko's 4 MB object-stream cap).
    max_object_stream_entries: int = 10_000
    #: Page-tree depth and total pages (the page tree is walked once, loops refused).
    max_page_tree_depth: int = 64
    max_pages: int = 100_000
    #: The bounded child process (chalicelib.signing.bounded): CPU seconds, address space added to the parent's,
    #: wall-clock seconds before it is killed, and the most bytes its answer may have.
    cpu_seconds: int = 5
    memory_bytes: int = 256 * MiB
    wall_seconds: float = 20.0
    max_answer_bytes: int = 2 * MiB
    #: False runs the parse in-process (only the pre-scan bounds it): for platforms without `os.fork`.
    isolate: bool = True


DEFAULT_LIMITS = ParseLimits()


class PdfTooComplex(Exception):
    """The PDF declares or needs more than `ParseLimits` allows. `reason` is stable: `xref_too_large`,
    `xref_width`, `too_many_revisions`, `object_stream_too_large`, `page_tree_loop`, `page_tree_too_deep`,
    `too_many_pages`, `nesting_too_deep`, `cpu_time`, `memory`, `parser_crashed`, `answer_too_large`."""

    code = "pdf_too_complex"

    def __init__(self, bound: str, **details: Any) -> None:
        self.reason = bound
        self.details = dict(details, reason=bound)
        super().__init__(f"pdf_too_complex: {bound} {details or ''}".strip())


@dataclass
class XrefFacts:
    """What the pre-scan read: declared entries over all sections, sections read, and the largest `/Size`."""

    entries: int = 0
    revisions: int = 0
    declared_size: int = 0
    unread: list[int] = field(default_factory=list)  # offsets of sections left to pyHanko


_WINDOW = 64 * 1024
_STARTXREF = re.compile(rb"startxref\s*(\d{1,15})")
_SUBSECTION = re.compile(rb"\s*(\d{1,15})[ \t]+(\d{1,15})[ \t]*(?:\r\n|\r|\n)")
_OBJ_HEADER = re.compile(rb"\s*(\d{1,15})\s+(\d{1,5})\s+obj\b")


def prescan(fh: BinaryIO, size: int, limits: ParseLimits = DEFAULT_LIMITS) -> XrefFacts:
    """Read the cross-reference sections' declared sizes; raise `PdfTooComplex` past `limits`."""
    facts = XrefFacts()
    fh.seek(max(0, size - 1024))
    found = list(_STARTXREF.finditer(fh.read(1024)))
    if not found:
        return facts  # no startxref: pyHanko refuses it (malformed), cheaply
    pending = [int(found[-1].group(1))]
    seen: set[int] = set()
    while pending:
        offset = pending.pop()
        if offset in seen or not 0 <= offset < size:
            continue
        seen.add(offset)
        facts.revisions += 1
        if facts.revisions > limits.max_revisions:
            raise PdfTooComplex("too_many_revisions", max_revisions=limits.max_revisions)
        fh.seek(offset)
        window = fh.read(_WINDOW)
        stripped = window.lstrip(b" \t\r\n\f\x00")
        skipped = len(window) - len(stripped)
        if stripped.startswith(b"xref"):
            trailer = _scan_table(fh, offset + skipped + 4, size, facts, limits)
        else:
            trailer = _scan_stream(stripped, facts, limits)
        if trailer is None:
            facts.unread.append(offset)
            continue
        _check_size(trailer, facts, limits)
        for key in ("/Prev", "/XRefStm"):
            value = trailer.get(key)
            if isinstance(value, int):
                pending.append(value)
    return facts


def _add_entries(count: int, facts: XrefFacts, limits: ParseLimits) -> None:
    facts.entries += count
    if count < 0 or facts.entries > limits.max_xref_entries:
        raise PdfTooComplex("xref_too_large", declared=facts.entries, max_entries=limits.max_xref_entries)


def _check_size(trailer: dict[str, Any], facts: XrefFacts, limits: ParseLimits) -> None:
    declared = trailer.get("/Size")
    if isinstance(declared, int):
        facts.declared_size = max(facts.declared_size, declared)
        if declared > limits.max_xref_entries or declared < 0:
            raise PdfTooComplex("xref_too_large", declared=declared, max_entries=limits.max_xref_entries)


def _scan_table(fh: BinaryIO, pos: int, size: int, facts: XrefFacts, limits: ParseLimits) -> dict[str, Any] | None:
    """A classic table: subsection headers `start count`, then `count` 20-byte lines each, then `trailer`."""
    while pos < size:
        fh.seek(pos)
        chunk = fh.read(_WINDOW)
        lead = len(chunk) - len(chunk.lstrip(b" \t\r\n\f"))
        if chunk[lead:].startswith(b"trailer"):
            return _parse_dict(chunk[lead + 7:])
        header = _SUBSECTION.match(chunk)
        if header is None:
            return None  # not a layout we can step over: pyHanko's parse (bounded) decides
        count = int(header.group(2))
        _add_entries(count, facts, limits)
        pos += header.end() + 20 * count
    return None


def _scan_stream(window: bytes, facts: XrefFacts, limits: ParseLimits) -> dict[str, Any] | None:
    """An xref stream: `n g obj << /Type /XRef /Size /W /Index ... >>`; its data is never read here."""
    header = _OBJ_HEADER.match(window)
    if header is None:
        return None
    stream_dict = _parse_dict(window[header.end():])
    if stream_dict is None or stream_dict.get("/Type") != "/XRef":
        return None
    widths = stream_dict.get("/W")
    if not (isinstance(widths, list) and len(widths) == 3 and all(isinstance(w, int) for w in widths)) or any(
            not 0 <= w <= limits.max_xref_width for w in widths):
        raise PdfTooComplex("xref_width", widths=str(widths)[:100], max_width=limits.max_xref_width)
    index = stream_dict.get("/Index")
    declared = stream_dict.get("/Size")
    if isinstance(index, list) and index and all(isinstance(v, int) for v in index) and len(index) % 2 == 0:
        for count in index[1::2]:
            _add_entries(count, facts, limits)
    elif isinstance(declared, int):
        _add_entries(declared, facts, limits)
    return stream_dict


# -- a small reader of one PDF dictionary (ISO 32000-2 §7.3): enough to read trailers and xref stream dicts ------

_TOKEN = re.compile(rb"\s*(?:%[^\r\n]*\s*)*(<<|>>|\[|\]|/[^\s/\[\]<>(){}%]*|[+-]?\d*\.?\d+|\(|<[0-9A-Fa-f\s]*>|"
                    rb"[A-Za-z]+)")
_MAX_DEPTH = 32


def _parse_dict(data: bytes) -> dict[str, Any] | None:
    """The dictionary at the start of `data` (names as `/Name` strings, integers as int, references as
    `(n, g, 'R')`, arrays as lists, strings as b'' placeholders), or None when it is not one we can read."""
    try:
        value, _ = _value(data, 0, 0)
    except (ValueError, IndexError):
        return None
    return value if isinstance(value, dict) else None


def _value(data: bytes, pos: int, depth: int) -> tuple[Any, int]:
    if depth > _MAX_DEPTH:
        raise PdfTooComplex("nesting_too_deep", max_depth=_MAX_DEPTH)
    match = _TOKEN.match(data, pos)
    if match is None:
        raise ValueError("no token")
    token, pos = match.group(1), match.end()
    if token == b"<<":
        result: dict[str, Any] = {}
        while True:
            match = _TOKEN.match(data, pos)
            if match is None:
                raise ValueError("unterminated dictionary")
            if match.group(1) == b">>":
                return result, match.end()
            key, pos = _value(data, pos, depth + 1)
            if not isinstance(key, str) or not key.startswith("/"):
                raise ValueError("dictionary key is not a name")
            result[key], pos = _value(data, pos, depth + 1)
    if token == b"[":
        items: list[Any] = []
        while True:
            match = _TOKEN.match(data, pos)
            if match is None:
                raise ValueError("unterminated array")
            if match.group(1) == b"]":
                return items, match.end()
            item, pos = _value(data, pos, depth + 1)
            items.append(item)
    if token == b"(":
        return b"", _skip_string(data, pos)
    if token.startswith(b"<"):
        return b"", pos
    if token.startswith(b"/"):
        return token.decode("latin-1"), pos
    if token[:1].isalpha():
        return token.decode("ascii"), pos
    number: Any = float(token) if b"." in token else int(token)
    # `n g R` is a reference: look ahead for it so a dictionary's values stay one item each.
    ahead = re.match(rb"\s+(\d+)\s+R\b", data[pos:pos + 40])
    if isinstance(number, int) and ahead:
        return (number, int(ahead.group(1)), "R"), pos + ahead.end()
    return number, pos


def _skip_string(data: bytes, pos: int) -> int:
    """Past a literal string's closing parenthesis (balanced parentheses, backslash escapes)."""
    level = 1
    while level:
        char = data[pos]
        if char == 0x5C:  # backslash: the next byte is escaped
            pos += 1
        elif char == 0x28:
            level += 1
        elif char == 0x29:
            level -= 1
        pos += 1
    return pos


def check_page_tree(reader: Any, limits: ParseLimits = DEFAULT_LIMITS) -> int:
    """Walk pyHanko's page tree once; return the page count. Refuses loops, depth and page counts past `limits`."""
    from pyhanko.pdf_utils import generic  # lazy: pyHanko ~150 ms at cold start (imported by the caller already)

    root = reader.root.raw_get("/Pages")
    declared = int(reader.root["/Pages"]["/Count"])
    if declared > limits.max_pages:
        raise PdfTooComplex("too_many_pages", declared=declared, max_pages=limits.max_pages)
    seen: set[tuple[int, int]] = set()
    pages = 0
    stack: list[tuple[Any, int]] = [(root, 1)]
    while stack:
        node_ref, depth = stack.pop()
        if depth > limits.max_page_tree_depth:
            raise PdfTooComplex("page_tree_too_deep", max_depth=limits.max_page_tree_depth)
        if isinstance(node_ref, generic.IndirectObject):
            key = (node_ref.idnum, node_ref.generation)
            if key in seen:
                raise PdfTooComplex("page_tree_loop", object=f"{key[0]} {key[1]} R")
            seen.add(key)
            node = node_ref.get_object()
        else:
            node = node_ref
        if not isinstance(node, generic.DictionaryObject):
            continue
        kids = node.raw_get("/Kids") if "/Kids" in node else None
        if isinstance(kids, generic.IndirectObject):
            kids = kids.get_object()
        if node.get("/Type") == "/Page" or not isinstance(kids, generic.ArrayObject):
            pages += 1
            if pages > limits.max_pages:
                raise PdfTooComplex("too_many_pages", max_pages=limits.max_pages)
            continue
        stack.extend((kids.raw_get(i), depth + 1) for i in range(len(kids)))
    return pages


def signature_fields(reader: Any) -> list[tuple[str, str]]:
    """(qualified name, `empty` | `signed` | `not_a_dictionary`) of every signature field, in form order."""
    from pyhanko.pdf_utils import generic  # lazy: pyHanko ~150 ms at cold start (imported by the caller already)
    from pyhanko.sign.fields import enumerate_sig_fields  # lazy: pyHanko ~150 ms at cold start (ditto)

    found = []
    for name, value, _ref in enumerate_sig_fields(reader, filled_status=None):
        if isinstance(value, generic.IndirectObject):
            value = value.get_object()
        if value is None or isinstance(value, generic.NullObject):
            kind = "empty"
        elif isinstance(value, generic.DictionaryObject) and not isinstance(value, generic.StreamObject):
            kind = "signed"
        else:
            kind = "not_a_dictionary"
        found.append((str(name), kind))
    return found


def check_object_streams(reader: Any, limits: ParseLimits = DEFAULT_LIMITS) -> None:
    """Refuse an object stream whose dictionary declares more than `max_object_stream_entries` objects (/N)."""
    from pyhanko.pdf_utils import generic  # lazy: pyHanko ~150 ms at cold start (imported by the caller already)

    xrefs = reader.xrefs
    streams: set[Any] = set()
    for revision in range(xrefs.total_revisions):
        streams |= set(xrefs.object_streams_used_in(revision))  # References to the streams
    for ref in sorted(streams, key=lambda r: r.idnum):
        stream = ref.get_object()
        declared = stream.get("/N") if isinstance(stream, generic.DictionaryObject) else None
        if isinstance(declared, int) and declared > limits.max_object_stream_entries:
            raise PdfTooComplex("object_stream_too_large", object=f"{ref.idnum} {ref.generation} R",
                                declared=int(declared), max_entries=limits.max_object_stream_entries)
