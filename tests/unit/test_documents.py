"""Letters and attestations composed from their templates: the applicant's language or French,
flagged (A4); no letter with a hole; templates checked at start, naming file and line."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest

from models.documents import (
    DOCUMENT_KINDS,
    Composed,
    TemplateError,
    _shipped_texts,
    check_templates,
    compose,
    format_date,
    load_templates,
    person_fields,
    reference_of,
    template_languages,
    verification_code,
    verification_code_matches,
)
from tests.unit.document_samples import ISSUED_ON, ISSUED_ON_WRITTEN, LANGUAGES, SAMPLES, Sample

SECRET = b"unit-test-document-secret"


def _compose(sample: Sample, language: str | None, **changes: Any) -> Composed:
    payload = {**sample.payload, **changes}
    return compose(
        sample.kind,
        payload,
        language,
        reference=sample.reference,
        rule=sample.rule,
        issued_on=ISSUED_ON,
        verification_code=verification_code(sample.workflow_id, sample.key, SECRET),
        person=sample.person,
        recipient=sample.recipient,
    )


def _text(composed: Composed) -> str:
    """Every word the letter prints."""
    return " ".join(composed.printed())


# The project's rule ids ("A4", "D3, E3"): never printed, only in the metadata.
RULE_ID = re.compile(r"(?<![\w.])[A-J][0-9](?![\w.])")


def test_the_shipped_templates_pass_the_check_the_worker_runs_at_start() -> None:
    check_templates()
    for kind in DOCUMENT_KINDS:
        assert template_languages(kind) >= set(LANGUAGES)


def test_the_documents_are_the_letters_and_attestations_of_the_contract() -> None:
    assert set(SAMPLES) == DOCUMENT_KINDS


def test_a_template_of_a_kind_that_is_no_document_is_refused() -> None:
    text = _shipped_texts()["attestation_values.json"]
    wrong = text.replace('"kind": "attestation_values"', '"kind": "evaluation_results"', 1)
    with pytest.raises(TemplateError, match=r"evaluation_results\.json:2: .*not a document"):
        load_templates(_texts(evaluation_results=wrong))


@pytest.mark.rule("A4")
@pytest.mark.parametrize("kind", sorted(DOCUMENT_KINDS))
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_document_is_written_in_each_language_with_its_facts(
    kind: str, language: str
) -> None:
    sample = SAMPLES[kind]
    composed = _compose(sample, language)
    assert composed.language == language and not composed.fallback
    assert composed.direction == ("rtl" if language == "ar" else "ltr")
    text = _text(composed)
    for fact in (sample.full_name, sample.reference, ISSUED_ON_WRITTEN[language]):
        assert fact in text
    assert RULE_ID.search(text) is None, RULE_ID.search(text)
    assert sample.rule in composed.keywords
    for field in sample.dates:
        assert format_date(date.fromisoformat(sample.payload[field]), language) in text
    assert "{" not in text and "}" not in text
    assert (composed.title_fr is None) == (language == "fr")


@pytest.mark.rule("A4")
def test_a_language_without_translation_gets_french_flagged() -> None:
    sample = SAMPLES["invitation"]
    composed = _compose(sample, "bm")  # a letter language of the reference data, untranslated
    assert composed.language == "fr" and composed.fallback
    assert composed.requested_language == "bm"
    assert composed.title.startswith("Invitation à l'évaluation")


@pytest.mark.rule("A4")
def test_french_chosen_because_no_declared_language_had_a_letter_stays_flagged() -> None:
    composed = _compose(SAMPLES["invitation"], "fr", language_fallback=True)
    assert composed.language == "fr" and composed.fallback


def test_a_copy_to_an_authority_is_in_french_unflagged() -> None:
    composed = _compose(SAMPLES["training_attestation"], None)
    assert composed.language == "fr" and not composed.fallback


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_missing_placeholder_refuses_the_document_naming_file_and_placeholder(
    language: str,
) -> None:
    sample = SAMPLES["training_attestation"]
    payload = {k: v for k, v in sample.payload.items() if k != "full_name"}
    with pytest.raises(ValueError, match=r"models/templates/training_attestation\.json:\d+") as e:
        compose(
            sample.kind,
            payload,
            language,
            reference=sample.reference,
            rule=sample.rule,
            issued_on=ISSUED_ON,
            verification_code="AAAA-BBBB-CCCC",
        )
    assert "{full_name}" in str(e.value)


def test_a_null_value_is_a_missing_one_and_a_nested_one_is_named() -> None:
    with pytest.raises(ValueError, match=r"\{body\[name\]\}"):
        _compose(SAMPLES["invitation"], "tr", body={})
    with pytest.raises(ValueError, match=r"\{provider\}"):
        _compose(SAMPLES["training_prescription"], "en", provider=None)


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match=r"models/templates/visa_decision\.json"):
        _compose(Sample("visa_decision", {"application_id": "R", "rule": "F4"}, "w", "k"), "fr")


@pytest.mark.rule("D3")
@pytest.mark.rule("E3")
@pytest.mark.rule("E4")
def test_paragraphs_follow_the_prescription() -> None:
    sample = SAMPLES["training_prescription"]
    language = _compose(sample, "fr")
    assert any("intégrée à ce module" in p for p in language.paragraphs)  # E4
    assert any("quarante heures" in p for p in language.paragraphs)  # D3
    assert any("au plus tard le 10 avril 2009" in p for p in language.paragraphs)  # B7
    values = _compose(sample, "fr", training="values", hours=3, integrates_values=False)
    text = " ".join(values.paragraphs)
    assert "demi-journée" in text and "la laïcité" in text  # E3
    assert "intégrée" not in text and "quarante" not in text
    no_deadline = _compose(sample, "fr", start_by=None)
    assert not any("au plus tard" in p for p in no_deadline.paragraphs)


@pytest.mark.rule("D2")
def test_the_scores_show_when_the_caller_gives_them() -> None:
    sample = SAMPLES["attestation_language_exemption"]
    assert not any("/70" in p for p in _compose(sample, "fr").paragraphs)
    scored = _compose(sample, "ar", oral_score=0, written_score=30, evaluated_on="2009-02-20")
    assert any("0/70" in p and "30/30" in p and "20/02/2009" in p for p in scored.paragraphs)


@pytest.mark.rule("A5")
def test_a_spouse_is_invited_to_contact_the_body_the_consulate_names() -> None:
    composed = _compose(SAMPLES["invitation"], "en", procedure="spouse_of_french")
    text = " ".join(composed.paragraphs)
    assert "French consulate in Rabat" in text and "receipt of your visa application" in text
    assert "family reunification" not in text


def test_dates_as_each_language_writes_them() -> None:
    assert format_date(date(2009, 8, 1), "fr") == "1er août 2009"
    assert format_date(date(2009, 8, 12), "fr") == "12 août 2009"
    assert format_date(date(2009, 2, 3), "tr") == "3 Şubat 2009"
    assert format_date(date(2009, 2, 3), "ar") == "03/02/2009"
    assert format_date(date(2009, 2, 3), "es") == "3 février 2009"  # untranslated: French


def test_the_french_colon_has_its_space() -> None:
    assert (
        _compose(SAMPLES["invitation"], "fr").details[0] == "Référence du dossier : RBT-2009-000123"
    )
    assert _compose(SAMPLES["invitation"], "en").details[0] == "File reference: RBT-2009-000123"


def test_the_verification_code_is_keyed_grouped_and_checkable() -> None:
    code = verification_code("visa-RBT-1", "000001.invitation.applicant", SECRET)
    assert re.fullmatch(r"[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}", code)
    assert code == verification_code("visa-RBT-1", "000001.invitation.applicant", SECRET)
    assert code != verification_code("visa-RBT-1", "000001.invitation.consulate", SECRET)
    assert code != verification_code("visa-RBT-1", "000001.invitation.applicant", b"other")
    check = verification_code_matches
    assert check("visa-RBT-1", "000001.invitation.applicant", code, SECRET)
    typed = code.replace("-", " ").lower()
    assert check("visa-RBT-1", "000001.invitation.applicant", typed, SECRET)
    assert not check("visa-RBT-2", "000001.invitation.applicant", code, SECRET)
    with pytest.raises(ValueError, match="secret"):
        verification_code("visa-RBT-1", "k", b"")


def test_the_reference_and_the_person_come_from_the_dossier() -> None:
    assert reference_of({"application_id": "RBT-1"}) == "RBT-1"
    assert reference_of({"contract_id": "CAI-1"}) == "CAI-1"
    with pytest.raises(ValueError):
        reference_of({})
    visa = {"applicant": {"full_name": "Amina El Idrissi"}}
    assert person_fields(visa) == {"full_name": "Amina El Idrissi"}
    assert person_fields({"signatory": {"full_name": "Mehmet Yılmaz"}}) == {
        "full_name": "Mehmet Yılmaz"
    }
    family = {"signatories": [{"person_id": "P1", "full_name": "A"}, {"person_id": "P2"}]}
    assert person_fields(family, "P1") == {"full_name": "A"}
    assert person_fields(family, "P2") == {} and person_fields({"erased": True}) == {}


# --- the check at start -------------------------------------------------------------------


def _texts(**changes: str | None) -> dict[str, str]:
    texts = _shipped_texts()
    for name, text in changes.items():
        if text is None:
            del texts[f"{name}.json"]
        else:
            texts[f"{name}.json"] = text
    return texts


def test_a_template_that_does_not_parse_is_named_with_its_line() -> None:
    broken = _shipped_texts()["attestation_values.json"].replace('"rules"', '"rules" "', 1)
    with pytest.raises(TemplateError, match=r"models/templates/attestation_values\.json:3: "):
        load_templates(_texts(attestation_values=broken))


def test_a_missing_template_is_named() -> None:
    with pytest.raises(TemplateError, match=r"training_attestation\.json: missing"):
        load_templates(_texts(training_attestation=None))
    with pytest.raises(TemplateError, match=r"_common\.json: missing"):
        load_templates(_texts(_common=None))


def test_a_translation_that_lacks_a_placeholder_is_named_with_its_line() -> None:
    text = _shipped_texts()["invitation.json"]
    turkish = text.index('"tr"')
    broken = text[:turkish] + text[turkish:].replace(" ({consulate})", "", 1)
    with pytest.raises(TemplateError, match=r"invitation\.json:(\d+): tr .*consulate") as e:
        load_templates(_texts(invitation=broken))
    line = int(re.search(r":(\d+):", str(e.value)).group(1))  # type: ignore[union-attr]
    assert '"tr"' in broken.splitlines()[line - 1]


def test_a_structural_fault_or_a_bad_placeholder_is_named() -> None:
    text = _shipped_texts()["parents_training_attestation.json"]
    no_title = text.replace('"title"', '"titel"', 1)
    with pytest.raises(TemplateError, match=r"\.json:(\d+): languages\.fr\.title: Field req") as e:
        load_templates(_texts(parents_training_attestation=no_title))
    line = int(re.search(r":(\d+):", str(e.value)).group(1))  # type: ignore[union-attr]
    assert '"fr"' in no_title.splitlines()[line - 1]
    bad_spec = text.replace("{attended_on:date}", "{attended_on:%d/%m}", 1)
    with pytest.raises(TemplateError, match=r":\d+: \{attended_on:%d/%m\}"):
        load_templates(_texts(parents_training_attestation=bad_spec))
    unbalanced = text.replace("{attestation_ref}", "{attestation_ref", 1)
    with pytest.raises(TemplateError, match=r"parents_training_attestation\.json:\d+: "):
        load_templates(_texts(parents_training_attestation=unbalanced))
    no_french = text.replace('"fr"', '"xx"', 1)
    with pytest.raises(TemplateError, match="no French block"):
        load_templates(_texts(parents_training_attestation=no_french))


@pytest.mark.rule("A4")
def test_every_letter_language_of_the_reference_data_has_every_letter() -> None:
    """A4: a letter is promised in a language only where it is written in it."""
    from models.reference import default_reference_data, merge_reference_data

    languages = set(merge_reference_data(default_reference_data(), {}).letter_languages)
    for kind in DOCUMENT_KINDS:
        assert languages <= template_languages(kind), kind
