"""Demo data: `python -m scripts.demo` (`make demo`, with `make run` going).

Submits a dozen realistic dossiers and drives them with events into the main stages of
the circular, so that a new user sees a living Web UI within a minute. Dates are relative
to today (the workflow refuses events dated in the future and counts every delay from the
dates in the events), and application ids carry a per-run tag, so the demo can run again
and again on the same server.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from scripts.cli import (
    KINDS,
    query_state,
    send_event,
    submit_application,
    workflow_id_of,
)
from scripts.cli_errors import CommandError, Rejected
from workers.client import connect, exit_process
from workers.settings import Settings, SettingsError

DEFAULT_UI_URL = "http://localhost:8233"
OVERDUE_TIMEOUT = 20.0


@dataclass(frozen=True)
class Step:
    """One event sent as an update; `rejected` marks an input the demo sends on purpose so
    that operators see it refused in `rejected_inputs`."""

    event: str
    payload: dict[str, Any]
    rejected: bool = False


@dataclass
class DemoDossier:
    shows: str
    """What the dossier shows a new user, in a few words."""
    application: dict[str, Any]
    steps: list[Step] = field(default_factory=list)
    wait_for_overdue: bool = False
    kind: str = "visa"


@dataclass(frozen=True)
class Outcome:
    workflow_id: str
    shows: str
    country: str
    procedure: str
    stage: str
    overdue: list[str]
    rejected_inputs: int


# --- the dossiers ------------------------------------------------------------------------


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def build_dossiers(today: date, run: str) -> list[DemoDossier]:
    """The demo's dossiers, dated relative to `today`; `run` makes their ids unique."""

    def ago(days: int) -> str:
        return (today - timedelta(days=days)).isoformat()

    counter = iter(range(1, 100))

    def application(
        code: str,
        procedure: str,
        name: str,
        birth_date: str,
        nationality: str,
        languages: list[str],
        country: str,
        consulate: str,
        filed_days_ago: int,
        complete_days_ago: int,
        prefecture: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        data: dict[str, Any] = {
            "application_id": f"{code}-{today.year}-{run}-{next(counter):02d}",
            "procedure": procedure,
            "applicant": {
                "full_name": name,
                "birth_date": birth_date,
                "nationality": nationality,
                "languages": languages,
            },
            "country_of_residence": country,
            "consulate": consulate,
            "visa_application_date": ago(filed_days_ago),
            "complete_file_date": ago(complete_days_ago),
            "resides_in_france_married_over_6_months": False,
            **extra,
        }
        if prefecture is not None:
            data["prefecture"] = prefecture
        return data

    def language(days_ago: int, oral: int, written: int, evaluator: str) -> Step:
        return Step(
            "language_evaluation",
            {
                "evaluated_on": ago(days_ago),
                "oral_score": oral,
                "written_score": written,
                "evaluator": evaluator,
            },
        )

    def values(days_ago: int, language_used: str, correct: int, evaluator: str) -> Step:
        return Step(
            "values_evaluation",
            {
                "evaluated_on": ago(days_ago),
                "language_used": language_used,
                "questions_asked": 6,
                "correct_answers": correct,
                "evaluator": evaluator,
            },
        )

    def prescribed(days_ago: int, hours: int, provider: str, rejected: bool = False) -> Step:
        payload = {
            "kind": "language",
            "hours": hours,
            "provider": provider,
            "notified_on": ago(days_ago),
        }
        return Step("training_prescribed", payload, rejected=rejected)

    family, spouse = "family_reunification", "spouse_of_french"
    seventy = _years_before(today - timedelta(days=12), 70) - timedelta(days=40)
    return [
        DemoDossier(
            "filed last week: awaiting both evaluations (B1)",
            application(
                "RBT",
                family,
                "Amina El Idrissi",
                "1991-03-02",
                "MA",
                ["ar", "fr"],
                "MA",
                "Rabat",
                5,
                8,
                prefecture="Paris",
            ),
        ),
        DemoDossier(
            "both evaluations sufficient: awaiting the visa decision (D2, E2)",
            application(
                "IST", spouse, "Elif Yılmaz", "1994-07-19", "TR", ["tr"], "TR", "Istanbul", 20, 18
            ),
            [language(6, 55, 25, "OFII Ankara"), values(6, "tr", 6, "OFII Ankara")],
        ),
        DemoDossier(
            "language and values insufficient: one combined training (E4), in training",
            application(
                "BKO",
                family,
                "Awa Traoré",
                "1988-11-05",
                "ML",
                ["bm", "fr"],
                "ML",
                "Bamako",
                30,
                34,
                prefecture="Montreuil",
            ),
            [
                language(6, 20, 10, "OFII Bamako"),
                values(6, "bm", 3, "OFII Bamako"),
                prescribed(4, 120, "Institut français du Mali"),
                Step("training_started", {"kind": "language", "started_on": ago(1)}),
            ],
        ),
        DemoDossier(
            "language test exemption, a year of higher education in France (C1)",
            application(
                "TUN",
                spouse,
                "Mohamed Ben Salah",
                "1990-01-23",
                "TN",
                ["ar", "fr"],
                "TN",
                "Tunis",
                15,
                13,
            ),
            [
                Step(
                    "language_test_exemption",
                    {
                        "decided_on": ago(10),
                        "ground": "higher_education_france_1y",
                        "evidence_ref": "Licence, Université Lumière Lyon 2, 2012",
                    },
                ),
                values(3, "ar", 5, "OFII Tunis"),
            ],
        ),
        DemoDossier(
            "values training exempted: incompatible constraints (C2, C3)",
            application(
                "DKR",
                family,
                "Fatou Diop",
                "1985-05-30",
                "SN",
                ["wo", "fr"],
                "SN",
                "Dakar",
                25,
                28,
                prefecture="Bobigny",
            ),
            [
                language(5, 50, 20, "OFII Dakar"),
                values(5, "wo", 2, "OFII Dakar"),
                Step(
                    "training_exemption",
                    {
                        "decided_on": ago(2),
                        "trainings": ["values"],
                        "ground": "incompatible_constraints",
                        "detail": "cares for a dependent parent; no session within reach",
                        "evidence_ref": "CERT-DKR-0412",
                    },
                ),
            ],
        ),
        DemoDossier(
            "training completed: awaiting the re-evaluation (D4)",
            application(
                "MTL",
                family,
                "Li Wei",
                "1992-09-14",
                "CA",
                ["zh", "en"],
                "CA",
                "Montréal",
                20,
                22,
                prefecture="Lyon",
            ),
            [
                language(6, 25, 15, "OFII Montréal"),
                values(6, "en", 6, "OFII Montréal"),
                prescribed(5, 40, "Alliance française de Montréal"),
                Step("training_started", {"kind": "language", "started_on": ago(4)}),
                Step(
                    "training_completed",
                    {
                        "kind": "language",
                        "completed_on": ago(0),
                        "hours_attended": 40,
                        "attestation_ref": "AF-MTL-2231",
                    },
                ),
            ],
        ),
        DemoDossier(
            "visa issued; OFII told (F4)",
            application(
                "CAS",
                spouse,
                "Youssef Benali",
                "1987-02-11",
                "MA",
                ["ar", "fr"],
                "MA",
                "Casablanca",
                14,
                12,
            ),
            [
                language(4, 60, 25, "OFII Rabat"),
                values(4, "fr", 6, "OFII Rabat"),
                Step("visa_decision", {"decision": "issued", "decided_on": ago(1)}),
            ],
        ),
        DemoDossier(
            "visa refused on public order grounds (F3 allows it)",
            application(
                "ANK",
                family,
                "Mehmet Demir",
                "1983-12-02",
                "TR",
                ["tr"],
                "TR",
                "Ankara",
                18,
                21,
                prefecture="Strasbourg",
            ),
            [
                language(5, 45, 20, "OFII Ankara"),
                values(5, "tr", 5, "OFII Ankara"),
                Step(
                    "visa_decision",
                    {"decision": "refused", "decided_on": ago(1), "grounds": ["public_order"]},
                ),
            ],
        ),
        DemoDossier(
            "not subject: the scheme does not run in Viet Nam (A2)",
            application(
                "HAN",
                family,
                "Nguyen Thi Lan",
                "1993-04-08",
                "VN",
                ["vi"],
                "VN",
                "Hanoï",
                10,
                12,
                prefecture="Marseille",
            ),
        ),
        DemoDossier(
            "not subject: aged 70 on the application date (A1)",
            application(
                "RBT",
                family,
                "Fatima Zahra Alaoui",
                seventy.isoformat(),
                "MA",
                ["ar"],
                "MA",
                "Rabat",
                12,
                15,
                prefecture="Paris",
            ),
        ),
        DemoDossier(
            "spouse living in France, married over 6 months: CAI in France (A6)",
            application(
                "LYS",
                spouse,
                "Karim Haddad",
                "1989-06-27",
                "TN",
                ["ar", "fr"],
                "FR",
                "Lyon",
                9,
                7,
                resides_in_france_married_over_6_months=True,
            ),
        ),
        DemoDossier(
            "a 30-hour prescription refused (D3): see rejected_inputs",
            application(
                "BKO",
                spouse,
                "Moussa Keïta",
                "1995-08-03",
                "ML",
                ["bm", "fr"],
                "ML",
                "Bamako",
                16,
                14,
            ),
            [
                language(4, 18, 12, "OFII Bamako"),
                values(4, "fr", 5, "OFII Bamako"),
                prescribed(2, 30, "Institut français du Mali", rejected=True),
            ],
        ),
        DemoDossier(
            "filed 70 days ago, never evaluated: evaluation overdue (B1)",
            application(
                "TUN",
                family,
                "Salma Trabelsi",
                "1996-10-17",
                "TN",
                ["ar", "fr"],
                "TN",
                "Tunis",
                70,
                70,
                prefecture="Nice",
            ),
            wait_for_overdue=True,
        ),
        *cai_dossiers(today, run),
    ]


def cai_dossiers(today: date, run: str) -> list[DemoDossier]:
    """Contracts signed in France (part II): the session planners convene the waiting ones."""
    counter = iter(range(1, 100))

    def ago(days: int) -> str:
        return (today - timedelta(days=days)).isoformat()

    def contract(
        name: str,
        birth_date: str,
        nationality: str,
        languages: list[str],
        prefecture: str,
        platform: str,
        signed_days_ago: int,
        **extra: Any,
    ) -> dict[str, Any]:
        return {
            "contract_id": f"CAI-{today.year}-{run}-{next(counter):02d}",
            "signatory": {
                "full_name": name,
                "birth_date": birth_date,
                "nationality": nationality,
                "languages": languages,
            },
            "prefecture": prefecture,
            "platform": platform,
            "signed_on": ago(signed_days_ago),
            "residence_permit_basis": "L.313-11",
            "in_school": False,
            "prescriptions": {
                "civic_training": True,
                "vivre_en_france": True,
                "language_training_hours": 120,
                "dilf_required": False,
            },
            "visa_application_id": None,
            **extra,
        }

    return [
        DemoDossier(
            "CAI signed this month: waits for its skills assessment convocation (H1)",
            contract("Yasmine Benali", "1992-02-14", "DZ", ["ar", "fr"], "Paris", "OFII Paris", 10),
            kind="cai",
        ),
        DemoDossier(
            "CAI of a signatory over 55: exempt from the skills assessment (H2)",
            contract("Hüseyin Aydın", "1960-09-09", "TR", ["tr"], "Lyon", "OFII Lyon", 30),
            kind="cai",
        ),
        DemoDossier(
            "CAI whose assessment is done; copy to France Travail (H3, H4)",
            contract(
                "Oumar Sow", "1990-01-20", "SN", ["wo", "fr"], "Marseille", "OFII Marseille", 40
            ),
            [
                Step(
                    "skills_assessment_convened",
                    {
                        "session_id": f"demo-{run}-1",
                        "session_on": ago(5),
                        "platform": "OFII Marseille",
                    },
                ),
                Step(
                    "skills_assessment_completed",
                    {"completed_on": ago(5), "duration_hours": 3, "report_ref": "BCP-0001"},
                ),
            ],
            kind="cai",
        ),
        DemoDossier(
            "CAI signed over a year ago: OFII's proposal awaits the prefect (I1)",
            contract("Rachid Amrani", "1985-04-04", "MA", ["ar"], "Paris", "OFII Paris", 380),
            kind="cai",
        ),
        DemoDossier(
            "CAI for the family: both parents wait for 'Droits et devoirs des parents' (G2)",
            {
                "contract_id": f"CAIF-{today.year}-{run}-01",
                "prefecture": "Paris",
                "platform": "OFII Paris",
                "signed_on": ago(12),
                "signatories": [
                    {"person_id": "P1", "full_name": "Ayşe Kaya", "languages": ["tr"]},
                    {"person_id": "P2", "full_name": "Mustafa Kaya", "languages": ["tr", "fr"]},
                ],
                "children": [
                    {
                        "child_id": "C1",
                        "birth_date": _years_before(today, 9).isoformat(),
                        "admitted_through_family_reunification": True,
                    },
                ],
            },
            kind="cai-family",
        ),
    ]


# --- running them ------------------------------------------------------------------------


async def worker_is_polling(client: Client, settings: Settings) -> bool:
    described = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=settings.temporal_namespace,
            task_queue=TaskQueue(name=settings.temporal_task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        )
    )
    return len(described.pollers) > 0


async def run_dossier(client: Client, dossier: DemoDossier, settings: Settings) -> Outcome:
    """Submit the dossier (its Web UI summary in OPERATOR_LANGUAGE), send its events, and
    return where it stands."""
    kind = KINDS[dossier.kind]
    await submit_application(
        client,
        dossier.application,
        settings.temporal_task_queue,
        kind=kind,
        language=settings.operator_language,
    )
    workflow_id = workflow_id_of(kind, dossier.application)
    for step in dossier.steps:
        try:
            await send_event(client, workflow_id, step.event, step.payload)
        except Rejected as rejected:
            if not step.rejected:
                raise CommandError(f"{workflow_id}: {step.event} rejected: {rejected}") from None
        else:
            if step.rejected:
                raise CommandError(f"{workflow_id}: {step.event} was expected to be rejected")
    state = await query_state(client, workflow_id)
    if dossier.wait_for_overdue:
        state = await _until_overdue(client, workflow_id)
    return Outcome(
        workflow_id=workflow_id,
        shows=dossier.shows,
        country=dossier.application.get("country_of_residence", "FR"),
        procedure=dossier.application.get("procedure", kind.workflow_type),
        stage=str(state.get("stage")),
        overdue=list(state.get("overdue") or []),
        rejected_inputs=len(state.get("rejected_inputs") or []),
    )


async def _until_overdue(client: Client, workflow_id: str) -> dict[str, Any]:
    """The statutory timer of a long-past deadline fires at once; wait for its effect."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + OVERDUE_TIMEOUT
    while True:
        state = await query_state(client, workflow_id)
        if state.get("overdue") or loop.time() >= deadline:
            return state
        await asyncio.sleep(0.2)


def outcome_table(outcomes: Sequence[Outcome]) -> str:
    header = ("WORKFLOW ID", "COUNTRY", "PROCEDURE", "STAGE", "OVERDUE", "REJECTED", "SHOWS")
    rows = [header] + [
        (
            o.workflow_id,
            o.country,
            o.procedure,
            o.stage,
            ", ".join(o.overdue) or "-",
            str(o.rejected_inputs),
            o.shows,
        )
        for o in outcomes
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


async def run_demo(settings: Settings, ui_url: str) -> int:
    try:
        client = await connect(settings)
        polling = await worker_is_polling(client, settings)
    except Exception as error:
        print(
            f"demo: cannot reach Temporal at {settings.temporal_address}: {error}\n"
            "Start the stack first: `make run`.",
            file=sys.stderr,
        )
        return 1
    if not polling:
        print(
            f"demo: no worker polls task queue {settings.temporal_task_queue!r}. "
            "Start the stack first: `make run`.",
            file=sys.stderr,
        )
        return 1

    today = datetime.now(UTC).date()
    run = secrets.token_hex(3)
    dossiers = build_dossiers(today, run)
    print(f"demo: submitting {len(dossiers)} dossiers (run {run})…", file=sys.stderr)
    results = await asyncio.gather(
        *(run_dossier(client, d, settings) for d in dossiers),
        return_exceptions=True,
    )
    outcomes = [r for r in results if isinstance(r, Outcome)]
    failures = [r for r in results if not isinstance(r, Outcome)]
    print(outcome_table(outcomes))
    namespace = settings.temporal_namespace
    print(
        f"\nWeb UI: {ui_url.rstrip('/')}/namespaces/{namespace}/workflows\n"
        'Try the query box with:  DossierStage = "in_training"   ·   Overdue = true'
        '   ·   CountryOfResidence = "MA"\n'
        f"Or here: python -m scripts.cli show {outcomes[0].workflow_id if outcomes else 'ID'}"
        " --summary"
    )
    for failure in failures:
        print(f"demo: failed: {failure}", file=sys.stderr)
    return 1 if failures else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.demo",
        description="Submit a dozen demo dossiers to a running stack (`make run`).",
    )
    parser.add_argument(
        "--ui-url", default=DEFAULT_UI_URL, help=f"the Web UI to link to ({DEFAULT_UI_URL})"
    )
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        print(f"demo: {error}", file=sys.stderr)
        return 1
    return asyncio.run(run_demo(settings, args.ui_url))


if __name__ == "__main__":
    exit_process(main())
