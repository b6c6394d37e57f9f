"""Who is subject to the evaluation abroad, and how a dossier opens (A1–A6, B1–B4)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from models.calendar import days_after, months_after
from models.common import DeadlineStatus, NotificationDue, Recipient, TrackedDeadline, age_on
from models.core import Step
from models.dossier import fulfil
from models.dossier_kind import contract_start
from models.errors import InputRejected
from models.events import Event
from models.language import letter_language
from models.notifications import Kind
from models.reference import CountryEntry, ReferenceData
from models.visa.decision import on_visa_application_filed as record_visa_application
from models.visa.delays import (
    EVALUATION_DELAY_DAYS,
    PREFECTURE_DELAY_MONTHS,
    file_visa_application,
    filed,
)
from models.visa.delays import fire as fire_delay
from models.visa.events import (
    Procedure,
    ReceiptPresented,
    VisaApplicationFiled,
    VisaApplicationInput,
)
from models.visa.letters import body_payload, note
from models.visa.state import CORRECTION_WINDOW, ResponsibleBody, VisaState

FAMILY_MIN_AGE, MAX_AGE = 16, 65  # A1
SCHEME_STARTS_ON = date(2008, 12, 1)  # A2: applications filed from 1 December 2008


def scope_reason(
    application: VisaApplicationInput, reference: ReferenceData, filed_on: date | None
) -> str | None:
    """Why the applicant is outside the evaluation abroad, or None when subject (A1, A2, A6).
    Age is judged at the complete file for family reunification, at the visa application
    for a spouse; the scheme's start on the visa application's date (A2)."""
    if application.procedure == Procedure.FAMILY_REUNIFICATION:
        judged_on, on_what = application.complete_file_date, "the complete-file date"
    else:
        judged_on, on_what = application.visa_application_date, "the visa application date"
    assert judged_on is not None  # required by the input for its procedure
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
    entry = reference.scheme_in(application.country_of_residence, application.consulate)
    if entry is None or entry.scheme_starts_on is None:
        return (
            f"A2: the scheme does not run yet in {application.country_of_residence} "
            "(no OFII representation nor delegated organisation)"
        )
    starts_on = scheme_starts_on(entry)
    if filed_on is not None and filed_on < starts_on:
        return (
            f"A2: visa application filed {filed_on}, before the scheme "
            f"started in {entry.name} ({application.consulate}) on {starts_on}"
        )
    return None


def scheme_starts_on(entry: CountryEntry) -> date:
    """A2: the day the scheme runs from in a district (never before 1 December 2008)."""
    assert entry.scheme_starts_on is not None
    return max(entry.scheme_starts_on, SCHEME_STARTS_ON)


def awaits_visa_application(application: VisaApplicationInput, reference: ReferenceData) -> bool:
    """A2: a family-reunification file completed before the scheme started in its district,
    with no visa application yet: the application's date will settle the scope."""
    if application.visa_application_date is not None or scope_reason(application, reference, None):
        return False
    entry = reference.scheme_in(application.country_of_residence, application.consulate)
    assert entry is not None and application.complete_file_date is not None
    return application.complete_file_date < scheme_starts_on(entry)


def workflow_id_for(application_id: str) -> str:
    """The contract's workflow id: one dossier per application."""
    return f"visa-{application_id}"


def start_input(raw: Any, workflow_id: str) -> VisaApplicationInput:
    application = contract_start(
        VisaApplicationInput, raw, workflow_id, "application_id", workflow_id_for
    )
    spouse_receipt_after_application(application)
    return application


def spouse_receipt_after_application(application: VisaApplicationInput) -> None:
    """A5, B3: a récépissé given at opening is presented on or after the visa application."""
    receipt, filed_on = application.complete_file_date, application.visa_application_date
    spouse = application.procedure == Procedure.SPOUSE_OF_FRENCH
    if spouse and receipt and filed_on and receipt < filed_on:
        raise InputRejected(
            "B3",
            f"the récépissé is presented on or after the visa application ({filed_on})",
            "complete_file_date",
        )


def open_input(application: VisaApplicationInput, reference: ReferenceData) -> Step[VisaState]:
    """Judge a new application: scope, responsible body, deadlines and first letters."""
    language, fallback = letter_language(
        application.applicant.languages, reference.letter_languages
    )
    state = VisaState(
        application_id=application.application_id,
        procedure=application.procedure,
        input=application,
        subject=False,
        letter_language=language,
        letter_language_fallback=fallback,
        time_zone=reference.time_zone_of(application.country_of_residence, application.consulate),
        holiday_calendar=reference.holiday_calendar_of(
            application.country_of_residence, application.consulate
        ),
    )
    if awaits_visa_application(application, reference):
        state.scope_awaits_visa_application = True  # A2
        return Step(state, [])
    return Step(state, settle_scope(state, application.visa_application_date, reference))


def settle_scope(
    state: VisaState, filed_on: date | None, reference: ReferenceData
) -> list[NotificationDue]:
    """Judge the scope (A1, A2, A6) and, for a subject applicant, start the procedure: the
    responsible body (A3), the delays (B1–B4) and the first letters (A4, A5)."""
    application = state.input
    state.scope_awaits_visa_application = False
    reason = scope_reason(application, reference, filed_on)
    state.subject, state.not_subject_reason = reason is None, reason
    if reason is not None:
        if application.resides_in_france_married_over_6_months:
            return [note(state, Kind.ROUTED_TO_CAI_IN_FRANCE, Recipient.OFII, "A6")]
        return [note(state, Kind.NOT_SUBJECT, Recipient.CONSULATE, reason[:2], reason=reason)]

    entry = reference.scheme_in(application.country_of_residence, application.consulate)
    assert entry is not None  # scope_reason found the scheme running
    state.responsible_body = ResponsibleBody(
        kind=entry.body, country=application.country_of_residence, name=entry.body_name
    )
    policy = reference.calendar
    if application.procedure == Procedure.FAMILY_REUNIFICATION:
        assert application.complete_file_date is not None
        # A2, B1: from the later of the complete file and the scheme's start.
        runs_from = max(application.complete_file_date, scheme_starts_on(entry))
        state.tracked_deadlines["evaluation_due"] = TrackedDeadline(
            due=days_after(runs_from, EVALUATION_DELAY_DAYS, policy, state.holiday_calendar),
            rule="B1",
        )
        state.tracked_deadlines["prefecture_decision_due"] = TrackedDeadline(
            due=months_after(  # B9: the prefect keeps this delay, in France
                application.complete_file_date,
                PREFECTURE_DELAY_MONTHS,
                policy,
                reference.holiday_calendar_in_france(application.prefecture),
            ),
            rule="B2",
        )
    elif application.complete_file_date is not None:
        present_receipt(state, application.complete_file_date, reference)  # stands for it (B3)
    if filed_on is not None:
        application_filed(state, filed_on, reference)
    if application.procedure == Procedure.FAMILY_REUNIFICATION:
        return [note(state, Kind.INVITATION, Recipient.APPLICANT, "A4", body=body_payload(state))]
    return [
        note(state, Kind.INVITATION, Recipient.APPLICANT, "A5", body=body_payload(state)),
        note(
            state,
            Kind.VISA_APPLICATION_COPY,
            Recipient.OFII,
            "A5",
            visa_application_date=filed(state).isoformat(),
        ),
    ]


def application_filed(state: VisaState, filed_on: date, reference: ReferenceData) -> None:
    """B4: the sursis runs from the visa application; B2: for family reunification, the
    visa application on file means the prefect has ruled (the visa follows the
    authorisation), so the prefect's delay is met and no reminder goes out after it."""
    file_visa_application(state, filed_on, reference)
    prefect_ruled(state, reference)


def prefect_ruled(state: VisaState, reference: ReferenceData) -> None:
    """B2: the visa follows the prefect's authorisation."""
    if reference.visa_application_meets_b2:
        fulfil(state.tracked_deadlines.get("prefecture_decision_due"))


def present_receipt(state: VisaState, presented_on: date, reference: ReferenceData) -> None:
    """B3: the 60 days run from the récépissé's presentation, and not before it."""
    state.receipt_presented_on = presented_on
    state.tracked_deadlines["evaluation_due"] = TrackedDeadline(
        due=days_after(
            presented_on, EVALUATION_DELAY_DAYS, reference.calendar, state.holiday_calendar
        ),
        rule="B3",
    )


def on_visa_application_filed(
    state: VisaState, event: VisaApplicationFiled, reference: ReferenceData, received_on: date
) -> list[NotificationDue]:
    """A2: the application settles a scope left open; B2, B4 otherwise."""
    if state.scope_awaits_visa_application:
        notes = settle_scope(state, event.filed_on, reference)
        if not state.subject:
            open_correction_window(state, received_on, reference)
        return notes
    notes = record_visa_application(state, event, reference, received_on)
    prefect_ruled(state, reference)
    return notes


def on_receipt_presented(
    state: VisaState, event: ReceiptPresented, reference: ReferenceData, received_on: date
) -> list[NotificationDue]:
    """A5, B3: a spouse's récépissé, presented on or after the visa application (the fold
    refuses a date before the dossier's opening, naming B3)."""
    if state.procedure != Procedure.SPOUSE_OF_FRENCH:
        raise InputRejected(
            "B3",
            "the récépissé is a spouse's; family reunification runs from the complete file (B1)",
            "presented_on",
        )
    if state.receipt_presented_on is not None:
        raise InputRejected(
            "B3",
            f"the récépissé was presented on {state.receipt_presented_on}; "
            "correct_event corrects it",
            "presented_on",
        )
    present_receipt(state, event.presented_on, reference)
    return []


def judged(state: VisaState, day: date, reference: ReferenceData) -> None:
    """The opening judged on `day`: a dossier not subject (A1, A2) stays open for
    corrections of its opening facts for the configured window."""
    if not state.subject and not state.scope_awaits_visa_application:
        open_correction_window(state, day, reference)


def open_correction_window(state: VisaState, day: date, reference: ReferenceData) -> None:
    if state.input.resides_in_france_married_over_6_months:
        return  # A6: routed to the CAI in France, closed at once
    state.tracked_deadlines[CORRECTION_WINDOW] = TrackedDeadline(
        due=day + timedelta(days=reference.not_subject_correction_days),
        rule=(state.not_subject_reason or "A2")[:2],
    )


def fire(state: VisaState, key: str, today: date) -> list[NotificationDue]:
    """A passing delay; the correction window's end closes a dossier not subject."""
    if key == CORRECTION_WINDOW:
        state.tracked_deadlines[key].status = DeadlineStatus.REACHED
        return []
    return fire_delay(state, key, today)


def admissible(state: VisaState, event: Event) -> None:
    if state.scope_awaits_visa_application:
        if isinstance(event, VisaApplicationFiled):
            return
        raise InputRejected(
            "A2",
            "the visa application's date settles whether the applicant is subject: "
            "visa_application_filed comes first",
        )
    if not state.subject:
        reason = state.not_subject_reason or ""
        raise InputRejected(reason[:2], f"the applicant is not subject: {reason[4:]}")
    if state.closed:
        raise InputRejected("F1", f"the dossier is closed ({state.stage.value})")
