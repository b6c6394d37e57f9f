"""The language of the letters to a person (A4), for every dossier kind."""

from __future__ import annotations


def letter_language(declared: list[str], available: list[str]) -> tuple[str, bool]:
    """The first declared language a letter exists in; French, flagged, otherwise (A4)."""
    for language in declared:
        if language in available:
            return language, False
    return "fr", True
