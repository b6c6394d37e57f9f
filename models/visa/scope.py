"""Who is subject to the evaluation abroad, and how a dossier opens (A1–A6, B1–B4)."""

from __future__ import annotations

from datetime import date
from typing import Any

from models.calendar import days_after, months_after
from models.common import Recipient, TrackedDeadline, age_on
from models.core import Step
from models.dossier_kind import contract_start
from models.errors import InputRejected
from models.events import Event
from models.language import letter_language
from models.notifications import Kind
from models.reference import ReferenceData
from models.visa.delays import (
    EVALUATION_DELAY_DAYS,
    PREFECTURE_DELAY_MONTHS,
    file_visa_application,
    filed,
)
from models.visa.events import Procedure, VisaApplicationInput
from models.visa.letters import body_payload, note
from models.visa.state import ResponsibleBody, VisaState

FAMILY_MIN_AGE, MAX_AGE = 16, 65  # A1
SCHEME_STARTS_ON = date(2008, 12, 1)  # A2: applications filed from 1 December 2008


def scope_reason(application: VisaApplicationInput, reference: ReferenceData) -> str | None:
    """Why the applicant is outside the evaluation abroad, or None when subject (A1, A2, A6).
    Family reunification is judged at the complete file, when its dossier opens; a spouse
    at the visa application."""
    if application.procedure == Procedure.FAMILY_REUNIFICATION:
        judged_on, on_what = application.complete_file_date, "the complete-file date"
    else:
        assert application.visa_application_date is not None  # required for a spouse
        judged_on, on_what = application.visa_application_date, "the visa application date"
    age = age_on(application.applicant.birth_date, judged_on)
    if application.procedure == Procedure.FAMILY_REUNIFICATION and not (
        FAMILY_MIN_AGE <= age < MAX_AGE
    ):
        return f"A1: aged {age} on {on_what}; family reunification covers 16 to 64"
    if application.procedure == Procedure.SPOUSE_OF_FRENCH and age >= MAX_AGE:
        return f"A1: aged {age} on {on_what}; spouses are covered under 65"
    if application.resides_in_france_married_over_6_months:
        return (
            "A6: spouse residing in France, married over six months: CAI arrangements in "
            "France, never required to return abroad"
        )
    entry = reference.countries.get(application.country_of_residence)
    if entry is None or entry.scheme_starts_on is None:
        return (
            f"A2: the scheme does not run yet in {application.country_of_residence} "
            "(no OFII representation nor delegated organisation)"
        )
    starts_on = max(entry.scheme_starts_on, SCHEME_STARTS_ON)
    # A2: the visa application comes after the complete file, so a file completed since
    # the scheme started in the country leads to an application filed since then too.
    filed = application.visa_application_date or application.complete_file_date
    if filed < starts_on:
        return (
            f"A2: visa application filed {filed}, before the scheme "
            f"started in {entry.name} on {starts_on}"
        )
    return None


def workflow_id_for(application_id: str) -> str:
    """The contract's workflow id: one dossier per application."""
    return f"visa-{application_id}"


def start_input(raw: Any, workflow_id: str) -> VisaApplicationInput:
    return contract_start(VisaApplicationInput, raw, workflow_id, "application_id", workflow_id_for)


def open_input(application: VisaApplicationInput, reference: ReferenceData) -> Step[VisaState]:
    """Judge a new application: scope, responsible body, deadlines and first letters."""
    language, fallback = letter_language(
        application.applicant.languages, reference.letter_languages
    )
    reason = scope_reason(application, reference)
    state = VisaState(
        application_id=application.application_id,
        procedure=application.procedure,
        input=application,
        subject=reason is None,
        not_subject_reason=reason,
        letter_language=language,
        letter_language_fallback=fallback,
        time_zone=reference.time_zone_of(application.country_of_residence, application.consulate),
        holiday_calendar=reference.holiday_calendar_of(
            application.country_of_residence, application.consulate
        ),
    )
    if reason is not None:
        if application.resides_in_france_married_over_6_months:
            return Step(state, [note(state, Kind.ROUTED_TO_CAI_IN_FRANCE, Recipient.OFII, "A6")])
        return Step(
            state, [note(state, Kind.NOT_SUBJECT, Recipient.CONSULATE, reason[:2], reason=reason)]
        )

    entry = reference.countries[application.country_of_residence]
    state.responsible_body = ResponsibleBody(
        kind=entry.body, country=application.country_of_residence, name=entry.body_name
    )
    policy = reference.calendar
    evaluation_rule = "B1" if application.procedure == Procedure.FAMILY_REUNIFICATION else "B3"
    state.tracked_deadlines["evaluation_due"] = TrackedDeadline(
        due=days_after(
            application.complete_file_date, EVALUATION_DELAY_DAYS, policy, state.holiday_calendar
        ),
        rule=evaluation_rule,
    )
    if application.visa_application_date is not None:
        file_visa_application(state, application.visa_application_date, reference)
    if application.procedure == Procedure.FAMILY_REUNIFICATION:
        state.tracked_deadlines["prefecture_decision_due"] = TrackedDeadline(
            due=months_after(  # B9: the prefect keeps this delay, in France
                application.complete_file_date,
                PREFECTURE_DELAY_MONTHS,
                policy,
                reference.holiday_calendar_in_france(application.prefecture),
            ),
            rule="B2",
        )
        notes = [note(state, Kind.INVITATION, Recipient.APPLICANT, "A4", body=body_payload(state))]
    else:
        notes = [
            note(state, Kind.INVITATION, Recipient.APPLICANT, "A5", body=body_payload(state)),
            note(
                state,
                Kind.VISA_APPLICATION_COPY,
                Recipient.OFII,
                "A5",
                visa_application_date=filed(state).isoformat(),
            ),
        ]
    return Step(state, notes)


def admissible(state: VisaState, event: Event) -> None:
    if not state.subject:
        reason = state.not_subject_reason or ""
        raise InputRejected(reason[:2], f"the applicant is not subject: {reason[4:]}")
    if state.closed:
        raise InputRejected("F1", f"the dossier is closed ({state.stage.value})")
