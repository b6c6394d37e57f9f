"""Letters a mail room can post and an applicant can act on (docs/contract.md, "Letters that
can be posted"): the issuer's block and signatory from the reference data, the place and
date, `Objet :`, the addressee, the formulas, the circular's sections and the CESEDA's
articles, a convocation's place and time, the data-protection notice and the recourse; and
French as French is written."""

from __future__ import annotations

import re
from typing import Any

import pytest

from models.documents import Composed, compose, shipped_templates
from models.issuers import name_form
from models.reference import default_reference_data, merge_reference_data
from tests.unit.document_samples import (
    APPLICANT,
    CORRECTION,
    ISSUED_ON,
    ISSUED_ON_WRITTEN,
    LANGUAGES,
    LETTERS,
    SAMPLES,
    Sample,
)
from tests.unit.test_documents import RULE_ID, _text

CODE = "AAAA-BBBB-CCCC"


def _letter(sample: Sample, language: str, **changes: Any) -> Composed:
    options = {
        key: changes.pop(key) for key in ("person", "recipient", "reference_data") if key in changes
    }
    return compose(
        sample.kind,
        {**sample.payload, **changes},
        language,
        reference=sample.reference,
        rule=sample.rule,
        issued_on=ISSUED_ON,
        verification_code=CODE,
        **{"person": sample.person, "recipient": sample.recipient, **options},
    )


@pytest.mark.parametrize("kind", sorted(LETTERS))
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_letter_has_the_blocks_that_let_it_be_posted_and_acted_on(
    kind: str, language: str
) -> None:
    sample = LETTERS[kind]
    letter = _letter(sample, language)
    # The issuer's block: postal address, telephone, e-mail, opening hours; its signatory.
    assert len(letter.issuer_block) >= 5
    assert any("+" in line and re.search(r"\d{2}", line) for line in letter.issuer_block)
    assert any("@" in line for line in letter.issuer_block)
    assert letter.signatory
    # "Rabat, le 1er mars 2009".
    assert ISSUED_ON_WRITTEN[language] in letter.place_date
    assert letter.place_date.split(",")[0].split("،")[0] in " ".join(letter.issuer_block)
    # Objet, salutation, closing formula.
    assert letter.subject.endswith(letter.title) and letter.subject != letter.title
    assert letter.salutation and letter.closing
    # The circular's sections and the statute's articles, never the project's rule ids.
    assert re.search(r"\bII?\.\d|\bII?\b", letter.legal) and "L." in letter.legal
    assert RULE_ID.search(_text(letter)) is None
    assert set(re.findall(r"[A-J]\d", sample.rule)) <= set(re.findall(r"[A-J]\d", letter.keywords))
    # The data-protection notice says whom to ask; a decision says the means of recourse.
    assert letter.notices and "@" in letter.notices[0] and "CNIL" in letter.notices[0]
    decision = shipped_templates().kinds[kind].decision
    assert len(letter.notices) == (2 if decision else 1)
    assert "{" not in _text(letter) and "}" not in _text(letter)


@pytest.mark.parametrize(
    "kind", sorted(k for k, s in LETTERS.items() if s.recipient == "applicant")
)
def test_a_letter_to_the_applicant_is_addressed_to_their_postal_address(kind: str) -> None:
    sample = LETTERS[kind]
    letter = _letter(sample, "fr")
    address = sample.person["contact"]["postal_address"]  # type: ignore[index]
    assert letter.addressee[0] == sample.payload.get("full_name", sample.person["full_name"])  # type: ignore[index]
    for line in address["lines"]:
        assert line in letter.addressee
    assert any(address["city"] in line for line in letter.addressee)


def test_the_native_name_stands_under_the_latin_one() -> None:
    letter = _letter(SAMPLES["invitation"], "fr")
    assert letter.addressee[:2] == [APPLICANT["full_name"], APPLICANT["full_name_native"]]
    without = _letter(SAMPLES["invitation"], "fr", person={"full_name": "Amina El Idrissi"})
    assert without.addressee == ["Amina El Idrissi"]


def test_a_copy_to_the_consulate_is_addressed_to_it() -> None:
    copy = _letter(SAMPLES["training_attestation"], "fr", recipient="consulate", person=None)
    assert copy.addressee == ["Consulat de France à Rabat"]


@pytest.mark.rule("A4")
@pytest.mark.parametrize("language", LANGUAGES)
def test_an_invitation_says_how_to_make_the_appointment(language: str) -> None:
    text = " ".join(_letter(SAMPLES["invitation"], language).paragraphs)
    assert "+212 5 37 68 97 50" in text and "rabat@ofii.fr" in text and "Rue Abou Inane" in text


@pytest.mark.rule("G2")
@pytest.mark.rule("H1")
@pytest.mark.parametrize("kind", ["skills_assessment_convocation", "parents_training_convocation"])
@pytest.mark.parametrize("language", LANGUAGES)
def test_a_convocation_says_where_when_and_what_to_bring_never_the_session_id(
    kind: str, language: str
) -> None:
    sample = SAMPLES[kind]
    letter = _letter(sample, language)
    text = _text(letter)
    assert "48, rue de la Roquette" in text  # the platform's place
    starts = {"skills": ("9 h 00", "9:00", "09.00"), "parents": ("9 h 30", "9:30", "09.30")}
    assert any(time in text for time in starts[kind.split("_")[0]])
    assert sample.payload["session_id"] not in text and "2009-03-" not in text
    bring = {"fr": "Apportez", "en": "Bring", "tr": "getirin", "ar": "أحضروا"}[language]
    assert bring in text


def test_a_session_of_an_unknown_slot_gives_no_time_rather_than_a_wrong_one() -> None:
    sample = SAMPLES["skills_assessment_convocation"]
    letter = _letter(sample, "fr", session_id="SA-75-20090317")
    assert "SA-75-20090317" not in _text(letter)
    assert not any("commence à" in p for p in letter.paragraphs)


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_prescription_is_a_decision_with_its_means_of_recourse(language: str) -> None:
    letter = _letter(SAMPLES["training_prescription"], language)
    assert "R.421-1" in letter.notices[-1] and "Institut français de Rabat" in letter.notices[-1]


# --- French as it is written ------------------------------------------------------------------

# A French word that elides, left whole before a vowel: "que Amina", "de OFII".
UNELIDED = re.compile(
    r"(?<![\w'])(?:que|de|le|la|ce|ne|se|lorsque|puisque) [AEIOUYÀÂÉÈÊÎÏÔÛİ]", re.IGNORECASE
)


@pytest.mark.parametrize("kind", sorted(LETTERS))
@pytest.mark.parametrize(
    "name", ["Ayşe Demir", "Amina El Idrissi", "Élodie Martin", "Karim Haddad"]
)
def test_french_elides_before_a_vowel_in_every_template(kind: str, name: str) -> None:
    sample = LETTERS[kind]
    letter = _letter(sample, "fr", full_name=name)
    text = " ".join(letter.paragraphs)
    assert UNELIDED.search(text) is None, UNELIDED.search(text)
    if "atteste" in text:
        expected = f"qu'{name}" if name[0] in "AÉ" else f"que {name}"
        assert expected in text


def test_the_slips_the_applicants_saw_are_gone() -> None:
    values = " ".join(_letter(SAMPLES["attestation_values"], "fr").paragraphs)
    assert "Il est attesté qu'Amina El Idrissi" in values
    parents = " ".join(_letter(SAMPLES["parents_training_attestation"], "fr").paragraphs)
    assert "atteste qu'Ayşe Demir" in parents
    prescription = " ".join(_letter(SAMPLES["training_prescription"], "fr").paragraphs)
    assert "l'Institut français de Rabat vous notifie" in prescription
    convocation = " ".join(_letter(SAMPLES["skills_assessment_convocation"], "fr").paragraphs)
    assert "à l'OFII Paris" in convocation and "prévenez l'OFII Paris" in convocation
    invitation = " ".join(_letter(SAMPLES["invitation"], "fr").paragraphs)
    assert "L'OFII Rabat vous invite" in invitation


def test_a_body_name_takes_the_article_its_reference_data_gives() -> None:
    assert name_form("OFII Paris", "to", "l'") == "à l'OFII Paris"
    assert name_form("Campus France", "of", "") == "de Campus France"
    assert name_form("préfecture de Police", "The", "la ") == "La préfecture de Police"
    assert name_form("Centre de Tunis", "to", "le ") == "au Centre de Tunis"


# --- the reference data ---------------------------------------------------------------------


def test_an_override_adds_a_body_and_its_block() -> None:
    block = {
        "article": "l'",
        "address": ["Organisme délégataire du Cameroun", "BP 1234", "Yaoundé", "Cameroun"],
        "city": "Yaoundé",
        "phone": "+237 222 00 00 00",
        "email": "contact@delegataire.example.cm",
        "hours": {"fr": "du lundi au jeudi, de 8 h à 15 h"},
        "signatory": {"fr": "Le directeur de l'organisme délégataire"},
    }
    name = "Organisme délégataire du Cameroun"
    data = merge_reference_data(default_reference_data(), {"issuers": {name: block}})
    assert "OFII Rabat" in data.issuers  # merged body by body, never replaced whole
    sample = SAMPLES["invitation"]
    body = {"kind": "delegate", "country": "CM", "name": name}
    letter = _letter(sample, "en", body=body, reference_data=data)
    assert "+237 222 00 00 00" in " ".join(letter.issuer_block)
    assert letter.signatory == "Le directeur de l'organisme délégataire"  # French: no English
    assert letter.place_date.startswith("Yaoundé")
    french = " ".join(_letter(sample, "fr", body=body, reference_data=data).paragraphs)
    assert "L'Organisme délégataire du Cameroun vous invite" in french


def test_a_body_without_a_block_bears_headquarters() -> None:
    body = {"kind": "delegate", "country": "CM", "name": "Organisme inconnu"}
    letter = _letter(SAMPLES["invitation"], "fr", body=body)
    assert "44, rue Bargue" in letter.issuer_block and letter.place_date.startswith("Paris")


# --- a correction to the applicant is a letter ------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_correction_notice_names_the_letter_it_corrects_by_its_title(language: str) -> None:
    letter = _letter(CORRECTION, language)
    prescription = shipped_templates().kinds["training_prescription"].languages[language]
    text = " ".join(letter.paragraphs)
    assert prescription.title in text and CORRECTION.payload["reason"] in text
    assert "supersedes" not in text and "000006" not in text
    assert letter.reference == "RBT-2009-000123"
    withdrawn = " ".join(_letter(CORRECTION, language, now=None).paragraphs)
    assert withdrawn != text
