"""One notification of each kind that is a document, with the payload the core writes (and
the `rule` the register adds), for the tests of composing and rendering."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import examples
from models.documents import reference_of

LANGUAGES = ("fr", "ar", "tr", "en")
ISSUED_ON = date(2009, 3, 1)  # "1er mars 2009": French writes the first day otherwise
ISSUED_ON_WRITTEN = {
    "fr": "1er mars 2009",
    "en": "1 March 2009",
    "tr": "1 Mart 2009",
    "ar": "01/03/2009",
}

_VISA = {
    "application_id": "RBT-2009-000123",
    "procedure": "family_reunification",
    "consulate": "Rabat",
    "country_of_residence": "MA",
}
INVITATION = examples.load("documents/invitation")
_CAI = {"contract_id": "CAI-75-2009-000042", "prefecture": "Paris", "platform": "OFII Paris"}
_FAMILY = {"contract_id": "CAIF-75-2009-000007", "prefecture": "Paris", "platform": "OFII Paris"}


def _letter(name: str) -> dict[str, Any]:
    return {"full_name": name, "language_fallback": False}


# The person of the dossier's input, with their contact (docs/contract.md, "Letters that can
# be posted"): what a letter to the applicant is addressed to.
APPLICANT = examples.load("visa/family_reunification")["applicant"]
SIGNATORY = examples.load("cai/contract")["signatory"]
PARENT = examples.load("family/contract")["signatories"][0]


@dataclass(frozen=True)
class Sample:
    kind: str
    payload: dict[str, Any]
    workflow_id: str
    key: str
    dates: tuple[str, ...] = field(default=())  # payload dates the document must show
    person: dict[str, Any] | None = None

    @property
    def recipient(self) -> str:
        """Whom the notification is for, as its key says (`….applicant`, `….consulate`)."""
        parts = self.key.split(".")
        return parts[2] if len(parts) > 2 else "applicant"

    @property
    def reference(self) -> str:
        return reference_of(self.payload)

    @property
    def rule(self) -> str:
        return str(self.payload["rule"])

    @property
    def full_name(self) -> str:
        return str(self.payload["full_name"])


SAMPLES = {
    sample.kind: sample
    for sample in (
        # The sample the letters' pictures show (tools/document_pictures.py).
        Sample(
            INVITATION["kind"],
            INVITATION["payload"],
            INVITATION["workflow_id"],
            INVITATION["key"],
            person=APPLICANT,
        ),
        Sample(
            "attestation_language_exemption",
            {**_VISA, **_letter("Amina El Idrissi"), "rule": "D2"},
            "visa-RBT-2009-000123",
            "000004.attestation_language_exemption.applicant",
            person=APPLICANT,
        ),
        Sample(
            "attestation_values",
            {**_VISA, **_letter("Amina El Idrissi"), "rule": "E2"},
            "visa-RBT-2009-000123",
            "000005.attestation_values.applicant",
            person=APPLICANT,
        ),
        Sample(
            "training_prescription",
            {
                **_VISA,
                **_letter("Amina El Idrissi"),
                "training": "language",
                "hours": 120,
                "provider": "Institut français de Rabat",
                "integrates_values": True,
                "start_by": "2009-04-10",
                "rule": "D3, E3, E4",
            },
            "visa-RBT-2009-000123",
            "000006.training_prescription.applicant",
            ("start_by",),
            person=APPLICANT,
        ),
        Sample(
            "training_attestation",
            # To the consulate only: the name comes from the dossier (person_fields).
            {
                **_VISA,
                "full_name": "Amina El Idrissi",
                "training": "language",
                "integrates_values": False,
                "completed_on": "2009-06-01",
                "hours_attended": 118,
                "hours_prescribed": 120,
                "attestation_ref": "ATT-RBT-778",
                "rule": "D4",
            },
            "visa-RBT-2009-000123",
            "000009.training_attestation.consulate",
            ("completed_on",),
        ),
        Sample(
            "skills_assessment_convocation",
            {
                **_CAI,
                **_letter("Mehmet Yılmaz"),
                "session_id": "ofii-paris-skills-assessment-2009-03-17-morning",
                "session_on": "2009-03-17",
                "rule": "H1, H5",
            },
            "cai-CAI-75-2009-000042",
            "000002.skills_assessment_convocation.applicant",
            ("session_on",),
            person=SIGNATORY,
        ),
        Sample(
            "parents_training_convocation",
            {
                **_FAMILY,
                **_letter("Ayşe Demir"),
                "person_id": "P1",
                "session_id": "ofii-paris-parents-training-2009-03-24-day",
                "session_on": "2009-03-24",
                "rule": "G2",
            },
            "caif-CAIF-75-2009-000007",
            "000002.parents_training_convocation.applicant.P1",
            ("session_on",),
            person=PARENT,
        ),
        Sample(
            "parents_training_attestation",
            {
                **_FAMILY,
                **_letter("Ayşe Demir"),
                "person_id": "P1",
                "attended_on": "2009-03-24",
                "attestation_ref": "DDP-ATT-0042",
                "rule": "G2",
            },
            "caif-CAIF-75-2009-000007",
            "000003.parents_training_attestation.applicant.P1",
            ("attended_on",),
            person=PARENT,
        ),
    )
}


# A correction notice to the applicant (docs/contract.md: it is a letter too): the training
# prescribed was corrected.
_PRESCRIPTION = SAMPLES["training_prescription"].payload
CORRECTION = Sample(
    "correction_notice",
    {
        "supersedes": "000006.training_prescription.applicant",
        "superseded_kind": "training_prescription",
        "previously": _PRESCRIPTION,
        "now": {**_PRESCRIPTION, "hours": 80},
        "reason": "nombre d'heures corrigé par l'organisme de formation",
        "rule": "D3, E3, E4",
    },
    "visa-RBT-2009-000123",
    "000011.correction_notice.applicant.000006.training_prescription.applicant",
    person=APPLICANT,
)
LETTERS = {**SAMPLES, CORRECTION.kind: CORRECTION}  # every kind written from a template
