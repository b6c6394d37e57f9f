"""A1–A6: who is concerned, where and since when, who runs the scheme, the first letters."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from models.common import Recipient
from models.errors import InputRejected
from models.reference import BodyKind
from models.visa.state import Stage
from tests.unit.builders import (
    DELEGATE_COUNTRY,
    DELEGATE_ENTRY,
    FILED,
    application,
    delegate_reference,
    due_timer,
    language_evaluation,
    open_,
    pairs,
    reference,
    send,
    spouse_application,
    to_applicant,
    unchanged_but_seq,
)

# --- A1: age in completed years when the dossier opens ---------------------------------
# Family reunification: at the complete file (12 January 2009); a spouse of a French
# national: at the visa application (2 February 2009).


def family_aged(birth_date: str) -> dict[str, object]:
    return application(applicant={"birth_date": birth_date})


@pytest.mark.rule("A1")
def test_family_member_the_day_before_the_16th_birthday_is_not_subject() -> None:
    step = open_(family_aged("1993-01-13"))  # 16 on 13 January 2009, complete file the 12th
    assert step.state.subject is False
    assert step.state.stage == Stage.NOT_SUBJECT
    assert step.state.not_subject_reason is not None
    assert step.state.not_subject_reason.startswith("A1:")
    # Only the window for corrections of the opening facts runs (A1, A2).
    assert list(step.state.tracked_deadlines) == ["correction_window_ends"]
    assert pairs(step) == {("not_subject", Recipient.CONSULATE)}


@pytest.mark.rule("A1")
def test_family_member_on_the_16th_birthday_is_subject() -> None:
    step = open_(family_aged("1993-01-12"))
    assert step.state.subject is True
    assert step.state.stage == Stage.AWAITING_EVALUATION
    assert ("invitation", Recipient.APPLICANT) in pairs(step)


@pytest.mark.rule("A1")
def test_family_member_the_day_before_the_65th_birthday_is_subject() -> None:
    step = open_(family_aged("1944-01-13"))  # still 64 on 12 January 2009
    assert step.state.subject is True
    assert step.state.stage == Stage.AWAITING_EVALUATION


@pytest.mark.rule("A1")
def test_family_member_on_the_65th_birthday_is_not_subject() -> None:
    step = open_(family_aged("1944-01-12"))
    assert step.state.subject is False
    assert step.state.not_subject_reason is not None
    assert step.state.not_subject_reason.startswith("A1:")
    assert pairs(step) == {("not_subject", Recipient.CONSULATE)}


@pytest.mark.rule("A1")
def test_family_age_is_taken_at_the_complete_file_date_not_the_visa_application_date() -> None:
    # 16 on 20 January 2009: under 16 at the complete file (12 Jan), 16 when filing (2 Feb).
    step = open_(application(applicant={"birth_date": "1993-01-20"}))
    assert step.state.subject is False
    assert step.state.not_subject_reason is not None
    assert "complete-file date" in step.state.not_subject_reason
    # A spouse of the same age is judged at the visa application: 65 on 20 January.
    spouse = open_(spouse_application(applicant={"birth_date": "1944-01-20"}))
    assert spouse.state.subject is False
    assert spouse.state.not_subject_reason is not None
    assert "visa application date" in spouse.state.not_subject_reason


@pytest.mark.rule("A1")
def test_spouse_of_a_french_national_has_no_minimum_age() -> None:
    step = open_(spouse_application(applicant={"birth_date": "1993-06-01"}))  # 15
    assert step.state.subject is True


@pytest.mark.rule("A1")
def test_spouse_the_day_before_and_on_the_65th_birthday() -> None:
    assert open_(spouse_application(applicant={"birth_date": "1944-02-03"})).state.subject
    step = open_(spouse_application(applicant={"birth_date": "1944-02-02"}))
    assert step.state.subject is False
    assert step.state.not_subject_reason is not None
    assert step.state.not_subject_reason.startswith("A1:")
    assert pairs(step) == {("not_subject", Recipient.CONSULATE)}


@pytest.mark.rule("A1")
def test_the_consulate_is_told_why_the_applicant_is_not_subject() -> None:
    step = open_(family_aged("1993-01-13"))
    [note] = step.notifications
    assert note.kind == "not_subject"
    assert note.recipient == Recipient.CONSULATE
    assert note.rule == "A1"
    # "the consulate is told why": the notification itself carries the reason.
    assert step.state.not_subject_reason in note.payload.values()


@pytest.mark.rule("A1")
def test_a_not_subject_dossier_has_no_timer_and_refuses_evaluations_citing_a1() -> None:
    opened = open_(family_aged("1993-01-13"))
    timer = due_timer(opened.state)  # only the end of the correction window
    assert timer is not None and timer.key == "correction_window_ends"
    step = send(opened.state, *language_evaluation(date(2009, 2, 20)))
    assert step.rejection is not None
    assert step.notifications == []
    assert unchanged_but_seq(opened.state, step.state)
    assert step.rejection.rule == "A1"
    assert step.rejection.reason.startswith("A1:")


# --- A2: from 1 December 2008, country by country --------------------------------------


@pytest.mark.rule("A2")
def test_filed_the_day_before_the_scheme_starts_in_the_country_is_not_subject() -> None:
    # Tunisia: the scheme starts on 1 January 2009.
    step = open_(
        application(
            country_of_residence="TN",
            visa_application_date="2008-12-31",
            complete_file_date="2008-12-20",
        )
    )
    assert step.state.subject is False
    assert step.state.not_subject_reason is not None
    assert step.state.not_subject_reason.startswith("A2:")
    assert pairs(step) == {("not_subject", Recipient.CONSULATE)}
    assert step.notifications[0].rule == "A2"


@pytest.mark.rule("A2")
def test_filed_on_the_day_the_scheme_starts_in_the_country_is_subject() -> None:
    step = open_(
        application(
            country_of_residence="TN",
            visa_application_date="2009-01-01",
            complete_file_date="2008-12-20",
        )
    )
    assert step.state.subject is True


@pytest.mark.rule("A2")
def test_first_countries_start_on_1_december_2008() -> None:
    before = open_(application(visa_application_date="2008-11-30", complete_file_date="2008-11-20"))
    on = open_(application(visa_application_date="2008-12-01", complete_file_date="2008-11-20"))
    assert before.state.subject is False
    assert on.state.subject is True


@pytest.mark.rule("A2")
def test_a_country_missing_from_the_registry_is_not_subject() -> None:
    step = open_(application(country_of_residence="DZ"))
    assert step.state.subject is False
    assert step.state.not_subject_reason is not None
    assert step.state.not_subject_reason.startswith("A2:")
    assert "DZ" in step.state.not_subject_reason
    assert pairs(step) == {("not_subject", Recipient.CONSULATE)}


@pytest.mark.rule("A2")
def test_a_country_without_a_start_date_is_not_subject() -> None:
    entry = {**DELEGATE_ENTRY, "scheme_starts_on": None}
    ref = reference({"countries": {DELEGATE_COUNTRY: entry}})
    step = open_(application(country_of_residence=DELEGATE_COUNTRY), ref)
    assert step.state.subject is False
    assert step.state.not_subject_reason is not None
    assert step.state.not_subject_reason.startswith("A2:")


@pytest.mark.rule("A2")
def test_a_delegate_country_is_added_by_configuration() -> None:
    ref = delegate_reference()
    before = open_(
        application(
            country_of_residence=DELEGATE_COUNTRY,
            visa_application_date="2009-01-14",
            complete_file_date="2009-01-05",
        ),
        ref,
    )
    on = open_(
        application(
            country_of_residence=DELEGATE_COUNTRY,
            visa_application_date="2009-01-15",
            complete_file_date="2009-01-05",
        ),
        ref,
    )
    assert before.state.subject is False
    assert on.state.subject is True


@pytest.mark.rule("A2")
def test_no_registry_entry_can_open_the_scheme_before_1_december_2008() -> None:
    """The circular applies to applications filed on or after 1 December 2008: a registry
    entry dated earlier is either refused as configuration or cannot widen the scope."""
    entry = {**DELEGATE_ENTRY, "scheme_starts_on": "2008-10-01"}
    try:
        ref = reference({"countries": {DELEGATE_COUNTRY: entry}})
    except ValidationError:
        return  # the registry itself refuses a start before the statutory date
    step = open_(
        application(
            country_of_residence=DELEGATE_COUNTRY,
            visa_application_date="2008-11-30",
            complete_file_date="2008-11-20",
        ),
        ref,
    )
    assert step.state.subject is False
    assert step.state.stage == Stage.NOT_SUBJECT


# --- A3: the responsible body ----------------------------------------------------------


@pytest.mark.rule("A3")
@pytest.mark.parametrize(
    ("country", "body_name"),
    [
        ("MA", "OFII Rabat"),
        ("TN", "OFII Tunis"),
        ("TR", "OFII Ankara"),
        ("SN", "OFII Dakar"),
        ("ML", "OFII Bamako"),
        ("CA", "OFII Montréal"),
    ],
)
def test_the_ofii_representation_is_responsible_where_one_exists(
    country: str, body_name: str
) -> None:
    state = open_(application(country_of_residence=country)).state
    assert state.responsible_body is not None
    assert state.responsible_body.kind == BodyKind.OFII_REPRESENTATION
    assert state.responsible_body.country == country
    assert state.responsible_body.name == body_name


@pytest.mark.rule("A3")
def test_the_delegated_organisation_is_responsible_elsewhere() -> None:
    state = open_(application(country_of_residence=DELEGATE_COUNTRY), delegate_reference()).state
    assert state.responsible_body is not None
    assert state.responsible_body.kind == BodyKind.DELEGATE
    assert state.responsible_body.name == DELEGATE_ENTRY["body_name"]


@pytest.mark.rule("A3")
def test_a_not_subject_dossier_has_no_responsible_body() -> None:
    state = open_(application(country_of_residence="DZ")).state
    assert state.responsible_body is None


# --- A4: the invitation letter, in a language the beneficiary understands --------------


@pytest.mark.rule("A4")
def test_family_reunification_invites_the_applicant_only() -> None:
    step = open_()
    assert pairs(step) == {("invitation", Recipient.APPLICANT)}
    note = to_applicant(step, "invitation")
    assert note.rule == "A4"
    assert note.payload["body"]["kind"] == "ofii_representation"
    assert note.payload["body"]["name"] == "OFII Rabat"


@pytest.mark.rule("A4")
def test_the_letter_is_in_the_first_declared_language_with_a_translation() -> None:
    step = open_(application(applicant={"languages": ["ber", "tr", "ar"]}))
    note = to_applicant(step, "invitation")
    assert note.language == "tr"
    assert note.payload["language_fallback"] is False
    assert step.state.letter_language == "tr"
    assert step.state.letter_language_fallback is False


@pytest.mark.rule("A4")
def test_declared_order_decides_between_two_translated_languages() -> None:
    assert (
        to_applicant(
            open_(application(applicant={"languages": ["en", "ar"]})), "invitation"
        ).language
        == "en"
    )
    assert (
        to_applicant(
            open_(application(applicant={"languages": ["ar", "en"]})), "invitation"
        ).language
        == "ar"
    )


@pytest.mark.rule("A4")
def test_french_declared_is_not_a_fallback() -> None:
    note = to_applicant(open_(application(applicant={"languages": ["ber", "fr"]})), "invitation")
    assert note.language == "fr"
    assert note.payload["language_fallback"] is False


@pytest.mark.rule("A4")
def test_no_translated_language_holds_the_letter_and_tells_ofii() -> None:
    step = open_(application(applicant={"languages": ["ber", "kab"]}))
    # Never French to a person who did not declare it: the invitation is held.
    assert [n.recipient for n in step.notifications] == [Recipient.OFII]
    [held] = step.notifications
    assert (held.kind, held.rule) == ("translation_needed", "A4")
    assert held.payload["held_kind"] == "invitation"
    assert held.payload["declared_languages"] == ["ber", "kab"]
    assert held.payload["held_payload"]["full_name"] == "Amina El Idrissi"
    assert step.state.letters_held is True


@pytest.mark.rule("A4")
def test_letter_languages_are_configuration() -> None:
    ref = reference({"letter_languages": ["fr", "ber"]})
    note = to_applicant(
        open_(application(applicant={"languages": ["ber", "ar"]}), ref), "invitation"
    )
    assert note.language == "ber"
    assert note.payload["language_fallback"] is False


# --- A5: spouse of a French national ---------------------------------------------------


@pytest.mark.rule("A5")
def test_spouse_gets_a_translated_invitation_and_ofii_a_copy_of_the_visa_application() -> None:
    step = open_(spouse_application(applicant={"languages": ["tr"]}))
    assert pairs(step) == {
        ("invitation", Recipient.APPLICANT),
        ("visa_application_copy", Recipient.OFII),
    }
    invitation = to_applicant(step, "invitation")
    assert invitation.rule == "A5"
    assert invitation.language == "tr"
    assert invitation.payload["language_fallback"] is False
    [copy] = [note for note in step.notifications if note.kind == "visa_application_copy"]
    assert copy.rule == "A5"
    assert copy.language is None
    assert copy.payload["visa_application_date"] == FILED.isoformat()


@pytest.mark.rule("A5")
def test_spouse_invitation_names_the_delegate_where_there_is_no_representation() -> None:
    step = open_(spouse_application(country_of_residence=DELEGATE_COUNTRY), delegate_reference())
    invitation = to_applicant(step, "invitation")
    assert invitation.payload["body"]["kind"] == "delegate"
    assert invitation.payload["body"]["name"] == DELEGATE_ENTRY["body_name"]
    assert ("visa_application_copy", Recipient.OFII) in pairs(step)


# --- A6: spouse residing in France, married over six months -----------------------------


@pytest.mark.rule("A6")
def test_spouse_residing_in_france_is_routed_to_the_cai_in_france() -> None:
    step = open_(spouse_application(resides_in_france_married_over_6_months=True))
    state = step.state
    assert state.subject is False
    assert state.stage == Stage.ROUTED_TO_CAI_IN_FRANCE
    assert state.not_subject_reason is not None
    assert state.not_subject_reason.startswith("A6:")
    # No evaluation abroad: no deadline, no timer, no invitation to an evaluation.
    assert state.tracked_deadlines == {}
    assert due_timer(state) is None
    assert ("invitation", Recipient.APPLICANT) not in pairs(step)
    assert all(note.recipient != Recipient.APPLICANT for note in step.notifications)


@pytest.mark.rule("A6")
def test_a6_applies_even_where_the_scheme_does_not_run_abroad() -> None:
    step = open_(
        spouse_application(resides_in_france_married_over_6_months=True, country_of_residence="DZ")
    )
    assert step.state.stage == Stage.ROUTED_TO_CAI_IN_FRANCE


@pytest.mark.rule("A6")
def test_a_routed_spouse_is_never_asked_to_be_evaluated_abroad() -> None:
    opened = open_(spouse_application(resides_in_france_married_over_6_months=True))
    step = send(opened.state, *language_evaluation(date(2009, 2, 20)))
    assert step.rejection is not None
    assert step.notifications == []
    assert unchanged_but_seq(opened.state, step.state)
    assert step.state.stage == Stage.ROUTED_TO_CAI_IN_FRANCE
    assert step.rejection.rule == "A6"


@pytest.mark.rule("A6")
def test_a_spouse_not_residing_in_france_is_evaluated_abroad() -> None:
    step = open_(spouse_application(resides_in_france_married_over_6_months=False))
    assert step.state.subject is True
    assert step.state.stage == Stage.AWAITING_EVALUATION


@pytest.mark.rule("A6")
def test_the_a6_flag_is_refused_on_a_family_reunification_application() -> None:
    with pytest.raises(InputRejected) as caught:
        open_(application(resides_in_france_married_over_6_months=True))
    assert caught.value.rule == "A6"
    assert caught.value.field == "resides_in_france_married_over_6_months"
    assert caught.value.reason.startswith("A6: resides_in_france_married_over_6_months")
