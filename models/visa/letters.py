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
    """A notification of the dossier; a letter to the applicant in the first language they
    declared that a letter exists in (A4), or held (`translation_needed`)."""
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
        if state.letters_held:
            return _held(state, kind, rule, base, {**base, **payload})
    return NotificationDue(
        kind=kind, recipient=recipient, rule=rule, language=language, payload={**base, **payload}
    )


def _held(
    state: VisaState, kind: Kind, rule: str, base: dict[str, Any], letter: dict[str, Any]
) -> NotificationDue:
    """A4: no template in any language the applicant declared (French among them only when
    declared), so the letter is held: it is not written to the register at all, since a
    row for the applicant would be a letter in a language they do not read, or one that
    waits undelivered for ever. OFII is told instead, with what the letter would say, to
    have it translated and handed over; one notice per letter held (`about`: its kind).
    The delay the hold causes is never the applicant's (B5: `letters_held`)."""
    return NotificationDue(
        kind=Kind.TRANSLATION_NEEDED,
        recipient=Recipient.OFII,
        rule="A4",
        about=kind.value,
        payload={
            **{k: v for k, v in base.items() if k not in ("full_name", "language_fallback")},
            "held_kind": kind.value,
            "held_rule": rule,
            "declared_languages": list(state.input.applicant.languages),
            "held_payload": letter,
            "attributable_to_applicant": False,
        },
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
