"""The applicant's contact and native name in the inputs (docs/contract.md, `VisaApplication`
input; "Letters that can be posted"): optional, strict, and a fault names its field."""

from __future__ import annotations

import copy
from typing import Any

import pytest

import examples
from models.cai.events import CaiContractInput
from models.errors import InputRejected
from models.family.events import CaiFamilyInput
from models.intake import parse_payload
from models.visa.events import VisaApplicationInput

VISA = examples.load("visa/family_reunification")


def _visa(**contact: Any) -> dict[str, Any]:
    application = copy.deepcopy(VISA)
    application["applicant"]["contact"] = {**application["applicant"]["contact"], **contact}
    return application


def test_the_examples_carry_a_contact_and_parse() -> None:
    applicant = parse_payload(VisaApplicationInput, VISA, "A1").applicant
    assert applicant.contact is not None and applicant.contact.email is not None
    assert applicant.full_name_native
    signatory = parse_payload(CaiContractInput, examples.load("cai/contract"), "H1").signatory
    assert signatory.contact is not None and signatory.contact.postal_address is not None
    family = parse_payload(CaiFamilyInput, examples.load("family/contract"), "G1")
    assert family.signatories[0].contact is not None


def test_without_a_contact_a_dossier_still_opens() -> None:
    application = copy.deepcopy(VISA)
    del application["applicant"]["contact"], application["applicant"]["full_name_native"]
    assert parse_payload(VisaApplicationInput, application, "A1").applicant.contact is None


@pytest.mark.parametrize(
    ("change", "field", "says"),
    [
        ({"email": "amina at example.org"}, "applicant.contact.email", "e-mail address"),
        ({"phone": "call me"}, "applicant.contact.phone", "telephone number"),
        (
            {"postal_address": {"lines": [], "city": "Rabat", "country": "MA"}},
            "applicant.contact.postal_address.lines",
            "at least 1",
        ),
        (
            {"postal_address": {"lines": ["a\nb"], "city": "Rabat", "country": "MA"}},
            "applicant.contact.postal_address.lines.0",
            "one line",
        ),
        (
            {"postal_address": {"lines": ["1 rue"], "city": "Rabat", "country": "Maroc"}},
            "applicant.contact.postal_address.country",
            "ISO 3166-1",
        ),
        ({"fax": "+212 5 00"}, "applicant.contact.fax", "unknown field"),
    ],
)
def test_a_bad_contact_is_refused_naming_its_field(
    change: dict[str, Any], field: str, says: str
) -> None:
    with pytest.raises(InputRejected) as refused:
        parse_payload(VisaApplicationInput, _visa(**change), "A1")
    assert field in str(refused.value) and says in str(refused.value)
