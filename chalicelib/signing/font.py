"""The stamp's font: TeX Gyre Termes, parsed once per container, its subsets cached by glyph set.

Why this font: NĐ 30/2020 Phụ lục I asks for Times New Roman or a metric-compatible face at 10 pt, and the text is
Vietnamese. Termes is a Times-like CFF font (1000 units per em) with the Vietnamese glyphs; TrueType fonts at 2048
units per em come out letter-spaced in poppler and Ghostscript (docs/traps.md#stamp-font-units-per-em). It ships with
the code (GUST licence, fonts/LICENSE-GUST.txt) and is embedded as a CIDFontType0 subset (ISO 32000-1 §9.7.4, /FontFile3
/CIDFontType0C).

Why cached: fontTools subsetting costs ~80 ms per document through pyHanko's own GlyphAccumulator (a third of that
here, without the layout tables); the glyph set is stable per organisation (its name plus the time characters), so
it runs once per organisation per container.
pyHanko and fontTools are imported inside functions (~150 ms at cold start).
"""

from __future__ import annotations

import io
import logging
import zlib
from functools import lru_cache
from pathlib import Path
from typing import Any

from chalicelib.standards.appearance import STAMP_FONT_SIZE

__all__ = ["FONT_PATH", "engine_classes", "font_program", "font_subset"]

FONT_PATH = Path(__file__).parent / "fonts" / "texgyretermes-regular.otf"
#: Glyphs always put in the embedded font subset, so that the subset (and the cache entry) depends on the
#: organisation's name only, not on which digits today's time happens to use.
_TIME_CHARS = "0123456789-:T+"
#: OpenType layout tables: HarfBuzz shapes with them; a CFF subset (/FontFile3) never carries them.
_LAYOUT_TABLES = ("GPOS", "GDEF", "GSUB")


class _FontProgram:
    """The stamp font, loaded once per container: raw bytes, a pristine fontTools object shared read-only by every
    document, and a prototype GlyphAccumulator whose parsed state each document's engine starts from."""

    def __init__(self, path: Path) -> None:
        from pyhanko.pdf_utils.font.opentype import GlyphAccumulator  # lazy: pyHanko ~150 ms at cold start
        from pyhanko.pdf_utils.writer import PdfFileWriter  # lazy: pyHanko ~150 ms at cold start

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
def font_program() -> _FontProgram:
    # "No ROS metadata. Assuming identity." is expected for Termes (name-keyed CFF) and says nothing useful.
    logging.getLogger("pyhanko.pdf_utils.font.opentype").setLevel(logging.ERROR)
    return _FontProgram(FONT_PATH)


@lru_cache(maxsize=128)
def font_subset(gids: frozenset[int]) -> bytes:
    """The CFF program of a subset holding `gids`, Flate-compressed, ready to embed as /FontFile3.

    Subsetting is what pyHanko's GlyphAccumulator does on every document (~80 ms); the glyph set is stable per
    organisation (its name plus the time characters), so it runs once per organisation per container. GIDs are
    retained, like pyHanko does, so the glyph codes written in the content stream stay right.
    """
    from fontTools import subset, ttLib  # lazy: fontTools, heavy

    program = font_program()
    # Lazy, without the layout tables, without recomputing the bounding box: the embedded program is the CFF table
    # alone, so GSUB/GPOS (shaping is HarfBuzz's, on the whole font) would only be decompiled by fontTools' subsetter
    # to be dropped, ~60 % of the subset's cost; the CFF FontBBox stays the whole font's, which contains the subset's.
    tt = ttLib.TTFont(io.BytesIO(program.data), lazy=True, recalcBBoxes=False)
    for tag in _LAYOUT_TABLES:
        if tag in tt:
            del tt[tag]
    options = subset.Options(layout_closure=False, retain_gids=True)
    options.drop_tables += list(_LAYOUT_TABLES)
    subsetter = subset.Subsetter(options=options)
    subsetter.populate(gids=sorted(gids))
    subsetter.subset(tt)
    buf = io.BytesIO()
    tt["CFF "].cff.compile(buf, tt)
    return zlib.compress(buf.getvalue(), 6)


@lru_cache(maxsize=1)
def engine_classes() -> tuple[type, type]:
    """pyHanko font-engine subclasses (defined lazily: pyHanko and fontTools load only when a stamp is drawn).

    They lean on GlyphAccumulator's internals (`_glyphs`, `_subset_created`, ...) of pyHanko 0.38; the stamp
    tests (pdftotext of the stamp, a rendering check) catch a change in them.
    """
    from pyhanko.pdf_utils import generic  # lazy: pyHanko ~150 ms at cold start
    from pyhanko.pdf_utils.font.api import FontEngine, FontEngineFactory  # lazy: pyHanko ~150 ms at cold start
    from pyhanko.pdf_utils.font.opentype import CIDFontType0, GlyphAccumulator  # lazy: pyHanko ~150 ms at cold start

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
            program = font_program()
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
            program = font_program()
            self.cidfont_obj.font_file = font_subset(frozenset(self._glyphs) | program.time_gids)
            self._subset_created = True  # never subset the shared fontTools object
            super().prepare_write()

    class CachedFontFactory(FontEngineFactory):
        def create_font_engine(self, writer: Any, obj_stream: Any = None) -> Any:
            if obj_stream is None and writer.stream_xrefs:
                obj_stream = writer.prepare_object_stream()
            return CachedGlyphAccumulator(writer, obj_stream)

    return CachedGlyphAccumulator, CachedFontFactory
