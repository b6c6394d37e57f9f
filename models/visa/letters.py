"""Part I's letters and notices: who receives them, and what each says (A3, A4, B6, C3)."""

from __future__ import annotations

from datetime import date
from typing import Any

from models.common import NotificationDue, Recipient
from models.notifications import Kind
from models.reference import BodyKind
from models.visa.events import Domain
from models.visa.state import Evaluation, VisaState


def body_recipient(state: VisaState) -> Recipient:
    """A3: the OFII representation, or the delegated organisation where there is none."""
    body = state.responsible_body
    if body is not None and body.kind == BodyKind.DELEGATE:
        return Recipient.DELEGATE
    return Recipient.OFII


def body_payload(state: VisaState) -> dict[str, Any]:
    body = state.responsible_body
    return body.model_dump(mode="json") if body is not None else {}


def note(
    state: VisaState, kind: Kind, recipient: Recipient, rule: str, **payload: Any
) -> NotificationDue:
    application = state.input
    base: dict[str, Any] = {
        "application_id": state.application_id,
        "procedure": state.procedure.value,
        "consulate": application.consulate,
        "country_of_residence": application.country_of_residence,
    }
    language = None
    if recipient == Recipient.APPLICANT:
        language = state.letter_language
        base["full_name"] = application.applicant.full_name
        base["language_fallback"] = state.letter_language_fallback  # A4
    return NotificationDue(
        kind=kind, recipient=recipient, rule=rule, language=language, payload={**base, **payload}
    )


def to_applicant_and_consulate(
    state: VisaState, kind: Kind, rule: str, **payload: Any
) -> list[NotificationDue]:
    """An attestation (D2, D4, E2, E5): nominative, delivered to the applicant, with the
    copy (*double*) to the consulate."""
    return [
        note(state, kind, recipient, rule, **payload)
        for recipient in (Recipient.APPLICANT, Recipient.CONSULATE)
    ]


def results_note(
    state: VisaState, domain: Domain, evaluation: Evaluation, again: bool
) -> NotificationDue:
    return note(
        state,
        Kind.EVALUATION_RESULTS,
        Recipient.CONSULATE,
        "B6",
        domain=domain.value,
        re_evaluation=again,
        **evaluation.model_dump(mode="json", exclude_none=True),
    )


def exemption_notes(
    state: VisaState, rule: str, exemptions: list[str], ground: str, decided_on: date
) -> list[NotificationDue]:
    """C3: OFII always; the delegated organisation too where there is no representation."""
    recipients = [Recipient.OFII]
    if body_recipient(state) == Recipient.DELEGATE:
        recipients.append(Recipient.DELEGATE)
    return [
        note(
            state,
            Kind.EXEMPTION_GRANTED,
            r,
            f"{rule}, C3",
            exemptions=exemptions,
            ground=ground,
            decided_on=decided_on.isoformat(),
        )
        for r in recipients
    ]
