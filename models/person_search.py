"""Finding a person's dossiers without a search attribute holding personal data.

Search attributes are stored in clear by Temporal (docs/contract.md, "Search attributes"),
so a dossier carries, in `PersonKeys`, only keyed hashes (HMAC-SHA256) of who it is about:
the normalised full name with the birth date, and the travel document number where the
input gives one. Without the key a value names nobody and cannot be tested against a
guessed name; with it, the operator's command computes the same hash from what the person
says at the counter (`dossiers find`).

Pure: the key is a parameter, never read here (the activity and the command hold it).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Iterable
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict

# Each hash says what it was computed from, so a name and a document number never collide.
_PERSON = "person"
_DOCUMENT = "document"
_SPACES = re.compile(r"\s+")
# What separates a name's parts however it is typed at a counter: `El-Idrissi`, `El Idrissi`,
# `O'Neill`, `O Neill`, `Ben Ali,` all read as words apart.
_SEPARATORS = re.compile(r"[\W_]+")


class Identity(BaseModel):
    """One person a dossier is about, as its input names them."""

    model_config = ConfigDict(frozen=True)

    full_name: str
    birth_date: date
    travel_document_number: str | None = None


def normalised_name(full_name: str) -> str:
    """`  Amína  EL-Idrissi ` → `amina el idrissi`: compatibility-decomposed (NFKD), accents
    stripped, casefolded, hyphens, apostrophes and other punctuation read as spaces, spaces
    collapsed; the words keep their order."""
    decomposed = unicodedata.normalize("NFKD", full_name)
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return _SEPARATORS.sub(" ", bare.casefold()).strip()


def normalised_document(number: str) -> str:
    """A travel document number as typed or printed: no spaces, upper case."""
    return _SPACES.sub("", unicodedata.normalize("NFKC", number)).upper()


def person_key(secret: bytes, full_name: str, birth_date: date) -> str:
    """The hash a person is found by: their name and birth date."""
    return _keyed(secret, _PERSON, normalised_name(full_name), birth_date.isoformat())


def document_key(secret: bytes, number: str) -> str:
    """The hash a person is found by with their travel document's number."""
    return _keyed(secret, _DOCUMENT, normalised_document(number))


def identity_keys(secret: bytes, people: Iterable[Identity]) -> list[str]:
    """Every hash of `people`, sorted and without repeats (the `PersonKeys` value)."""
    keys = set()
    for person in people:
        keys.add(person_key(secret, person.full_name, person.birth_date))
        if person.travel_document_number:
            keys.add(document_key(secret, person.travel_document_number))
    return sorted(keys)


def identities(start_input: BaseModel) -> list[Identity]:
    """The people a dossier's start input names with a birth date: the visa applicant, the
    CAI's signatory, and in a CAI for the family each parent or child given both."""
    found: list[Identity] = []
    for value in _people(start_input):
        name = getattr(value, "full_name", None)
        born = getattr(value, "birth_date", None)
        if isinstance(name, str) and isinstance(born, date):
            document = getattr(value, "travel_document_number", None)
            found.append(
                Identity(
                    full_name=name,
                    birth_date=born,
                    travel_document_number=document if isinstance(document, str) else None,
                )
            )
    return found


def people_of(dossier: BaseModel) -> list[Identity]:
    """The people of a dossier's state, from the start input it holds (`input`, corrected
    or not)."""
    start_input = dossier.__dict__.get("input")
    return identities(start_input) if isinstance(start_input, BaseModel) else []


def _people(start_input: BaseModel) -> list[Any]:
    """The input's fields that are people, alone or in a list."""
    people: list[Any] = []
    for name in type(start_input).model_fields:
        value = getattr(start_input, name)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, BaseModel) and "full_name" in type(item).model_fields:
                people.append(item)
    return people


def _keyed(secret: bytes, *parts: str) -> str:
    message = "\x1f".join(parts).encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()
