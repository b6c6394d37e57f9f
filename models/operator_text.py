"""What an operator reads, in French or in English: the labels of stages, deadlines,
events, awaited items and recipients, each naming the rule of docs/rules.md it comes from, and
the pure functions that render a dossier's Web UI details and the summaries of timers and
activities.

Display only. The codes stay what the contract says wherever they are stored, queried or
searched (`DossierStage`, the `state` query, the register): this module turns them into
words at the moment a person reads them, and nothing reads its output back to decide.
Notification kinds keep their titles in `models.notifications.CATALOGUE`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from models.common import HeldInput
from models.notifications import CATALOGUE, Kind
from models.records import DossierView

Language = Literal["fr", "en"]
LANGUAGES: tuple[Language, ...] = ("fr", "en")
DEFAULT_LANGUAGE: Language = "fr"

VISA = "visa_application"
CAI = "cai_contract"
FAMILY = "cai_family_contract"
KINDS = (VISA, CAI, FAMILY)


@dataclass(frozen=True)
class Label:
    """One thing an operator reads, in each language, and the rule it comes from."""

    fr: str
    en: str
    rule: str | None = None

    def text(self, language: Language) -> str:
        return self.fr if language == "fr" else self.en

    def named(self, language: Language) -> str:
        """`évaluation linguistique (D1)`."""
        return self.text(language) + (f" ({self.rule})" if self.rule else "")

    def ruled(self, language: Language) -> str:
        """`B1 — évaluation dans les 60 jours`."""
        return (f"{self.rule} — " if self.rule else "") + self.text(language)


# --- stages, per dossier kind (models.visa.Stage, models.cai.CaiStage, models.family) ---

STAGES: Mapping[str, Mapping[str, Label]] = {
    VISA: {
        "not_subject": Label(
            "hors du champ de l'évaluation", "not subject to evaluation", "A1, A2"
        ),
        "awaiting_evaluation": Label(
            "en attente de l'évaluation (langue, valeurs)",
            "awaiting the evaluation (language, values)",
            "D1, E1",
        ),
        "awaiting_training": Label(
            "en attente de la formation", "awaiting the training", "D3, E3, B7"
        ),
        "in_training": Label("en formation", "in training", "B8"),
        "awaiting_re_evaluation": Label(
            "en attente de la nouvelle évaluation", "awaiting the re-evaluation", "D4, E5"
        ),
        "awaiting_visa_decision": Label(
            "en attente de la décision sur le visa", "awaiting the visa decision", "F1"
        ),
        "visa_issued": Label("visa délivré", "visa issued", "F1"),
        "visa_refused": Label("visa refusé", "visa refused", "F1"),
        "routed_to_cai_in_france": Label(
            "orienté vers le CAI en France", "routed to the CAI in France", "A6"
        ),
    },
    CAI: {
        "in_progress": Label("contrat en cours", "contract in progress", "H1"),
        "awaiting_prefect_decision": Label(
            "en attente de la décision du préfet", "awaiting the prefect's decision", "I1"
        ),
        "extended": Label("contrat prorogé", "contract extended", "I1"),
        "closed": Label("contrat clos", "contract closed", "I1"),
        "terminated": Label("contrat résilié", "contract terminated", "I1, I3"),
    },
    FAMILY: {
        "in_progress": Label("contrat en cours", "contract in progress", "G1"),
        "training_missed": Label("formation des parents manquée", "parents' training missed", "G4"),
        "training_followed": Label(
            "formation des parents suivie", "parents' training followed", "G2"
        ),
        "referred_to_conseil_general": Label(
            "signalé au président du conseil général",
            "referred to the président du conseil général",
            "G4",
        ),
        "closed": Label("suivi terminé", "follow-up over", "G1"),
    },
}

# --- statutory delays: the tracked deadlines' names (before any `.detail`) ----------------

DEADLINES: Mapping[str, Mapping[str, Label]] = {
    VISA: {
        "evaluation_due": Label(
            "évaluation dans les 60 jours", "evaluation within 60 days", "B1, B3"
        ),
        "prefecture_decision_due": Label(
            "décision du préfet dans les six mois", "prefect's decision within six months", "B2"
        ),
        "decision_suspension_ends": Label(
            "fin du sursis à statuer (six mois)", "end of the sursis à statuer (six months)", "B4"
        ),
        "results_to_consulate_due": Label(
            "résultats au consulat dans la semaine",
            "results to the consulate within the week",
            "B6",
        ),
        "training_start_due": Label(
            "début de la formation dans les deux mois",
            "training starts within two months",
            "B7",
        ),
        "training_end_due": Label(
            "formation de deux mois au plus", "training of two months at most", "B8"
        ),
        "correction_window_ends": Label(
            "fin du délai de correction (dossier hors champ)",
            "end of the correction window (not subject)",
            "A1, A2",
        ),
    },
    CAI: {
        "validity_ends": Label("fin de validité du CAI (un an)", "end of the CAI (one year)", "H5"),
        "skills_assessment_due": Label(
            "bilan de compétences pendant la validité du CAI",
            "skills assessment within the CAI's validity",
            "H5",
        ),
        "reminder": Label("rappel avant la fin du CAI", "reminder before the CAI ends", "H5"),
        "extension_ends": Label("fin de la prorogation", "end of the extension", "I1"),
    },
    FAMILY: {
        "parents_training_due": Label(
            "formation « Droits et devoirs des parents » pendant le suivi",
            '"Droits et devoirs des parents" training during the follow-up',
            "G2",
        ),
        "validity_ends": Label(
            "fin du suivi du CAI pour la famille", "end of the family CAI's follow-up", "G1"
        ),
        "referral_window_ends": Label(
            "délai de saisine du président du conseil général",
            "window to refer to the président du conseil général",
            "G4",
        ),
    },
}

# B1 or B3: the evaluation's 60 days run from a different act for each procedure.
_PROCEDURE_RULES: Mapping[tuple[str, str], str] = {
    ("evaluation_due", "family_reunification"): "B1",
    ("evaluation_due", "spouse_of_french"): "B3",
}

# What follows the dot of a tracked deadline's key, and an awaited item's detail.
DETAILS: Mapping[str, Label] = {
    "language": Label("langue", "language"),
    "values": Label("valeurs", "values"),
    "re-evaluation": Label("nouvelle évaluation", "re-evaluation"),
    "session planner": Label("planification des séances", "session planning"),
    "skills_assessment": Label("bilan de compétences", "skills assessment"),
    "civic_training": Label("formation civique", "civic training"),
    "language_training": Label("formation linguistique", "language training"),
    "vivre_en_france": Label("« Vivre en France »", '"Vivre en France"'),
    # B6, kept for each evaluation
    "language_re_evaluation": Label("langue, nouvelle évaluation", "language, re-evaluation"),
    "values_re_evaluation": Label("valeurs, nouvelle évaluation", "values, re-evaluation"),
    "language_superseded": Label(
        "test de langue remplacé par la dispense", "language test superseded by the exemption"
    ),
}

PROCEDURES: Mapping[str, Label] = {
    "family_reunification": Label("regroupement familial", "family reunification"),
    "spouse_of_french": Label("conjoint de Français", "spouse of a French national"),
    "cai": Label("CAI", "CAI"),
    "cai_family": Label("CAI pour la famille", "CAI for the family"),
}

# --- events: what a step takes in (each core's `events`) -----------------------------------

EVENTS: Mapping[str, Label] = {
    # VisaApplication
    "visa_application_filed": Label("demande de visa déposée", "visa application filed", "B4"),
    "receipt_presented": Label("récépissé présenté", "récépissé presented", "B3"),
    "evaluation_absence": Label("absence à l'évaluation", "absence from the evaluation", "B5"),
    "language_test_exemption": Label(
        "dispense du test linguistique", "language test exemption", "C1"
    ),
    "language_evaluation": Label("évaluation linguistique", "language evaluation", "D1"),
    "values_evaluation": Label(
        "évaluation des valeurs de la République",
        "evaluation of the values of the Republic",
        "E1",
    ),
    "training_prescribed": Label("prescription de formation", "training prescribed", "D3"),
    "training_exemption": Label("dispense de formation", "training exemption", "C2"),
    "training_started": Label("début de formation", "training started", "B7"),
    "training_absence": Label("absence en formation", "absence from training", "D5"),
    "training_completed": Label(
        "attestation de formation suivie", "attestation of training followed", "D4"
    ),
    "visa_decision": Label("décision sur le visa", "visa decision", "F1"),
    # CaiContract
    "skills_assessment_exemption": Label(
        "dispense du bilan de compétences", "skills assessment exemption", "H2"
    ),
    "skills_assessment_convened": Label(
        "convocation au bilan de compétences", "convened to the skills assessment", "H5"
    ),
    "skills_assessment_completed": Label(
        "bilan de compétences réalisé", "skills assessment completed", "H3"
    ),
    "absence": Label("absence", "absence", "I2"),
    "service_completed": Label("prestation suivie", "service completed", "I1"),
    "language_training_status": Label(
        "état de la formation linguistique", "language training status", "I1"
    ),
    "prefect_decision": Label("décision du préfet", "prefect's decision", "I1"),
    "dilf_preparation_requested": Label(
        "demande d'aide à la préparation du DILF", "DILF preparation support requested", "D6"
    ),
    "language_outcome_abroad": Label(
        "acquis linguistiques à l'étranger", "language outcome abroad", "D6"
    ),
    # CaiFamilyContract
    "parents_training_convened": Label(
        "convocation à la formation des parents", "convened to the parents' training", "G2"
    ),
    "parents_training_attended": Label(
        "formation des parents suivie", "parents' training attended", "G2"
    ),
    "parents_training_absence": Label(
        "absence à la formation des parents", "absence from the parents' training", "G4"
    ),
    "school_attendance_breach": Label(
        "manquement à l'obligation scolaire", "school attendance breach", "G3"
    ),
    "conseil_general_referral": Label(
        "saisine du président du conseil général",
        "referral to the président du conseil général",
        "G4",
    ),
    # Every kind: a late fact or a correction is re-folded in event time
    "correct_event": Label("correction d'un fait", "correction of a fact"),
}

# The opening of a dossier, per kind: the rules it applies (its `opening_rule` and scope).
OPENINGS: Mapping[str, Label] = {
    VISA: Label("ouverture du dossier", "dossier opened", "A1–A6"),
    CAI: Label("ouverture du contrat", "contract opened", "H1"),
    FAMILY: Label("ouverture du contrat", "contract opened", "G1"),
}

RECIPIENTS: Mapping[str, Label] = {
    "applicant": Label("demandeur", "applicant"),
    "consulate": Label("consulat", "consulate"),
    "ofii": Label("OFII", "OFII"),
    "delegate": Label("organisme délégué", "delegated organisation"),
    "prefecture": Label("préfecture", "prefecture"),
    "provider": Label("prestataire de formation", "training provider"),
    "france_travail": Label("France Travail", "France Travail"),
    "conseil_general": Label("conseil général", "conseil général"),
    "ministry": Label("ministères", "ministries"),
}

SERVICES: Mapping[str, Label] = {
    "skills_assessment": Label("bilan de compétences", "skills assessment", "H1, H5"),
    "parents_training": Label(
        "formation « Droits et devoirs des parents »",
        '"Droits et devoirs des parents" training',
        "G2",
    ),
}

OUTCOME_KEYS: Mapping[str, Label] = {
    "decision": Label("décision", "decision"),
    "decided_on": Label("décidé le", "decided on"),
    "grounds": Label("motifs", "grounds"),
    "issued_under_b5": Label("délivré au titre de B5", "issued under B5"),
    "delay_attributable_to_applicant": Label(
        "retard imputable au demandeur", "delay attributable to the applicant"
    ),
    "referral": Label("saisine", "referral"),
    "breaches": Label("manquements", "breaches"),
    "extended_until": Label("prorogé jusqu'au", "extended until"),
}

# What a held fact waits for, by its event (docs/interpretations.md "Held facts").
HELD_FOR: Mapping[str, Label] = {
    "training_prescribed": Label("l'évaluation", "the evaluation"),
    "training_started": Label("la prescription", "the prescription"),
    "training_absence": Label("la prescription ou le début", "the prescription or the start"),
    "training_completed": Label("la prescription ou le début", "the prescription or the start"),
    "visa_decision": Label("la demande de visa", "the visa application"),
    "skills_assessment_completed": Label("la convocation", "the convocation"),
    "absence": Label("la convocation", "the convocation"),
    "skills_assessment_convened": Label(
        "l'absence à la convocation en cours", "the absence from the pending convocation"
    ),
    "parents_training_convened": Label(
        "l'absence à la convocation en cours", "the absence from the pending convocation"
    ),
    "parents_training_attended": Label("la convocation", "the convocation"),
    "parents_training_absence": Label("la convocation", "the convocation"),
}
WHAT_IT_RESTS_ON = Label("ce sur quoi il repose", "what it rests on")

VALUES: Mapping[str, Label] = {
    "issued": Label("délivré", "issued"),
    "refused": Label("refusé", "refused"),
    "close": Label("clôture", "close"),
    "terminate": Label("résiliation", "terminate"),
    "extend": Label("prorogation", "extend"),
    "True": Label("oui", "yes"),
    "False": Label("non", "no"),
}

# The fixed phrases, as `str.format` templates.
PHRASES: Mapping[str, Label] = {
    "stage": Label("Étape : **{stage}**", "Stage: **{stage}**"),
    "next_deadline": Label(
        "Prochaine échéance : {deadline}, le {date}", "Next deadline: {deadline} on {date}"
    ),
    "awaiting": Label("Attendu : {items}", "Awaiting: {items}"),
    "overdue": Label("En retard : {items}", "Overdue: {items}"),
    "outcome": Label("Issue : {items}", "Outcome: {items}"),
    "held_one": Label("1 fait en attente : {items}", "1 fact held: {items}"),
    "held_many": Label("{count} faits en attente : {items}", "{count} facts held: {items}"),
    "held_item": Label("{event}, attend {awaited}", "{event}, waiting for {awaited}"),
    "undelivered": Label(
        "Notifications non remises : {count}", "Undelivered notifications: {count}"
    ),
    "refused": Label(" (refusées : {count})", " (refused: {count})"),
    "accepted": Label("accepté : {event}", "{event} accepted"),
    "rejected": Label("rejeté : {event}", "{event} rejected"),
    "timer": Label("échéance : {deadline}", "deadline passes: {deadline}"),
    "deadline_passed": Label("échéance passée : {deadline}", "deadline passed: {deadline}"),
    "closing": Label("clôture du dossier", "closing"),
    "reference_data": Label("données de référence", "reference data"),
    "person_keys": Label(
        "clés de recherche de la personne (PersonKeys)", "person search keys (PersonKeys)"
    ),
    "from": Label("{what}, de la part du {who}", "{what} from the {who}"),
    "from_fem": Label("{what}, de la part de la {who}", "{what} from the {who}"),
    "until": Label("jusqu'au {date}", "until {date}"),
    "signatory": Label("signataire {rank}", "signatory {rank}"),
    "months_before": Label("{months} mois avant", "{months} months before"),
    "plan": Label(
        "planifier les séances : {service}, à partir du {date}",
        "plan {service} sessions from {date}",
    ),
    "convene": Label(
        "convoquer les places {first}–{last} sur {total} ({rule})",
        "convene seats {first}–{last} of {total} ({rule})",
    ),
    "release": Label(
        "libérer {count} places de convocations non remises ({rule})",
        "release {count} seats of undelivered convocations ({rule})",
    ),
    "dated": Label("{title} du {date}", "{title} of {date}"),
    "as_of": Label("{title} au {date}", "{title} as of {date}"),
    "deliver": Label("remettre {key}", "deliver {key}"),
    "delivery": Label("**{key}** du dossier {workflow_id}", "**{key}** of {workflow_id}"),
    "delivery_outcome": Label("{delivery} : {outcome}", "{delivery}: {outcome}"),
    "delivered_to": Label(" à {endpoint}", " to {endpoint}"),
}

# The command line's tables and labels (scripts/cli.py, scripts/cli_delivery.py).
CLI: Mapping[str, Label] = {
    # `list`
    "workflow_id": Label("ID DU WORKFLOW", "WORKFLOW ID"),
    "status": Label("STATUT", "STATUS"),
    "dossier_stage": Label("ÉTAPE DU DOSSIER", "DOSSIER STAGE"),
    "next_deadline_column": Label("PROCHAINE ÉCHÉANCE", "NEXT DEADLINE"),
    "overdue_column": Label("EN RETARD", "OVERDUE"),
    # `find`
    "kind_column": Label("TYPE", "KIND"),
    "web_ui_column": Label("DANS LE WEB UI", "IN THE WEB UI"),
    "nobody_found": Label(
        "aucun dossier pour cette personne (vérifier l'orthographe du nom et la date de "
        "naissance ; les dossiers ouverts avant la recherche par personne ne s'y trouvent pas)",
        "no dossier for this person (check the name's spelling and the birth date; dossiers "
        "opened before the search by person are not in it)",
    ),
    "yes": Label("oui", "yes"),
    "no": Label("non", "no"),
    # `show --summary`
    "dossier": Label("dossier", "dossier"),
    "stage": Label("étape", "stage"),
    "next_deadline": Label("prochaine échéance", "next deadline"),
    "awaiting": Label("attendu", "awaiting"),
    "overdue": Label("en retard", "overdue"),
    "rejected_inputs": Label("entrées rejetées", "rejected inputs"),
    # Held facts: accepted, waiting for the fact they rest on (docs/interpretations.md).
    "held_inputs": Label(
        "entrées en attente de ce sur quoi elles reposent", "inputs held for what they rest on"
    ),
    "held_input": Label("n°{seq} {event} : {reason}", "#{seq} {event}: {reason}"),
    "last": Label("dernière : {reason}", "last: {reason}"),
    "outcome": Label("issue", "outcome"),
    "decided": Label("{decision} le {date}", "{decision} on {date}"),
    "not_subject": Label("hors du champ", "not subject"),
    "facts": Label(
        "faits (dans l'ordre de leurs dates ; corriger l'un par correct_event et son n°) :",
        "facts (in the order of their dates; correct one with correct_event and its #):",
    ),
    "received": Label("reçu le {date}", "received {date}"),
    "corrected_by": Label("corrigé par {seqs}", "corrected by {seqs}"),
    "withdrawn": Label("retiré", "withdrawn"),
    # `send --signal`
    "signal_sent": Label(
        "{event} envoyé en signal : un refus ira dans les entrées rejetées du dossier",
        "{event} sent as a signal: a refusal goes to the dossier's rejected inputs",
    ),
    # `notifications`, `redeliver`
    "since": Label("depuis le {date}", "since {date}"),
    "all_delivered": Label(
        "toutes les notifications ont été remises", "every notification was delivered"
    ),
    "no_delivery": Label("aucune remise", "no delivery"),
    # A letter made otherwise than asked (NATIVE_NAME_OMITTED): an agent adds the name by hand.
    "native_name_omitted": Label(
        "nom natif omis de la lettre : aucune police livrée ne l'écrit, le nom latin est "
        "imprimé ; à ajouter à la main",
        "native name left out of the letter: no shipped font draws it, the Latin name is "
        "printed; to be added by hand",
    ),
    "redelivering": Label(
        "nouvelle remise : {workflow_id} (exécution {run_id})",
        "redelivering: {workflow_id} (run {run_id})",
    ),
    # `verify`
    "verified": Label(
        "authentique : {kind} du {date} au nom de {holder}, pour {recipient}, dossier "
        "{workflow_id} (notification {key}) ; le document présenté doit porter ce nom et "
        "cette date",
        "authentic: {kind} of {date} in the name of {holder}, for {recipient}, dossier "
        "{workflow_id} (notification {key}); the document shown must bear this name and date",
    ),
    "verified_key_only": Label(
        "(code émis avant qu'il couvre le contenu : comparez le document à celui du "
        "registre, `dossiers document {workflow_id} {key}`)",
        "(a code issued before codes covered the content: compare the document with the "
        "register's, `dossiers document {workflow_id} {key}`)",
    ),
    "not_verified": Label(
        "aucun document du dossier {reference} ne porte ce code : le document n'est pas "
        "authentique, ou il a été modifié",
        "no document of {reference} carries this code: the document is not authentic, or "
        "it was altered",
    ),
}

WORKFLOW_STATUSES: Mapping[str, Label] = {
    "running": Label("en cours", "running"),
    "completed": Label("terminé", "completed"),
    "failed": Label("échoué", "failed"),
    "canceled": Label("annulé", "canceled"),
    "terminated": Label("arrêté", "terminated"),
    "continued_as_new": Label("continué", "continued as new"),
    "timed_out": Label("expiré", "timed out"),
}


def cli_text(name: str, language: Language, **values: Any) -> str:
    return CLI[name].text(language).format(**values)


def status_label(status: str, language: Language) -> str:
    label = WORKFLOW_STATUSES.get(status)
    return label.text(language) if label is not None else status


DELIVERY_OUTCOMES: Mapping[str, Label] = {
    "delivered": Label("remise", "delivered"),
    "retry": Label("à réessayer", "to retry"),
    "refused": Label("refusée", "refused"),
    "waiting": Label("en attente", "waiting"),
}


def phrase(name: str, language: Language, **values: Any) -> str:
    return PHRASES[name].text(language).format(**values)


def format_date(day: date, language: Language) -> str:
    """`12/03/2027` in French, `2027-03-12` in English."""
    return day.strftime("%d/%m/%Y") if language == "fr" else day.isoformat()


_ISO_DATE = re.compile(r"^\d{4}-\d\d-\d\d$")


def format_value(value: Any, language: Language) -> str:
    """A code shown in words where the catalogue has them, a date in the language's form."""
    if isinstance(value, list):
        return ", ".join(format_value(item, language) for item in value) or "-"
    text = str(value)
    if _ISO_DATE.match(text):
        return format_date(date.fromisoformat(text), language)
    label = VALUES.get(text) or PROCEDURES.get(text)
    return label.text(language) if label is not None else text


# --- labels --------------------------------------------------------------------------------


def stage_label(kind: str, stage: str, language: Language) -> str:
    """`en attente de la formation (D3, E3, B7)`; an unknown code as it is."""
    label = STAGES.get(kind, {}).get(stage)
    return label.named(language) if label is not None else stage


def deadline_label(kind: str, key: str, language: Language, procedure: str | None = None) -> str:
    """`B7 — début de la formation dans les deux mois (langue)`, for a tracked deadline's
    name or key (`name.detail`)."""
    name, _, detail = key.partition(".")
    label = DEADLINES.get(kind, {}).get(name)
    if label is None:
        return key
    text = Label(label.fr, label.en, _deadline_rule(kind, name, procedure)).ruled(language)
    return text + (f" ({_detail(detail, language)})" if detail else "")


def _deadline_rule(kind: str, name: str, procedure: str | None) -> str | None:
    """`B7`, or `B1, B3` where the procedure does not tell which of them runs."""
    label = DEADLINES.get(kind, {}).get(name)
    if label is None:
        return None
    return _PROCEDURE_RULES.get((name, procedure or ""), label.rule)


def overdue_rules(view: DossierView) -> list[str]:
    """The rules of the delays passed with their obligation outstanding, sorted, each once
    (the `OverdueRules` search attribute: `OverdueRules = "B7"`)."""
    rules: set[str] = set()
    for key in view.overdue:
        rule = _deadline_rule(view.kind, key.partition(".")[0], view.procedure)
        rules.update(part.strip() for part in (rule or "").split(",") if part.strip())
    return sorted(rules)


def _detail(detail: str, language: Language) -> str:
    months = re.fullmatch(r"(\d+)m", detail)
    if months:
        return phrase("months_before", language, months=months.group(1))
    label = DETAILS.get(detail)
    return label.text(language) if label is not None else detail


def event_label(
    event: str, language: Language, kind: str = VISA, procedure: str | None = None
) -> str:
    """An event of the contract, the opening (`start`) or a statutory delay passing
    (`deadline:{key}`), with its rule."""
    if event == "start":
        return OPENINGS.get(kind, OPENINGS[VISA]).named(language)
    if event.startswith("deadline:"):
        return phrase(
            "deadline_passed",
            language,
            deadline=deadline_label(kind, event.removeprefix("deadline:"), language, procedure),
        )
    label = EVENTS.get(event)
    return label.named(language) if label is not None else event


def notification_title(kind: str, language: Language) -> str:
    """A notification kind's title, from its catalogue (models.notifications)."""
    try:
        entry = CATALOGUE[Kind(kind)]
    except ValueError:
        return kind
    return entry.title_fr if language == "fr" else entry.title_en


def notification_label(kind: str, language: Language) -> str:
    """A notification kind's title with its rules: `Résultats de l'évaluation (B6)`."""
    try:
        rules = CATALOGUE[Kind(kind)].rules
    except ValueError:
        return kind
    title = notification_title(kind, language)
    return title + (f" ({compact_rules(rules)})" if rules else "")


def compact_rules(rules: Iterable[str]) -> str:
    """`B1, B2, B3, H5` → `B1–B3, H5`: three or more rules in a row as a range."""
    runs: list[list[tuple[str, int]]] = []
    for rule in rules:
        letter, number = rule[0], int(rule[1:])
        if runs and runs[-1][-1] == (letter, number - 1):
            runs[-1].append((letter, number))
        else:
            runs.append([(letter, number)])
    parts = []
    for run in runs:
        if len(run) >= 3:
            parts.append(f"{run[0][0]}{run[0][1]}–{run[-1][0]}{run[-1][1]}")
        else:
            parts += [f"{letter}{number}" for letter, number in run]
    return ", ".join(parts)


def recipient_label(recipient: str, language: Language) -> str:
    label = RECIPIENTS.get(recipient)
    return label.text(language) if label is not None else recipient


# `language_evaluation (re-evaluation)`, `visa_decision from the consulate`,
# `conseil_general_referral from the prefecture (until 2027-03-12)`: the states' `awaiting`.
_AWAITED = re.compile(
    r"^(?P<event>[a-z_]+)(?: from the (?P<who>[a-z_ ]+?))?(?: \((?P<detail>[^)]*)\))?$"
)
_FEMININE = {"prefecture"}
# Where the domain or the round changes the rule an awaited event carries out.
_AWAITED_RULES: Mapping[tuple[str, str], str] = {
    ("training_prescribed", "values"): "E3",
    ("training_completed", "values"): "E5",
    ("language_evaluation", "re-evaluation"): "D4",
    ("values_evaluation", "re-evaluation"): "E5",
}


def awaited_label(item: str, language: Language) -> str:
    """One item of a state's `awaiting` (a contract value, kept in English codes) in words:
    the event awaited with its rule, who sends it, and its detail."""
    match = _AWAITED.match(item)
    if match is None or match["event"] not in EVENTS:
        return item
    label = EVENTS[match["event"]]
    text = label.text(language)
    detail = match["detail"]
    if detail:
        text += f" — {_awaited_detail(detail, language)}"
    rule = _AWAITED_RULES.get((match["event"], detail or ""), label.rule)
    if rule:
        text += f" ({rule})"
    who = match["who"]
    if who:
        template = "from_fem" if language == "fr" and who in _FEMININE else "from"
        text = phrase(template, language, what=text, who=recipient_label(who, language))
    return text


def _awaited_detail(detail: str, language: Language) -> str:
    until = re.fullmatch(r"until (\d{4}-\d\d-\d\d)", detail)
    if until:
        return phrase("until", language, date=format_date(date.fromisoformat(until[1]), language))
    signatory = re.fullmatch(r"signatory (\d+)", detail)
    if signatory:
        return phrase("signatory", language, rank=signatory[1])
    return _detail(detail, language)


# --- rendering -----------------------------------------------------------------------------


def details_markdown(
    view: DossierView, language: Language = DEFAULT_LANGUAGE, held: Sequence[HeldInput] = ()
) -> str:
    """A dossier's current details in the Web UI (Markdown), with the facts held."""
    where = " · ".join(
        part
        for part in (
            _procedure(view.procedure, language),
            view.consulate or view.prefecture,
            view.country,
        )
        if part
    )
    lines = [
        f"**{view.reference}** · {where}",
        phrase("stage", language, stage=stage_label(view.kind, view.stage, language)),
    ]
    if view.next_deadline is not None:
        name = view.next_deadline_name or ""
        lines.append(
            phrase(
                "next_deadline",
                language,
                deadline=deadline_label(view.kind, name, language, view.procedure),
                date=format_date(view.next_deadline, language),
            )
        )
    if view.awaiting:
        items = ", ".join(awaited_label(item, language) for item in view.awaiting)
        lines.append(phrase("awaiting", language, items=items))
    if view.overdue:
        items = ", ".join(
            deadline_label(view.kind, key, language, view.procedure) for key in view.overdue
        )
        lines.append(phrase("overdue", language, items=items))
    if view.outcome:
        lines.append(phrase("outcome", language, items=outcome_text(view.outcome, language)))
    if held:
        lines.append(held_text(held, language))
    return "\n\n".join(lines)


def held_text(held: Sequence[HeldInput], language: Language) -> str:
    """`1 fait en attente : début de formation, attend la prescription`: the facts held,
    each with what it waits for."""
    items = "; ".join(
        phrase(
            "held_item",
            language,
            event=_event_text(fact.event, language),
            awaited=HELD_FOR.get(fact.event, WHAT_IT_RESTS_ON).text(language),
        )
        for fact in held
    )
    if len(held) == 1:
        return phrase("held_one", language, items=items)
    return phrase("held_many", language, count=len(held), items=items)


def _event_text(event: str, language: Language) -> str:
    label = EVENTS.get(event)
    return label.text(language) if label is not None else event


def outcome_text(outcome: Mapping[str, Any], language: Language) -> str:
    """`décision=délivré, le=12/03/2027`: the outcome's plain values (not its nested ones)."""
    return ", ".join(
        f"{_outcome_key(key, language)}={format_value(value, language)}"
        for key, value in outcome.items()
        if not isinstance(value, dict) and value != []
    )


def _outcome_key(key: str, language: Language) -> str:
    label = OUTCOME_KEYS.get(key)
    return label.text(language) if label is not None else key


def _procedure(procedure: str | None, language: Language) -> str | None:
    if procedure is None:
        return None
    label = PROCEDURES.get(procedure)
    return label.text(language) if label is not None else procedure


def undelivered_text(undelivered: int, refused: int, language: Language) -> str:
    """The details' line counting a dossier's notifications not delivered yet."""
    return phrase("undelivered", language, count=undelivered) + (
        phrase("refused", language, count=refused) if refused else ""
    )


def step_summary(
    event: str,
    rejected: bool,
    said: Iterable[str],
    language: Language,
    kind: str = VISA,
    procedure: str | None = None,
) -> str:
    """The summary of a step's activity: the event, accepted or rejected, and the kinds of
    notification it made due."""
    label = event_label(event, language, kind, procedure)
    if not event.startswith("deadline:"):
        label = phrase("rejected" if rejected else "accepted", language, event=label)
    kinds = ", ".join(notification_label(k, language) for k in sorted(set(said)))
    return label + (f" → {kinds}" if kinds else "")


def notification_summary(kind: str, recipient: str, rule: str, language: Language) -> str:
    """The summary of one notification's activity: what, to whom, under which rule."""
    title = notification_title(kind, language)
    return f"{title} → {recipient_label(recipient, language)} ({rule})"


def timer_summary(kind: str, key: str, language: Language, procedure: str | None = None) -> str:
    """The summary of the timer waiting for a statutory delay to pass."""
    return phrase("timer", language, deadline=deadline_label(kind, key, language, procedure))


def service_label(service: str, language: Language) -> str:
    label = SERVICES.get(service)
    return label.named(language) if label is not None else service


def titled(kind: Kind, template: str, day: date, language: Language) -> str:
    """`Relevé des échéances (B1–B8, H5) du 12/03/2027`: a scheduled run's summary."""
    return phrase(
        template,
        language,
        title=notification_label(kind, language),
        date=format_date(day, language),
    )
