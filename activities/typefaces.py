"""The fonts of the letters, each parsed once per renderer process (activities/documents.py).

Parsing a font, subsetting it for the PDF and measuring text with harfbuzz were most of
a letter's CPU time, spent again for every letter. A process now keeps, per face:

- fpdf2's font object, parsed once: its metrics, character map and harfbuzz font are read
  only, and every document gets a copy of it with its own glyph-usage state
  (`Face.for_document`);
- harfbuzz's shaping and the widths it measures, by text, size and the shaping parameters
  harfbuzz reads: the templates' text recurs letter after letter;
- the tables a subset is made of (activities/font_subset.py): a document embeds each font
  as the face with only the outlines it draws, under their own glyph ids;
- how fpdf2 splits a text into fragments by the font that draws each character
  (`SplitOnce`), and how it places a line's glyphs (`PlacedFragment`): done a character
  and a glyph at a time, they were two thirds of a letter once the shaping was kept.

What the caches hold never changes a document (tests/workflow/test_documents.py).
"""

from __future__ import annotations

import struct
import threading
from bisect import bisect_left
from collections.abc import Hashable, Iterable, Iterator, Mapping
from copy import copy
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

from fpdf import FPDF
from fpdf.enums import TextEmphasis
from fpdf.fonts import Glyph, SubsetMap, TTFFont
from fpdf.line_break import Fragment
from fpdf.output import (
    CIDSystemInfo,
    OutputProducer,
    PDFFont,
    PDFFontStream,
    PDFType3Font,
    _build_cmap_blocks,
    _cid_font_widths,
)
from fpdf.syntax import Name, PDFArray, PDFContentStream
from fpdf.util import escape_parens

from activities.font_subset import GlyphTables

# Texts, widths, shapings and layouts kept per process; the letters' text needs a few
# thousand of each.
KEPT = 50_000
# Embedded subsets kept per face, some 4 to 30 KiB each deflated.
FONT_FILES_KEPT = 128


def _shaping_key(text: str, size: float, parameters: Mapping[str, Any] | None) -> Hashable:
    """What harfbuzz's shaping of `text` depends on (`TTFFont.perform_harfbuzz_shaping`
    reads these parameters and no other)."""
    if not parameters:
        return (text, size)
    features = parameters.get("features")
    return (
        text,
        size,
        parameters.get("fragment_direction"),
        parameters.get("script"),
        parameters.get("language"),
        tuple(sorted(features.items())) if features else None,
    )


# A glyph as shaping gives it (`TTFFont.shape_text`), before a document's subset numbers it:
# glyph id, the characters it stands for, name, width, then the shaped x and y advance and
# offset and whether it is drawn at a position of its own.
ShapedGlyph = tuple[int, tuple[int, ...], str, int, int, int, int, int, bool]


class Move(NamedTuple):
    """The text matrix moved to a glyph drawn at a position of its own, relative to where
    its line starts (mm)."""

    x: float
    y: float


# A line as fpdf2 draws it (`Fragment.render_with_text_shaping`), from wherever it starts:
# runs of glyphs drawn one after the other, each glyph a character numbering it in its
# face (`Face.number`), and the moves between them.
Layout = tuple[str | Move, ...]


@dataclass
class Face:
    """One font file as this process keeps it."""

    path: Path
    prototype: TTFFont
    widths: dict[Hashable, tuple[int, float]] = field(default_factory=dict)
    shapes: dict[Hashable, tuple[ShapedGlyph, ...]] = field(default_factory=dict)
    layouts: dict[Hashable, Layout] = field(default_factory=dict)
    font_files: dict[frozenset[int], PDFFontStream] = field(default_factory=dict)
    glyphs: list[Glyph] = field(default_factory=list)  # by their number in `layouts`
    _numbers: dict[Glyph, str] = field(default_factory=dict)
    _tables: GlyphTables | None = None
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
        font = DocumentFont.__new__(DocumentFont)
        for name in _SHARED_ATTRIBUTES:
            setattr(font, name, getattr(self.prototype, name))
        font.face = self
        font.codes = {}
        font.i = len(pdf.fonts) + 1
        font.fontkey = fontkey
        font.emphasis = TextEmphasis.coerce(style)
        font.cw = copy(self.prototype.cw)  # a defaultdict: reading an unknown character adds it
        font.missing_glyphs = []
        font.biggest_size_pt = 0
        font.subset = _DocumentSubset(font)
        return font

    def number(self, glyph: Glyph) -> str:
        """The character that stands for `glyph` in this face's layouts."""
        with self._lock:
            number = self._numbers.get(glyph)
            if number is None:
                number = self._numbers[glyph] = chr(len(self.glyphs))
                self.glyphs.append(glyph)
            return number

    def font_file(self, glyph_ids: frozenset[int]) -> PDFFontStream:
        """The face as a document embeds it, with the outlines of `glyph_ids` only: made
        and deflated once per set of glyphs, which the letters of a template mostly share
        (a third of the PDF's output). Each document gets its own copy of the stream."""
        made = self.font_files.get(glyph_ids)
        if made is None:
            made = _FastFontStream(contents=self.tables().subset(glyph_ids))
            keep(self.font_files, glyph_ids, made, FONT_FILES_KEPT)
        return copy(made)

    def tables(self) -> GlyphTables:
        """What a subset of the face is made of, read on the first subset."""
        with self._lock:
            if self._tables is None:
                self._tables = GlyphTables.read(self.path)
            return self._tables


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


class _DocumentSubset(SubsetMap):
    """fpdf2's map of the glyphs a document draws, its lookups remembered by the map itself.
    fpdf2 remembers them in caches of the class (`functools.cache` on the methods), which
    kept every document's map, and its font's widths, for as long as the renderer lived:
    0.4 MiB more per letter, without end."""

    def __init__(self, font: TTFFont) -> None:
        self._picked: dict[int, int | None] = {}
        self._glyphs: dict[tuple[Any, ...], Glyph | None] = {}
        super().__init__(font)

    # fpdf2 types its cached methods as cache wrappers; these are plain methods.
    def pick(self, unicode: int) -> int | None:  # type: ignore[override]
        if unicode not in self._picked:
            self._picked[unicode] = SubsetMap.pick.__wrapped__(self, unicode)
        return self._picked[unicode]

    def get_glyph(  # type: ignore[override]
        self,
        glyph: int | None = None,
        unicode: int | tuple[int, ...] | None = None,
        glyph_name: str | None = None,
        glyph_width: int | None = None,
    ) -> Glyph | None:
        key = (glyph, unicode, glyph_name, glyph_width)
        if key not in self._glyphs:
            self._glyphs[key] = SubsetMap.get_glyph.__wrapped__(self, *key)
        return self._glyphs[key]


class DocumentFont(TTFFont):
    """A face as one document uses it; text widths come from the face's memory."""

    __slots__ = ("codes", "face")
    face: Face
    codes: dict[int, str]  # a glyph's number in the face: its code in this document

    def shaped_text_width(
        self, text: str, font_size_pt: float, text_shaping_params: dict[str, Any] | None
    ) -> tuple[int, float]:
        key = _shaping_key(text, font_size_pt, text_shaping_params)
        widths = self.face.widths
        width = widths.get(key)
        if width is None:
            width = super().shaped_text_width(text, font_size_pt, text_shaping_params)
            keep(widths, key, width)
        return width

    def _shaped(
        self, text: str, font_size_pt: float, text_shaping_params: dict[str, Any] | None
    ) -> tuple[ShapedGlyph, ...]:
        """Harfbuzz's shaping of `text`, kept by the face."""
        key = _shaping_key(text, font_size_pt, text_shaping_params)
        shapes = self.face.shapes
        shaped = shapes.get(key)
        if shaped is None:
            shaped = self._shape(text, font_size_pt, text_shaping_params)
            keep(shapes, key, shaped)
        return shaped

    def shape_text(
        self, text: str, font_size_pt: float, text_shaping_params: dict[str, Any] | None
    ) -> list[dict[str, Any]]:
        """fpdf2's shaping of `text`, harfbuzz's part of it kept by the face."""
        subset = self.subset
        placed = []
        for (
            glyph_id,
            unicode,
            name,
            width,
            x_advance,
            y_advance,
            x_offset,
            y_offset,
            force,
        ) in self._shaped(text, font_size_pt, text_shaping_params):
            glyph = subset.get_glyph(
                glyph=glyph_id, unicode=unicode, glyph_name=name, glyph_width=width
            )
            if glyph is None:
                continue
            placed.append(
                {
                    "mapped_char": subset.pick_glyph(glyph),
                    "x_advance": x_advance,
                    "y_advance": y_advance,
                    "x_offset": x_offset,
                    "y_offset": y_offset,
                    "force_positioning": force,
                }
            )
        return placed

    def draw(self, fragment: Fragment, x: float, y: float, h: float) -> str:
        """`Fragment.render_with_text_shaping` of a fragment in this font without word
        spacing: its line laid out once per process, then numbered in this document's
        subset and placed at (x, y). Drawing glyph by glyph was half of a letter's CPU."""
        k = fragment.k
        key = (
            _shaping_key(fragment.string, fragment.font_size_pt, fragment.text_shaping_parameters),
            fragment.font_stretching,
            fragment.char_spacing,
            k,
        )
        layouts = self.face.layouts
        layout = layouts.get(key)
        if layout is None:
            layout = self._layout(fragment)
            keep(layouts, key, layout)
        drawn = []
        for piece in layout:
            if isinstance(piece, Move):
                drawn.append(f"1 0 0 1 {(x + piece.x) * k:.2f} {(h - (y + piece.y)) * k:.2f} Tm ")
            else:
                codes = self._codes_of(piece).encode("utf-16-be").decode("latin-1")
                drawn.append(f"({escape_parens(codes)}) Tj ")
        line = "".join(drawn)
        return line[:-1] if layout and not isinstance(layout[-1], Move) else line

    def _codes_of(self, run: str) -> str:
        """A run of a layout in this document's codes, each glyph numbered in the subset
        the first time the document draws it."""
        codes = self.codes
        for number in dict.fromkeys(run):  # in the order drawn, as fpdf2 numbers them
            if ord(number) not in codes:
                code = self.subset.pick_glyph(self.face.glyphs[ord(number)])
                assert code is not None  # a glyph, never None, is always given a code
                codes[ord(number)] = chr(code)
        return run.translate(codes)

    def _layout(self, fragment: Fragment) -> Layout:
        """fpdf2's placing of a fragment's glyphs (`Fragment.render_with_text_shaping`),
        from the line's start."""
        size, stretching, k = fragment.font_size_pt, fragment.font_stretching, fragment.k

        def adjust(position: float) -> float:  # fpdf2's `adjust_pos`, in the same order
            return position * self.scale * size * (stretching / 100) / 1000 / k

        char_spacing = fragment.char_spacing * (stretching / 100) / k
        pieces: list[str | Move] = []
        run: list[str] = []
        x = y = 0.0

        def move(to_x: float, to_y: float) -> None:
            if run:
                pieces.append("".join(run))
                run.clear()
            pieces.append(Move(to_x, to_y))

        shaped = self._shaped(
            fragment.string, fragment.font_size_pt, fragment.text_shaping_parameters
        )
        for glyph_id, unicode, name, width, x_adv, y_adv, x_off, y_off, force in shaped:
            if not glyph_id:  # a glyph the font lacks: not drawn (`SubsetMap.get_glyph`)
                continue
            if x_off or y_off:
                move(x + adjust(x_off), y - adjust(y_off))
            run.append(self.face.number(Glyph(glyph_id, unicode, name, width)))
            x += adjust(x_adv) + char_spacing
            y += adjust(y_adv)
            if force:
                move(x, y)
        if run:
            pieces.append("".join(run))
        return tuple(pieces)

    def _shape(
        self, text: str, font_size_pt: float, text_shaping_params: dict[str, Any] | None
    ) -> tuple[ShapedGlyph, ...]:
        """`TTFFont.shape_text` without numbering the glyphs in the document's subset."""
        if not text:
            return ()
        infos, positions = self.perform_harfbuzz_shaping(text, font_size_pt, text_shaping_params)
        clusters = sorted(int(info.cluster) for info in infos)
        characters: dict[int, list[int]] = {}
        for index in range(len(text)):
            # the cluster a character belongs to: the last one starting at or before it
            at = bisect_left(clusters, index)
            if at == len(clusters) or (at > 0 and clusters[at] != index):
                at -= 1
            characters.setdefault(clusters[max(at, 0)], []).append(index)
        metrics = self.ttfont["hmtx"].metrics
        shaped = []
        for info, position in zip(infos, positions, strict=True):
            indices = characters.pop(info.cluster, [])
            name = self.ttfont.getGlyphName(info.codepoint)
            width = round(self.scale * metrics[name][0])
            force = (
                width != position.x_advance
                or position.x_offset != 0
                or position.y_offset != 0
                or position.y_advance != 0
            )
            shaped.append(
                (
                    info.codepoint,
                    tuple(ord(text[i]) for i in indices),
                    name,
                    width,
                    position.x_advance,
                    position.y_advance,
                    position.x_offset,
                    position.y_offset,
                    force,
                )
            )
        return tuple(shaped)


class PlacedFragment(Fragment):
    """A fragment drawn from its line's layout kept by its face (`DocumentFont.draw`)."""

    def render_with_text_shaping(
        self, pos_x: float, pos_y: float, h: float, word_spacing: float
    ) -> str:
        font = self.font
        if word_spacing or not isinstance(font, DocumentFont):
            return super().render_with_text_shaping(pos_x, pos_y, h, word_spacing)
        return font.draw(self, pos_x, pos_y, h)


# A text's fragments as fpdf2 splits it (`FPDF._parse_chars`): each one's characters and
# the font, family, style and emphasis it is drawn in; then the emphasis after the text.
_Split = tuple[str, str, str, str, bool, bool]
Splits = tuple[tuple[_Split, ...], Any]
_SPLITS: dict[Hashable, Splits] = {}


class SplitOnce(FPDF):
    """fpdf2's document, a text's split into fragments (by the font, main or fallback,
    that draws each character) kept per process: made a character at a time, it was a
    sixth of a letter. Its fragments are drawn from their layouts (`PlacedFragment`)."""

    def _parse_chars(
        self,
        text: str,
        markdown: bool,
        *,
        _initial_emphasis: tuple[bool, bool, bool, bool] | None = None,
    ) -> Iterator[Fragment]:
        font = self.current_font
        alias = self.str_alias_nb_pages
        if markdown or font is None or (alias and alias in text):
            # Split by fpdf2: the number of pages, written at the end, is its own fragment;
            # the text around it is drawn from its layout.
            for fragment in super()._parse_chars(
                text, markdown, _initial_emphasis=_initial_emphasis
            ):
                if type(fragment) is Fragment:
                    fragment.__class__ = PlacedFragment
                yield fragment
            return
        key = (
            text,
            font.fontkey,
            self.font_style,
            self.underline,
            self.strikethrough,
            _initial_emphasis,
            tuple(self._fallback_font_ids),
            self._fallback_font_exact_match,
        )
        splits = _SPLITS.get(key)
        if splits is None:
            fragments = list(
                super()._parse_chars(text, markdown, _initial_emphasis=_initial_emphasis)
            )
            splits = (tuple(_split_of(fragment) for fragment in fragments), self._markdown_emphasis)
            keep(_SPLITS, key, splits)
        parts, emphasis = splits
        for characters, fontkey, family, style, strikethrough, underline in parts:
            state = self._get_current_graphics_state()
            state.current_font = self.fonts[fontkey]
            state.font_family = family
            state.font_style = style
            state.strikethrough = strikethrough
            state.underline = underline
            yield PlacedFragment(characters, state, self.k)
        self._markdown_emphasis = emphasis


def _split_of(fragment: Fragment) -> _Split:
    state = fragment.graphics_state
    return (
        "".join(fragment.characters),
        fragment.font.fontkey,
        state.font_family,
        state.font_style,
        bool(state.strikethrough),
        bool(state.underline),
    )


def keep(memory: dict[Any, Any], key: Hashable, value: Any, limit: int = KEPT) -> None:
    """`value` kept in `memory`, one of the process's; a memory full starts again."""
    if len(memory) >= limit:
        memory.clear()
    memory[key] = value


@cache
def face(path: Path) -> Face:
    return Face.parse(path)


def add_font(pdf: FPDF, family: str, style: str, path: Path) -> None:
    """`pdf.add_font(family, style, path)`, with the face this process parsed once."""
    fontkey = f"{family.lower()}{style}"
    pdf.fonts[fontkey] = face(path).for_document(pdf, fontkey, style)


class SubsettingOnce(OutputProducer):
    """fpdf2's output, each font embedded as a glyph-id-preserving subset of its face
    (activities/font_subset.py) rather than through fontTools' subsetter: the objects are
    those fpdf2 writes for a TrueType font (`OutputProducer._add_fonts`)."""

    def _add_fonts(self, *args: Any, **kwargs: Any) -> dict[int, PDFFont | PDFType3Font]:
        fonts = [font for font in self.fpdf.fonts.values() if isinstance(font, DocumentFont)]
        if len(fonts) < len(self.fpdf.fonts):
            return super()._add_fonts(*args, **kwargs)
        return {font.i: self._add_font(font) for font in sorted(fonts, key=lambda f: f.i)}

    def _add_font(self, font: DocumentFont) -> PDFFont:
        fontname = f"MPDFAA+{font.name}"
        glyphs = [(glyph, code) for glyph, code in font.subset.items() if glyph is not None]
        composite = PDFFont(subtype="Type0", base_font=fontname, encoding="Identity-H")
        self._add_pdf_obj(composite, "fonts")
        widths = {code: glyph.glyph_width for glyph, code in glyphs}
        cid_font = PDFFont(
            subtype="CIDFontType2",
            base_font=fontname,
            d_w=font.desc.missing_width,
            w=_cid_font_widths(widths),
        )
        self._add_pdf_obj(cid_font, "fonts")
        composite.descendant_fonts = PDFArray([cid_font])
        # ToUnicode: the text each code stands for, so that the text layer reads back.
        to_unicode = PDFContentStream(_to_unicode_cmap(glyphs).encode("latin-1"))
        self._add_pdf_obj(to_unicode, "fonts")
        composite.to_unicode = to_unicode
        system_info = CIDSystemInfo()
        self._add_pdf_obj(system_info, "fonts")
        cid_font.c_i_d_system_info = system_info
        descriptor = copy(font.desc)  # the face's, shared by every document
        descriptor.font_name = Name(fontname)
        self._add_pdf_obj(descriptor, "fonts")
        cid_font.font_descriptor = descriptor
        # As long as the highest code the document uses: a CID beyond the map is never
        # shown (fpdf2 writes all 65,536 entries, 128 KiB to compress for every font).
        cid_to_gid = bytearray(2 * (max((code for _, code in glyphs), default=0) + 1))
        for glyph, code in glyphs:
            struct.pack_into(">H", cid_to_gid, 2 * code, glyph.glyph_id)
        cid_to_gid_map = _FastStream(contents=bytes(cid_to_gid), compress=True)
        self._add_pdf_obj(cid_to_gid_map, "fonts")
        cid_font.c_i_d_to_g_i_d_map = cid_to_gid_map
        font_file = font.face.font_file(frozenset(glyph.glyph_id for glyph, _ in glyphs))
        self._add_pdf_obj(font_file, "fonts")
        descriptor.font_file2 = font_file  # type: ignore[attr-defined]
        return composite


class _FastStream(PDFContentStream):
    """Deflated at zlib's fastest level: a font's bytes are most of a letter's, and level 6
    took three times as long for a file some 3 % smaller."""

    _COMPRESSION_LEVEL = 1


class _FastFontStream(PDFFontStream):
    _COMPRESSION_LEVEL = 1


def _to_unicode_cmap(glyphs: Iterable[tuple[Glyph, int]]) -> str:
    """fpdf2's ToUnicode CMap of a TrueType font (`OutputProducer._add_fonts`)."""
    mapped = [
        f"<{code:04X}> <{''.join(_utf16_hex(c) for c in glyph.unicode)}>\n"
        for glyph, code in glyphs
        if isinstance(glyph.unicode, tuple) and glyph.unicode
    ]
    return (
        "/CIDInit /ProcSet findresource begin\n"
        "12 dict begin\n"
        "begincmap\n"
        "/CIDSystemInfo\n"
        "<</Registry (Adobe)\n"
        "/Ordering (UCS)\n"
        "/Supplement 0\n"
        ">> def\n"
        "/CMapName /Adobe-Identity-UCS def\n"
        "/CMapType 2 def\n"
        "1 begincodespacerange\n"
        "<0000> <FFFF>\n"
        "endcodespacerange\n"
        f"{_build_cmap_blocks(mapped, 'bfchar')}"
        "endcmap\n"
        "CMapName currentdict /CMap defineresource pop\n"
        "end\n"
        "end"
    )


def _utf16_hex(code: int) -> str:
    """As fpdf2 writes a character: a surrogate pair beyond the BMP; `format` keeps a
    `documents._NoText` empty."""
    if code > 0xFFFF:
        return f"{0xD800 | (code - 0x10000) >> 10:04X}{0xDC00 | (code & 0x3FF):04X}"
    return f"{code:04X}"
