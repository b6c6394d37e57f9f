"""J1: the sections of the weekly report to the ministries, from the register's dossiers
counted by the columns the report reads."""

from __future__ import annotations

from typing import Any

import pytest

from models.reporting import (
    DEADLINE_MISSED_KINDS,
    REPORT_SECTIONS,
    DossierTally,
    report_rows,
    report_sections,
)

ZEROS = dict.fromkeys(DEADLINE_MISSED_KINDS, 0)


def tally(dossiers: int = 1, **columns: Any) -> DossierTally:
    return DossierTally.model_validate(
        {"kind": "visa_application", "stage": "awaiting_evaluation", "dossiers": dossiers} | columns
    )


@pytest.mark.rule("J1")
def test_an_empty_register_reports_every_section_and_a_zero_per_missed_deadline() -> None:
    sections = report_sections([])
    assert list(sections) == list(REPORT_SECTIONS)
    assert sections == {name: {} for name in REPORT_SECTIONS} | {"deadlines_missed": ZEROS}


@pytest.mark.rule("J1")
def test_stage_is_counted_by_kind_and_stage_and_leaves_out_opening_dossiers() -> None:
    sections = report_sections(
        [
            tally(2, stage="awaiting_training"),
            tally(1, stage="awaiting_training", country="SN", overdue=True),
            tally(3, kind="cai_contract", stage="awaiting_skills_assessment"),
            tally(4, stage="opening", country="MA"),
        ]
    )
    assert sections["stage"] == {
        "cai_contract:awaiting_skills_assessment": 3,
        "visa_application:awaiting_training": 3,
    }
    # An opening dossier is still counted where it has a country.
    assert sections["country"] == {"MA": 4, "SN": 1}


@pytest.mark.rule("J1")
def test_country_and_procedure_leave_out_dossiers_without_one() -> None:
    sections = report_sections(
        [
            tally(3, country="MA", procedure="family_reunification"),
            tally(2, kind="cai_contract", procedure="cai"),
            tally(1, country="MA", procedure="spouse_of_french_national"),
            tally(5),
            tally(1, country="", procedure=""),
        ]
    )
    assert sections["country"] == {"MA": 4}
    assert sections["procedure"] == {
        "cai": 2,
        "family_reunification": 3,
        "spouse_of_french_national": 1,
    }


@pytest.mark.rule("J1")
def test_open_overdue_counts_open_overdue_dossiers_only() -> None:
    sections = report_sections(
        [
            tally(2, overdue=True),
            tally(1, overdue=True, closed=True),
            tally(4, overdue=False),
            tally(1, kind="cai_contract", stage="awaiting_decision", overdue=True),
            tally(3, kind="cai_contract", stage="closed", overdue=True, closed=True),
        ]
    )
    assert sections["open_overdue"] == {"cai_contract": 1, "visa_application": 2}


@pytest.mark.rule("J1")
def test_deadlines_missed_counts_each_missed_kind_of_each_dossier() -> None:
    sections = report_sections(
        [
            tally(1, deadlines_missed=["evaluation_overdue", "sursis_expired"]),
            tally(2, deadlines_missed=["evaluation_overdue"]),
            tally(
                1,
                kind="cai_contract",
                stage="awaiting_decision",
                deadlines_missed=["skills_assessment_overdue"],
                closed=True,
            ),
            tally(3),
        ]
    )
    assert sections["deadlines_missed"] == ZEROS | {
        "evaluation_overdue": 3,
        "sursis_expired": 1,
        "skills_assessment_overdue": 1,
    }
    assert sections["deadlines_missed"]["training_overrun"] == 0
    assert sections["deadlines_missed"]["parents_training_missed"] == 0


@pytest.mark.rule("J1")
def test_a_kind_outside_the_known_ones_is_reported_beside_them() -> None:
    sections = report_sections([tally(1, deadlines_missed=["later_kind"])])
    assert sections["deadlines_missed"] == ZEROS | {"later_kind": 1}


@pytest.mark.rule("J1")
def test_exemptions_and_trainings_count_each_member_of_each_dossier() -> None:
    sections = report_sections(
        [
            tally(2, exemptions=["language_test", "values_test"], trainings=["values"]),
            tally(1, exemptions=["language_test"], trainings=["language", "values"]),
            tally(
                3,
                kind="cai_contract",
                stage="awaiting_decision",
                exemptions=["skills_assessment"],
            ),
            tally(4),
        ]
    )
    assert sections["exemptions_granted"] == {
        "language_test": 3,
        "skills_assessment": 3,
        "values_test": 2,
    }
    assert sections["trainings_prescribed"] == {"language": 1, "values": 3}


@pytest.mark.rule("J1")
def test_facts_corrected_sums_the_corrections_of_each_kind() -> None:
    sections = report_sections(
        [
            tally(2, corrections=3),
            tally(1, corrections=1, closed=True),
            tally(5, corrections=0),
            tally(1, kind="cai_family_contract", stage="awaiting_decision", corrections=2),
            tally(1, kind="cai_contract", stage="awaiting_decision", corrections=0),
        ]
    )
    assert sections["facts_corrected"] == {"cai_family_contract": 2, "visa_application": 7}


@pytest.mark.rule("J1")
def test_the_sections_of_a_register_read_as_the_csv_rows() -> None:
    sections = report_sections(
        [
            tally(
                1,
                country="MA",
                procedure="family_reunification",
                overdue=True,
                deadlines_missed=["evaluation_overdue", "training_start_overdue"],
                exemptions=["language_test"],
                trainings=["values"],
                corrections=1,
            ),
            tally(1, stage="opening", closed=True, overdue=True, country="MA"),
        ]
    )
    assert report_rows(sections) == [
        ("stage", "visa_application:awaiting_evaluation", 1),
        ("country", "MA", 2),
        ("procedure", "family_reunification", 1),
        ("open_overdue", "visa_application", 1),
        ("deadlines_missed", "evaluation_overdue", 1),
        ("deadlines_missed", "evaluation_results", 0),
        ("deadlines_missed", "parents_training_missed", 0),
        ("deadlines_missed", "skills_assessment_overdue", 0),
        ("deadlines_missed", "sursis_expired", 0),
        ("deadlines_missed", "training_overrun", 0),
        ("deadlines_missed", "training_start_overdue", 1),
        ("exemptions_granted", "language_test", 1),
        ("trainings_prescribed", "values", 1),
        ("facts_corrected", "visa_application", 1),
    ]
