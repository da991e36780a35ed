"""The organisation's PAdES signature on an uploaded PDF (Nghị định 30/2020/NĐ-CP, Art. 5 and Phụ lục I).

What this module guarantees:
- PAdES baseline B-B (`ETSI.CAdES.detached`), SHA-256, as an incremental update: the original bytes stay the
  prefix of the signed file, so signatures already in the upload (the competent person's) stay valid;
- B-T when a `PadesProfile` names a timestamp authority (RFC 3161 signature timestamp in the CMS), and B-LT on top
  of it: the signer's certificate is checked for revocation (OCSP, else CRL; `ltv.RevocationChecker`) BEFORE the
  key is used, a revoked one is refused (`certificate_revoked`), and the certificates and revocation answers of the
  signer's and the TSA's paths go into the document security store (DSS) in a second incremental update;
- a visible stamp: the organisation's seal (red, transparent PNG, `seal.SealImage`) over the left part of the box
  and, beside it, the organisation's name and the signing time in ISO 8601 with +07:00, drawn with TeX Gyre Termes
  (a CFF font, 1000 units/em: TrueType fonts at 2048 units/em come out letter-spaced, NOTES.md);
- exactly one call to the key backend per document.

Why it does not just call `PdfSigner.sign_pdf`: that path copies the upload into the output, then reads the whole
output again to digest the /ByteRange, and the caller hashes both files once more (about 4.6x SHA-256 per MB on
96 MB). Here the upload is read once: copied to `dst_path` while one SHA-256 runs over it, and the hash state of
that shared prefix is forked three ways (original digest, /ByteRange digest, signed-file digest); only the small
incremental section (tens of KB) is read back. Memory is one copy buffer plus the incremental section, whatever the
document's size. The pyHanko steps around it (field creation, DocMDP checks, PAdES extension, appearance, CMS) are
pyHanko's own, through `PdfSigner.init_signing_session` and `prepare_tbs_document`.

Per warm container, built once: the font (parsed, shaped with HarfBuzz), each font subset (fontTools subsetting
costs ~80 ms, so subsets are cached by glyph set, which is stable per organisation), one pyHanko `Signer` per
key with its signature-size reservation per timestamp authority (`signer_for`), one timestamper per TSA URL (its
dummy token sizes the reservation) and the revocation answers (briefly). The seal image is decoded once per
container by the caller (`seal.load_png`, cached by S3 ETag); a document only writes its two compressed streams.

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
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chalicelib.core.clock import VN_TZ
from chalicelib.core.errors import CertificateUnusable, SigningUnavailable, UploadRejected
from chalicelib.keys.backends import RawSigner
from chalicelib.signing.seal import SealImage

if TYPE_CHECKING:  # pragma: no cover
    from asn1crypto import x509

#: Vietnam has had no daylight saving time since 1975: a fixed offset is exact.

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

#: Default stamp: lower right of the last page (signature-appearance.md), inside a 2 cm margin. 100 pt high so a
#: seal drawn at the box's height is ~35 mm across, the size of a real agency seal; 300 pt wide so the seal takes
#: the left third and the name and time fit beside it at 10 pt.
DEFAULT_STAMP_WIDTH = 300.0
DEFAULT_STAMP_HEIGHT = 100.0
DEFAULT_STAMP_MARGIN = 56.7
#: The phụ lục stamp (text only): two lines at 10 pt with 13 pt leading plus padding; wide enough for the time.
ATTACHMENT_STAMP_WIDTH = 200.0
ATTACHMENT_STAMP_HEIGHT = 36.0
ATTACHMENT_STAMP_MARGIN = 14.0
#: The seal's side: the box's height, but never more than this share of its width (the text needs the rest).
SEAL_MAX_WIDTH_SHARE = 0.4

#: PAdES baseline levels this module produces (ETSI EN 319 142-1).
LEVEL_B_B, LEVEL_B_T, LEVEL_B_LT = "B-B", "B-T", "B-LT"
LEVELS = (LEVEL_B_B, LEVEL_B_T, LEVEL_B_LT)

#: Copy/hash buffer. 1 MiB: large enough that per-call overhead vanishes, small enough to be irrelevant to RSS.
_CHUNK = 1 << 20
_SIGNER_CACHE_SIZE = 256
_FIELD_PREFIX = "CoQuan"
MSG_LOCKED = "Tệp PDF đã được chứng thực không cho phép thay đổi, không thể ký thêm."
MSG_REVOKED = "Chứng thư số của cơ quan đã bị thu hồi, không thể ký văn bản."
MSG_STAMP_PAGE = "Trang đặt chữ ký số của cơ quan không có trong văn bản."


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
    #: With `y` left as None, put the box at the top of the page instead of the bottom (the phụ lục stamp).
    top: bool = False
    #: Distance from the page's edges when `x`/`y` are left as None.
    margin: float = DEFAULT_STAMP_MARGIN

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0:
            raise ValueError("stamp width and height must be positive")

    @classmethod
    def from_placement(cls, placement: Any) -> StampBox:
        """A box from a placement as admins and clients write it (agency item `stamp`, upload metadata `stamp`):
        `{page, x, y, width, height}`, all optional, `page` counted from 1 (negative from the end, -1 = last page),
        the rest in points from the page's lower-left corner. Missing or null keys take the defaults."""
        if not placement:
            return cls()
        raw_page = placement.get("page")
        page = -1 if raw_page is None else int(raw_page)
        if page == 0:
            raise ValueError("page numbers start at 1 (or -1 for the last page)")

        def number(name: str, default: float | None) -> float | None:
            value = placement.get(name)
            return default if value is None else float(value)

        return cls(page=page - 1 if page > 0 else page, x=number("x", None), y=number("y", None),
                   width=number("width", DEFAULT_STAMP_WIDTH) or DEFAULT_STAMP_WIDTH,
                   height=number("height", DEFAULT_STAMP_HEIGHT) or DEFAULT_STAMP_HEIGHT)

    @classmethod
    def attachment(cls) -> StampBox:
        """The phụ lục stamp's box (signature-appearance.md): top-right corner of the FIRST page, just tall enough
        for two 10 pt lines (số/ký hiệu, then the time). It sits in the page's top margin (NĐ 30 Phụ lục I: 20-25
        mm), 5 mm from the edges, so it does not cover the quốc hiệu that starts right below that margin."""
        return cls(page=0, width=ATTACHMENT_STAMP_WIDTH, height=ATTACHMENT_STAMP_HEIGHT, top=True,
                   margin=ATTACHMENT_STAMP_MARGIN)


@dataclass(frozen=True)
class PadesProfile:
    """Which PAdES baseline level to reach and where its long-term material comes from (DESIGN.md "Signing").

    B-B needs nothing; B-T needs a timestamp authority (`tsa_url`); B-LT also needs the certificates to name
    their OCSP responder or CRL (otherwise the document is signed at B-T and a warning logged: the level reached
    is in `SignResult.level`). Revocation answers are cached `revocation_cache_seconds` per certificate.
    """

    level: str = LEVEL_B_B
    tsa_url: str = ""
    revocation_cache_seconds: float = 300.0

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise ValueError(f"unknown PAdES level {self.level!r}; use one of {', '.join(LEVELS)}")
        if self.level != LEVEL_B_B and not self.tsa_url:
            raise ValueError(f"PAdES {self.level} needs a timestamp authority URL")

    @classmethod
    def from_config(cls, tsa_url: str, level: str = "", revocation_cache_seconds: float = 300.0) -> PadesProfile:
        """From the environment's `TSA_URL` and `PADES_LEVEL`: no TSA means B-B whatever the level asks (a
        timestamp cannot be invented); a TSA without a level means the most the gateway can do, B-LT."""
        tsa_url = tsa_url.strip()
        wanted = (level or LEVEL_B_LT).strip().upper()
        if not tsa_url or wanted == LEVEL_B_B:
            return cls()
        return cls(level=wanted, tsa_url=tsa_url, revocation_cache_seconds=revocation_cache_seconds)


@dataclass(frozen=True)
class SignResult:
    """What the document record keeps: digests of both files (hex), the signing time (+07:00) and the size."""

    original_sha256: str
    signed_sha256: str
    signed_at: dt.datetime
    signed_size: int
    field_name: str = ""
    #: The PAdES baseline level reached: B-B, B-T or B-LT.
    level: str = LEVEL_B_B


@dataclass
class _CachedSigner:
    signer: Any  # pyHanko Signer subclass instance
    #: /Contents reservation in hex digits per TSA URL ("" = no timestamp), from one dry run: the CMS of a key has
    #: the same size every time (a timestamp token varies a little: pyHanko's estimate keeps a 50% margin).
    bytes_reserved: dict[str, int] = field(default_factory=dict)


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
                # The chain only: pyHanko adds the signing certificate to the CMS itself (listing it here too put
                # it in the CMS twice, ~1 KB per signature).
                cert_registry=SimpleCertificateStore.from_certs(identity.chain),
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
    _seal_style.cache_clear()


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
    """The text-only stamp (an agency without a registered seal): name and time from the box's left edge."""
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


def _seal_side(width: float, height: float) -> float:
    """The seal's side in points for a box: its height, capped to a share of its width (signature-appearance.md:
    the seal covers about the left third of the signer's area; the name and time go beside it)."""
    return round(min(height, width * SEAL_MAX_WIDTH_SHARE), 2)


@lru_cache(maxsize=64)
def _seal_style(box_width: float, box_height: float) -> Any:
    """The stamp with a seal, for one box size, without the seal itself (a fresh `SealContent` per document goes
    in as the background: pyHanko keeps per-document state on it).

    The seal is the stamp's background, laid out in the box's left `_seal_side` points (scaled to fit, aspect
    kept, vertically centred), fully opaque (its PNG alpha is the transparency); the text starts right of it, at
    the bottom of the box: when the box is put over the signer's signature (the seal on its left third), the
    handwriting runs through the middle of the box and a caption-like line pair below it stays readable.
    """
    from pyhanko.pdf_utils import layout

    side = _seal_side(box_width, box_height)
    return replace(
        _stamp_style(),
        background_layout=layout.SimpleBoxLayoutRule(
            x_align=layout.AxisAlignment.ALIGN_MIN, y_align=layout.AxisAlignment.ALIGN_MID,
            margins=layout.Margins(left=0, right=max(0.0, box_width - side), top=0, bottom=0),
            inner_content_scaling=layout.InnerScaling.STRETCH_TO_FIT),
        background_opacity=1.0,
        inner_content_layout=layout.SimpleBoxLayoutRule(
            x_align=layout.AxisAlignment.ALIGN_MIN, y_align=layout.AxisAlignment.ALIGN_MIN,
            margins=layout.Margins(left=side + STAMP_PADDING, right=STAMP_PADDING, top=STAMP_PADDING,
                                   bottom=STAMP_PADDING)),
    )


def _style_for(rect: tuple[float, float, float, float], seal: SealImage | None) -> tuple[Any, float]:
    """(pyHanko stamp style, width available to the text) for this box and seal."""
    width, height = rect[2] - rect[0], rect[3] - rect[1]
    if seal is None:
        return _stamp_style(), width - 2 * STAMP_PADDING
    from chalicelib.signing.seal import seal_content_class

    key = (round(width, 2), round(height, 2))
    style = replace(_seal_style(*key), background=seal_content_class()(seal))
    return style, width - _seal_side(*key) - 2 * STAMP_PADDING


def warm_up() -> None:
    """Load what every signature needs (pyHanko modules, font, stamp style) ahead of the first document, e.g. at
    handler import when provisioned concurrency makes init time free."""
    _font_program()
    _engine_classes()
    _stamp_style()
    _signer_class()
    from chalicelib.signing.seal import seal_content_class

    seal_content_class()


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
    """(page index, page count, (x1, y1, x2, y2)) for the stamp, defaults resolved against the page's crop box.

    A page the document does not have, or a box that does not overlap the page at all, is the upload's mismatch
    with the placement it asked for: `UploadRejected` (`stamp_page_missing`, `stamp_outside_page`), not a retry.
    """
    page_count = int(reader.root["/Pages"]["/Count"])
    page_ix = box.page + page_count if box.page < 0 else box.page
    if not 0 <= page_ix < page_count:
        raise UploadRejected(MSG_STAMP_PAGE, code="stamp_page_missing",
                             details={"page": box.page + 1 if box.page >= 0 else box.page, "page_count": page_count})
    page_ref, _ = reader.find_page_for_modification(page_ix)
    page = page_ref.get_object()
    rect = _inherited(page, "/CropBox") or _inherited(page, "/MediaBox") or [0, 0, 595.28, 841.89]
    llx, lly, urx, ury = (float(v) for v in rect)
    llx, urx = min(llx, urx), max(llx, urx)
    lly, ury = min(lly, ury), max(lly, ury)
    x = box.x if box.x is not None else max(llx, urx - box.margin - box.width)
    if box.y is not None:
        y = box.y
    elif box.top:
        y = max(lly, ury - box.margin - box.height)
    else:
        y = lly + box.margin
    if x >= urx or y >= ury or x + box.width <= llx or y + box.height <= lly:
        raise UploadRejected("Vị trí chữ ký số của cơ quan nằm ngoài trang.", code="stamp_outside_page",
                             details={"page_box": [llx, lly, urx, ury], "stamp": [x, y, box.width, box.height]})
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
                  signed_at: dt.datetime | None = None, box: StampBox | None = None, seal: SealImage | None = None,
                  profile: PadesProfile | None = None, stamp_label: str | None = None) -> SignResult:
    """Sign `src_path` into `dst_path` (PAdES at `profile`'s level, B-B by default, visible stamp with `seal` if
    given) and return the digests, time and level for the record. `stamp_label` replaces the organisation's name
    as the stamp's first line: a phụ lục is stamped with the document's số/ký hiệu instead (signature-appearance.md).

    Synchronous wrapper for the Lambda handlers; from inside a running event loop use `async_sign_pdf_file`.
    Raises `UploadRejected` (`locked_pdf`, `stamp_page_missing`, `stamp_outside_page`) when the upload itself is the
    problem, `SigningUnavailable` when the key cannot sign (`CertificateUnusable` with `certificate_revoked` at
    B-LT), `ltv.RevocationUnavailable` or `OSError` when a TSA or revocation source cannot be reached (transient);
    `dst_path` is removed on failure.
    """
    import asyncio  # lazily: ~30 ms of import that only signing needs (pyHanko imports it anyway)

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(async_sign_pdf_file(src_path, dst_path, identity, signed_at=signed_at, box=box, seal=seal,
                                               profile=profile, stamp_label=stamp_label))
    raise RuntimeError("sign_pdf_file called inside a running event loop: await async_sign_pdf_file instead")


async def async_sign_pdf_file(src_path: str | os.PathLike[str], dst_path: str | os.PathLike[str],
                              identity: SigningIdentity, *, signed_at: dt.datetime | None = None,
                              box: StampBox | None = None, seal: SealImage | None = None,
                              profile: PadesProfile | None = None, stamp_label: str | None = None) -> SignResult:
    """Async form of `sign_pdf_file` (the key backend, TSA and revocation calls are the awaits that matter)."""
    try:
        return await _sign(Path(src_path), Path(dst_path), identity, _vn_time(signed_at), box or StampBox(), seal,
                           profile or PadesProfile(), stamp_label)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(dst_path)
        raise


# --------------------------------------------------------------------------------------------------------------
# B-T and B-LT material


def _issuer_in(cert: Any, pool: list[Any]) -> Any:
    """The certificate in `pool` that issued `cert` (by name, and by key identifier when both carry one)."""
    aki = cert.authority_key_identifier
    for candidate in pool:
        if candidate.subject != cert.issuer or candidate.dump() == cert.dump():
            continue
        if aki is None or candidate.key_identifier is None or candidate.key_identifier == aki:
            return candidate
    return None


def _path_to_root(cert: Any, pool: list[Any]) -> tuple[list[tuple[Any, Any]], Any]:
    """((certificate, issuer) pairs from `cert` up, self-signed root or None) within `pool`."""
    pairs: list[tuple[Any, Any]] = []
    current = cert
    for _ in range(10):
        if current.self_signed != "no" and current.subject == current.issuer:
            return pairs, current
        issuer = _issuer_in(current, pool)
        if issuer is None:
            return pairs, None
        pairs.append((current, issuer))
        current = issuer
    return pairs, None


class _NoLongTermData(Exception):
    """B-LT cannot be built for this document (no revocation pointers, no root): sign at B-T instead."""


class _Revoked(Exception):
    """A certificate on a path is revoked (internal: mapped to the caller's error)."""

    def __init__(self, cert: Any, answer: Any) -> None:
        super().__init__(f"certificate {cert.serial_number:x} revoked")
        self.details = {"serial": f"{cert.serial_number:x}", "subject": cert.subject.human_friendly,
                        "source": answer.source, "reason": answer.reason,
                        "revoked_at": answer.revoked_at.isoformat() if answer.revoked_at else None}


def _revocation_answers(pairs: list[tuple[Any, Any]], checker: Any) -> list[Any]:
    """The revocation answer for each (certificate, issuer) pair, from the checker (cached briefly per cert)."""
    from chalicelib.signing import ltv

    answers = []
    for cert, issuer in pairs:
        try:
            answer = checker.check(cert, issuer)
        except ltv.NoRevocationPointers as exc:
            raise _NoLongTermData(str(exc)) from exc
        if answer.revoked:
            raise _Revoked(cert, answer)
        answers.append(answer)
    return answers


async def _long_term_context(identity: SigningIdentity, timestamper: Any, profile: PadesProfile) -> Any:
    """The pyHanko `ValidationContext` for B-LT: trust roots, certificates and revocation answers of the signer's
    and the TSA's paths, fetched (or taken from the container's cache) by us, with pyHanko's own fetching off so
    what is checked is exactly what gets embedded.

    Raises `CertificateUnusable` (`certificate_revoked`) when the signer's certificate or one above it is revoked,
    `SigningUnavailable` (`tsa_certificate_revoked`) for a revoked TSA, `_NoLongTermData` when B-LT cannot be built.
    """
    from pyhanko_certvalidator import ValidationContext

    from chalicelib.signing import ltv

    checker = ltv.default_checker(profile.revocation_cache_seconds)
    pool = [identity.certificate, *identity.chain]
    signer_pairs, signer_root = _path_to_root(identity.certificate, pool)
    if signer_root is None:
        raise _NoLongTermData("the certificate chain does not reach a self-signed root")
    try:
        answers = _revocation_answers(signer_pairs, checker)
    except _Revoked as exc:
        raise CertificateUnusable(MSG_REVOKED, code="certificate_revoked",
                                  details={"organ_id": identity.organ_id, **exc.details}) from None

    token = await timestamper.async_dummy_response("sha256")
    tsa_cert, tsa_certs = ltv.timestamp_certificates(token)
    tsa_pairs, tsa_root = _path_to_root(tsa_cert, [*tsa_certs, *pool])
    if tsa_root is None:
        raise _NoLongTermData("the TSA certificate does not chain to a known root")
    try:
        answers += _revocation_answers(tsa_pairs, checker)
    except _Revoked as exc:
        raise SigningUnavailable("Chứng thư số của dịch vụ cấp dấu thời gian đã bị thu hồi.",
                                 code="tsa_certificate_revoked", details={"tsa": profile.tsa_url, **exc.details}
                                 ) from None
    roots = {signer_root.dump(): signer_root, tsa_root.dump(): tsa_root}
    return ValidationContext(
        trust_roots=list(roots.values()), other_certs=[*pool, *tsa_certs],
        ocsps=[a.der for a in answers if a.source == "ocsp"], crls=[a.der for a in answers if a.source == "crl"],
        allow_fetching=False, revocation_mode="hard-fail")


class _QuietFetchingWarning:
    """Drops pyHanko's warning that fetching is off while validation info is embedded: that is the design here
    (our checker fetched and cached the answers), and it would otherwise be logged for every B-LT document."""

    def filter(self, record: Any) -> bool:
        return "fetching is not allowed" not in record.getMessage()


@lru_cache(maxsize=1)
def _quiet_pyhanko() -> None:
    import logging

    logging.getLogger("pyhanko.sign.signers.pdf_signer").addFilter(_QuietFetchingWarning())


# --------------------------------------------------------------------------------------------------------------
# The signature


async def _sign(src_path: Path, dst_path: Path, identity: SigningIdentity, signed_at: dt.datetime,
                box: StampBox, seal: SealImage | None, profile: PadesProfile,
                stamp_label: str | None = None) -> SignResult:
    import logging

    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign import fields
    from pyhanko.sign.signers import PdfSignatureMetadata, PdfSigner
    from pyhanko.sign.signers.pdf_byterange import PreparedByteRangeDigest, SignatureObject
    from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
    from pyhanko.sign.signers.pdf_signer import PdfPostSignatureDocument

    cached = _cached_signer(identity)
    signer = cached.signer

    # The level's material first: a revoked certificate is refused before the upload is even copied.
    level = profile.level
    timestamper = None
    validation_context = None
    if level != LEVEL_B_B:
        from chalicelib.signing.ltv import timestamper_for

        timestamper = timestamper_for(profile.tsa_url)
    if level == LEVEL_B_LT:
        try:
            validation_context = await _long_term_context(identity, timestamper, profile)
            _quiet_pyhanko()
        except _NoLongTermData as exc:
            logging.getLogger(__name__).warning("PAdES B-LT not possible for %s, signing at B-T: %s",
                                                identity.organ_id, exc)
            level = LEVEL_B_T

    with open(src_path, "rb") as src, open(dst_path, "w+b") as out:
        prefix, size = _copy_and_hash(src, out)
        original_sha256 = prefix.copy().hexdigest()

        # Parse the copy, not the source: pyHanko then appends the incremental section to the very same file.
        reader = PdfFileReader(out)  # strict, pyHanko's default DecodeLimits: an upload is untrusted input
        writer = IncrementalPdfFileWriter.from_reader(reader)
        page_ix, _, rect = _stamp_rect(reader, box)
        field_name = _field_name(reader, identity.organ_id)
        stamp_style, text_width = _style_for(rect, seal)
        pdf_signer = PdfSigner(
            PdfSignatureMetadata(field_name=field_name, md_algorithm="sha256",
                                 subfilter=fields.SigSeedSubFilter.PADES, name=identity.org_name,
                                 embed_validation_info=level == LEVEL_B_LT,
                                 validation_context=validation_context if level == LEVEL_B_LT else None),
            signer=signer,
            timestamper=timestamper,
            stamp_style=stamp_style,
            new_field_spec=fields.SigFieldSpec(sig_field_name=field_name, on_page=page_ix,
                                               box=tuple(round(v, 2) for v in rect)),  # type: ignore[arg-type]
        )
        _refuse_if_locked(reader)
        session = pdf_signer.init_signing_session(writer)
        # One signing time for the stamp and the signature dictionary's /M (PAdES puts no signing-time in the CMS).
        session.system_time = signed_at
        # None for B-B and B-T; for B-LT the signer's and the TSA's validated paths (from our pre-fetched data).
        validation_info = await session.perform_presign_validation(writer)
        reserve_key = profile.tsa_url if timestamper is not None else ""
        bytes_reserved = cached.bytes_reserved.get(reserve_key)
        if bytes_reserved is None:
            # The CMS has the same size for every document of a key (and TSA): size it by one dry run per container.
            bytes_reserved = await session.estimate_signature_container_size(validation_info, tight=False)
            cached.bytes_reserved[reserve_key] = bytes_reserved
        tbs = session.prepare_tbs_document(
            validation_info=validation_info,
            bytes_reserved=bytes_reserved,
            appearance_text_params={"org_name": _wrap(stamp_label or identity.org_name, text_width),
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

        cms = await signer.async_sign(document_digest, "sha256", use_pades=True, timestamper=timestamper,
                                      signed_attr_settings=PdfCMSSignedAttributes(signing_time=signed_at))
        sig_contents = PreparedByteRangeDigest(
            document_digest=document_digest, reserved_region_start=sig_start, reserved_region_end=sig_end,
        ).fill_with_cms(out, cms)
        if tbs.post_sign_instructions is not None:
            # B-LT: the DSS (certificates, OCSP responses, CRLs of both paths) as a second incremental update.
            await PdfPostSignatureDocument(sig_contents, tbs.post_sign_instructions,
                                           validation_context).post_signature_processing(out)
        out.seek(size)
        tail = out.read()
        final = prefix.copy()
        final.update(tail)
        signed_size = size + len(tail)
        out.flush()

    return SignResult(original_sha256=original_sha256, signed_sha256=final.hexdigest(), signed_at=signed_at,
                      signed_size=signed_size, field_name=field_name, level=level)
