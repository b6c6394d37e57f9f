"""What operators read (`models/operator_text.py`): every stage of every dossier kind, every
statutory delay and every event has words in French and in English naming the rule it comes
from, so a new stage, delay or event without them fails here; and a dossier's details and
the summaries render in each language while the codes stay the contract's."""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from pathlib import Path

import pytest

from models import history
from models.cai import CAI as CAI_KIND
from models.cai.state import CaiStage
from models.common import HeldInput
from models.dossier_kind import DossierKind
from models.family import FAMILY as FAMILY_KIND
from models.family.state import FamilyStage
from models.history import CORRECT_EVENT
from models.notifications import CATALOGUE, Recipient
from models.operator_text import (
    CAI,
    DEADLINES,
    EVENTS,
    FAMILY,
    KINDS,
    LANGUAGES,
    OPENINGS,
    PHRASES,
    STAGES,
    VISA,
    Label,
    Language,
    awaited_label,
    compact_rules,
    deadline_label,
    details_markdown,
    event_label,
    format_date,
    notification_label,
    recipient_label,
    stage_label,
    step_summary,
    timer_summary,
    undelivered_text,
)
from models.records import DossierView
from models.sessions import Service
from models.visa import VISA as VISA_KIND
from models.visa.state import _AWAITING_TEXT, Stage

# The rule catalogue's IDs (docs/rules.md): A1–A6, B1–B9, … J1.
RULE_COUNTS = {"A": 6, "B": 9, "C": 3, "D": 7, "E": 6, "F": 4, "G": 4, "H": 5, "I": 3, "J": 1}
RULE_IDS = {f"{letter}{n}" for letter, count in RULE_COUNTS.items() for n in range(1, count + 1)}
CORES: dict[str, DossierKind] = {  # type: ignore[type-arg]
    VISA: VISA_KIND,
    CAI: CAI_KIND,
    FAMILY: FAMILY_KIND,
}
STAGE_ENUMS: dict[str, type[StrEnum]] = {VISA: Stage, CAI: CaiStage, FAMILY: FamilyStage}
MODELS = Path(__file__).resolve().parents[2] / "models"
RULE_PACKAGES = {VISA: MODELS / "visa", CAI: MODELS / "cai", FAMILY: MODELS / "family"}


def _names_rules(label: Label) -> bool:
    """Every rule a label names is a rule of docs/rules.md (`A1–A6` counts its two ends)."""
    assert label.rule is not None
    named = re.findall(r"[A-J]\d+", label.rule)
    return bool(named) and set(named) <= RULE_IDS


def _both_languages(label: Label) -> None:
    assert label.fr.strip() and label.en.strip()


def _tracked_deadline_names(kind: str) -> set[str]:
    """The names of the statutory delays a kind's rules track, read from their source:
    `tracked_deadlines["name"]` and `tracked_deadlines[f"name.{detail}"]`."""
    source = "".join(module.read_text() for module in RULE_PACKAGES[kind].glob("*.py"))
    return set(re.findall(r'tracked_deadlines\[f?"([a-z_]+)', source))


@pytest.mark.rule("core")
@pytest.mark.parametrize("kind", KINDS)
def test_every_stage_has_words_in_both_languages_naming_its_rule(kind: str) -> None:
    labels = STAGES[kind]
    assert set(labels) == {stage.value for stage in STAGE_ENUMS[kind]}
    for label in labels.values():
        _both_languages(label)
        assert _names_rules(label), label


@pytest.mark.rule("core")
@pytest.mark.parametrize("kind", KINDS)
def test_every_statutory_delay_has_words_naming_its_rule(kind: str) -> None:
    tracked = _tracked_deadline_names(kind)
    assert tracked, "no tracked deadline found in the rules' source"
    assert tracked <= set(DEADLINES[kind]), tracked - set(DEADLINES[kind])
    for label in DEADLINES[kind].values():
        _both_languages(label)
        assert _names_rules(label), label


@pytest.mark.rule("core")
@pytest.mark.parametrize("kind", KINDS)
def test_every_event_has_words_naming_the_rule_its_model_applies(kind: str) -> None:
    core = CORES[kind]
    registered = core.events
    for event in history.event_names(core):
        label = EVENTS[event]
        _both_languages(label)
        if event == CORRECT_EVENT:
            continue  # a correction re-folds the facts: the corrected event's rule applies
        assert label.rule == registered[event].model.RULE, event
        assert _names_rules(label)
    opening = OPENINGS[kind]
    _both_languages(opening)
    assert _names_rules(opening)


@pytest.mark.rule("core")
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_timer_key_reads_with_its_rule(language: Language) -> None:
    keys = {
        VISA: [
            "evaluation_due",
            "prefecture_decision_due",
            "decision_suspension_ends",
            "training_start_due.language",
            "training_start_due.values",
            "training_end_due.language",
            "training_end_due.values",
        ],
        CAI: ["validity_ends", "skills_assessment_due", "reminder.2m", "reminder.1m"],
        FAMILY: ["parents_training_due", "validity_ends", "referral_window_ends"],
    }
    for kind, names in keys.items():
        for key in names:
            text = timer_summary(kind, key, language)
            assert re.search(r"\b[A-J]\d+ — ", text), text
            assert "_" not in text and "." not in text.split("—", 1)[1], text


@pytest.mark.rule("core")
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_awaited_item_reads_in_words_with_its_rule(language: Language) -> None:
    items = [text for texts in _AWAITING_TEXT.values() for text in texts]
    items += [
        "visa_application_filed from the consulate",
        "visa_decision from the consulate",
        "prefect_decision from the prefecture",
        "skills_assessment_convened (session planner)",
        "skills_assessment_completed",
        "service_completed (civic_training)",
        "service_completed (language_training)",
        "service_completed (vivre_en_france)",
        "conseil_general_referral from the prefecture (until 2027-03-12)",
        "parents_training_convened (signatory 1)",
        "parents_training_attended (signatory 2)",
    ]
    for item in items:
        text = awaited_label(item, language)
        assert "_" not in text, text
        assert re.search(r"\([A-J]\d+\)", text), text
    assert "(E3)" in awaited_label("training_prescribed (values)", language)
    assert "(D4)" in awaited_label("language_evaluation (re-evaluation)", language)


@pytest.mark.rule("core")
@pytest.mark.parametrize("language", LANGUAGES)
def test_notification_kinds_read_with_the_catalogues_titles(language: Language) -> None:
    for kind, entry in CATALOGUE.items():
        text = notification_label(kind.value, language)
        assert text.startswith(entry.title_fr if language == "fr" else entry.title_en)
    assert notification_label("deadline_digest", "fr") == "Relevé des échéances (B1–B8, H5)"
    for recipient in Recipient:
        assert recipient_label(recipient.value, language)


def test_fixed_phrases_exist_in_both_languages_with_the_same_blanks() -> None:
    for label in PHRASES.values():
        _both_languages(label)
        assert sorted(re.findall(r"{\w+}", label.fr)) == sorted(re.findall(r"{\w+}", label.en))


def test_rules_in_a_row_read_as_a_range() -> None:
    assert compact_rules(["B1", "B2", "B3", "H5"]) == "B1–B3, H5"
    assert compact_rules(["B1", "B3"]) == "B1, B3"
    assert compact_rules(["A4", "A5"]) == "A4, A5"


def test_dates_read_day_first_in_french() -> None:
    assert format_date(date(2027, 3, 12), "fr") == "12/03/2027"
    assert format_date(date(2027, 3, 12), "en") == "2027-03-12"


def _visa_view() -> DossierView:
    return DossierView(
        kind=VISA,
        reference="RBT-2027-000123",
        procedure="family_reunification",
        consulate="Rabat",
        country="MA",
        stage="awaiting_evaluation",
        next_deadline=date(2027, 3, 12),
        next_deadline_name="evaluation_due",
        awaiting=["language_evaluation", "values_evaluation"],
        overdue=["training_start_due.values"],
        version=1,
    )


def test_a_dossiers_details_read_in_french_by_default() -> None:
    details = details_markdown(_visa_view())
    assert details == "\n\n".join(
        [
            "**RBT-2027-000123** · regroupement familial · Rabat · MA",
            "Étape : **en attente de l'évaluation (langue, valeurs) (D1, E1)**",
            "Prochaine échéance : B1 — évaluation dans les 60 jours, le 12/03/2027",
            "Attendu : évaluation linguistique (D1), évaluation des valeurs de la République (E1)",
            "En retard : B7 — début de la formation dans les deux mois (valeurs)",
        ]
    )


@pytest.mark.rule("core")
def test_the_details_say_which_facts_are_held_and_what_they_wait_for() -> None:
    def held(event: str, seq: int) -> HeldInput:
        day = date(2027, 3, 1)
        return HeldInput(
            event=event, received_at="", reason="", seq=seq, dated=day, received_on=day
        )

    one = details_markdown(_visa_view(), "fr", [held("training_started", 4)])
    assert one.split("\n\n")[-1] == (
        "1 fait en attente : début de formation, attend la prescription"
    )
    two = details_markdown(
        _visa_view(), "en", [held("visa_decision", 5), held("training_prescribed", 6)]
    )
    assert two.split("\n\n")[-1] == (
        "2 facts held: visa decision, waiting for the visa application; "
        "training prescribed, waiting for the evaluation"
    )
    assert details_markdown(_visa_view()) == details_markdown(_visa_view(), "fr", [])


def test_a_dossiers_details_read_in_english_on_request() -> None:
    details = details_markdown(_visa_view(), "en")
    assert details.split("\n\n") == [
        "**RBT-2027-000123** · family reunification · Rabat · MA",
        "Stage: **awaiting the evaluation (language, values) (D1, E1)**",
        "Next deadline: B1 — evaluation within 60 days on 2027-03-12",
        "Awaiting: language evaluation (D1), evaluation of the values of the Republic (E1)",
        "Overdue: B7 — training starts within two months (values)",
    ]


def test_the_codes_stay_the_contracts() -> None:
    """Only what a person reads changes: the view keeps the codes it is stored and
    searched by."""
    view = _visa_view()
    details_markdown(view, "fr")
    assert view.stage == "awaiting_evaluation"
    assert view.awaiting == ["language_evaluation", "values_evaluation"]
    assert view.next_deadline_name == "evaluation_due"


def test_the_spouses_evaluation_delay_names_b3() -> None:
    view = _visa_view().model_copy(update={"procedure": "spouse_of_french"})
    assert "B3 — évaluation dans les 60 jours" in details_markdown(view)


def test_a_closed_dossiers_outcome_reads_in_words() -> None:
    view = _visa_view().model_copy(
        update={
            "stage": "visa_issued",
            "next_deadline": None,
            "awaiting": [],
            "overdue": [],
            "outcome": {"decision": "issued", "decided_on": "2027-05-02", "grounds": []},
        }
    )
    lines = details_markdown(view).split("\n\n")
    assert lines[1] == "Étape : **visa délivré (F1)**"
    assert lines[2] == "Issue : décision=délivré, décidé le=02/05/2027"
    assert details_markdown(view, "en").split("\n\n")[2] == (
        "Outcome: decision=issued, decided on=2027-05-02"
    )


def test_contract_stages_read_per_kind() -> None:
    assert stage_label(CAI, "closed", "fr") == "contrat clos (I1)"
    assert stage_label(FAMILY, "closed", "fr") == "suivi terminé (G1)"
    assert stage_label(CAI, "no_such_stage", "fr") == "no_such_stage"  # shown as it is
    assert deadline_label(CAI, "reminder.2m", "en") == (
        "H5 — reminder before the CAI ends (2 months before)"
    )


def test_step_summaries_name_the_event_its_rule_and_what_was_said() -> None:
    said = ["evaluation_results", "attestation_values"]
    assert step_summary("language_evaluation", False, said, "fr") == (
        "accepté : évaluation linguistique (D1) → "
        "Attestation de connaissance des valeurs de la République (E2), "
        "Résultats de l'évaluation (B6)"
    )
    assert step_summary("visa_decision", True, [], "en") == "visa decision (F1) rejected"
    assert step_summary(
        "deadline:evaluation_due", False, ["evaluation_overdue"], "fr", VISA, "spouse_of_french"
    ) == (
        "échéance passée : B3 — évaluation dans les 60 jours → "
        "Évaluation non réalisée dans les soixante jours (B1, B3)"
    )
    assert event_label("start", "en", FAMILY) == "contract opened (G1)"


def test_timer_and_undelivered_texts() -> None:
    assert timer_summary(VISA, "evaluation_due", "fr", "family_reunification") == (
        "échéance : B1 — évaluation dans les 60 jours"
    )
    assert timer_summary(VISA, "evaluation_due", "en", "family_reunification") == (
        "deadline passes: B1 — evaluation within 60 days"
    )
    assert undelivered_text(3, 1, "fr") == "Notifications non remises : 3 (refusées : 1)"
    assert undelivered_text(2, 0, "en") == "Undelivered notifications: 2"


def test_session_services_name_their_rules() -> None:
    from models.operator_text import SERVICES

    assert set(SERVICES) == {service.value for service in Service}
    assert all(_names_rules(label) for label in SERVICES.values())
