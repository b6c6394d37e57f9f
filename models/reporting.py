"""What the periodic runs tell the authorities: the daily digest of deadlines due or overdue
(B1–B8, H5) and the weekly report to the ministries (J1). Pure functions on what the
register holds; `activities/scheduled.py` reads and writes it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta

from pydantic import Field, field_validator

from models.common import Record
from models.notifications import Kind, Recipient, check_recipient

DIGEST_WINDOW_DAYS = 7
DIGEST_RULES = "B1–B8, H5"

# Notification kinds that say a statutory delay passed with its obligation outstanding.
DEADLINE_MISSED_KINDS = (
    Kind.EVALUATION_OVERDUE,  # B1, B3
    Kind.TRAINING_START_OVERDUE,  # B7
    Kind.TRAINING_OVERRUN,  # B8
    Kind.SURSIS_EXPIRED,  # B4, B5
    Kind.SKILLS_ASSESSMENT_OVERDUE,  # H5
    Kind.PARENTS_TRAINING_MISSED,  # G4
    Kind.EVALUATION_RESULTS,  # B6: results that reached the consulate after the week
)

REPORT_SECTIONS = (
    "stage",
    "country",
    "procedure",
    "open_overdue",
    "deadlines_missed",
    "exemptions_granted",
    "trainings_prescribed",
    "facts_corrected",
)


# --- the deadline digest --------------------------------------------------------------------


class OpenDossier(Record):
    """An open dossier as the register holds it."""

    workflow_id: str
    kind: str
    reference: str
    stage: str
    procedure: str | None = None
    country: str | None = None
    consulate: str | None = None
    prefecture: str | None = None
    responsible_body: str | None = None
    next_deadline: date | None = None
    deadlines: dict[str, date] = Field(default_factory=dict)
    overdue: bool = False


class DigestEntry(Record):
    workflow_id: str
    kind: str
    reference: str
    stage: str
    next_deadline: date | None
    next_deadline_names: list[str]
    days_left: int | None  # negative once the last day allowed has passed
    overdue: bool


class Digest(Record):
    """One `deadline_digest` notification: every dossier one authority has due or overdue."""

    recipient: Recipient
    addressee: str  # which consulate, prefecture, OFII platform or country's body
    entries: list[DigestEntry]

    @field_validator("recipient")
    @classmethod
    def _an_authority_the_catalogue_names(cls, recipient: Recipient) -> Recipient:
        return check_recipient(Kind.DEADLINE_DIGEST, recipient)

    def key(self, day: date) -> str:
        return f"{day.isoformat()}.{self.recipient.value}.{self.addressee}"


def is_due(dossier: OpenDossier, day: date, within_days: int = DIGEST_WINDOW_DAYS) -> bool:
    """Overdue, or its next deadline passed or falls within `within_days` of `day`."""
    if dossier.overdue:
        return True
    return dossier.next_deadline is not None and dossier.next_deadline <= day + timedelta(
        days=within_days
    )


def addressees(dossier: OpenDossier, next_names: Iterable[str]) -> list[tuple[Recipient, str]]:
    """Who answers for a dossier's deadlines: for a visa application, the consulate and the
    body that evaluates and trains (A3: the OFII representation or the delegated
    organisation, per country), and the prefecture when its decision is next (B2); for a CAI,
    the OFII platform and the prefecture that signed it (H5, G4)."""
    found: list[tuple[Recipient, str]] = []
    if dossier.kind == "visa_application":
        if dossier.consulate:
            found.append((Recipient.CONSULATE, dossier.consulate))
        if dossier.country:
            body = Recipient.DELEGATE if dossier.responsible_body == "delegate" else Recipient.OFII
            found.append((body, dossier.country))
        if dossier.prefecture and "prefecture_decision_due" in next_names:
            found.append((Recipient.PREFECTURE, dossier.prefecture))
    else:
        if dossier.responsible_body:
            found.append((Recipient.OFII, dossier.responsible_body))
        if dossier.prefecture:
            found.append((Recipient.PREFECTURE, dossier.prefecture))
    return found


def build_digests(
    dossiers: Iterable[OpenDossier], day: date, within_days: int = DIGEST_WINDOW_DAYS
) -> list[Digest]:
    """One digest per authority with at least one dossier due or overdue, its dossiers
    ordered by next deadline."""
    grouped: dict[tuple[Recipient, str], list[DigestEntry]] = {}
    for dossier in dossiers:
        if not is_due(dossier, day, within_days):
            continue
        names = sorted(
            name for name, due in dossier.deadlines.items() if due == dossier.next_deadline
        )
        entry = DigestEntry(
            workflow_id=dossier.workflow_id,
            kind=dossier.kind,
            reference=dossier.reference,
            stage=dossier.stage,
            next_deadline=dossier.next_deadline,
            next_deadline_names=names,
            days_left=(dossier.next_deadline - day).days if dossier.next_deadline else None,
            overdue=dossier.overdue,
        )
        for addressee in addressees(dossier, names):
            grouped.setdefault(addressee, []).append(entry)
    return [
        Digest(
            recipient=recipient,
            addressee=addressee,
            entries=sorted(entries, key=lambda e: (e.next_deadline or date.max, e.workflow_id)),
        )
        for (recipient, addressee), entries in sorted(grouped.items())
    ]


# --- the report to the ministries -----------------------------------------------------------


def iso_week(day: date) -> str:
    """'2009-W06': the week a report covers, and its idempotency key."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


class DossierTally(Record):
    """How many dossiers of the register share these columns: one row of the report's
    single grouped count, read before any section is decided."""

    kind: str
    stage: str
    country: str | None = None
    procedure: str | None = None
    overdue: bool = False
    closed: bool = False
    deadlines_missed: list[str] = Field(default_factory=list)
    exemptions: list[str] = Field(default_factory=list)
    trainings: list[str] = Field(default_factory=list)
    corrections: int = 0
    dossiers: int


def report_sections(groups: Iterable[DossierTally]) -> dict[str, dict[str, int]]:
    """J1: the report's sections, in `REPORT_SECTIONS` order and each keyed by what it
    counts, from the register's dossiers grouped by the columns the report reads. An empty
    key (no country, no procedure) is left out of its section."""
    sections: dict[str, dict[str, int]] = {name: {} for name in REPORT_SECTIONS}
    # A kind no dossier reached this far is worth reading as a zero.
    sections["deadlines_missed"].update({kind.value: 0 for kind in DEADLINE_MISSED_KINDS})
    for group in groups:
        count = group.dossiers
        # A dossier still opening has not been routed yet: no stage of the circular.
        if group.stage != "opening":
            _add(sections["stage"], f"{group.kind}:{group.stage}", count)
        _add(sections["country"], group.country, count)
        _add(sections["procedure"], group.procedure, count)
        if group.overdue and not group.closed:
            _add(sections["open_overdue"], group.kind, count)
        # B1–B8, H5, G4: the dossiers whose delay passed with its obligation outstanding,
        # as they stand after every late fact and correction.
        for missed in group.deadlines_missed:
            _add(sections["deadlines_missed"], missed, count)
        # C1, C2, H2: what each dossier is exempted from.
        for exempted in group.exemptions:
            _add(sections["exemptions_granted"], exempted, count)
        for training in group.trainings:
            _add(sections["trainings_prescribed"], training, count)
        if group.corrections > 0:
            _add(sections["facts_corrected"], group.kind, group.corrections * count)
    return {name: dict(sorted(by_key.items())) for name, by_key in sections.items()}


def _add(section: dict[str, int], key: str | None, count: int) -> None:
    if key:
        section[key] = section.get(key, 0) + count


def report_rows(sections: Mapping[str, Mapping[str, int]]) -> list[tuple[str, str, int]]:
    """(section, key, count) rows, sections in the report's order, keys sorted."""
    order = {name: index for index, name in enumerate(REPORT_SECTIONS)}
    return [
        (section, key, int(count))
        for section in sorted(sections, key=lambda s: (order.get(s, len(order)), s))
        for key, count in sorted(sections[section].items())
    ]


class SweepRequest(Record):
    """Input of `DeadlineSweep`."""

    run_on: date | None = None  # default: the day the schedule meant the run for
    within_days: int = Field(default=DIGEST_WINDOW_DAYS, ge=0)


class SweepDeadlines(Record):
    """Input of the `sweep_deadlines` activity; `register_id` is the notifications'
    `workflow_id` (the schedule id), so that a day's digests are written once."""

    register_id: str
    day: date
    within_days: int = DIGEST_WINDOW_DAYS


class DigestSent(Record):
    recipient: str
    addressee: str
    key: str
    dossiers: int
    created: bool  # False: that day's digest was already written


class SweepResult(Record):
    day: date
    dossiers_due: int = 0
    digests: list[DigestSent] = Field(default_factory=list)


class ReportRequest(Record):
    """Input of `MinistryReport`."""

    run_on: date | None = None  # default: the day the schedule meant the run for


class WriteReport(Record):
    register_id: str
    as_of: date


class ReportResult(Record):
    week: str
    as_of: date
    path: str  # the CSV file under REPORTS_DIR
    created: bool  # False: that week's report was already sent; the file is rewritten from it
    rows: int
