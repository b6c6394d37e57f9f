"""The visa application and its decision (B4, B5, F1–F4), and what the CAI inherits."""

from __future__ import annotations

from datetime import date

from models.common import DeadlineStatus, NotificationDue, Recipient
from models.dossier import fulfil
from models.errors import InputRejected
from models.notifications import Kind
from models.reference import ReferenceData
from models.visa.delays import Delay, file_visa_application, filed, outstanding_delays
from models.visa.events import Decision, Domain, RefusalGround, VisaApplicationFiled, VisaDecision
from models.visa.letters import note
from models.visa.state import (
    TRAINING_OUTSTANDING,
    CaiCarryOver,
    TrackStatus,
    VisaOutcome,
    VisaState,
)
from models.visa.training import completion, followed


def on_visa_application_filed(
    state: VisaState, event: VisaApplicationFiled, reference: ReferenceData, received_on: date
) -> list[NotificationDue]:
    if state.visa_application_date is not None:
        raise InputRejected(
            "B4", f"the visa application was filed on {state.visa_application_date}", "filed_on"
        )
    file_visa_application(state, event.filed_on, reference)
    return []


def _refusable_for_training_not_followed(
    state: VisaState, decided_on: date, delays: list[Delay]
) -> None:
    """B4, B5, F2: "training not followed" grounds a refusal only once the training is over
    (completed, or past B8) or the sursis has expired, never while an attestation of training
    followed is on file, and only on a delay attributable to the applicant (B5, per delay)."""
    owed = [
        domain
        for domain in Domain
        if state.training_of(domain) is not None
        and state.track(domain).training_exemption is None
        and not (domain == Domain.VALUES and state.values_integrated)
    ]
    missed_evaluation = any(
        d.awaiting == TrackStatus.AWAITING_EVALUATION and d.attributable_to_applicant
        for d in delays
    )
    if not owed and not missed_evaluation:
        raise InputRejected("F2", "no training was prescribed", "grounds")
    unfollowed = [domain for domain in owed if not followed(state.training_of(domain))]
    if owed and not unfollowed and not missed_evaluation:
        refs = ", ".join(
            f"{d.value}: {t.attestation_ref}" for d in owed if (t := state.training_of(d))
        )
        raise InputRejected(
            "F2",
            f"the attestation of training followed is on file ({refs}); the training was followed",
            "grounds",
        )
    sursis = state.tracked_deadlines.get("decision_suspension_ends")
    sursis_over = sursis is None or sursis.status != DeadlineStatus.PENDING
    over = all(
        (end := state.tracked_deadlines.get(f"training_end_due.{d.value}")) is not None
        and end.status == DeadlineStatus.MISSED
        for d in unfollowed
    )
    if not sursis_over and not (unfollowed and over):
        raise InputRejected(
            "B4",
            "the training is not over and the sursis à statuer runs until "
            f"{sursis.due if sursis else decided_on}: it cannot be held as not followed yet",
            "grounds",
        )
    if not any(d.attributable_to_applicant for d in delays):
        causes = "; ".join(f"{d.domain.value}: {d.cause}" for d in delays)
        raise InputRejected(
            "B5",
            "a training not followed for a reason independent of the applicant cannot "
            f"ground a refusal (F2): {causes or 'no delay is running'}",
            "grounds",
        )


def on_visa_decision(
    state: VisaState, event: VisaDecision, reference: ReferenceData, received_on: date
) -> list[NotificationDue]:
    if event.decided_on < filed(state):
        raise InputRejected("F1", "precedes the visa application", "decided_on")
    sursis = state.tracked_deadlines["decision_suspension_ends"]
    sursis_over = sursis.status != DeadlineStatus.PENDING or event.decided_on > sursis.due
    # D5, F2: an absence reported after the decision is recorded and passed on; it never
    # undoes the decision, which was taken on what was reported before it.
    delays = outstanding_delays(state, known_before=received_on)
    attributable = any(d.attributable_to_applicant for d in delays)
    statuses = {domain: state.status_of(domain) for domain in Domain}
    untrained = [d.value for d, s in statuses.items() if s in TRAINING_OUTSTANDING]
    issued_under_b5 = False
    if event.decision == Decision.ISSUED:
        attestations = [day for d in Domain if (day := completion(state, d)) is not None]
        if attestations and max(attestations) > event.decided_on:
            raise InputRejected(
                "F2",
                f"the attestation of training followed dates from {max(attestations)}, "
                "after the decision",
                "decided_on",
            )
        unevaluated = [d.value for d, s in statuses.items() if s == TrackStatus.AWAITING_EVALUATION]
        if unevaluated and not sursis_over:
            raise InputRejected(
                "B4",
                f"the decision is suspended (sursis à statuer) until the evaluation "
                f"({', '.join(unevaluated)}) is done, or until {sursis.due}",
                "decision",
            )
        if untrained:
            if not sursis_over or attributable:
                why = (
                    "the delay is attributable to the applicant (absence without legitimate reason)"
                    if sursis_over
                    else f"the sursis à statuer runs until {sursis.due}"
                )
                raise InputRejected(
                    "F2",
                    f"a visa is issued only on production of the attestation of training followed "
                    f"({', '.join(untrained)}); {why}",
                    "decision",
                )
            issued_under_b5 = True
    else:
        if RefusalGround.EVALUATION_RESULT in event.grounds:
            raise InputRejected(
                "F3", "a visa may not be refused because of an evaluation result", "grounds"
            )
        if RefusalGround.TRAINING_NOT_FOLLOWED in event.grounds:
            _refusable_for_training_not_followed(state, event.decided_on, delays)
    fulfil(sursis)
    state.outcome = VisaOutcome(
        decision=event.decision.value,
        decided_on=event.decided_on,
        grounds=[ground.value for ground in event.grounds],
        issued_under_b5=issued_under_b5,
        delay_attributable_to_applicant=attributable,
        cai=cai_carry_over(state),
    )
    return [
        note(
            state,
            Kind.VISA_DECISION,
            Recipient.OFII,
            "F4",
            decision=event.decision.value,
            decided_on=event.decided_on.isoformat(),
            grounds=state.outcome.grounds,
            cai=state.outcome.cai.model_dump(mode="json"),
        )
    ]


def cai_carry_over(state: VisaState) -> CaiCarryOver:
    """What the CAI in France inherits (D2, D6, D7): a language training is owed unless the
    last evaluation (or re-evaluation) was sufficient or C1 exempted the test; a training
    followed without a re-evaluation does not discharge it."""
    language = state.language
    last = language.re_evaluation or language.evaluation
    discharged = language.test_exemption is not None or (last is not None and last.sufficient)
    values_training = state.training_of(Domain.VALUES)
    language_training = state.training_of(Domain.LANGUAGE)
    return CaiCarryOver(
        amdfl=language.evaluation is not None and language.evaluation.sufficient,
        dilf_required=language.re_evaluation is not None and language.re_evaluation.sufficient,
        language_training_required=not discharged,
        language_training_followed=followed(language_training),
        last_evaluation_sufficient=last.sufficient if last is not None else None,
        test_exempted=language.test_exemption is not None,
        language_results=(
            {"oral_score": last.oral_score or 0, "written_score": last.written_score or 0}
            if last is not None and not last.sufficient
            else None
        ),
        values_training_followed=followed(values_training),
    )
