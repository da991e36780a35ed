"""Reading edXML packages (QCVN 102:2016, `docs/edxml.md`), document or status, in constant memory.

Elements are matched by local name and parent, as the other side's parsers do, so prefixes and namespace
declarations may vary. expat is fed in chunks and `ContentTransferEncoded` text is decoded straight into a
temporary file as it arrives (`transfer.AttachmentDecoder`). ElementTree's iterparse would not do: it hands over
an element's text only once the element is complete, i.e. the whole base64 string of a 100 MB attachment at once.
Optional values that cannot be read become None/"" with a note in `ParsedPackage.warnings`: only broken XML, a
missing sender, a broken attachment or a package past one of the reader's bounds raise (`EdxmlReadError`).

Bounds (issue 8; the values and why in `chalicelib.standards.edxml.limits`), each counted as the bytes stream in
and refused with its own code: package bytes (`package_too_large`), nesting (`xml_too_deep`), elements
(`too_many_elements`), one element's text (`element_too_large`), all texts (`text_too_large`), bytes expat holds
without reporting (`xml_token_too_large`), attachments (`too_many_attachments`), one attachment's decoded bytes
(`attachment_too_large`) and all of them (`attachments_too_large`); ZIP entries are checked by `unzip`. An
encoding expat cannot read (a multi-byte one but UTF-8/16, an unknown name) is `unsupported_encoding`. No other
exception type leaves `parse_package` for any input: a failure the code above did not foresee is still refused,
as `unreadable_package` (a test feeds mutated packages to find those); only `OSError` (our own disk or file) passes.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime
from typing import IO, Any, BinaryIO, TypeVar
from xml.parsers import expat

import chalicelib.standards.edxml.model as model
from chalicelib.standards.edxml.dates import parse_date, parse_timestamp
from chalicelib.standards.edxml.errors import EdxmlReadError
from chalicelib.standards.edxml.limits import ReadLimits
from chalicelib.standards.edxml.model import ParsedAttachment, ParsedPackage
from chalicelib.standards.edxml.transfer import AttachmentDecoder, silent_unlink, unzip_in_place

__all__ = ["parse_package"]

_READ_CHUNK = 64 * 1024
_MAX_INT = 10 ** 9  # counts and codes of a package; larger is no real value (and beyond what a record may carry)
_T = TypeVar("_T")


def _to_int(text: str, what: str, warnings: list[str]) -> int | None:
    text = text.strip()
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or abs(value) >= _MAX_INT:
        warnings.append(f"{what}: not an integer: {text[:40]!r}")
        return None
    return value


def _to_date(text: str, what: str, warnings: list[str]) -> date | None:
    return _read(text, parse_date, f"{what}: not a date", warnings)


def _to_timestamp(text: str, what: str, warnings: list[str]) -> datetime | None:
    return _read(text, parse_timestamp, f"{what}: not a timestamp", warnings)


def _read(text: str, parse: Callable[[str], _T | None], problem: str, warnings: list[str]) -> _T | None:
    """An optional value: None when empty; None and a warning when unreadable (kept, never fatal)."""
    if not text.strip():
        return None
    value = parse(text)
    if value is None:
        warnings.append(f"{problem}: {text[:40]!r}")
    return value


def _text(text: str, what: str, warnings: list[str]) -> str:
    return text


def _stripped(text: str, what: str, warnings: list[str]) -> str:
    return text.strip()


def _int_or_zero(text: str, what: str, warnings: list[str]) -> int:
    return _to_int(text, what, warnings) or 0


def _zero_one(text: str, what: str, warnings: list[str]) -> int:
    return 1 if _to_int(text, what, warnings) else 0


def _flag(text: str, what: str, warnings: list[str]) -> bool:
    return text.strip().lower() in ("true", "1")


#: Leaf elements read into a `ParsedPackage` field: (parent, name) → (field, how the text is read). The element's
#: name is what a warning about an unreadable value names.
_LEAVES: dict[tuple[str, str], tuple[str, Callable[[str, str, list[str]], Any]]] = {
    ("MessageHeader", "DocumentId"): ("document_id", _stripped),
    ("MessageHeader", "Subject"): ("subject", _text),
    ("MessageHeader", "Content"): ("content", _text),
    ("MessageHeader", "DueDate"): ("due_date", _to_date),
    ("MessageHeader", "SteeringType"): ("steering_type", _to_int),
    ("MessageHeader", "StatusCode"): ("status_code", _stripped),  # present = a status package
    ("MessageHeader", "Description"): ("status_description", _text),
    ("MessageHeader", "Timestamp"): ("status_timestamp", _to_timestamp),
    ("Code", "CodeNumber"): ("code_number", _stripped),
    ("Code", "CodeNotation"): ("code_notation", _stripped),
    ("PromulgationInfo", "Place"): ("place", _text),
    ("PromulgationInfo", "PromulgationDate"): ("promulgation_date", _to_date),
    ("DocumentType", "Type"): ("type_code", _to_int),
    ("DocumentType", "TypeDetail"): ("type_detail", _to_int),
    ("DocumentType", "TypeName"): ("type_name", _text),
    ("OtherInfo", "Priority"): ("priority", _int_or_zero),
    ("OtherInfo", "SphereOfPromulgation"): ("sphere_of_promulgation", _text),
    ("OtherInfo", "TyperNotation"): ("typer_notation", _text),
    ("OtherInfo", "PromulgationAmount"): ("promulgation_amount", _to_int),
    ("OtherInfo", "PageAmount"): ("page_amount", _to_int),
    ("OtherInfo", "Direction"): ("direction", _flag),
    ("Bussiness", "DocumentId"): ("business_document_id", _stripped),
    ("Bussiness", "BussinessDocType"): ("business_doc_type", _to_int),
    ("Bussiness", "BussinessDocReason"): ("business_reason", _text),
    ("Bussiness", "Paper"): ("paper", _zero_one),
}
_ORGAN_FIELDS = {"OrganId": "organ_id", "OrganName": "name", "OrganizationInCharge": "organization_in_charge",
                 "OrganAdd": "address", "Email": "email", "Telephone": "telephone", "Fax": "fax",
                 "Website": "website"}
_STAFF_FIELDS = {"Department": "department", "Staff": "staff", "Email": "email", "Mobile": "mobile"}
_SIGNER_FIELDS = {"Competence": "competence", "Position": "position", "FullName": "full_name"}
# Elements whose children are collected as a dict and turned into an object when the element ends.
_CONTAINERS = frozenset({"From", "To", "SignerInfo", "StaffInfo", "ResponseFor", "TraceHeader", "Reference",
                         "Attachment", "Receiver", "ReplacementInfo", "BussinessDocumentInfo"})


class _Reader:
    """Expat handlers that keep only small state: a stack of element names, the text of the current leaf, one dict
    per open container, and the attachment currently being decoded to disk."""

    def __init__(self, tmp_dir: str | None, limits: ReadLimits) -> None:
        self.tmp_dir = tmp_dir
        self.limits = limits
        self.fed = 0  # bytes handed to expat so far
        self.progress = 0  # `fed` when expat last reported something
        self.elements = 0
        self.text_total = 0
        self.attachment_count = 0
        self.decoded_total = 0
        self.pkg = ParsedPackage()
        self.stack: list[str] = []
        self.text: list[str] = []
        self.text_len = 0
        self.containers: list[dict[str, Any]] = []
        self.references: list[dict[str, Any]] = []
        self.decoder: AttachmentDecoder | None = None
        self.decode_file: IO[bytes] | None = None
        self.temp_paths: list[str] = []
        self.seen_status = False

    # expat callbacks -----------------------------------------------------------------------------------------

    def start(self, qname: str, attrs: dict[str, str]) -> None:
        self.progress = self.fed
        name = qname.rsplit(" ", 1)[-1]
        if not self.stack and name != "edXML":
            raise EdxmlReadError("not_edxml", "Không phải gói tin edXML (phần tử gốc phải là edXML).",
                                 {"root": name[:64]})
        if self.decoder is not None:
            raise EdxmlReadError("malformed_attachment", "Tệp đính kèm trong gói tin không đúng cấu trúc.",
                                 {"element": name[:64], "problem": "element_in_content"})
        self.elements += 1
        if self.elements > self.limits.elements:
            raise EdxmlReadError("too_many_elements", "Gói tin có quá nhiều phần tử.",
                                 {"max_elements": self.limits.elements})
        if len(self.stack) >= self.limits.depth:
            raise EdxmlReadError("xml_too_deep", "Gói tin có cấu trúc lồng nhau quá sâu.",
                                 {"max_depth": self.limits.depth})
        self.stack.append(name)
        self.text.clear()
        self.text_len = 0
        if name in _CONTAINERS:
            self.containers.append({"_name": name})
            if name == "Attachment":
                self.attachment_count += 1
                if self.attachment_count > self.limits.attachments:
                    raise EdxmlReadError("too_many_attachments", "Gói tin có quá nhiều tệp đính kèm.",
                                         {"max_attachments": self.limits.attachments})
        elif name == "ContentTransferEncoded" and self._parent() == "Attachment":
            if "_path" in self.containers[-1]:
                raise EdxmlReadError("malformed_attachment", "Tệp đính kèm trong gói tin không đúng cấu trúc.",
                                     {"problem": "two_contents"})
            fd, path = tempfile.mkstemp(dir=self.tmp_dir, prefix="edxml-att-")
            self.temp_paths.append(path)
            self.decode_file = os.fdopen(fd, "wb")
            self.decoder = AttachmentDecoder(self.decode_file, self._encoded_limit())
            self.containers[-1]["_path"] = path

    def chars(self, data: str) -> None:
        self.progress = self.fed
        if self.decoder is not None:
            self.decoder.feed(data)
            return
        self.text_len += len(data)
        self.text_total += len(data)
        if self.text_len > self.limits.text_chars:
            where = self.stack[-1][:64] if self.stack else ""
            raise EdxmlReadError("element_too_large", "Một phần tử của gói tin quá lớn.",
                                 {"element": where, "max_chars": self.limits.text_chars})
        if self.text_total > self.limits.total_text_chars:
            raise EdxmlReadError("text_too_large", "Tổng nội dung văn bản của gói tin quá lớn.",
                                 {"max_chars": self.limits.total_text_chars})
        self.text.append(data)

    def seen(self, *_: object) -> None:
        """Any other node (comment, processing instruction, CDATA section): expat has moved on, and the node counts
        as an element does, or millions of empty comments would each cost a call."""
        self.progress = self.fed
        self.elements += 1
        if self.elements > self.limits.elements:
            raise EdxmlReadError("too_many_elements", "Gói tin có quá nhiều phần tử.",
                                 {"max_elements": self.limits.elements})

    def end(self, qname: str) -> None:
        self.progress = self.fed
        name = self.stack.pop()
        parent = self.stack[-1] if self.stack else ""
        if self.decoder is not None and name == "ContentTransferEncoded":
            self.decoder.finish()
            self.decoder.out.close()
            self.decoder = self.decode_file = None
            return
        if name in _CONTAINERS:
            self._end_container(self.containers.pop())
            return
        text = "".join(self.text)
        self.text.clear()
        self.text_len = 0
        if self.containers and self.containers[-1]["_name"] == parent:
            self.containers[-1].setdefault(name, text)
            return
        self._leaf(parent, name, text)

    # helpers -------------------------------------------------------------------------------------------------

    def _parent(self) -> str:
        return self.stack[-2] if len(self.stack) > 1 else ""

    def _encoded_limit(self) -> int:
        # The decoded bytes may still be a zip whose entry is checked again after unzipping; a zip is never much
        # larger than what it holds, so the same bound (plus headroom for headers) applies to the encoded form.
        return self.limits.attachment_bytes + 1024 * 1024

    def _leaf(self, parent: str, name: str, text: str) -> None:
        pkg = self.pkg
        target = _LEAVES.get((parent, name))
        if target is not None:
            attr, convert = target
            setattr(pkg, attr, convert(text, name, pkg.warnings))
            self.seen_status = self.seen_status or attr == "status_code"
        elif parent == "Appendixes" and name == "Appendix":
            pkg.appendixes.append(text)
        elif parent == "ToPlaces" and name == "Place":
            pkg.to_places.append(text)
        elif parent == "OrganIdList" and name == "OrganId":
            # ReplacementInfo/OrganIdList/OrganId: the ReplacementInfo is the innermost open container.
            owner = self._innermost("ReplacementInfo")
            if owner is not None:
                owner.setdefault("_organs", []).append(text.strip())

    def _end_container(self, c: dict[str, Any]) -> None:
        pkg, w = self.pkg, self.pkg.warnings
        name = c["_name"]
        if name in ("From", "To"):
            organ = model.Organ(**{attr: c.get(tag, "").strip() if attr == "organ_id" else c.get(tag, "")
                                   for tag, attr in _ORGAN_FIELDS.items()})
            if name == "From":
                pkg.sender = organ
            else:
                pkg.recipients.append(organ)
        elif name == "SignerInfo":
            pkg.signer = model.SignerInfo(**{attr: c.get(tag, "") for tag, attr in _SIGNER_FIELDS.items()})
        elif name == "StaffInfo":
            pkg.staff = model.StaffInfo(**{attr: c.get(tag, "") for tag, attr in _STAFF_FIELDS.items()})
        elif name == "ResponseFor":
            pkg.response_for.append(model.ResponseFor(
                organ_id=c.get("OrganId", "").strip(), code=c.get("Code", "").strip(),
                document_id=c.get("DocumentId", "").strip(),
                promulgation_date=_to_date(c.get("PromulgationDate", ""), "ResponseFor/PromulgationDate", w)))
        elif name == "TraceHeader":
            pkg.trace.append(model.TraceEntry(c.get("OrganId", "").strip(),
                                              _to_timestamp(c.get("Timestamp", ""), "TraceHeader/Timestamp", w)))
        elif name == "Reference":
            self.references.append(c)
        elif name == "Attachment":
            self._end_attachment(c)
        elif name == "Receiver":
            owner = self._innermost("BussinessDocumentInfo")
            if owner is not None:
                owner.setdefault("_receivers", []).append(model.Receiver(
                    c.get("OrganId", "").strip(), _to_int(c.get("ReceiverType", ""), "ReceiverType", w) or 0))
        elif name == "BussinessDocumentInfo":
            pkg.document_info = model.DocumentInfoUpdate(
                document_info=_to_int(c.get("DocumentInfo", ""), "DocumentInfo", w) or 0,
                document_receiver=_to_int(c.get("DocumentReceiver", ""), "DocumentReceiver", w) or 0,
                receivers=c.get("_receivers", []))
        elif name == "ReplacementInfo":
            pkg.replacements.append(model.ReplacementInfo(c.get("DocumentId", "").strip(), c.get("_organs", [])))

    def _innermost(self, name: str) -> dict[str, Any] | None:
        for c in reversed(self.containers):
            if c["_name"] == name:
                return c
        return None

    def _end_attachment(self, c: dict[str, Any]) -> None:
        path = c.get("_path")
        content_id = c.get("ContentId", "").strip()
        if path is None:
            self.pkg.warnings.append(f"Attachment {content_id!r}: no ContentTransferEncoded")
            return
        entry_name = unzip_in_place(path, self.limits, self.tmp_dir)
        size = os.path.getsize(path)
        self.decoded_total += size
        if self.decoded_total > self.limits.total_attachment_bytes:
            raise EdxmlReadError("attachments_too_large", "Tổng dung lượng các tệp đính kèm vượt quá mức cho phép.",
                                 {"max_bytes": self.limits.total_attachment_bytes})
        name = c.get("AttachmentName", "") or entry_name or content_id
        self.pkg.attachments.append(ParsedAttachment(
            content_id=content_id, name=name, content_type=c.get("ContentType", "").strip(), path=path,
            description=c.get("Description", ""), size=size))

    def finish(self) -> ParsedPackage:
        pkg = self.pkg
        if not pkg.sender.organ_id:
            raise EdxmlReadError("missing_sender", "Gói tin thiếu thông tin cơ quan gửi (From/OrganId).")
        pkg.message_type = "status" if self.seen_status else "edoc"
        if pkg.message_type == "edoc":
            refs = {r.get("ContentId", "").strip(): r for r in self.references}
            for i, att in enumerate(pkg.attachments):
                ref = refs.pop(att.content_id, None)
                if ref is None:
                    pkg.warnings.append(f"Attachment {att.content_id!r} has no Reference in edXMLManifest")
                elif not att.content_type and ref.get("ContentType"):
                    # Some senders fill ContentType only in the manifest's Reference.
                    pkg.attachments[i] = replace(att, content_type=ref["ContentType"].strip())
            for cid in refs:
                pkg.warnings.append(f"Reference {cid!r} has no Attachment")
        return pkg

    def discard(self) -> None:
        if self.decode_file is not None:
            self.decode_file.close()
        for path in self.temp_paths:
            silent_unlink(path)



def _forbid(*_: object) -> None:
    raise EdxmlReadError("dtd_forbidden", "Gói tin không được chứa khai báo DTD/thực thể.")


def parse_package(src: str | os.PathLike[str] | BinaryIO, *, tmp_dir: str | None = None,
                  max_attachment_bytes: int | None = None, limits: ReadLimits | None = None) -> ParsedPackage:
    """Read an edXML package (document or status) from a path or a binary file, in constant memory.

    Elements are matched by local name and parent, as the other side's parsers do, so prefixes and namespace
    declarations may vary. Attachments are base64-decoded into temporary files in `tmp_dir` as the text streams
    in, then unzipped when they start with `PK\\x03\\x04` (else taken as they are). DTDs are refused outright
    (no entity expansion of any kind). `limits` (default `ReadLimits()`; `max_attachment_bytes` overrides its
    `attachment_bytes`) bounds what is read. Raises `EdxmlReadError` for any input that is not a readable edXML
    package within those bounds, and `OSError` only for a failure of the files themselves (a full disk).
    """
    limits = limits or ReadLimits()
    if max_attachment_bytes is not None:
        limits = replace(limits, attachment_bytes=max_attachment_bytes)
    reader = _Reader(tmp_dir, limits)
    try:
        with contextlib.ExitStack() as stack:
            stream: IO[bytes] = (stack.enter_context(open(src, "rb")) if isinstance(src, (str, os.PathLike))
                                 else src)
            _feed(_parser(reader), reader, stream, limits)
        return reader.finish()
    except expat.ExpatError as exc:
        reader.discard()
        raise EdxmlReadError("malformed_xml", "Gói tin không phải XML hợp lệ.",
                             {"line": exc.lineno, "column": exc.offset}) from exc
    except (EdxmlReadError, OSError):
        reader.discard()
        raise
    except Exception as exc:  # the net under everything above: untrusted input never escapes as another type
        reader.discard()
        raise EdxmlReadError("unreadable_package", "Gói tin không đọc được.", {"error": type(exc).__name__}) from exc
    except BaseException:
        reader.discard()
        raise


def _parser(reader: _Reader) -> Any:
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.buffer_text = True
    parser.buffer_size = _READ_CHUNK
    parser.StartElementHandler = reader.start
    parser.EndElementHandler = reader.end
    parser.CharacterDataHandler = reader.chars
    parser.CommentHandler = reader.seen
    parser.ProcessingInstructionHandler = reader.seen
    parser.StartCdataSectionHandler = reader.seen
    parser.XmlDeclHandler = reader.seen
    parser.StartDoctypeDeclHandler = _forbid
    parser.EntityDeclHandler = _forbid
    return parser


def _feed(parser: Any, reader: _Reader, stream: IO[bytes], limits: ReadLimits) -> None:
    """Hand the stream to expat in chunks, counting the package's bytes and how long expat went without a word."""
    while chunk := stream.read(_READ_CHUNK):
        reader.fed += len(chunk)
        if reader.fed > limits.package_bytes:
            raise EdxmlReadError("package_too_large", "Gói tin vượt quá dung lượng cho phép.",
                                 {"max_bytes": limits.package_bytes})
        _parse(parser, chunk, False)
        if reader.fed - reader.progress > limits.token_bytes:
            raise EdxmlReadError("xml_token_too_large", "Gói tin có một thẻ XML quá lớn.",
                                 {"max_bytes": limits.token_bytes})
    _parse(parser, b"", True)


def _parse(parser: Any, data: bytes, final: bool) -> None:
    try:
        parser.Parse(data, final)
    except EdxmlReadError:
        raise
    except (LookupError, ValueError) as exc:
        # pyexpat's handler for encodings expat lacks: LookupError for a name Python does not know, ValueError for a
        # multi-byte codec. Our own handlers raise EdxmlReadError only.
        raise EdxmlReadError("unsupported_encoding", "Gói tin dùng bảng mã không được hỗ trợ.",
                             {"error": type(exc).__name__}) from exc
