"""The organisation's PAdES signature on an uploaded PDF (Nghị định 30/2020/NĐ-CP, Art. 5 and Phụ lục I).

What this module guarantees:
- PAdES baseline B-B (`ETSI.CAdES.detached`), SHA-256, as an incremental update: the original bytes stay the
  prefix of the signed file, so signatures already in the upload (the competent person's) stay valid;
- a visible stamp with the organisation's name and the signing time in ISO 8601 with +07:00, drawn with TeX Gyre
  Termes (a CFF font, 1000 units/em: TrueType fonts at 2048 units/em come out letter-spaced, NOTES.md);
- exactly one call to the key backend per document.

Why it does not just call `PdfSigner.sign_pdf`: that path copies the upload into the output, then reads the whole
output again to digest the /ByteRange, and the caller hashes both files once more (about 4.6x SHA-256 per MB on
96 MB). Here the upload is read once: copied to `dst_path` while one SHA-256 runs over it, and the hash state of
that shared prefix is forked three ways (original digest, /ByteRange digest, signed-file digest); only the small
incremental section (tens of KB) is read back. Memory is one copy buffer plus the incremental section, whatever the
document's size. The pyHanko steps around it (field creation, DocMDP checks, PAdES extension, appearance, CMS) are
pyHanko's own, through `PdfSigner.init_signing_session` and `prepare_tbs_document`.

Per warm container, built once: the font (parsed, shaped with HarfBuzz), each font subset (fontTools subsetting
costs ~80 ms, so subsets are cached by glyph set, which is stable per organisation), and one pyHanko `Signer` per
key with its signature-size reservation (`signer_for`).

pyHanko is imported inside functions: this module is imported by the signing handler only, but keeping it light
also keeps `import chalicelib.signing.pades` cheap for anything that only needs the dataclasses.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chalicelib.errors import SigningUnavailable, UploadRejected
from chalicelib.signing.backends import RawSigner

if TYPE_CHECKING:  # pragma: no cover
    from asn1crypto import x509

#: Vietnam has had no daylight saving time since 1975: a fixed offset is exact.
VN_TZ = dt.timezone(dt.timedelta(hours=7), "ICT")

FONT_PATH = Path(__file__).parent / "fonts" / "texgyretermes-regular.otf"
#: Phụ lục I: Times New Roman or a metric-compatible face, size 10. Termes is metric-compatible with Times.
STAMP_FONT_SIZE = 10
#: Stamp text. NOT `%(ts)s`: pyHanko overwrites that one with its own UTC rendering (NOTES.md).
STAMP_TEXT = "%(org_name)s\n%(signed_at)s"
STAMP_LEADING = STAMP_FONT_SIZE + 3
#: Space between the stamp's edge and its text, in points.
STAMP_PADDING = 3
#: Glyphs always put in the embedded font subset, so that the subset (and the cache entry) depends on the
#: organisation's name only, not on which digits today's time happens to use.
_TIME_CHARS = "0123456789-:T+"

#: Default stamp: lower right of the last page (signature-appearance.md), inside a 2 cm margin.
DEFAULT_STAMP_WIDTH = 220.0
DEFAULT_STAMP_HEIGHT = 48.0
DEFAULT_STAMP_MARGIN = 56.7

#: Copy/hash buffer. 1 MiB: large enough that per-call overhead vanishes, small enough to be irrelevant to RSS.
_CHUNK = 1 << 20
_SIGNER_CACHE_SIZE = 256
_FIELD_PREFIX = "CoQuan"
MSG_LOCKED = "Tệp PDF đã được chứng thực không cho phép thay đổi, không thể ký thêm."


@dataclass
class SigningIdentity:
    """Who signs: the agency (identifier code and name), its certificate and chain, and where its key lives."""

    organ_id: str
    org_name: str
    certificate: x509.Certificate
    #: Intermediates and root, embedded in the CMS so validators can build the path offline.
    chain: list[x509.Certificate]
    raw_signer: RawSigner


@dataclass(frozen=True)
class StampBox:
    """Where the visible stamp goes, in PDF points (1/72 inch) from the page's lower-left corner.

    `page` is zero-based, negative from the end (-1 = last page). `x`/`y` left as None place the box at the lower
    right of the page's visible area with a 2 cm margin, the default of signature-appearance.md; an admin sets
    them per agency or per upload when the person's signature box is elsewhere.
    """

    page: int = -1
    x: float | None = None
    y: float | None = None
    width: float = DEFAULT_STAMP_WIDTH
    height: float = DEFAULT_STAMP_HEIGHT

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0:
            raise ValueError("stamp width and height must be positive")


@dataclass(frozen=True)
class SignResult:
    """What the document record keeps: digests of both files (hex), the signing time (+07:00) and the size."""

    original_sha256: str
    signed_sha256: str
    signed_at: dt.datetime
    signed_size: int
    field_name: str = ""


@dataclass
class _CachedSigner:
    signer: Any  # pyHanko Signer subclass instance
    #: /Contents reservation in hex digits, from one dry run: the B-B CMS of a key has the same size every time.
    bytes_reserved: int | None = None


# --------------------------------------------------------------------------------------------------------------
# Identity helpers


def identity_from_pem(organ_id: str, org_name: str, cert_pem: str, chain_pem: str,
                      raw_signer: RawSigner) -> SigningIdentity:
    """Build a `SigningIdentity` from the PEM texts an admin uploads (certificate; chain = intermediates + root)."""
    from asn1crypto import pem
    from asn1crypto import x509 as asn1_x509

    def _certs(text: str) -> list[asn1_x509.Certificate]:
        data = text.encode("ascii") if isinstance(text, str) else text
        if not data.strip():
            return []
        if not pem.detect(data):
            raise ValueError("expected PEM certificates")
        return [asn1_x509.Certificate.load(der) for _, _, der in pem.unarmor(data, multiple=True)]

    certs = _certs(cert_pem)
    if len(certs) != 1:
        raise ValueError(f"expected exactly one signing certificate, got {len(certs)}")
    return SigningIdentity(organ_id=organ_id, org_name=org_name, certificate=certs[0], chain=_certs(chain_pem),
                           raw_signer=raw_signer)


# --------------------------------------------------------------------------------------------------------------
# pyHanko signer per key, cached per container

#: Signed attributes the template handles: message-digest is put in per document, the others depend on the key
#: only (never on the document or the time).
_CONSTANT_ATTRS = frozenset({"content_type", "message_digest", "signing_certificate_v2", "signing_certificate",
                             "cms_algorithm_protection"})

_signers: OrderedDict[tuple[str, int, bytes], _CachedSigner] = OrderedDict()
_signers_lock = threading.Lock()


def _make_signer_class() -> type:
    """The pyHanko `Signer` subclass, defined on first use so importing this module does not import pyHanko."""
    from pyhanko.sign.general import SigningError
    from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes, Signer

    class RawBackendSigner(Signer):
        """A pyHanko signer over a `RawSigner`. Built through `Signer.__init__` (its attributes are read-only
        properties since pyHanko 0.18, so the documented KMS example that assigns them no longer works)."""

        def __init__(self, identity: SigningIdentity) -> None:
            from asn1crypto import algos
            from pyhanko_certvalidator.registry import SimpleCertificateStore

            self._raw = identity.raw_signer
            self._attr_templates: dict[tuple[str, str, bool, bool], list[bytes]] = {}
            super().__init__(
                signing_cert=identity.certificate,
                cert_registry=SimpleCertificateStore.from_certs([identity.certificate, *identity.chain]),
                signature_mechanism=algos.SignedDigestAlgorithm({"algorithm": identity.raw_signer.algorithm}),
            )

        async def signed_attrs(self, data_digest: bytes, digest_algorithm: str, attr_settings: Any = None,
                               content_type: str = "data", use_pades: bool = False, timestamper: Any = None,
                               dry_run: bool = False, is_pdf_sig: bool = True) -> Any:
            """pyHanko's signed attributes, with the per-key constant ones built once.

            Why: pyHanko rebuilds signing-certificate-v2 (with the issuer's name) for every signature, and
            asn1crypto re-encodes the whole mutated tree at each dump: ~6.5 ms of the ~13 ms per document. The
            first call goes through pyHanko and records the DER of every attribute except message-digest; later
            calls with the same settings reuse those bytes. Only attributes known to be constant per key are
            templated; anything else (signing-time outside PAdES, revocation info, CAdES extras, a timestamper)
            goes through pyHanko every time.
            """
            from asn1crypto import cms

            settings = attr_settings or PdfCMSSignedAttributes()
            cacheable = (timestamper is None and settings.cades_signed_attrs is None
                         and getattr(settings, "adobe_revinfo_attr", None) is None)
            key = (digest_algorithm, content_type, use_pades, is_pdf_sig)
            template = self._attr_templates.get(key) if cacheable else None
            if template is None:
                attrs = await super().signed_attrs(data_digest, digest_algorithm, attr_settings=attr_settings,
                                                   content_type=content_type, use_pades=use_pades,
                                                   timestamper=timestamper, dry_run=dry_run, is_pdf_sig=is_pdf_sig)
                types = [a["type"].native for a in attrs]
                if cacheable and types.count("message_digest") == 1 and set(types) <= _CONSTANT_ATTRS:
                    self._attr_templates[key] = [a.dump() for a in attrs if a["type"].native != "message_digest"]
                return attrs
            digest_attr = cms.CMSAttribute({"type": "message_digest", "values": [data_digest]}).dump()
            # DER SET OF: members in ascending order of their encodings.
            return cms.CMSAttributes([cms.CMSAttribute.load(der) for der in sorted([*template, digest_attr])])

        async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
            if digest_algorithm != "sha256":
                raise SigningError(f"only sha256 is supported, not {digest_algorithm}")
            if dry_run:
                # pyHanko sizes the /Contents placeholder from this: it must be as long as a real signature.
                return bytes(self._raw.signature_size)
            return self._raw.sign(data)

    return RawBackendSigner


@lru_cache(maxsize=1)
def _signer_class() -> type:
    return _make_signer_class()


def _check_key_matches_algorithm(identity: SigningIdentity) -> None:
    algo = identity.certificate.public_key.algorithm  # 'rsa' | 'ec' | ...
    expected = {"sha256_rsa": "rsa", "sha256_ecdsa": "ec"}.get(identity.raw_signer.algorithm)
    if algo != expected:
        raise SigningUnavailable(details={"organ_id": identity.organ_id, "certificate_key": algo,
                                          "signer_algorithm": identity.raw_signer.algorithm})


def signer_for(identity: SigningIdentity) -> Any:
    """The pyHanko `Signer` for this identity, built once per warm container.

    Keyed by (organ_id, certificate serial, issuer): a renewed certificate gets a new signer, the same one is never
    rebuilt. Bounded LRU so a long-lived container serving many agencies does not grow without limit.
    """
    return _cached_signer(identity).signer


def _cached_signer(identity: SigningIdentity) -> _CachedSigner:
    cert = identity.certificate
    key = (identity.organ_id, cert.serial_number, cert.issuer.sha256)
    with _signers_lock:
        entry = _signers.get(key)
        if entry is not None:
            _signers.move_to_end(key)
            return entry
    _check_key_matches_algorithm(identity)
    entry = _CachedSigner(signer=_signer_class()(identity))
    with _signers_lock:
        entry = _signers.setdefault(key, entry)
        _signers.move_to_end(key)
        while len(_signers) > _SIGNER_CACHE_SIZE:
            _signers.popitem(last=False)
    return entry


def clear_caches() -> None:
    """Forget cached signers and font subsets (tests that rotate keys; an admin key rotation in a warm container
    is handled by the cache key, not by this)."""
    with _signers_lock:
        _signers.clear()
    _font_subset.cache_clear()


# --------------------------------------------------------------------------------------------------------------
# Font: parsed once, subsets cached


class _FontProgram:
    """The stamp font, loaded once per container: raw bytes, a pristine fontTools object shared read-only by every
    document, and a prototype GlyphAccumulator whose parsed state each document's engine starts from."""

    def __init__(self, path: Path) -> None:
        import io

        from pyhanko.pdf_utils.font.opentype import GlyphAccumulator
        from pyhanko.pdf_utils.writer import PdfFileWriter

        self.data = path.read_bytes()
        proto = GlyphAccumulator(PdfFileWriter(stream_xrefs=False), io.BytesIO(self.data), STAMP_FONT_SIZE)
        if not proto.use_raw_gids:  # pragma: no cover - depends on the font file, checked once here
            raise RuntimeError("expected a name-keyed CFF font (no ROS)")
        proto.shape(_TIME_CHARS, with_actual_text=False)
        self.time_gids = frozenset(proto._glyphs)
        proto._glyphs = {}
        proto._cid_to_unicode = {}
        self.prototype_state = dict(proto.__dict__)
        self.base_ps_name = proto.cidfont_obj.name.split("+", 1)[1]
        self.tt = proto.tt
        hmtx, upem = proto.tt["hmtx"], proto.units_per_em
        #: Advance width in em per code point: enough to wrap the stamp's lines (HarfBuzz does the real layout).
        self.advance = {cp: hmtx[name][0] / upem for cp, name in proto.tt.getBestCmap().items()}

    def text_width(self, text: str, size: float) -> float:
        """Width of `text` in points at `size` (no kerning: a wrapping estimate, a hair wide if anything)."""
        return sum(self.advance.get(ord(ch), 0.5) for ch in text) * size


@lru_cache(maxsize=1)
def _font_program() -> _FontProgram:
    import logging

    # "No ROS metadata. Assuming identity." is expected for Termes (name-keyed CFF) and says nothing useful.
    logging.getLogger("pyhanko.pdf_utils.font.opentype").setLevel(logging.ERROR)
    return _FontProgram(FONT_PATH)


@lru_cache(maxsize=128)
def _font_subset(gids: frozenset[int]) -> bytes:
    """The CFF program of a subset holding `gids`, Flate-compressed, ready to embed as /FontFile3.

    Subsetting is what pyHanko's GlyphAccumulator does on every document (~80 ms); the glyph set is stable per
    organisation (its name plus the time characters), so it runs once per organisation per container. GIDs are
    retained, like pyHanko does, so the glyph codes written in the content stream stay right.
    """
    import io
    import zlib

    from fontTools import subset, ttLib

    program = _font_program()
    tt = ttLib.TTFont(io.BytesIO(program.data))
    options = subset.Options(layout_closure=False, retain_gids=True)
    options.drop_tables += ["GPOS", "GDEF", "GSUB"]
    subsetter = subset.Subsetter(options=options)
    subsetter.populate(gids=sorted(gids))
    subsetter.subset(tt)
    buf = io.BytesIO()
    tt["CFF "].cff.compile(buf, tt)
    return zlib.compress(buf.getvalue(), 6)


@lru_cache(maxsize=1)
def _engine_classes() -> tuple[type, type]:
    """pyHanko font-engine subclasses (defined lazily: pyHanko and fontTools load only when a stamp is drawn).

    They lean on GlyphAccumulator's internals (`_glyphs`, `_subset_created`, ...) of pyHanko 0.38; the stamp
    tests (pdftotext of the stamp, a rendering check) catch a change in them.
    """
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.font.api import FontEngine, FontEngineFactory
    from pyhanko.pdf_utils.font.opentype import CIDFontType0, GlyphAccumulator

    class PrecompiledCIDFont(CIDFontType0):
        """CIDFontType0 whose font file is a cached, already compressed subset instead of a fresh compile."""

        font_file: bytes = b""

        def set_font_file(self, writer: Any) -> Any:
            stream = generic.StreamObject(
                {generic.NameObject("/Subtype"): generic.NameObject("/CIDFontType0C"),
                 generic.NameObject("/Filter"): generic.NameObject("/FlateDecode")},
                encoded_data=self.font_file,
            )
            ref = writer.add_object(stream)
            self._font_descriptor[generic.NameObject("/FontFile3")] = ref
            return ref

    class CachedGlyphAccumulator(GlyphAccumulator):
        """GlyphAccumulator that starts from the container-wide parsed font and embeds a cached subset."""

        def __init__(self, writer: Any, obj_stream: Any = None) -> None:
            # No GlyphAccumulator.__init__: it would re-read and re-parse the font file for every document.
            program = _font_program()
            self.__dict__.update(program.prototype_state)
            FontEngine.__init__(self, writer, program.base_ps_name, embedded_subset=True, obj_stream=obj_stream,
                                font_size=STAMP_FONT_SIZE)
            self._font_ref = writer.allocate_placeholder()
            self.cidfont_obj = PrecompiledCIDFont(program.tt, program.base_ps_name, self.subset_prefix)
            self._glyphs = {}
            self._cid_to_unicode = {}
            self._subset_created = False
            self._write_prepared = False

        def prepare_write(self) -> None:
            if self._write_prepared:
                return
            program = _font_program()
            self.cidfont_obj.font_file = _font_subset(frozenset(self._glyphs) | program.time_gids)
            self._subset_created = True  # never subset the shared fontTools object
            super().prepare_write()

    class CachedFontFactory(FontEngineFactory):
        def create_font_engine(self, writer: Any, obj_stream: Any = None) -> Any:
            if obj_stream is None and writer.stream_xrefs:
                obj_stream = writer.prepare_object_stream()
            return CachedGlyphAccumulator(writer, obj_stream)

    return CachedGlyphAccumulator, CachedFontFactory


@lru_cache(maxsize=1)
def _stamp_style() -> Any:
    from pyhanko.pdf_utils import layout
    from pyhanko.pdf_utils.text import TextBoxStyle
    from pyhanko.stamp import TextStampStyle

    _, factory = _engine_classes()
    return TextStampStyle(
        stamp_text=STAMP_TEXT,
        # No margins inside the text box: pyHanko's default 10 pt there made the stamp's natural height exceed the
        # box, and the text was shrunk to ~9 pt. The stamp layout's own 3 pt margin is enough.
        text_box_style=TextBoxStyle(font=factory(), font_size=STAMP_FONT_SIZE, leading=STAMP_LEADING,
                                    box_layout_rule=layout.SimpleBoxLayoutRule(
                                        x_align=layout.AxisAlignment.ALIGN_MIN,
                                        y_align=layout.AxisAlignment.ALIGN_MIN, margins=layout.Margins())),
        inner_content_layout=layout.SimpleBoxLayoutRule(
            x_align=layout.AxisAlignment.ALIGN_MIN, y_align=layout.AxisAlignment.ALIGN_MID,
            margins=layout.Margins.uniform(STAMP_PADDING)),
        border_width=0,
        background=None,
    )


def warm_up() -> None:
    """Load what every signature needs (pyHanko modules, font, stamp style) ahead of the first document, e.g. at
    handler import when provisioned concurrency makes init time free."""
    _font_program()
    _engine_classes()
    _stamp_style()
    _signer_class()


# --------------------------------------------------------------------------------------------------------------
# Signing


def _vn_time(signed_at: dt.datetime | None) -> dt.datetime:
    """Signing time in +07:00, whole seconds (NĐ 30 shows ISO 8601 without fractions, CMS UTCTime has none)."""
    if signed_at is None:
        signed_at = dt.datetime.now(VN_TZ)
    elif signed_at.tzinfo is None:
        raise ValueError("signed_at must be timezone-aware")
    return signed_at.astimezone(VN_TZ).replace(microsecond=0)


def _wrap(text: str, max_width: float) -> str:
    """Break a long organisation name onto several lines at word boundaries so it keeps the 10 pt size Phụ lục I
    asks for; pyHanko would otherwise shrink the whole stamp to fit the box. A single over-long word stays whole
    (and pyHanko shrinks as a last resort)."""
    program = _font_program()
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if current and program.text_width(candidate, STAMP_FONT_SIZE) > max_width:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    return "\n".join(lines)


def _copy_and_hash(src: Any, dst: Any) -> tuple[Any, int]:
    """Copy `src` to `dst` in 1 MiB chunks through one reused buffer, hashing as it goes; (sha256 state, size)."""
    h = hashlib.sha256()
    buf = bytearray(_CHUNK)
    view = memoryview(buf)
    size = 0
    while True:
        n = src.readinto(buf)
        if not n:
            break
        chunk = view[:n]
        h.update(chunk)
        dst.write(chunk)
        size += n
    return h, size


def _inherited(page: Any, key: str) -> Any:
    """A page attribute that may be inherited from the page tree (/MediaBox, /CropBox), bounded against loops."""
    node, depth = page, 0
    while node is not None and depth < 64:
        if key in node:
            return node[key]
        parent = node.get("/Parent")
        node = parent.get_object() if parent is not None else None
        depth += 1
    return None


def _stamp_rect(reader: Any, box: StampBox) -> tuple[int, int, tuple[float, float, float, float]]:
    """(page index, page count, (x1, y1, x2, y2)) for the stamp, defaults resolved against the page's crop box."""
    page_count = int(reader.root["/Pages"]["/Count"])
    page_ix = box.page + page_count if box.page < 0 else box.page
    if not 0 <= page_ix < page_count:
        raise ValueError(f"stamp page {box.page} outside a {page_count}-page document")
    x, y = box.x, box.y
    if x is None or y is None:
        page_ref, _ = reader.find_page_for_modification(page_ix)
        page = page_ref.get_object()
        rect = _inherited(page, "/CropBox") or _inherited(page, "/MediaBox") or [0, 0, 595.28, 841.89]
        llx, lly, urx, ury = (float(v) for v in rect)
        llx, urx = min(llx, urx), max(llx, urx)
        lly = min(lly, ury)
        if x is None:
            x = max(llx, urx - DEFAULT_STAMP_MARGIN - box.width)
        if y is None:
            y = lly + DEFAULT_STAMP_MARGIN
    return page_ix, page_count, (x, y, x + box.width, y + box.height)


def _field_name(reader: Any, organ_id: str) -> str:
    """A top-level field name not yet used. Dots are field-hierarchy separators in PDF, so the code's dots go."""
    base = f"{_FIELD_PREFIX}_{organ_id}".replace(".", "_")
    taken: set[str] = set()
    try:
        for ref in reader.root["/AcroForm"]["/Fields"]:
            name = ref.get_object().get("/T")
            if name is not None:
                taken.add(str(name))
    except (KeyError, TypeError):
        pass
    if base not in taken:
        return base
    n = 2
    while f"{base}_{n}" in taken:
        n += 1
    return f"{base}_{n}"


def _refuse_if_locked(reader: Any) -> None:
    """A document certified by its author with DocMDP level 1 ("no changes", ISO 32000-1 §12.8.2.2) cannot take
    another signature without invalidating the certification: that is the upload's nature, not a transient fault,
    so it is rejected with its own code instead of failing (and being retried) inside pyHanko."""
    from pyhanko.sign.fields import MDPPerm
    from pyhanko.sign.validation import read_certification_data

    data = read_certification_data(reader)
    if data is not None and data.permission == MDPPerm.NO_CHANGES:
        raise UploadRejected(MSG_LOCKED, code="locked_pdf")


def sign_pdf_file(src_path: str | os.PathLike[str], dst_path: str | os.PathLike[str], identity: SigningIdentity, *,
                  signed_at: dt.datetime | None = None, box: StampBox | None = None) -> SignResult:
    """Sign `src_path` into `dst_path` (PAdES B-B, visible stamp) and return the digests and time for the record.

    Synchronous wrapper for the Lambda handlers; from inside a running event loop use `async_sign_pdf_file`.
    Raises `UploadRejected` (code `locked_pdf`) if the document's author certification forbids any change,
    `SigningUnavailable` when the key cannot sign; `dst_path` is removed on failure.
    """
    import asyncio  # lazily: ~30 ms of import that only signing needs (pyHanko imports it anyway)

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(async_sign_pdf_file(src_path, dst_path, identity, signed_at=signed_at, box=box))
    raise RuntimeError("sign_pdf_file called inside a running event loop: await async_sign_pdf_file instead")


async def async_sign_pdf_file(src_path: str | os.PathLike[str], dst_path: str | os.PathLike[str],
                              identity: SigningIdentity, *, signed_at: dt.datetime | None = None,
                              box: StampBox | None = None) -> SignResult:
    """Async form of `sign_pdf_file` (the key backend call is the only await that matters)."""
    try:
        return await _sign(Path(src_path), Path(dst_path), identity, _vn_time(signed_at), box or StampBox())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(dst_path)
        raise


async def _sign(src_path: Path, dst_path: Path, identity: SigningIdentity, signed_at: dt.datetime,
                box: StampBox) -> SignResult:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign import fields
    from pyhanko.sign.signers import PdfSignatureMetadata, PdfSigner
    from pyhanko.sign.signers.pdf_byterange import PreparedByteRangeDigest, SignatureObject
    from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes

    cached = _cached_signer(identity)
    signer = cached.signer

    with open(src_path, "rb") as src, open(dst_path, "w+b") as out:
        prefix, size = _copy_and_hash(src, out)
        original_sha256 = prefix.copy().hexdigest()

        # Parse the copy, not the source: pyHanko then appends the incremental section to the very same file.
        reader = PdfFileReader(out)  # strict, pyHanko's default DecodeLimits: an upload is untrusted input
        writer = IncrementalPdfFileWriter.from_reader(reader)
        page_ix, _, rect = _stamp_rect(reader, box)
        field_name = _field_name(reader, identity.organ_id)
        pdf_signer = PdfSigner(
            PdfSignatureMetadata(field_name=field_name, md_algorithm="sha256",
                                 subfilter=fields.SigSeedSubFilter.PADES, name=identity.org_name),
            signer=signer,
            stamp_style=_stamp_style(),
            new_field_spec=fields.SigFieldSpec(sig_field_name=field_name, on_page=page_ix,
                                               box=tuple(round(v, 2) for v in rect)),  # type: ignore[arg-type]
        )
        _refuse_if_locked(reader)
        session = pdf_signer.init_signing_session(writer)
        # One signing time for the stamp and the signature dictionary's /M (PAdES puts no signing-time in the CMS).
        session.system_time = signed_at
        validation_info = await session.perform_presign_validation(writer)  # None for B-B; kept for B-T/B-LT
        if cached.bytes_reserved is None:
            # The B-B CMS has the same size for every document of a key: size it by one dry run per container.
            cached.bytes_reserved = await session.estimate_signature_container_size(validation_info, tight=False)
        session.prepare_tbs_document(
            validation_info=validation_info,
            bytes_reserved=cached.bytes_reserved,
            appearance_text_params={"org_name": _wrap(identity.org_name, rect[2] - rect[0] - 2 * STAMP_PADDING),
                                    "signed_at": signed_at.isoformat()},
        )
        sig_obj = session.sig_field["/V"]
        if not isinstance(sig_obj, SignatureObject):  # pragma: no cover - pyHanko internals changed
            raise RuntimeError("signature dictionary not found after preparing the document")

        # Write the incremental section after the copied original (same as pyHanko's in-place signing).
        writer.digest_aware_write = True
        writer.write_in_place()
        eof = out.tell()
        sig_start, sig_end = sig_obj.contents.offsets
        sig_obj.byte_range.fill_offsets(out, sig_start, sig_end, eof)
        out.seek(size)
        tail = out.read(eof - size)
        if not (size <= sig_start < sig_end <= eof):  # pragma: no cover - would be a pyHanko behaviour change
            raise RuntimeError("signature placeholder outside the incremental section")

        # /ByteRange digest = original prefix + the tail minus the <...> placeholder.
        md = prefix.copy()
        md.update(memoryview(tail)[: sig_start - size])
        md.update(memoryview(tail)[sig_end - size:])
        document_digest = md.digest()

        cms = await signer.async_sign(document_digest, "sha256", use_pades=True,
                                      signed_attr_settings=PdfCMSSignedAttributes(signing_time=signed_at))
        PreparedByteRangeDigest(document_digest=document_digest, reserved_region_start=sig_start,
                                reserved_region_end=sig_end).fill_with_cms(out, cms)
        out.seek(size)
        tail = out.read()
        final = prefix.copy()
        final.update(tail)
        signed_size = size + len(tail)
        out.flush()

    return SignResult(original_sha256=original_sha256, signed_sha256=final.hexdigest(), signed_at=signed_at,
                      signed_size=signed_size, field_name=field_name)
