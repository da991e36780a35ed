"""The XML both edXML writers share: escaping, a small indenting writer, and the elements document and status
packages have in common (QCVN 102:2016, `docs/edxml.md#namespace`).

The other side's parsers are name-based and order-sensitive, so element order is the contract and every writer
spells it out; what is here is only what the two kinds of package write identically: the root with its default
namespace, the `edXMLEnvelope` declaring the `edXML` prefix, and the `From`/`To`, `StaffInfo`, `ResponseFor` and
`TraceHeader` elements.
"""

from __future__ import annotations

import re
from typing import IO

from chalicelib.standards.edxml.dates import format_date
from chalicelib.standards.edxml.errors import EdxmlWriteError
from chalicelib.standards.edxml.model import NS, PREFIX, Organ, ResponseFor, StaffInfo

__all__ = ["P", "XmlWriter", "escape_text", "require", "start_package"]

#: The prefix header and body elements carry, ready to put before a local name.
P = f"{PREFIX}:"

# Characters XML 1.0 cannot carry at all (C0 controls other than tab/LF/CR, surrogates, U+FFFE/U+FFFF).
_INVALID_XML_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def escape_text(value: object) -> str:
    """XML-escape element text. CR is written as `&#13;` so it survives the parser's end-of-line normalisation."""
    text = str(value)
    bad = _INVALID_XML_CHARS.search(text)
    if bad:
        raise EdxmlWriteError("invalid_text", "Nội dung có ký tự không hợp lệ trong XML.",
                              {"char": f"U+{ord(bad.group()):04X}"})
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;"))


class XmlWriter:
    """A tiny indenting writer: element order is the contract, so it is spelled out by the callers.

    `group` and `repeated` write the two shapes the standard uses over and over (a fixed list of leaves, a list of
    one repeated leaf); the element methods below write the elements both kinds of package share.
    """

    def __init__(self, depth: int = 0) -> None:
        self.parts: list[str] = []
        self.depth = depth

    def open(self, name: str, attrs: str = "") -> None:
        self.parts.append(f"{'  ' * self.depth}<{name}{attrs}>\n")
        self.depth += 1

    def close(self, name: str) -> None:
        self.depth -= 1
        self.parts.append(f"{'  ' * self.depth}</{name}>\n")

    def leaf(self, name: str, value: object = "") -> None:
        self.parts.append(f"{'  ' * self.depth}<{name}>{escape_text(value)}</{name}>\n")

    def empty(self, name: str, attrs: str = "") -> None:
        self.parts.append(f"{'  ' * self.depth}<{name}{attrs}/>\n")

    def group(self, tag: str, *children: tuple[str, object], prefix: str = P) -> None:
        """`<tag>` holding one leaf per `(name, value)`, in the order given; every name takes `prefix`."""
        self.open(prefix + tag)
        for name, value in children:
            self.leaf(prefix + name, value)
        self.close(prefix + tag)

    def repeated(self, tag: str, child: str, values: list[str], prefix: str = P) -> None:
        """`<tag>` holding one `<child>` per value (`Appendixes/Appendix`, `ToPlaces/Place`...), maybe none."""
        self.open(prefix + tag)
        for value in values:
            self.leaf(prefix + child, value)
        self.close(prefix + tag)

    def flush(self, out: IO[bytes]) -> None:
        out.write("".join(self.parts).encode("utf-8"))
        self.parts.clear()

    # the elements document and status packages share ---------------------------------------------------------

    def organ(self, tag: str, value: Organ) -> None:
        """`From` or `To`: `OrganId`, `OrganizationInCharge`, `OrganName`, `OrganAdd`, `Email`, `Telephone`, `Fax`,
        `Website`, in that order."""
        self.group(tag, ("OrganId", value.organ_id), ("OrganizationInCharge", value.organization_in_charge),
                   ("OrganName", value.name), ("OrganAdd", value.address), ("Email", value.email),
                   ("Telephone", value.telephone), ("Fax", value.fax), ("Website", value.website))

    def staff(self, value: StaffInfo) -> None:
        """`StaffInfo`: `Department`, `Staff`, `Email`, `Mobile`."""
        self.group("StaffInfo", ("Department", value.department), ("Staff", value.staff), ("Email", value.email),
                   ("Mobile", value.mobile))

    def response_for(self, ref: ResponseFor) -> None:
        """`ResponseFor`: `OrganId`, `Code` ("số/ký hiệu"), `DocumentId`, `PromulgationDate`."""
        self.group("ResponseFor", ("OrganId", ref.organ_id), ("Code", ref.code), ("DocumentId", ref.document_id),
                   ("PromulgationDate", format_date(ref.promulgation_date) if ref.promulgation_date else ""))

    def trace_header(self, organ_id: str, stamp: str) -> None:
        """`TraceHeader`: one hop, `OrganId` and `Timestamp` (already formatted)."""
        self.group("TraceHeader", ("OrganId", organ_id), ("Timestamp", stamp))


def start_package() -> XmlWriter:
    """The XML declaration, the root `edXML` (default namespace), `edXMLEnvelope` (declaring the `edXML` prefix for
    the same URI) and `edXMLHeader` opened: where every package, document or status, starts."""
    x = XmlWriter()
    x.parts.append('<?xml version="1.0" encoding="UTF-8"?>\n')
    x.open("edXML", f' xmlns="{NS}"')
    x.open(P + "edXMLEnvelope", f' xmlns:{PREFIX}="{NS}"')
    x.open(P + "edXMLHeader")
    return x


def require(ok: bool, what: str) -> None:
    """Refuse a value the standard does not allow (`invalid_value`, the element's name in `details.field`)."""
    if not ok:
        raise EdxmlWriteError("invalid_value", f"Giá trị không hợp lệ: {what}.", {"field": what})
