"""The fonts of the letters, each parsed once per renderer process (activities/documents.py).

Parsing a font, subsetting it for the PDF and measuring text with harfbuzz were most of
a letter's CPU time, spent again for every letter. A process now keeps, per face:

- fpdf2's font object, parsed once: its metrics, character map and harfbuzz font are read
  only, and every document gets a copy of it with its own glyph-usage state
  (`Face.for_document`);
- the widths harfbuzz measures, by text, size and shaping parameters: the line breaking
  measures every character of every line, and the templates' text recurs letter after
  letter;
- two fonts to subset from, as bytes: the face cut down to the scripts letters are written
  in, and the whole face for a glyph outside them; both without the layout tables fpdf2
  drops from the embedded subset anyway. A subset of either is the subset fpdf2 made of
  the file, byte for byte (tests/workflow/test_documents.py), so what the caches hold never
  changes a document.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Hashable, Iterable, Mapping
from copy import copy
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from fontTools import subset as ftsubset
from fontTools.ttLib import TTFont
from fpdf import FPDF
from fpdf.enums import TextEmphasis
from fpdf.fonts import SubsetMap, TTFFont
from fpdf.output import OutputProducer

# The tables fpdf2 drops from every font it embeds (fpdf.output.OutputProducer._add_fonts):
# the layout tables are harfbuzz's business, and harfbuzz reads the font file itself.
DROPPED_TABLES = (
    "FFTM",
    "GDEF",
    "GPOS",
    "GSUB",
    "MATH",
    "hdmx",
    "meta",
    "sbix",
    "CBDT",
    "CBLC",
    "EBDT",
    "EBLC",
    "EBSC",
    "SVG ",
    "CPAL",
    "COLR",
)
# The characters of the letters' scripts: Latin with its extensions (French, Turkish,
# transliterated names), Greek, Cyrillic, Arabic, punctuation and currency signs. A glyph
# outside them is subset from the whole face, which is slower, not different.
COMMON_CHARACTERS = (
    (0x0000, 0x007E),  # with the controls a face maps (U+0000, U+000D)
    (0x00A0, 0x024F),
    (0x0300, 0x036F),
    (0x0370, 0x03FF),
    (0x0400, 0x04FF),
    (0x0600, 0x06FF),
    (0x1E00, 0x1EFF),
    (0x2000, 0x206F),
    (0x20A0, 0x20CF),
)
# Text widths kept per face; the letters' text needs a few thousand.
WIDTHS_KEPT = 50_000


def _subsetter_options(**options: Any) -> ftsubset.Options:
    """fpdf2's subsetting options (`OutputProducer._add_fonts`), with `options` besides."""
    chosen = ftsubset.Options(notdef_outline=True, recommended_glyphs=True, **options)
    chosen.drop_tables += list(DROPPED_TABLES)
    return chosen


def _font_bytes(font: TTFont) -> bytes:
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


def _load(content: bytes) -> TTFont:
    # recalcTimestamp=False: as fpdf2 loads a font, so that the bytes are the same.
    return TTFont(io.BytesIO(content), recalcTimestamp=False, lazy=True)


def _without_dropped_tables(path: Path) -> bytes:
    font = TTFont(path, recalcTimestamp=False)
    for tag in DROPPED_TABLES:
        if tag in font:
            del font[tag]
    return _font_bytes(font)


def _common_glyphs(path: Path) -> bytes:
    """The face cut down to the glyphs shaping can draw from `COMMON_CHARACTERS` (their
    substitutions: Arabic's joining forms, ligatures), keeping the glyphs' names: a
    document's subset is asked for by name."""
    closure = TTFont(path, recalcTimestamp=False)
    characters = [code for first, last in COMMON_CHARACTERS for code in range(first, last + 1)]
    subsetter = ftsubset.Subsetter(
        ftsubset.Options(notdef_outline=True, recommended_glyphs=True, glyph_names=True)
    )
    subsetter.populate(unicodes=characters)
    subsetter.subset(closure)
    font = TTFont(path, recalcTimestamp=False)
    subsetter = ftsubset.Subsetter(_subsetter_options(glyph_names=True))
    subsetter.populate(glyphs=closure.getGlyphOrder())
    subsetter.subset(font)
    post = font["post"]
    if post.formatType != 2.0:
        # A face without glyph names (Amiri) has them made up from its glyph ids on
        # loading; the cut face's ids differ, so it keeps the names it had.
        post.formatType, post.extraNames, post.mapping = 2.0, [], {}
    return _font_bytes(font)


def _shaping_key(text: str, size: float, parameters: Mapping[str, Any] | None) -> Hashable:
    if parameters is None:
        return (text, size)
    if not any(isinstance(value, dict) for value in parameters.values()):
        return (text, size, tuple(parameters.items()))
    return (
        text,
        size,
        tuple(
            (name, tuple(sorted(value.items())) if isinstance(value, dict) else value)
            for name, value in parameters.items()
        ),
    )


@dataclass
class Face:
    """One font file as this process keeps it."""

    path: Path
    prototype: TTFFont
    widths: dict[Hashable, tuple[int, float]] = field(default_factory=dict)
    _sources: dict[str, tuple[bytes, frozenset[str]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def parse(cls, path: Path) -> Face:
        prototype = TTFFont(FPDF(), path, fontkey="", style="")
        # Read now the tables a document reads while it is laid out, so that documents
        # laid out in threads at once only ever read the shared font.
        prototype.ttfont.getGlyphOrder()
        prototype.ttfont["hmtx"]
        return cls(path, prototype)

    def for_document(self, pdf: FPDF, fontkey: str, style: str) -> TTFFont:
        """A copy of the face for `pdf`: shared metrics, its own glyph usage."""
        font = _DocumentFont.__new__(_DocumentFont)
        for name in _SHARED_ATTRIBUTES:
            setattr(font, name, getattr(self.prototype, name))
        font.face = self
        font.i = len(pdf.fonts) + 1
        font.fontkey = fontkey
        font.emphasis = TextEmphasis.coerce(style)
        font.cw = copy(self.prototype.cw)  # a defaultdict: reading an unknown character adds it
        font.missing_glyphs = []
        font.biggest_size_pt = 0
        font.subset = SubsetMap(font)
        return font

    def source_for(self, glyph_names: Iterable[str]) -> TTFont:
        """A font of its own to subset to `glyph_names` from: the cut face when it has them."""
        common, names = self._source("common", _common_glyphs)
        if names.issuperset(glyph_names):
            return _load(common)
        return _load(self._source("whole", _without_dropped_tables)[0])

    def _source(self, name: str, make: Any) -> tuple[bytes, frozenset[str]]:
        with self._lock:
            if name not in self._sources:
                content = make(self.path)
                self._sources[name] = (content, frozenset(_load(content).getGlyphOrder()))
            return self._sources[name]


# What a document's copy of a face shares with the face (TTFFont.__deepcopy__ shares the
# same and copies the rest).
_SHARED_ATTRIBUTES = (
    "type",
    "ttffile",
    "scale",
    "name",
    "up",
    "ut",
    "sp",
    "ss",
    "is_compressed",
    "is_cff",
    "is_cid_keyed",
    "is_symbol",
    "cff_ros",
    "collection_font_number",
    "ttfont",
    "cmap",
    "desc",
    "glyph_ids",
    "_hbfont",
    "color_font",
    "palette_index",
)


class _DocumentFont(TTFFont):
    """A face as one document uses it; text widths come from the face's memory."""

    __slots__ = ("face",)
    face: Face

    def shaped_text_width(
        self, text: str, font_size_pt: float, text_shaping_params: dict[str, Any] | None
    ) -> tuple[int, float]:
        key = _shaping_key(text, font_size_pt, text_shaping_params)
        widths = self.face.widths
        width = widths.get(key)
        if width is None:
            width = super().shaped_text_width(text, font_size_pt, text_shaping_params)
            if len(widths) >= WIDTHS_KEPT:
                widths.clear()
            widths[key] = width
        return width


@cache
def face(path: Path) -> Face:
    return Face.parse(path)


def add_font(pdf: FPDF, family: str, style: str, path: Path) -> None:
    """`pdf.add_font(family, style, path)`, with the face this process parsed once."""
    fontkey = f"{family.lower()}{style}"
    pdf.fonts[fontkey] = face(path).for_document(pdf, fontkey, style)


class SubsettingOnce(OutputProducer):
    """fpdf2's output, each font subset from a copy of its face's source (fpdf2 subsets the
    font object in place: the parsed face is shared)."""

    def _add_fonts(self, *args: Any, **kwargs: Any) -> Any:
        for font in self.fpdf.fonts.values():
            if isinstance(font, _DocumentFont):
                font.ttfont = font.face.source_for(font.subset.get_all_glyph_names())
        return super()._add_fonts(*args, **kwargs)
