"""A person is found however their name is typed at a counter (docs/contract.md,
`PersonKeys`), and by nothing else: another birth date or another key finds nobody."""

from __future__ import annotations

from datetime import date

import pytest

from models.person_search import normalised_name, person_key

SECRET = b"person search key"
BORN = date(1985, 3, 2)


@pytest.mark.parametrize(
    "typed",
    [
        "Amina El Idrissi",
        "  AMINA   EL-IDRISSI ",
        "Amína El‑Idrissi",  # a non-breaking hyphen, an accent
        "amina el_idrissi",
        "Ａｍｉｎａ El Idrissi",  # full-width letters (NFKD)
    ],
)
def test_a_name_typed_any_way_gives_the_same_key(typed: str) -> None:
    assert normalised_name(typed) == "amina el idrissi"
    assert person_key(SECRET, typed, BORN) == person_key(SECRET, "Amina El Idrissi", BORN)


def test_apostrophes_and_word_order() -> None:
    assert normalised_name("O'Neill Zoë") == normalised_name("o neill zoe")
    # The words keep their order: a given name and a family name swapped are two people.
    assert normalised_name("El Idrissi Amina") != normalised_name("Amina El Idrissi")


def test_another_birth_date_or_key_finds_nobody() -> None:
    key = person_key(SECRET, "Amina El Idrissi", BORN)
    assert person_key(SECRET, "Amina El Idrissi", date(1985, 2, 3)) != key
    assert person_key(b"another key", "Amina El Idrissi", BORN) != key
    assert "amina" not in key.casefold()
