"""One notification of each kind that is a letter (`examples/documents/letters.json`), for
the tests of composing and rendering."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import examples
from models.documents import DOCUMENT_KINDS, person_id_of, person_of, reference_of

LANGUAGES = ("fr", "ar", "tr", "en")
ISSUED_ON = date(2009, 3, 1)  # "1er mars 2009": French writes the first day otherwise
ISSUED_ON_WRITTEN = {
    "fr": "1er mars 2009",
    "en": "1 March 2009",
    "tr": "1 Mart 2009",
    "ar": "01/03/2009",
}

# The person of the dossier's input, with their contact (docs/contract.md, "Letters that can
# be posted"): what a letter to the applicant is addressed to.
APPLICANT = examples.load("visa/family_reunification")["applicant"]


@dataclass(frozen=True)
class Sample:
    kind: str
    payload: dict[str, Any]
    workflow_id: str
    key: str
    dates: tuple[str, ...] = field(default=())  # payload dates the document must show
    person: dict[str, Any] | None = None

    @property
    def reference(self) -> str:
        return reference_of(self.payload)

    @property
    def rule(self) -> str:
        return str(self.payload["rule"])

    @property
    def full_name(self) -> str:
        return str(self.payload["full_name"])

    @property
    def recipient(self) -> str:
        """Whom the notification is for, as its key says (`….applicant`, `….consulate`)."""
        parts = self.key.split(".")
        return parts[2] if len(parts) > 2 else "applicant"


def letter_samples() -> dict[str, Sample]:
    """Every sample letter by its kind, with the person of the dossier it belongs to."""
    samples = {}
    for entry in examples.load("documents/letters")["letters"]:
        start = examples.load(entry["person"]) if entry.get("person") else None
        samples[entry["kind"]] = Sample(
            entry["kind"],
            entry["payload"],
            entry["workflow_id"],
            entry["key"],
            tuple(entry.get("dates", ())),
            dict(person_of(start, person_id_of(entry["payload"]))) if start else None,
        )
    return samples


LETTERS = letter_samples()  # every kind written from a template
SAMPLES = {kind: sample for kind, sample in LETTERS.items() if kind in DOCUMENT_KINDS}
CORRECTION = LETTERS["correction_notice"]  # a correction to the applicant is a letter too
