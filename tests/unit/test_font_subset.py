"""A letter's fonts embedded as glyph-id-preserving subsets (activities/font_subset.py): the
glyphs used keep their ids and outlines, the others are empty, and the file is a font."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from fontTools.ttLib import TTFont

from activities.documents import FONTS
from activities.font_subset import GlyphTables


@pytest.mark.parametrize("stem", ["NotoSans-Regular", "Amiri-Bold"])
def test_a_subset_keeps_the_ids_and_outlines_of_the_glyphs_used_only(stem: str) -> None:
    path = FONTS / f"{stem}.ttf"
    face = TTFont(path)
    cmap = face.getBestCmap()
    order = face.getGlyphOrder()
    used = {order.index(cmap[ord(c)]) for c in "Aéz" if ord(c) in cmap}
    used |= {order.index(cmap[0x0644])} if 0x0644 in cmap else set()
    subset = TTFont(io.BytesIO(GlyphTables.read(Path(path)).subset(used)))
    glyf, original = subset["glyf"], face["glyf"]
    subset_order = subset.getGlyphOrder()
    # cut after the highest id drawn, a composite glyph's components included
    assert max(used) < subset["maxp"].numGlyphs <= face["maxp"].numGlyphs
    for glyph_id in used:
        drawn = glyf[subset_order[glyph_id]]
        assert drawn.numberOfContours == original[order[glyph_id]].numberOfContours != 0
        assert subset["hmtx"][subset_order[glyph_id]] == face["hmtx"][order[glyph_id]]
    # .notdef, the glyphs used and their components: a handful of outlines of thousands
    drawn_ids = [i for i, name in enumerate(subset_order) if glyf[name].numberOfContours]
    assert set(used) <= set(drawn_ids) and len(drawn_ids) <= 3 * len(used) + 1
    assert not {"GSUB", "GPOS", "GDEF"} & set(subset.keys())
    subset.save(io.BytesIO())  # every table reads back and compiles again
