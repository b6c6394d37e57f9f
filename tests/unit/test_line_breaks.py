"""A paragraph broken word by word into the lines of a column (activities/line_breaks.py)."""

from __future__ import annotations

from activities.line_breaks import break_lines


def _width(text: str) -> float:
    return float(len(text))  # one unit a character


def test_a_line_takes_words_while_they_fit_and_breaks_at_a_space() -> None:
    assert break_lines("aa bb cc dd", 5, _width) == ("aa bb", "cc dd")
    assert break_lines("aa bb cc", 8, _width) == ("aa bb cc",)


def test_a_line_feed_starts_a_new_line() -> None:
    assert break_lines("aa\nbb cc", 10, _width) == ("aa", "bb cc")


def test_a_word_wider_than_the_column_is_broken_between_its_characters() -> None:
    assert break_lines("abcdefg hi", 3, _width) == ("abc", "def", "g", "hi")


def test_nothing_is_one_empty_line() -> None:
    assert break_lines("", 10, _width) == ("",)


def test_no_line_is_wider_than_the_column_and_no_word_is_lost() -> None:
    text = "Une demande de regroupement familial a été déposée pour vous en France."
    lines = break_lines(text, 20, _width)
    assert all(len(line) <= 20 for line in lines)
    assert " ".join(lines) == text
