"""The documents' own task queue: the deliveries and the letters they lay out run apart
from the dossiers, so an update is answered from its step alone (docs/configuration.md,
TEMPORAL_DOCUMENTS_TASK_QUEUE, WORKER_QUEUES)."""

from __future__ import annotations

import contextlib
import uuid
from pathlib import Path

import asyncpg
import pytest
from temporalio.testing import WorkflowEnvironment

from tests.conftest import Harness, iso, running_postman, url_of, visa_input
from workers.main import build_postman, build_workers
from workers.settings import Settings, SettingsError


def test_the_documents_queue_is_named_after_the_dossiers_unless_set() -> None:
    settings = Settings(temporal_task_queue="prefecture")
    assert settings.documents_task_queue == "prefecture-documents"
    assert (settings.polls_dossiers, settings.polls_documents) == (True, True)
    own = Settings.from_env(
        {"TEMPORAL_DOCUMENTS_TASK_QUEUE": "letters", "WORKER_QUEUES": "Documents"}
    )
    assert own.documents_task_queue == "letters"
    assert (own.polls_dossiers, own.polls_documents) == (False, True)


def test_a_worker_refuses_queues_it_does_not_know() -> None:
    with pytest.raises(SettingsError, match="WORKER_QUEUES"):
        Settings.from_env({"WORKER_QUEUES": "letters"})
    with pytest.raises(SettingsError, match="DOCUMENT_RENDERERS"):
        Settings.from_env({"DOCUMENT_RENDERERS": "0"})


def _settings(database_url: str, tmp_path: Path, queues: str) -> Settings:
    return Settings(
        temporal_task_queue=f"test-{uuid.uuid4()}",
        database_url=database_url,
        data_dir=tmp_path,
        delivery_outbox_dir=tmp_path / "outbox",
        document_secret="test secret",
        person_search_key="test person search key",
        worker_queues=queues,
    )


async def test_updates_are_answered_while_no_worker_lays_out_letters(
    own_time_env: WorkflowEnvironment, own_register: asyncpg.Pool, database_url: str, tmp_path: Path
) -> None:
    pool, time_env = own_register, own_time_env
    settings = _settings(await url_of(pool, database_url), tmp_path, "dossiers")
    [dossiers] = build_workers(time_env.client, pool, settings)
    harness = Harness(time_env, pool, settings.temporal_task_queue)
    async with dossiers:
        today = await harness.today()
        handle = await harness.start_visa(visa_input(today))
        state = await handle.execute_update(
            "language_evaluation",
            {"evaluated_on": iso(today), "oral_score": 50, "written_score": 20, "evaluator": "E"},
        )
        assert state["stage"] != "opening"
        # The notifications wait in the register for a postman, no workflow of their own.
        waiting = list(await harness.notifications(handle.id))
        assert waiting and all(row["delivered_at"] is None for row in waiting)
        assert all(row["handed_off_at"] is None for row in waiting)
        # The documents' worker comes, with its postman: everything waiting is delivered,
        # into the outbox.
        documents_settings = settings.model_copy(update={"worker_queues": "documents"})
        documents = build_workers(time_env.client, pool, documents_settings)
        postman = build_postman(time_env.client, pool, documents_settings)
        async with contextlib.AsyncExitStack() as stack:
            for worker in documents:
                await stack.enter_async_context(worker)
            await stack.enter_async_context(running_postman(postman))

            async def delivered() -> bool:
                rows = await harness.notifications(handle.id)
                return all(row["delivered_at"] is not None for row in rows)

            await harness.until(delivered, seconds=60)
        assert list((tmp_path / "outbox").rglob("*.pdf")), "the letters were laid out"
        await harness.close()
