"""Hostile PDFs, built from bytes at test time (never binary fixtures): each declares or nests more than a parser
should ever build, in a few hundred bytes, to prove that every parse of an untrusted PDF is bounded (issue 8).

- `xref_stream_bomb`: an xref stream declaring 2 million entries of zero width (the 350-byte PDF of the issue that
  took 12 s and hundreds of MB in `/v1/verify`).
- `xref_table_bomb`: a classic xref table whose subsection header and trailer /Size declare 2 million entries.
- `many_objects_pdf`: an xref stream with real (deflated) data for a million entries.
- `object_stream_bomb`: an object stream whose header lists a million entries before the catalog's (4 MB, just
  under pyHanko's object-stream limit), deflated to 4 KB: no declared xref size is out of bounds, but pyHanko scans
  the whole header to find the catalog (4.6 s of CPU).
- `page_tree_loop`, `deep_page_tree`: a /Pages node that is its own grandchild; a chain thousands of nodes deep.
- `deep_nesting`: an array nested 100,000 deep in the catalog.
- `sig_value_not_dict`: a signature field whose /V is a number, an array, a string or a stream.
- `huge_report_pdf`: a small signed PDF plus hundreds of signature fields with long qualified names, all pointing at
  the one real signature: its naive report is far larger than the file.

`raw_pdf` writes numbered objects with a correct classic xref table, the base of most of them.
"""

from __future__ import annotations

import io
import zlib
from pathlib import Path

__all__ = ["SIG_VALUES", "deep_nesting", "deep_page_tree", "huge_report_pdf", "many_objects_pdf", "object_stream_bomb",
           "page_tree_loop",
           "raw_pdf", "sig_value_not_dict", "xref_stream_bomb", "xref_table_bomb"]

_PAGE = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>"


def raw_pdf(objects: list[bytes], *, trailer_extra: bytes = b"", size: int | None = None) -> bytes:
    """A PDF of `objects` (numbered from 1; object 1 is the catalog) with a correct classic xref table."""
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R %s>>\nstartxref\n%d\n%%%%EOF\n"
              % (size if size is not None else len(objects) + 1, trailer_extra, xref))
    return out.getvalue()


def _one_page(catalog_extra: bytes = b"") -> list[bytes]:
    return [b"<< /Type /Catalog /Pages 2 0 R %s>>" % catalog_extra, b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            _PAGE]


def xref_stream_bomb(entries: int = 2_000_000) -> bytes:
    """About 230 bytes: an xref stream whose /W [0 0 0] lets /Size alone declare `entries` entries."""
    head = (b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
            b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n")
    xref = len(head)
    return head + (b"3 0 obj\n<< /Type /XRef /Size %d /W [0 0 0] /Root 1 0 R /Length 0 >>\nstream\n\nendstream\n"
                   b"endobj\nstartxref\n%d\n%%%%EOF\n" % (entries, xref))


def xref_table_bomb(entries: int = 2_000_000) -> bytes:
    """A classic table: the subsection header and the trailer's /Size declare `entries`, four lines follow."""
    pdf = raw_pdf(_one_page(), size=entries)
    return pdf.replace(b"xref\n0 4\n", b"xref\n0 %d\n" % entries, 1)


def many_objects_pdf(entries: int = 1_000_000) -> bytes:
    """An xref stream with real data for `entries` entries (all pointing at the catalog), deflated to a few KB."""
    objects = _one_page()
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    rows = [b"\x00\x00\x00\x00\x00\xff\xff"] + [b"\x01" + o.to_bytes(4, "big") + b"\x00\x00" for o in offsets]
    rows += [b"\x01" + offsets[0].to_bytes(4, "big") + b"\x00\x00"] * (entries - len(rows))
    data = zlib.compress(b"".join(rows), 9)
    xref = out.tell()
    out.write(b"%d 0 obj\n<< /Type /XRef /Size %d /W [1 4 2] /Root 1 0 R /Filter /FlateDecode /Length %d >>\n"
              b"stream\n" % (len(objects) + 1, entries, len(data)))
    out.write(data + b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % xref)
    return out.getvalue()


def object_stream_bomb(pairs: int = 1_000_000) -> bytes:
    """The catalog (object 1) in object stream 4, whose header lists `pairs` entries for object 2 before object 1's;
    pages (2), page (3) and the xref stream (5) are plain objects. About 8 KB."""
    header = b"2 0 " * pairs + b"1 0 "
    data = zlib.compress(header + b"<< /Type /Catalog /Pages 2 0 R >>", 9)
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n")
    offsets = {}
    for number, body in ((2, b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>"), (3, _PAGE)):
        offsets[number] = out.tell()
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    offsets[4] = out.tell()
    out.write(b"4 0 obj\n<< /Type /ObjStm /N %d /First %d /Filter /FlateDecode /Length %d >>\nstream\n"
              % (pairs + 1, len(header), len(data)))
    out.write(data + b"\nendstream\nendobj\n")
    offsets[5] = out.tell()

    def row(kind: int, field2: int, field3: int) -> bytes:
        return bytes([kind]) + field2.to_bytes(4, "big") + field3.to_bytes(3, "big")

    rows = [row(0, 0, 0xFFFF), row(2, 4, pairs)] + [row(1, offsets[n], 0) for n in (2, 3, 4, 5)]
    xref_data = b"".join(rows)
    out.write(b"5 0 obj\n<< /Type /XRef /Size 6 /W [1 4 3] /Root 1 0 R /Length %d >>\nstream\n" % len(xref_data))
    out.write(xref_data + b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % offsets[5])
    return out.getvalue()


def page_tree_loop() -> bytes:
    """/Pages 2 → kid 4 (/Pages) → kid 2 again; the counts claim one page so a reader keeps descending."""
    return raw_pdf([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>", _PAGE,
                    b"<< /Type /Pages /Parent 2 0 R /Kids [2 0 R] /Count 1 >>"])


def deep_page_tree(depth: int = 5_000) -> bytes:
    """A chain of `depth` /Pages nodes, one kid each, the single page at the bottom."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    for number in range(2, depth + 2):
        parent = b"/Parent %d 0 R " % (number - 1) if number > 2 else b""
        objects.append(b"<< /Type /Pages %s/Kids [%d 0 R] /Count 1 >>" % (parent, number + 1))
    objects.append(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] >>" % (depth + 1))
    return raw_pdf(objects)


def deep_nesting(depth: int = 100_000) -> bytes:
    """A catalog entry nested `depth` arrays deep (200 KB of brackets)."""
    return raw_pdf(_one_page(b"/Nested " + b"[" * depth + b"]" * depth + b" "))


#: Signature values that are not a signature dictionary.
SIG_VALUES: dict[str, bytes] = {"number": b"5", "array": b"[1 2 3]", "string": b"(not a signature)",
                                "name": b"/Sig", "null": b"null", "ref_to_stream": b"6 0 R",
                                "dict_without_contents": b"<< /Type /Sig /Filter /Adobe.PPKLite >>",
                                "contents_not_string": b"<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter "
                                                       b"/ETSI.CAdES.detached /ByteRange [0 1 2 3] /Contents 7 >>"}


def sig_value_not_dict(value: bytes = b"5") -> bytes:
    """One page and an AcroForm with one signature field whose /V is `value` (see `SIG_VALUES`)."""
    return raw_pdf(_one_page(b"/AcroForm << /Fields [4 0 R] /SigFlags 3 >> ") + [
        b"<< /FT /Sig /T (Sig1) /V %s /Type /Annot /Subtype /Widget /Rect [0 0 0 0] /P 3 0 R >>" % value,
        b"<< /Type /Sig >>",
        b"<< /Length 5 >>\nstream\nhello\nendstream",
    ])


def huge_report_pdf(signed: Path, out: Path, *, fields: int = 300, name_length: int = 2_000) -> Path:
    """`signed` (a PDF with one signature) plus `fields` signature fields under one parent whose /T is
    `name_length` characters long, each with the existing signature as its /V: a few KB more on disk, while a
    naive report repeats the long qualified name (and the signer) once per field."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    with open(signed, "rb") as fh:
        writer = IncrementalPdfFileWriter(io.BytesIO(fh.read()))
    form = writer.root["/AcroForm"]
    fields_array = form["/Fields"]
    sig_ref = fields_array[0].raw_get("/V")  # the real signature dictionary, shared by every new field
    parent = generic.DictionaryObject({generic.NameObject("/T"): generic.TextStringObject("Đ" * name_length)})
    parent_ref = writer.add_object(parent)
    parent[generic.NameObject("/Kids")] = generic.ArrayObject(writer.add_object(generic.DictionaryObject({
        generic.NameObject("/FT"): generic.NameObject("/Sig"), generic.NameObject("/T"): generic.TextStringObject(
            f"k{index}"), generic.NameObject("/Parent"): parent_ref, generic.NameObject("/V"): sig_ref,
    })) for index in range(fields))
    fields_array.append(parent_ref)
    writer.update_container(fields_array)
    writer.update_container(form)
    with open(out, "wb") as fh:
        writer.write(fh)
    return out
