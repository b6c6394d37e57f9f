"""Glyph-id-preserving subsets of a TrueType face, for embedding in a PDF.

fontTools' subsetter renumbers the glyphs, recompiles every table and closes over the
layout tables: 6 to 9 ms a font even from a small source, spent for every font of every
letter. A document only needs the outlines of the glyphs it draws, under the ids harfbuzz
shaped them with, so a subset here is the face's own tables with every other glyph's
outline left empty: `glyf` and `loca` rebuilt from the used glyphs' bytes (and the
components of composite glyphs), the glyph count cut after the highest id used, `post`
without glyph names and a `cmap` that maps nothing (a PDF reaches the glyphs by id,
through the CIDToGIDMap). The layout tables are left out, as fpdf2 leaves them out: they
are harfbuzz's business, and harfbuzz reads the font file itself.

What a face needs for this is read once per process (`GlyphTables.read`), and a subset is
a few joins and one checksum pass over bytes. The fonts' licence (OFL) permits subsetting.
"""

from __future__ import annotations

import struct
import sys
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import accumulate, pairwise
from pathlib import Path

from fontTools.ttLib import TTFont

# The tables an embedded TrueType font keeps, besides those made here (glyf, loca, hmtx,
# post, cmap): metrics and hinting.
_COPIED = ("OS/2", "cvt ", "fpgm", "gasp", "hhea", "maxp", "name", "prep", "head")
# Composite glyph flags (OpenType `glyf` table).
_ARGS_ARE_WORDS = 0x0001
_HAS_SCALE = 0x0008
_MORE_COMPONENTS = 0x0020
_HAS_XY_SCALE = 0x0040
_HAS_TWO_BY_TWO = 0x0080
# A format 4 cmap with its one required segment (0xFFFF → .notdef), under Windows Unicode.
_EMPTY_CMAP = struct.pack(">HHHHI", 0, 1, 3, 1, 12) + struct.pack(
    ">12H", 4, 24, 0, 2, 2, 0, 0, 0xFFFF, 0, 0xFFFF, 1, 0
)
_CHECKSUM_ADJUSTMENT_OFFSET = 8
_INDEX_TO_LOC_FORMAT_OFFSET = 50
_HHEA_NUMBER_OF_HMETRICS_OFFSET = 34
_MAXP_NUM_GLYPHS_OFFSET = 4


def _checksum(data: bytes) -> int:
    padded = data + b"\0" * (-len(data) % 4)
    words = array("I", padded)
    if sys.byteorder == "little":
        words.byteswap()
    return sum(words) & 0xFFFFFFFF


def _components(outline: bytes) -> list[int]:
    """The glyph ids a composite glyph is made of; none for a simple glyph."""
    if len(outline) < 10 or struct.unpack_from(">h", outline)[0] >= 0:
        return []
    found, offset = [], 10
    while True:
        flags, glyph_id = struct.unpack_from(">HH", outline, offset)
        found.append(glyph_id)
        offset += 4 + (4 if flags & _ARGS_ARE_WORDS else 2)
        if flags & _HAS_SCALE:
            offset += 2
        elif flags & _HAS_XY_SCALE:
            offset += 4
        elif flags & _HAS_TWO_BY_TWO:
            offset += 8
        if not flags & _MORE_COMPONENTS:
            return found


@dataclass(frozen=True)
class GlyphTables:
    """The parts of one face a subset is made of, read once."""

    tables: dict[str, bytes]
    outlines: list[bytes]  # by glyph id, each padded to 4 bytes
    hmtx: bytes
    number_of_hmetrics: int
    post_header: bytes  # the `post` table's fields after its version
    _closures: dict[int, tuple[int, ...]] = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path) -> GlyphTables:
        font = TTFont(path, recalcTimestamp=False)
        glyf = font.reader["glyf"]
        offsets = list(font["loca"])
        outlines = [
            glyf[start:end] + b"\0" * (-(end - start) % 4) for start, end in pairwise(offsets)
        ]
        return cls(
            tables={tag: font.reader[tag] for tag in _COPIED if tag in font.reader},
            outlines=outlines,
            hmtx=font.reader["hmtx"],
            number_of_hmetrics=font["hhea"].numberOfHMetrics,
            post_header=font.reader["post"][4:32],
        )

    def _closure(self, glyph_id: int) -> tuple[int, ...]:
        """`glyph_id` and the glyphs it is composed of, at any depth."""
        found = self._closures.get(glyph_id)
        if found is None:
            ids = [glyph_id]
            for component in _components(self.outlines[glyph_id]):
                ids += self._closure(component)
            found = self._closures[glyph_id] = tuple(ids)
        return found

    def subset(self, glyph_ids: Iterable[int]) -> bytes:
        """The face with the outlines of `glyph_ids` (and .notdef) only, ids unchanged."""
        used = {0}
        for glyph_id in glyph_ids:
            used.update(self._closure(glyph_id))
        count = max(used) + 1
        kept = [b""] * count
        for glyph_id in used:
            kept[glyph_id] = self.outlines[glyph_id]
        ends = [0, *accumulate(map(len, kept))]
        # Short offsets (halved, the outlines being padded) while they fit: the smaller table.
        short = ends[-1] < 0x20000
        loca = array("H", [end // 2 for end in ends]) if short else array("I", ends)
        if sys.byteorder == "little":
            loca.byteswap()
        hmtx = self._metrics(used, count)
        hmetrics = min(self.number_of_hmetrics, count)
        tables = dict(self.tables)
        tables["hhea"] = _patched(tables["hhea"], _HHEA_NUMBER_OF_HMETRICS_OFFSET, hmetrics)
        tables["maxp"] = _patched(tables["maxp"], _MAXP_NUM_GLYPHS_OFFSET, count)
        head = bytearray(tables["head"])
        struct.pack_into(">I", head, _CHECKSUM_ADJUSTMENT_OFFSET, 0)
        struct.pack_into(">h", head, _INDEX_TO_LOC_FORMAT_OFFSET, 0 if short else 1)
        tables["head"] = bytes(head)
        # post format 3: the header of the face's own, without glyph names.
        tables["post"] = b"\x00\x03\x00\x00" + self.post_header
        tables["cmap"] = _EMPTY_CMAP
        tables["glyf"] = b"".join(kept)
        tables["loca"] = loca.tobytes()
        tables["hmtx"] = hmtx
        return _font_file(tables)

    def _metrics(self, used: set[int], count: int) -> bytes:
        """`hmtx` for the first `count` glyphs, zero for those not `used`: the PDF gives the
        widths (`/W`), so the others' metrics are only bytes to embed. Long metrics come
        first, then left side bearings alone; the last long metric's advance is every later
        glyph's, and is kept."""
        hmetrics = min(self.number_of_hmetrics, count)
        metrics = bytearray(4 * hmetrics + 2 * (count - hmetrics))
        for glyph_id in {*used, hmetrics - 1}:
            at = 4 * glyph_id if glyph_id < hmetrics else 4 * hmetrics + 2 * (glyph_id - hmetrics)
            size = 4 if glyph_id < hmetrics else 2
            metrics[at : at + size] = self.hmtx[at : at + size]
        return bytes(metrics)


def _patched(table: bytes, offset: int, value: int) -> bytes:
    return table[:offset] + struct.pack(">H", value) + table[offset + 2 :]


def _font_file(tables: dict[str, bytes]) -> bytes:
    """An sfnt file of `tables`, with its checksums."""
    tags = sorted(tables)
    count = len(tags)
    power = 1 << (count.bit_length() - 1)
    header = struct.pack(
        ">IHHHH", 0x00010000, count, power * 16, power.bit_length() - 1, count * 16 - power * 16
    )
    offset = 12 + 16 * count
    directory, bodies = [], []
    for tag in tags:
        body = tables[tag]
        directory.append(
            struct.pack(">4sIII", tag.encode("latin-1"), _checksum(body), offset, len(body))
        )
        body += b"\0" * (-len(body) % 4)
        bodies.append(body)
        offset += len(body)
    content = bytearray(header + b"".join(directory) + b"".join(bodies))
    head_at = 12 + 16 * tags.index("head") + 8
    head_offset = struct.unpack_from(">I", content, head_at)[0]
    adjustment = (0xB1B0AFBA - _checksum(bytes(content))) & 0xFFFFFFFF
    struct.pack_into(">I", content, head_offset + _CHECKSUM_ADJUSTMENT_OFFSET, adjustment)
    return bytes(content)
