"""Retention: personal data leaves the register once a dossier has been closed longer than
the period; open dossiers are refused; pseudonymised rows stay for the statistics."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from activities.documents import load_document, store_document
from activities.register import RegisterActivities
from activities.retention import RetentionRefused, erase_personal_data
from models.common import NotificationDue, Recipient
from models.records import DossierClaim, DossierRow, DossierView, EventRecord, NotificationRecord

NAME, BIRTH, MEDICAL = "Awa Traoré-Retention", "1988-11-05", "hospitalisée"


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


async def _text(pool: asyncpg.Pool, workflow_id: str) -> str:
    events = await pool.fetch("SELECT * FROM dossier_event WHERE workflow_id = $1", workflow_id)
    notes = await pool.fetch("SELECT * FROM notification WHERE workflow_id = $1", workflow_id)
    return json.dumps([dict(r) for r in [*events, *notes]], default=str, ensure_ascii=False)


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
        erased = await erase_personal_data(connection, datetime.now(UTC) - timedelta(days=1095))
    assert old in erased.workflow_ids and running not in erased.workflow_ids
    assert erased.documents == 1 and await load_document(pool, letters[old]) is None
    assert await pool.fetchval(  # the digest stays: it still proves what was sent
        "SELECT document_sha256 FROM notification WHERE workflow_id = $1", old
    ) == letters[old]  # fmt: skip
    assert await load_document(pool, letters[running]) is not None
    text = await _text(pool, old)
    for secret in (NAME, BIRTH, MEDICAL):
        assert secret not in text
    row = await pool.fetchrow("SELECT * FROM dossier WHERE workflow_id = $1", old)
    assert row is not None
    assert row["erased_at"] is not None and row["country"] == "ML"
    assert row["deadlines_missed"] == ["evaluation_overdue"]
    assert row["outcome"] == {"decision": "issued"}
    reasons = [r["reason"] for r in await pool.fetch(
        "SELECT reason FROM dossier_event WHERE workflow_id = $1 ORDER BY seq", old
    )]  # fmt: skip
    assert reasons == [None, "D5"]
    assert NAME in await _text(pool, running)  # an open dossier keeps everything


async def test_an_open_or_recent_dossier_is_refused(pool: asyncpg.Pool) -> None:
    running = await _dossier(pool, closed=False)
    async with pool.acquire() as connection:
        with pytest.raises(RetentionRefused, match="still open"):
            await erase_personal_data(connection, datetime.now(UTC), running)
        recent = await _dossier(pool, closed=True)
        with pytest.raises(RetentionRefused, match="within the retention period"):
            await erase_personal_data(
                connection, datetime.now(UTC) - timedelta(days=5 * 365), recent
            )
    assert NAME in await _text(pool, running) and NAME in await _text(pool, recent)
