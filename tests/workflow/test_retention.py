"""Retention: personal data leaves the register once it is no longer needed (closed longer
than the period, never closed and idle longer than the longest a dossier runs, a rejected
start of a dossier that never opened), by the daily `RetentionSweep`; a dossier still in
use keeps everything; pseudonymised rows stay for the statistics."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from activities import register_gateway
from activities.documents import load_document, store_document
from activities.register import RegisterActivities
from activities.retention import (
    RETENTION_DAYS,
    RetentionActivities,
    RetentionRefused,
    erase_dossier,
    erase_expired,
)
from models.common import NotificationDue, Recipient
from models.records import DossierClaim, DossierRow, DossierView, EventRecord, NotificationRecord
from tests.conftest import Harness

NAME, BIRTH, MEDICAL = "Awa Traoré-Retention", "1988-11-05", "hospitalisée"
REFUSED = f"550 mailbox of {NAME} full: 'Madame {NAME}, née le {BIRTH}'"


async def _dossier(pool: asyncpg.Pool, *, closed: bool) -> str:
    workflow_id = f"visa-RET-{uuid.uuid4().hex[:8]}"
    register = RegisterActivities(pool)
    claim = DossierClaim(
        workflow_id=workflow_id, first_run_id="r", kind="visa_application", reference="R"
    )
    await register.claim_dossier(claim)
    await register.record_event(
        EventRecord(
            workflow_id=workflow_id, seq=1, event="start", source="start", accepted=True,
            payload={"applicant": {"full_name": NAME, "birth_date": BIRTH}},
            received_at="2009-02-02T09:00:00+00:00",
        )
    )  # fmt: skip
    await register.record_event(
        EventRecord(
            workflow_id=workflow_id, seq=2, event="training_absence", source="update",
            accepted=False, payload={"legitimate_reason": MEDICAL},
            reason=f"D5: absent_on: {MEDICAL} after the training completed",
            received_at="2009-03-02T09:00:00+00:00",
        )
    )  # fmt: skip
    note = NotificationDue(
        kind="invitation", recipient=Recipient.APPLICANT, rule="A4", origin="000001",
        payload={"full_name": NAME},
    )  # fmt: skip
    await register.send_notification(NotificationRecord.of(workflow_id, note))
    # A refused delivery may quote the letter.
    await register_gateway.mark_refused(pool, workflow_id, note.key, REFUSED, "smtp")
    view = DossierView(
        kind="visa_application", reference="R", stage="visa_issued" if closed else "x",
        closed=closed, version=2, outcome={"decision": "issued", "cai": {"amdfl": True}},
        country="ML", deadlines_missed=["evaluation_overdue"],
    )  # fmt: skip
    await register.upsert_dossier(DossierRow(workflow_id=workflow_id, first_run_id="r", view=view))
    if closed:
        await pool.execute(
            "UPDATE dossier SET closed_at = now() - interval '4 years' WHERE workflow_id = $1",
            workflow_id,
        )
    return workflow_id


async def _rejected_start(pool: asyncpg.Pool, received_at: str) -> str:
    """A start refused at once: its dossier never opened, the row holds the application."""
    workflow_id = f"visa-REJ-{uuid.uuid4().hex[:8]}"
    await RegisterActivities(pool).record_event(
        EventRecord(
            workflow_id=workflow_id, seq=0, event="start", source="start", accepted=False,
            payload={"applicant": {"full_name": NAME, "birth_date": BIRTH}},
            reason=f"A1: applicant.birth_date: {BIRTH} of {NAME} is in the future",
            received_at=received_at, rule="A1",
        )
    )  # fmt: skip
    return workflow_id


async def _idle_since(pool: asyncpg.Pool, workflow_id: str, years: int) -> None:
    """A dossier never closed (its workflow terminated or failed) idle for `years`."""
    since = f"now() - interval '{years} years'"
    await pool.execute(
        f"UPDATE dossier SET updated_at = {since} WHERE workflow_id = $1", workflow_id
    )
    await pool.execute(
        f"UPDATE dossier_event SET recorded_at = {since} WHERE workflow_id = $1", workflow_id
    )


async def _text(pool: asyncpg.Pool, workflow_id: str) -> str:
    """Every column of every row the register's three tables hold of the dossier."""
    rows = [
        dict(row)
        for table in ("dossier", "dossier_event", "notification")
        for row in await pool.fetch(f"SELECT * FROM {table} WHERE workflow_id = $1", workflow_id)
    ]
    return json.dumps(rows, default=str, ensure_ascii=False)


def _assert_erased(text: str) -> None:
    for secret in (NAME, BIRTH, MEDICAL, "mailbox"):
        assert secret not in text


async def test_closed_dossiers_lose_their_personal_data_and_keep_their_statistics(
    pool: asyncpg.Pool,
) -> None:
    old = await _dossier(pool, closed=True)
    running = await _dossier(pool, closed=False)
    async with pool.acquire() as connection:
        letters = {
            workflow_id: await store_document(
                connection,
                workflow_id,
                "000001.invitation.applicant",
                "",
                f"%PDF {NAME} {workflow_id}".encode(),
            )
            for workflow_id in (old, running)
        }
        erased = await erase_expired(connection, RETENTION_DAYS, 1825)
    assert erased.causes[old] == "closed" and running not in erased.workflow_ids
    assert erased.documents == 1 and await load_document(pool, letters[old]) is None
    assert await pool.fetchval(  # the digest stays: it still proves what was sent
        "SELECT document_sha256 FROM notification WHERE workflow_id = $1", old
    ) == letters[old]  # fmt: skip
    assert await load_document(pool, letters[running]) is not None
    _assert_erased(await _text(pool, old))
    row = await pool.fetchrow("SELECT * FROM dossier WHERE workflow_id = $1", old)
    assert row is not None
    assert row["erased_at"] is not None and row["country"] == "ML"
    assert row["deadlines_missed"] == ["evaluation_overdue"]
    assert row["outcome"] == {"decision": "issued"}
    reasons = [r["reason"] for r in await pool.fetch(
        "SELECT reason FROM dossier_event WHERE workflow_id = $1 ORDER BY seq", old
    )]  # fmt: skip
    assert reasons == [None, "D5"]
    refused = await pool.fetchrow(
        "SELECT delivery_error, refused_at FROM notification WHERE workflow_id = $1", old
    )
    assert refused is not None and refused["refused_at"] is not None
    assert refused["delivery_error"] == "erased"  # that it was refused stays, not why
    assert NAME in await _text(pool, running)  # an open dossier keeps everything


async def test_an_open_or_recent_dossier_is_refused(pool: asyncpg.Pool) -> None:
    running = await _dossier(pool, closed=False)
    async with pool.acquire() as connection:
        with pytest.raises(RetentionRefused, match="still open"):
            await erase_dossier(connection, running, 0)
        recent = await _dossier(pool, closed=True)
        with pytest.raises(RetentionRefused, match="within the retention period"):
            await erase_dossier(connection, recent, 5 * 365)
        with pytest.raises(RetentionRefused, match="no such dossier"):
            await erase_dossier(connection, "visa-RET-none", 0)
        erased = await erase_dossier(connection, recent, RETENTION_DAYS)
    assert erased.workflow_ids == [recent]
    _assert_erased(await _text(pool, recent))
    assert NAME in await _text(pool, running)


async def test_the_daily_sweep_erases_every_category_due_and_nothing_in_use(
    harness: Harness, pool: asyncpg.Pool
) -> None:
    closed = await _dossier(pool, closed=True)
    never_closed = await _dossier(pool, closed=False)
    await _idle_since(pool, never_closed, 6)
    old_rejection = await _rejected_start(pool, "2009-02-02T09:00:00+00:00")
    # Still in use: open and active, closed within the period, idle for less than the
    # longest a dossier runs, refused recently.
    running = await _dossier(pool, closed=False)
    recently_closed = await _dossier(pool, closed=True)
    await pool.execute(
        "UPDATE dossier SET closed_at = now() - interval '1 year' WHERE workflow_id = $1",
        recently_closed,
    )
    idle = await _dossier(pool, closed=False)
    await _idle_since(pool, idle, 4)
    recent_rejection = await _rejected_start(pool, datetime.now(UTC).isoformat())

    result: dict[str, Any] = await harness.client.execute_workflow(
        "RetentionSweep",
        {},
        id=f"retention-{uuid.uuid4()}",
        task_queue=harness.task_queue,
        result_type=dict,
    )

    assert result["dossiers"] >= 3 and result["notifications"] >= 2
    for erased in (closed, never_closed, old_rejection):
        _assert_erased(await _text(pool, erased))
    for kept in (running, recently_closed, idle, recent_rejection):
        assert NAME in await _text(pool, kept)
    assert REFUSED in await _text(pool, running)
    never = await pool.fetchrow("SELECT * FROM dossier WHERE workflow_id = $1", never_closed)
    assert never is not None and never["erased_at"] is not None and never["closed_at"] is None
    rejected = await pool.fetchrow(
        "SELECT reason, rule FROM dossier_event WHERE workflow_id = $1", old_rejection
    )
    assert rejected is not None and (rejected["reason"], rejected["rule"]) == ("A1", "A1")
    # A second run finds nothing more of these.
    async with pool.acquire() as connection:
        again = await erase_expired(connection, RETENTION_DAYS, 1825)
    assert not {closed, never_closed, old_rejection} & set(again.workflow_ids)


async def test_a_period_under_a_year_is_refused_by_the_register(pool: asyncpg.Pool) -> None:
    """The worker's role calls the function: a short period must not let it erase a dossier
    still in use."""
    with pytest.raises(asyncpg.InvalidParameterValueError, match="at least 365"):
        await erase_expired(pool, 0, 1825)
    with pytest.raises(asyncpg.InvalidParameterValueError, match="max_open_days"):
        await erase_expired(pool, RETENTION_DAYS, 400)


async def test_the_sweep_empties_the_outbox_folders_of_every_erased_dossier(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """A notification's file and its letter name the person: they go with the dossier,
    and a dossier erased earlier (a retried run, `scripts.retention`) loses them at the
    next sweep."""
    erased_now, erased_before, running = [await _dossier(pool, closed=True) for _ in range(3)]
    outbox = tmp_path / "outbox"
    for workflow_id in (erased_now, erased_before, running):
        folder = outbox / "applicant" / workflow_id
        folder.mkdir(parents=True)
        (folder / "000001.json").write_text(json.dumps({"full_name": NAME}))
    await pool.execute("SELECT * FROM register_erase_dossiers(ARRAY[$1])", erased_before)
    sweep = RetentionActivities(pool, outboxes=[outbox, tmp_path / "absent"])
    assert await sweep.erase_outbox_files([erased_now]) == 2
    left = sorted(path.name for path in (outbox / "applicant").iterdir())
    assert left == [running]
