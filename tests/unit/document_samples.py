"""One notification of each kind that is a document, with the payload the core writes (and
the `rule` the register adds), for the tests of composing and rendering."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import examples

LANGUAGES = ("fr", "ar", "tr", "en")
ISSUED_ON = date(2009, 3, 1)  # "1er mars 2009": French writes the first day otherwise
ISSUED_ON_WRITTEN = {
    "fr": "1er mars 2009",
    "en": "1 March 2009",
    "tr": "1 Mart 2009",
    "ar": "01/03/2009",
}

# The payload dates each document must show, by kind; the samples themselves are examples
# (examples/documents/<kind>.json), which the letters' benchmark renders too.
DATES: dict[str, tuple[str, ...]] = {
    "invitation": (),
    "attestation_language_exemption": (),
    "attestation_values": (),
    "training_prescription": ("start_by",),
    "training_attestation": ("completed_on",),
    "skills_assessment_convocation": ("session_on",),
    "parents_training_convocation": ("session_on",),
    "parents_training_attestation": ("attended_on",),
}


@dataclass(frozen=True)
class Sample:
    kind: str
    payload: dict[str, Any]
    workflow_id: str
    key: str
    dates: tuple[str, ...] = field(default=())  # payload dates the document must show

    @property
    def reference(self) -> str:
        return str(self.payload.get("application_id") or self.payload["contract_id"])

    @property
    def rule(self) -> str:
        return str(self.payload["rule"])

    @property
    def full_name(self) -> str:
        return str(self.payload["full_name"])


def _sample(kind: str) -> Sample:
    example = examples.load(f"documents/{kind}")
    return Sample(
        example["kind"], example["payload"], example["workflow_id"], example["key"], DATES[kind]
    )


SAMPLES = {kind: _sample(kind) for kind in DATES}
