"""The catalogue of notification kinds (`models/notifications.py`): one entry per kind, the
contract's tables (docs/contract.md) agree with it, no kind is spelt as a string outside it,
and every notification whole dossiers make is one it allows, with the payload it describes."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import pytest
from pydantic import ValidationError

from models import history
from models.cai import CAI
from models.common import NotificationDue, Recipient
from models.core import Step
from models.dossier import DossierRecord
from models.dossier_kind import DossierKind
from models.family import FAMILY
from models.notifications import CATALOGUE, Kind, check_recipient
from models.reference import ReferenceData
from models.reporting import Digest, OpenDossier, build_digests
from models.visa import VISA
from models.visa.state import Stage
from tests.unit.builders import (
    COMPLETE_FILE,
    DELEGATE_COUNTRY,
    Event,
    application,
    correction,
    delegate_reference,
    deliver,
    language_evaluation,
    language_test_exemption,
    open_,
    pass_time,
    reference,
    spouse_application,
    training_absence,
    training_completed,
    training_prescribed,
    training_started,
    values_evaluation,
    visa_decision,
)
from tests.unit.test_cai_rules import SIGNED, contract, family

ROOT = Path(__file__).resolve().parents[2]

# The notification kinds of docs/contract.md (VisaApplication, the CAI), never renamed.
CONTRACT_KINDS = {
    "not_subject",
    "invitation",
    "visa_application_copy",
    "evaluation_overdue",
    "prefecture_decision_due",
    "evaluation_results",
    "attestation_language_exemption",
    "attestation_values",
    "training_prescription",
    "training_start_overdue",
    "training_overrun",
    "non_attendance",
    "training_attestation",
    "exemption_granted",
    "sursis_expired",
    "visa_decision",
    "translation_needed",
    "skills_assessment_convocation",
    "skills_assessment_copy",
    "skills_assessment_result",
    "skills_assessment_overdue",
    "cai_expiry_reminder",
    "cai_follow_up_proposal",
    "cai_terminated",
    "parents_training_convocation",
    "parents_training_attestation",
    "parents_training_missed",
    "parents_not_convened",
    "school_attendance_breach",
    "conseil_general_referral",
    "deadline_digest",
    "ministry_report",
}
# Beside the contract's table: the contract's prose names `correction_notice`; A6's routing
# is told to OFII (docs/contract.md).
ADDED_KINDS = {"correction_notice", "routed_to_cai_in_france", "delivery_alert"}
# Letters and attestations kept as documents (contract: "Notifications are delivered").
DOCUMENTS = {
    Kind.INVITATION,  # A4, A5
    Kind.ATTESTATION_LANGUAGE_EXEMPTION,  # D2
    Kind.TRAINING_PRESCRIPTION,  # D3
    Kind.TRAINING_ATTESTATION,  # D4, E5
    Kind.ATTESTATION_VALUES,  # E2
    Kind.PARENTS_TRAINING_CONVOCATION,  # G2
    Kind.PARENTS_TRAINING_ATTESTATION,  # G2
    Kind.SKILLS_ASSESSMENT_CONVOCATION,  # H1
}
LETTER_KEYS = {"full_name", "language_fallback"}


# --- the catalogue ---------------------------------------------------------------------------


@pytest.mark.rule("core")
def test_every_kind_has_one_entry_and_the_contract_kinds_are_all_there() -> None:
    assert set(CATALOGUE) == set(Kind)
    assert {kind.value for kind in Kind} == CONTRACT_KINDS | ADDED_KINDS
    for kind, entry in CATALOGUE.items():
        assert entry.kind is kind
        assert entry.recipients, kind
        assert entry.recipients <= set(Recipient), kind
        assert entry.title_fr.strip() and entry.title_en.strip(), kind
        assert entry.title_fr != entry.title_en, kind
        assert (entry.document is not None) is (kind in DOCUMENTS), kind
        assert len(set(entry.rules)) == len(entry.rules), kind
        assert all(re.fullmatch(r"[A-J][1-9]", rule) for rule in entry.rules), kind
        assert entry.required_keys, kind
    assert len({entry.document for entry in CATALOGUE.values() if entry.document}) == len(DOCUMENTS)
    # A correction inherits its rule (that of the notification it supersedes); the
    # delivery alert answers to the contract's delivery, not to the circular.
    assert [kind for kind, entry in CATALOGUE.items() if not entry.rules] == [
        Kind.CORRECTION_NOTICE,
        Kind.DELIVERY_ALERT,
    ]


@pytest.mark.rule("core")
def test_a_correction_notice_may_go_to_whoever_a_dossier_tells_anything() -> None:
    told = {r for e in CATALOGUE.values() if not e.scheduled for r in e.recipients}
    assert CATALOGUE[Kind.CORRECTION_NOTICE].recipients == told
    assert Recipient.MINISTRY not in told  # the report is never corrected, it is re-run
    assert {k for k, e in CATALOGUE.items() if e.scheduled} == {
        Kind.DEADLINE_DIGEST,
        Kind.MINISTRY_REPORT,
        Kind.DELIVERY_ALERT,
    }


@pytest.mark.rule("A4")
@pytest.mark.rule("C3")
def test_a_recipient_the_catalogue_does_not_name_is_a_fault_of_the_rules() -> None:
    with pytest.raises(ValueError, match="invitation notification is never due to consulate"):
        NotificationDue(kind=Kind.INVITATION, recipient=Recipient.CONSULATE, rule="A4")
    with pytest.raises(ValueError, match="never due to applicant"):
        check_recipient(Kind.EXEMPTION_GRANTED, Recipient.APPLICANT)
    with pytest.raises(ValueError, match="deadline_digest notification is never due"):
        Digest(recipient=Recipient.APPLICANT, addressee="x", entries=[])
    with pytest.raises(ValidationError):
        NotificationDue.model_validate({"kind": "no_such_kind", "recipient": "ofii", "rule": "A6"})
    # A stored notification still loads as the string it always was.
    stored = {"kind": "invitation", "recipient": "applicant", "rule": "A4", "origin": "000001"}
    loaded = NotificationDue.model_validate(stored)
    assert loaded.kind is Kind.INVITATION
    assert loaded.key == "000001.invitation.applicant"
    assert loaded.model_dump(mode="json")["kind"] == "invitation"


# --- the contract's tables ------------------------------------------------------------------


def contract_kind_tables() -> list[list[list[str]]]:
    """The rows of each markdown table of docs/contract.md whose first header cell is `kind`."""
    tables: list[list[list[str]]] = []
    rows: list[list[str]] | None = None
    for line in (ROOT / "docs" / "contract.md").read_text(encoding="utf-8").splitlines():
        cells = (
            [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("|") else []
        )
        if not cells:
            rows = None
        elif rows is None:
            rows = [] if cells[0] == "kind" else None
            if rows is not None:
                tables.append(rows)
        elif not set(cells[0]) <= set("-: "):
            rows.append(cells)
    return tables


def documented_rules(cell: str) -> tuple[str, ...]:
    """`B1–B3, H5` → `(B1, B2, B3, H5)`; prose with no rule ID → `()`."""
    rules: list[str] = []
    for letter, first, last in re.findall(r"\b([A-J])([1-9])(?:–[A-J]?([1-9]))?\b", cell):
        rules += [f"{letter}{n}" for n in range(int(first), int(last or first) + 1)]
    return tuple(rules)


@pytest.mark.rule("core")
def test_the_contract_documents_each_kind_with_its_recipients_and_rules() -> None:
    tables = contract_kind_tables()
    assert len(tables) == 2  # VisaApplication's, the CAI's
    documented: dict[str, tuple[frozenset[str], tuple[str, ...]]] = {}
    recipients = {r.value for r in Recipient}
    for row in (row for table in tables for row in table):
        assert len(row) == 3, row
        kind = row[0].strip("`")
        assert kind not in documented, f"{kind} is documented twice"
        named = frozenset(w for w in re.findall(r"[a-z_]+", row[1]) if w in recipients)
        documented[kind] = (named, documented_rules(row[2]))
    catalogue = {
        kind.value: (frozenset(r.value for r in entry.recipients), entry.rules)
        for kind, entry in CATALOGUE.items()
    }
    assert documented.keys() == catalogue.keys()
    for kind, entry in catalogue.items():
        assert documented[kind] == entry, kind


# --- no kind spelt outside the catalogue -----------------------------------------------------

# Kinds whose name is also that of something else, which may be spelt where it means that.
SHARED_NAMES = {
    "not_subject": "a stage",
    "routed_to_cai_in_france": "a stage",
    "prefecture_decision_due": "a deadline",
    "visa_decision": "an event",
    "school_attendance_breach": "an event",
    "conseil_general_referral": "an event",
}
NOTE_BUILDERS = {"NotificationDue", "_note", "_to_parent", "_to_applicant_and_consulate"}


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    return node.attr if isinstance(node, ast.Attribute) else None


def kind_contexts(tree: ast.AST) -> set[int]:
    """The ids of the nodes in a place that means a notification kind: `kind=`, an argument
    of a notification builder, or a comparison with `.kind`."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            found |= {id(k.value) for k in node.keywords if k.arg == "kind"}
            if _name(node.func) in NOTE_BUILDERS:
                found |= {id(a) for a in node.args}
        elif isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(_name(side) == "kind" for side in sides):
                found |= {id(side) for side in sides}
                for side in sides:
                    if isinstance(side, ast.Tuple | ast.List | ast.Set):
                        found |= {id(e) for e in side.elts}
    return found


def kind_literals(path: Path) -> Iterator[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    contexts = kind_contexts(tree)
    kinds = {kind.value for kind in Kind}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and node.value in kinds
            and (id(node) in contexts or node.value not in SHARED_NAMES)
        ):
            yield node.lineno, node.value


@pytest.mark.rule("core")
def test_no_kind_is_spelt_as_a_string_outside_the_catalogue() -> None:
    modules = sorted({*ROOT.glob("models/**/*.py"), *ROOT.glob("activities/**/*.py")})
    assert ROOT / "models" / "notifications.py" in modules
    found = [
        f"{path.relative_to(ROOT)}:{line}: {value!r}"
        for path in modules
        if path.name != "notifications.py" or path.parent.name != "models"
        for line, value in kind_literals(path)
    ]
    assert found == [], "use models.notifications.Kind"


@pytest.mark.rule("core")
def test_the_names_a_kind_shares_are_those_of_a_stage_a_deadline_or_an_event() -> None:
    events = {*VISA.events, *CAI.events, *FAMILY.events}
    opened = open_()
    assert "prefecture_decision_due" in opened.state.tracked_deadlines
    for name, what in SHARED_NAMES.items():
        assert name in {kind.value for kind in Kind}
        assert {
            "a stage": name in {stage.value for stage in Stage},
            "a deadline": name in opened.state.tracked_deadlines,
            "an event": name in events,
        }[what], name
    # And the scan finds a kind where one is written.
    sample = "note = _note(state, 'invitation', r, 'A4')\nif n.kind == 'visa_decision': pass\n"
    tree = ast.parse(sample)
    contexts = kind_contexts(tree)
    literals = [
        n for n in ast.walk(tree) if isinstance(n, ast.Constant) and n.value in SHARED_NAMES
    ]
    assert [n.value for n in literals if id(n) in contexts] == ["visa_decision"]


# --- what whole dossiers say -----------------------------------------------------------------

EVALUATED = date(2009, 2, 20)
NOTIFIED = date(2009, 2, 25)
CAI_ID = "cai-CAI-75-2009-000042"
CAI_CONVENED: Event = (
    "skills_assessment_convened",
    {"session_id": "S1", "session_on": "2009-03-10", "platform": "OFII Paris"},
)
D = TypeVar("D", bound=DossierRecord)


def told(
    core: DossierKind[D],
    opened: Step[D],
    events: list[Event],
    until: date,
    ref: ReferenceData | None = None,
) -> tuple[D, list[NotificationDue]]:
    """Every notification a dossier makes, from `opened` through `events` (each received
    on the day it carries) and the delays that pass until `until`; and the dossier then."""
    notes = list(opened.notifications)
    state = opened.state
    for name, payload in events:
        step = deliver(core, state, name, payload, ref=ref or reference())
        assert step.rejection is None, step.rejection
        notes += step.notifications
        state = step.state
    state, later = pass_time(core, state, until)
    return state, notes + later


def visa(raw: dict[str, Any], ref: ReferenceData, events: list[Event]) -> list[NotificationDue]:
    return told(VISA, open_(raw, ref), events, date(2009, 9, 1), ref)[1]


def family_reunification_trained() -> list[NotificationDue]:
    """Morocco (OFII): both trainings needed, one module, an absence, hours short, the
    re-evaluation, the prefecture's six months, the visa."""
    return visa(
        application(),
        reference(),
        [
            language_evaluation(EVALUATED, oral=20, written=10),
            values_evaluation(EVALUATED, correct=3),
            training_prescribed(NOTIFIED),
            training_started(date(2009, 3, 2)),
            training_absence(date(2009, 3, 10)),
            training_completed(date(2009, 4, 20), hours=100),
            language_evaluation(date(2009, 4, 25)),
            values_evaluation(date(2009, 4, 25)),
            visa_decision(date(2009, 7, 20)),
        ],
    )


def spouse_in_a_delegate_country() -> list[NotificationDue]:
    """Cameroon (a delegated organisation): a missed evaluation, a test exemption, the
    values attestation late, the sursis run out."""
    return visa(
        spouse_application(country_of_residence=DELEGATE_COUNTRY, complete_file_date="2009-02-02"),
        delegate_reference(),
        [
            (
                "evaluation_absence",
                {"kind": "values", "absent_on": "2009-02-10", "legitimate_reason": None},
            ),
            language_test_exemption(date(2009, 2, 12)),
            values_evaluation(date(2009, 4, 20)),
        ],
    )


def nothing_heard() -> list[NotificationDue]:
    """Morocco (OFII): no evaluation and no visa application, every delay runs out (B2: the
    prefect is reminded while no visa application is on file)."""
    raw, ref = application(visa_application_date=None), reference()
    return told(VISA, open_(raw, ref, today=COMPLETE_FILE), [], date(2009, 9, 1), ref)[1]


def training_overdue(country: str, ref: ReferenceData) -> list[NotificationDue]:
    """The AMDFL; a values training that starts late and overruns; an evaluation corrected."""
    return visa(
        application(country_of_residence=country),
        ref,
        [
            language_evaluation(EVALUATED),
            values_evaluation(EVALUATED, correct=3),
            training_prescribed(date(2009, 5, 1), kind="values", hours=3),
            training_started(date(2009, 5, 4), kind="values"),
            correction(2, language_evaluation(EVALUATED, oral=60, written=25)[1], date(2009, 5, 5)),
        ],
    )


def not_subject() -> list[NotificationDue]:
    too_old = application(applicant={"birth_date": "1940-01-01"})
    routed = spouse_application(resides_in_france_married_over_6_months=True)
    return [*open_(too_old).notifications, *open_(routed).notifications]


def letters_held() -> list[NotificationDue]:
    """A4: no letter template in a language the applicant declared: OFII is told."""
    return open_(application(applicant={"languages": ["ber"]})).notifications


def cai_terminated() -> list[NotificationDue]:
    """Convened, absent without a reason, the year runs out, the prefect terminates."""
    opened = history.open_dossier(CAI, contract(), reference(), SIGNED, CAI_ID)
    events: list[Event] = [
        CAI_CONVENED,
        (
            "absence",
            {"service": "skills_assessment", "absent_on": "2009-03-10", "legitimate_reason": None},
        ),
    ]
    state, notes = told(CAI, opened, events, date(2010, 3, 3))
    decision = ("prefect_decision", {"decision": "terminate", "decided_on": "2010-03-10"})
    return notes + told(CAI, Step(state), [decision], date(2010, 3, 10))[1]


def cai_completed() -> list[NotificationDue]:
    opened = history.open_dossier(CAI, contract(), reference(), SIGNED, CAI_ID)
    events: list[Event] = [
        CAI_CONVENED,
        (
            "skills_assessment_completed",
            {"completed_on": "2009-03-10", "duration_hours": 3, "report_ref": "BCP-1"},
        ),
    ]
    return told(CAI, opened, events, date(2009, 4, 1))[1]


def family_referred() -> list[NotificationDue]:
    """Three parents: one attends, one is absent without a reason and is reported at the end
    of the follow-up, one is never convened and OFII is told (G4); a child misses school
    (G3); the prefect refers the family to the conseil général."""
    raw = family(
        signatories=[
            {"person_id": "P1", "full_name": "Ayse Demir", "languages": ["tr"]},
            {"person_id": "P2", "full_name": "Kemal Demir", "languages": ["fr"]},
            {"person_id": "P3", "full_name": "Elif Demir", "languages": ["tr"]},
        ],
        children=[
            {
                "child_id": "C1",
                "birth_date": "2000-09-01",
                "admitted_through_family_reunification": True,
            }
        ],
    )
    opened = history.open_dossier(FAMILY, raw, reference(), SIGNED, "caif-CAIF-75-2009-000007")
    events: list[Event] = [
        (
            "parents_training_convened",
            {"person_id": person, "session_id": "DDP-1", "session_on": "2009-03-20"},
        )
        for person in ("P1", "P2")
    ]
    events += [
        (
            "parents_training_attended",
            {"person_id": "P1", "attended_on": "2009-03-20", "attestation_ref": "DDP-1-P1"},
        ),
        (
            "parents_training_absence",
            {"person_id": "P2", "absent_on": "2009-03-20", "legitimate_reason": None},
        ),
        (
            "school_attendance_breach",
            {"child_id": "C1", "reported_on": "2009-04-01", "detail": "absent a month"},
        ),
    ]
    state, notes = told(FAMILY, opened, events, date(2010, 3, 3))
    referral: Event = (
        "conseil_general_referral",
        {"decided_on": "2010-03-10", "reason": "training missed", "person_id": "P2"},
    )
    return notes + told(FAMILY, Step(state), [referral], date(2010, 3, 10))[1]


def every_dossier() -> list[NotificationDue]:
    return [
        *family_reunification_trained(),
        *spouse_in_a_delegate_country(),
        *nothing_heard(),
        *training_overdue("MA", reference()),
        *training_overdue(DELEGATE_COUNTRY, delegate_reference()),
        *not_subject(),
        *letters_held(),
        *cai_terminated(),
        *cai_completed(),
        *family_referred(),
    ]


@pytest.mark.rule("A4")
@pytest.mark.rule("C3")
@pytest.mark.rule("D3")
@pytest.mark.rule("G4")
@pytest.mark.rule("H4")
def test_whole_dossiers_tell_only_whom_the_catalogue_names_what_it_describes() -> None:
    notes = every_dossier()
    by_key = {note.key: note for note in notes}
    reached: dict[Kind, set[Recipient]] = {}
    for note in notes:
        entry = CATALOGUE[note.kind]
        assert note.recipient in entry.recipients, note
        reached.setdefault(note.kind, set()).add(note.recipient)
        rules = set(re.findall(r"[A-J][1-9]", note.rule))
        assert rules, note
        if note.kind == Kind.CORRECTION_NOTICE:
            superseded = CATALOGUE[Kind(note.payload["superseded_kind"])]
            assert rules <= set(superseded.rules), note
            assert note.recipient in superseded.recipients, note
        else:
            assert rules <= set(entry.rules), note
        assert entry.required_keys <= note.payload.keys(), note
        entry.payload.model_validate(note.payload)
        if note.recipient == Recipient.APPLICANT:  # A4, G2, H1: a letter in their language
            assert note.language is not None, note
            assert note.payload.keys() >= LETTER_KEYS, note
    assert len(by_key) <= len(notes)
    # Every kind a dossier says was said, to every recipient its entry names.
    said_by_dossiers = {kind for kind, entry in CATALOGUE.items() if not entry.scheduled}
    assert set(reached) == said_by_dossiers
    for kind, recipients in reached.items():
        if kind != Kind.CORRECTION_NOTICE:
            assert recipients == set(CATALOGUE[kind].recipients), kind


@pytest.mark.rule("B1")
@pytest.mark.rule("H5")
def test_the_digest_goes_only_to_the_authorities_the_catalogue_names() -> None:
    day = date(2009, 3, 14)

    def open_dossier(workflow_id: str, kind: str, **fields: Any) -> OpenDossier:
        return OpenDossier(
            workflow_id=workflow_id,
            kind=kind,
            reference=workflow_id,
            stage="awaiting_evaluation",
            next_deadline=day,
            deadlines={"prefecture_decision_due": day},
            **fields,
        )

    digests = build_digests(
        [
            open_dossier(
                "visa-1",
                "visa_application",
                consulate="Rabat",
                country="MA",
                prefecture="Paris",
                responsible_body="ofii_representation",
            ),
            open_dossier(
                "visa-2",
                "visa_application",
                consulate="Yaoundé",
                country=DELEGATE_COUNTRY,
                responsible_body="delegate",
            ),
            open_dossier(
                "cai-1", "cai_contract", prefecture="Paris", responsible_body="OFII Paris"
            ),
        ],
        day,
    )
    assert {d.recipient for d in digests} == CATALOGUE[Kind.DEADLINE_DIGEST].recipients


@pytest.mark.rule("A4")
def test_a_kind_is_written_to_the_register_as_the_string_it_always_was() -> None:
    [invitation] = open_(application()).notifications
    assert invitation.kind is Kind.INVITATION
    assert invitation.key == "000001.invitation.applicant"
    assert invitation.model_dump(mode="json")["kind"] == "invitation"
    assert type(invitation.model_dump(mode="json")["kind"]) is str
