"""The CAI in France, rule by rule (H1–H5, I1–I3, G1–G4), on the pure core."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from models import history
from models.cai import CAI
from models.cai.state import CaiState
from models.core import Step
from models.errors import InputRejected
from models.family import FAMILY
from models.family.state import FamilyState
from models.reference import ReferenceData, default_reference_data, merge_reference_data

SIGNED = date(2009, 3, 2)
REFERENCE: ReferenceData = merge_reference_data(default_reference_data(), {})


def contract(**overrides: Any) -> dict[str, Any]:
    signatory = {
        "full_name": "Mehmet Yilmaz",
        "birth_date": "1980-05-01",
        "nationality": "TR",
        "languages": ["tr"],
    }
    signatory.update(overrides.pop("signatory", {}))
    raw: dict[str, Any] = {
        "contract_id": "CAI-75-2009-000042",
        "signatory": signatory,
        "prefecture": "Paris",
        "platform": "OFII Paris",
        "signed_on": SIGNED.isoformat(),
        "residence_permit_basis": "L.313-11",
        "in_school": False,
        "prescriptions": {
            "civic_training": True,
            "vivre_en_france": True,
            "language_training_hours": 120,
            "dilf_required": False,
        },
        "visa_application_id": "RBT-2009-000123",
    }
    raw.update(overrides)
    return raw


def opened(**overrides: Any) -> CaiState:
    raw = contract(**overrides)
    return history.open_dossier(CAI, raw, REFERENCE, SIGNED, f"cai-{raw['contract_id']}").state


def event_day(payload: dict[str, Any]) -> date:
    """The date an event carries (its `*_on` field)."""
    [day] = [value for key, value in payload.items() if key.endswith("_on")]
    return date.fromisoformat(day)


def feed(
    state: CaiState, *events: tuple[str, dict[str, Any]], day: date | None = None
) -> Step[CaiState]:
    """Feed events, each received on `day`, by default on the date it carries: the day an
    event arrives moves the dossier's clock, and the delays run out by then pass."""
    step: Step[CaiState] = Step(state)
    for name, payload in events:
        received = day or event_day(payload)
        step = history.receive(CAI, step.state, name, payload, REFERENCE, received, "t")
    return step


CONVENE = (
    "skills_assessment_convened",
    {"session_id": "S1", "session_on": "2009-03-10", "platform": "OFII Paris"},
)


@pytest.mark.rule("H1")
def test_every_signatory_is_prescribed_the_assessment_and_convened_once() -> None:
    state = opened()
    assert state.skills_assessment.status == "awaiting_convocation"
    assert "skills_assessment_due" in state.deadlines
    step = feed(state, CONVENE)
    assert [(n.kind, n.recipient.value, n.language) for n in step.notifications] == [
        ("skills_assessment_convocation", "applicant", "tr")
    ]
    again = feed(
        step.state,
        (
            "skills_assessment_convened",
            {"session_id": "S2", "session_on": "2009-03-11", "platform": "OFII Paris"},
        ),
    )
    # Held, not refused: an absence from the pending session may still come (H1, core).
    assert again.rejection is None and again.held is not None
    assert again.held.reason.startswith("H1: session_id: already convened")
    assert len(again.state.skills_assessment.convocations) == 1


@pytest.mark.rule("H2")
@pytest.mark.parametrize(
    ("overrides", "exempt"),
    [
        ({"signatory": {"birth_date": "1954-03-03"}}, False),  # 54 on signing
        ({"signatory": {"birth_date": "1954-03-02"}}, True),  # 55th birthday reached
        ({"signatory": {"birth_date": "1991-03-03"}, "in_school": True}, True),  # 17, in school
        ({"signatory": {"birth_date": "1991-03-03"}, "in_school": False}, False),
        ({"signatory": {"birth_date": "1991-03-02"}, "in_school": True}, False),  # 18
        ({"residence_permit_basis": "L.313-10"}, True),
        ({"residence_permit_basis": "l313-8"}, True),
        ({"residence_permit_basis": "L.313-9"}, True),
        ({"residence_permit_basis": "L.313-11"}, False),
    ],
)
def test_statutory_exemptions_follow_from_the_contract(
    overrides: dict[str, Any], exempt: bool
) -> None:
    state = opened(**overrides)
    assert (state.skills_assessment.status == "exempt") is exempt
    assert ("skills_assessment_due" in state.deadlines) is not exempt


@pytest.mark.rule("H2")
def test_already_employed_is_exempted_on_proof() -> None:
    step = feed(
        opened(),
        (
            "skills_assessment_exemption",
            {"decided_on": "2009-03-05", "ground": "already_employed", "proof_ref": "P-1"},
        ),
    )
    assert step.state.skills_assessment.status == "exempt"
    refused = feed(
        opened(),
        (
            "skills_assessment_exemption",
            {"decided_on": "2009-03-05", "ground": "looking", "proof_ref": "P-1"},
        ),
    )
    assert refused.rejection is not None and refused.rejection.reason.startswith("H2: ground:")


@pytest.mark.rule("H3")
@pytest.mark.rule("H4")
def test_three_hours_at_most_and_the_result_to_france_travail_and_the_signatory() -> None:
    state = feed(opened(), CONVENE).state
    too_long = feed(
        state,
        (
            "skills_assessment_completed",
            {"completed_on": "2009-03-10", "duration_hours": 3.25, "report_ref": "R"},
        ),
    )
    assert too_long.rejection is not None and too_long.rejection.rule == "H3"
    done = feed(
        state,
        (
            "skills_assessment_completed",
            {"completed_on": "2009-03-10", "duration_hours": 3, "report_ref": "R"},
        ),
    )
    assert [(n.kind, n.recipient.value, n.language) for n in done.notifications] == [
        ("skills_assessment_copy", "france_travail", None),
        ("skills_assessment_result", "applicant", "tr"),  # H4: the signatory's own copy
    ]
    [copy, result] = done.notifications
    assert {k: result.payload[k] for k in ("completed_on", "report_ref", "duration_hours")} == {
        k: copy.payload[k] for k in ("completed_on", "report_ref", "duration_hours")
    }
    assert result.payload["full_name"] == "Mehmet Yilmaz"


@pytest.mark.rule("H5")
def test_assessment_takes_place_within_the_year() -> None:
    state = opened()
    assert state.validity_ends == date(2010, 3, 2)
    late = feed(
        state,
        (
            "skills_assessment_convened",
            {"session_id": "S1", "session_on": "2010-03-03", "platform": "OFII Paris"},
        ),
        day=date(2010, 2, 1),  # planned a month ahead, for a day after the year
    )
    assert late.rejection is not None and late.rejection.reason.startswith("H5: session_on:")
    timer = history.due_timer(CAI, state)
    assert timer is not None and timer.key == "reminder.2m" and timer.fire_on == date(2010, 1, 2)


def at_end(state: CaiState) -> CaiState:
    for key in ("skills_assessment_due", "validity_ends"):
        if key in state.tracked_deadlines:
            state = history.on_deadline(CAI, state, date(2010, 3, 3)).state
    return state


@pytest.mark.rule("I1")
@pytest.mark.rule("I2")
def test_proposal_terminates_on_an_unexcused_absence_extends_for_language_closes_otherwise() -> (
    None
):
    absent = feed(
        opened(),
        (
            "absence",
            {"service": "vivre_en_france", "absent_on": "2009-04-01", "legitimate_reason": None},
        ),
    )
    assert at_end(absent.state).proposal is not None
    assert at_end(absent.state).proposal.proposal == "terminate"  # type: ignore[union-attr]
    excused = feed(
        opened(),
        (
            "absence",
            {
                "service": "vivre_en_france",
                "absent_on": "2009-04-01",
                "legitimate_reason": "illness",
            },
        ),
        (
            "language_training_status",
            {"status": "deferred", "reason": "maternity", "reported_on": "2009-06-01"},
        ),
    )
    assert at_end(excused.state).proposal.proposal == "extend"  # type: ignore[union-attr]
    exempt = opened(
        prescriptions={
            "civic_training": False,
            "vivre_en_france": False,
            "language_training_hours": 0,
            "dilf_required": False,
        },
        residence_permit_basis="L.313-10",
    )
    assert at_end(exempt).proposal.proposal == "close"  # type: ignore[union-attr]


@pytest.mark.rule("I1")
def test_the_prefect_rules_only_on_the_proposal_and_extends_only_for_language() -> None:
    early = feed(opened(), ("prefect_decision", {"decision": "close", "decided_on": "2009-06-01"}))
    assert early.rejection is not None and early.rejection.rule == "I1"
    state = at_end(opened())
    refused = feed(
        state,
        (
            "prefect_decision",
            {"decision": "extend", "decided_on": "2010-03-05", "extended_until": "2010-09-01"},
        ),
    )
    assert refused.rejection is not None and refused.rejection.reason.startswith(
        "I1: decision: an extension"
    )


@pytest.mark.rule("I3")
def test_termination_is_notified_with_its_consequence_for_the_residence_card() -> None:
    step = feed(
        at_end(opened()),
        ("prefect_decision", {"decision": "terminate", "decided_on": "2010-03-05"}),
    )
    assert step.state.stage == "terminated"
    [note] = step.notifications
    assert (note.kind, note.recipient.value, note.rule) == ("cai_terminated", "prefecture", "I3")
    assert "first residence card" in note.payload["consequence"]


def family(**overrides: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "contract_id": "CAIF-75-2009-000007",
        "prefecture": "Paris",
        "platform": "OFII Paris",
        "signed_on": SIGNED.isoformat(),
        "signatories": [{"person_id": "P1", "full_name": "Ayse Demir", "languages": ["tr"]}],
        "children": [
            {
                "child_id": "C1",
                "birth_date": "1993-03-03",
                "admitted_through_family_reunification": True,
            }
        ],
    }
    raw.update(overrides)
    return raw


def open_family(**overrides: Any) -> FamilyState:
    raw = family(**overrides)
    return history.open_dossier(FAMILY, raw, REFERENCE, SIGNED, f"caif-{raw['contract_id']}").state


@pytest.mark.rule("G1")
def test_family_contract_needs_a_child_under_16_through_reunification_from_2009() -> None:
    assert open_family().children_of_school_age == ["C1"]  # 15 on signing
    with pytest.raises(InputRejected, match=r"^G1: children:"):
        open_family(
            children=[
                {
                    "child_id": "C1",
                    "birth_date": "1993-03-02",  # 16 on signing
                    "admitted_through_family_reunification": True,
                }
            ]
        )
    with pytest.raises(InputRejected, match=r"^G1: signed_on:"):
        open_family(signed_on="2008-12-31")


@pytest.mark.rule("G3")
def test_breaches_are_for_children_of_compulsory_school_age() -> None:
    state = open_family(
        children=[
            {
                "child_id": "C1",
                "birth_date": "2003-03-03",
                "admitted_through_family_reunification": True,
            }
        ]
    )
    five = history.receive(
        FAMILY,
        state,
        "school_attendance_breach",
        {"child_id": "C1", "reported_on": "2009-03-02", "detail": "d"},
        REFERENCE,
        SIGNED,
        "t",
    )
    assert five.rejection is not None and five.rejection.rule == "G3"
    six = history.receive(
        FAMILY,
        state,
        "school_attendance_breach",
        {"child_id": "C1", "reported_on": "2009-03-03", "detail": "d"},
        REFERENCE,
        date(2009, 3, 3),
        "t",
    )
    assert [(n.kind, n.recipient.value) for n in six.notifications] == [
        ("school_attendance_breach", "prefecture")
    ]
