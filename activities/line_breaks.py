"""A paragraph broken into the lines of a column, at its spaces.

fpdf2's `multi_cell` breaks a paragraph character by character, measuring the line so far
at every character: a fifth of a letter's CPU, spent again for every letter. The letters
break at spaces only, so a line is filled word by word, each word measured on its own
(`measure`, which the caller keeps), and the lines of a paragraph are kept by the caller
too: the templates' paragraphs recur letter after letter.
"""

from __future__ import annotations

from collections.abc import Callable

Measure = Callable[[str], float]


def break_lines(text: str, width: float, measure: Measure) -> tuple[str, ...]:
    """`text` in lines no wider than `width`, a new line at each line feed; a word wider
    than `width` broken between its characters."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        lines += _filled(paragraph, width, measure)
    return tuple(lines)


def _filled(paragraph: str, width: float, measure: Measure) -> list[str]:
    space = measure(" ")
    lines: list[str] = []
    words: list[str] = []
    filled = 0.0
    for word in paragraph.split(" "):
        word_width = measure(word)
        if words and filled + space + word_width > width:
            # The space the line breaks at is dropped, as fpdf2 drops it.
            lines.append(" ".join(words))
            words, filled = [], 0.0
        if not words and word_width > width:
            *whole, word = _by_characters(word, width, measure)
            lines += whole
            word_width = measure(word)
        filled = filled + space + word_width if words else word_width
        words.append(word)
    lines.append(" ".join(words))
    return lines


def _by_characters(word: str, width: float, measure: Measure) -> list[str]:
    """`word` in pieces no wider than `width` (each at least one character)."""
    pieces: list[str] = []
    start = 0
    for end in range(1, len(word) + 1):
        if end - start > 1 and measure(word[start:end]) > width:
            pieces.append(word[start : end - 1])
            start = end - 1
    pieces.append(word[start:])
    return pieces
