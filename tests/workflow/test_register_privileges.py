"""Least privilege in the register: the worker's role appends to the audit trail
(`dossier_event`, `notification`) and never rewrites it, but for `delivered_at`."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from activities import database
from activities.database import ensure_login_role, open_pool
from activities.register import RegisterActivities
from models.common import NotificationDue, Recipient
from models.records import DossierClaim, DossierRow, DossierView, EventRecord, NotificationRecord
from workers.postgres import as_role


@pytest.fixture
async def worker_pool(database_url: str, pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Pool]:
    """A pool as the worker's role; `pool` (the owner's) has migrated the schema."""
    await ensure_login_role(database_url, "test_register_worker")
    await ensure_login_role(database_url, "test_register_worker")  # idempotent
    worker = await open_pool(as_role(database_url, "test_register_worker"), migrated=False)
    try:
        yield worker
    finally:
        await worker.close()


async def test_the_worker_role_writes_every_step_and_rewrites_nothing(
    worker_pool: asyncpg.Pool,
) -> None:
    workflow_id = f"visa-PRIV-{uuid.uuid4().hex[:8]}"
    register = RegisterActivities(worker_pool)
    assert await register.claim_dossier(DossierClaim(
        workflow_id=workflow_id, first_run_id="run-1", kind="visa_application", reference="PRIV"
    )) is None  # fmt: skip
    await register.record_event(
        EventRecord(
            workflow_id=workflow_id,
            seq=1,
            event="start",
            source="start",
            accepted=True,
            payload={"application_id": "PRIV"},
            received_at="2009-02-02T09:00:00+00:00",
        )
    )
    due = NotificationDue(
        kind="invitation", recipient=Recipient.APPLICANT, rule="A4", origin="000001"
    )
    assert await register.send_notification(NotificationRecord.of(workflow_id, due))
    await register.upsert_dossier(
        DossierRow(
            workflow_id=workflow_id,
            first_run_id="run-1",
            view=DossierView(kind="visa_application", reference="PRIV", stage="x", version=1),
        )
    )
    await worker_pool.execute(
        "UPDATE notification SET delivered_at = now() WHERE workflow_id = $1", workflow_id
    )

    forbidden = [
        "UPDATE dossier_event SET reason = 'rewritten' WHERE workflow_id = $1",
        "DELETE FROM dossier_event WHERE workflow_id = $1",
        "UPDATE notification SET payload = '{}' WHERE workflow_id = $1",
        "DELETE FROM notification WHERE workflow_id = $1",
        "DELETE FROM dossier WHERE workflow_id = $1",
        # Retention would skip a dossier whose erasure is forged, or whose identity moved.
        "UPDATE dossier SET erased_at = now() WHERE workflow_id = $1",
        "UPDATE dossier SET reference = 'other' WHERE workflow_id = $1",
        "UPDATE dossier SET first_run_id = 'other' WHERE workflow_id = $1",
        # Marking rows abandoned would hide them from every reader: only a reset does.
        "UPDATE dossier_event SET abandoned_by = 'x' WHERE workflow_id = $1",
        "UPDATE notification SET abandoned_by = 'x' WHERE workflow_id = $1",
        "DELETE FROM dossier_run WHERE workflow_id = $1",
    ]
    for statement in forbidden:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await worker_pool.execute(statement, workflow_id)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await worker_pool.execute("CREATE TABLE intruder (x int)")


async def _closed_dossier(worker_pool: asyncpg.Pool) -> str:
    """A refused visa application, written by the worker's role: closed."""
    workflow_id = f"visa-PRIV-{uuid.uuid4().hex[:8]}"
    register = RegisterActivities(worker_pool)
    await register.claim_dossier(DossierClaim(
        workflow_id=workflow_id, first_run_id="run-1", kind="visa_application", reference="PRIV"
    ))  # fmt: skip
    view = DossierView(
        kind="visa_application", reference="PRIV", stage="visa_refused", version=1, closed=True
    )
    await register.upsert_dossier(
        DossierRow(workflow_id=workflow_id, first_run_id="run-1", view=view)
    )
    return workflow_id


async def test_a_closed_dossier_stays_closed_and_a_reset_is_followed_by_its_rule(
    worker_pool: asyncpg.Pool,
) -> None:
    workflow_id = await _closed_dossier(worker_pool)
    register = RegisterActivities(worker_pool)
    closed = await worker_pool.fetchval(
        "SELECT closed_at FROM dossier WHERE workflow_id = $1", workflow_id
    )
    assert closed is not None
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="stays closed"):
        await worker_pool.execute(
            "UPDATE dossier SET closed_at = NULL WHERE workflow_id = $1", workflow_id
        )
    # The worker's role follows a reset through the function that holds the rule.
    for seq, run in ((1, "run-1"), (2, "run-1")):
        await register.record_event(
            EventRecord(
                workflow_id=workflow_id, seq=seq, event="e", source="signal", accepted=True,
                payload={}, received_at="2009-02-02T09:00:00+00:00", run_id=run,
            )
        )  # fmt: skip
    latest = await worker_pool.fetchval(
        "SELECT register_follow_branch($1, 'run-2', 2)", workflow_id
    )
    assert latest == "run-2"
    rows = await worker_pool.fetch(
        "SELECT seq, abandoned_by FROM dossier_event WHERE workflow_id = $1 ORDER BY seq",
        workflow_id,
    )
    assert [(r["seq"], r["abandoned_by"]) for r in rows] == [(1, None), (2, "run-2")]


async def test_a_payload_the_database_cannot_hold_is_kept_as_its_digest(
    worker_pool: asyncpg.Pool,
) -> None:
    """A NUL character (PostgreSQL's jsonb refuses it) or an oversized payload never loops
    a retry: the row is written with the payload's size and digest."""
    workflow_id = f"visa-NUL-{uuid.uuid4().hex[:8]}"
    register = RegisterActivities(worker_pool)
    for seq, payload in [(1, {"detail": "a\x00b"}), (2, {"detail": "x" * 70_000})]:
        await register.record_event(
            EventRecord(
                workflow_id=workflow_id,
                seq=seq,
                event="school_attendance_breach",
                source="signal",
                accepted=False,
                payload=payload,
                reason="G3: detail: control characters are refused",
                received_at="2009-03-02T09:00:00+00:00",
            )
        )
    rows = await worker_pool.fetch(
        "SELECT seq, payload FROM dossier_event WHERE workflow_id = $1 ORDER BY seq", workflow_id
    )
    assert [row["payload"]["not_stored"] for row in rows] == [
        "UntranslatableCharacterError",
        "too large",
    ]
    assert all(len(row["payload"]["sha256"]) == 64 for row in rows)


async def test_the_worker_role_runs_on_a_current_schema_and_refuses_a_stale_one(
    worker_pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker never migrates in production: on a current schema its check applies
    nothing; on one that lacks a migration (a release's new one, here pretended), it says
    what to run instead of failing on a privilege."""
    async with worker_pool.acquire() as connection:
        assert await database.pending_migrations(connection) == []
        assert await database.migrate(connection) == []
        shipped = database._migrations()
        future = (999, "999_next_release.sql", "CREATE TABLE next_release (x int)")
        monkeypatch.setattr(database, "_migrations", lambda: [*shipped, future])
        assert await database.pending_migrations(connection) == ["999_next_release.sql"]
        expected = r"999_next_release\.sql.*scripts\.migrate"
        with pytest.raises(database.MigrationRequired, match=expected):
            await database.migrate(connection)


async def test_the_worker_role_erases_only_through_the_rules_of_retention(
    worker_pool: asyncpg.Pool, pool: asyncpg.Pool
) -> None:
    """The daily sweep runs as the worker's role: it calls `register_erase_expired`, which
    applies the rules of retention, and still rewrites nothing by itself (migration 012)."""
    workflow_id = await _closed_dossier(worker_pool)
    await pool.execute(
        "UPDATE dossier SET closed_at = now() - interval '4 years' WHERE workflow_id = $1",
        workflow_id,
    )
    erased = await worker_pool.fetch("SELECT * FROM register_erase_expired(1095, 1825)")
    assert workflow_id in {row["workflow_id"] for row in erased}
    forbidden = [
        "SELECT register_erase_dossiers(ARRAY[$1])",
        "UPDATE dossier_event SET payload = '{}' WHERE workflow_id = $1",
        "DELETE FROM dossier_event WHERE workflow_id = $1",
        "UPDATE notification SET payload = '{}' WHERE workflow_id = $1",
        "DELETE FROM notification WHERE workflow_id = $1",
        "UPDATE dossier SET erased_at = now() WHERE workflow_id = $1",
        "DELETE FROM document WHERE sha256 = $1",
    ]
    for statement in forbidden:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await worker_pool.execute(statement, workflow_id)
    with pytest.raises(asyncpg.InvalidParameterValueError):
        await worker_pool.fetch("SELECT * FROM register_erase_expired(0, 0)")


# What the worker's role may do (migrations 006, 008, 009, 011, 014): everything else the
# catalogue offers is a forbidden statement. UPDATE is named per column.
WORKER_MAY: dict[str, set[str]] = {
    "schema_migration": {"SELECT"},
    "dossier": {"SELECT", "INSERT"}
    | {
        f"UPDATE {column}"
        for column in [
            "workflow_id",
            "procedure",
            "country",
            "consulate",
            "prefecture",
            "responsible_body",
            "stage",
            "outcome",
            "deadlines",
            "next_deadline",
            "overdue",
            "version",
            "waiting",
            "exemptions",
            "deadlines_missed",
            "trainings",
            "corrections",
            "run_id",
            "updated_at",
            "closed_at",
        ]
    },
    "dossier_event": {"SELECT", "INSERT"},
    "notification": {"SELECT", "INSERT"}
    | {
        f"UPDATE {column}"
        for column in (
            "delivered_at",
            "delivery_error",
            "refused_at",
            "delivery_endpoint",
            "document_sha256",
            "document_note",  # a native name no shipped font draws, left out (015)
            "lease_owner",  # the postman delivering it (016)
            "lease_until",
            "handed_off_at",  # its NotificationDelivery workflow delivers it (016)
        )
    },
    "session_seat": {"SELECT", "INSERT", "DELETE"},  # and UPDATE of every column, below
    "dossier_run": {"SELECT", "INSERT"},
    "document": {"SELECT", "INSERT"},
    "dossier_key": {"SELECT", "INSERT"},
}
UPDATES_EVERY_COLUMN = {"session_seat"}


def _statements(table: str, columns: list[str]) -> dict[str, str]:
    """Every write the worker's role could try on `table`, by name; none touches a row."""
    statements = {
        "DELETE": f"DELETE FROM {table} WHERE false",
        "TRUNCATE": f"TRUNCATE {table}",
        "ALTER": f"ALTER TABLE {table} ADD COLUMN intruder int",
        "DROP": f"DROP TABLE {table}",
        "TRIGGER": f"CREATE TRIGGER intruder BEFORE INSERT ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION dossier_key_erase()",
    }
    for column in columns:
        statements[f"UPDATE {column}"] = f"UPDATE {table} SET {column} = {column} WHERE false"
    return statements


@pytest.mark.rule("contract")
async def test_every_forbidden_sql_statement_fails_as_the_worker_role(
    worker_pool: asyncpg.Pool, pool: asyncpg.Pool
) -> None:
    """Every table of the schema, every write the worker's role may not make: refused by
    PostgreSQL itself. A table or column added without a thought for its grants is tried
    too, and a grant wider than this list fails the test."""
    columns: dict[str, list[str]] = {}
    for row in await pool.fetch(
        """SELECT table_name, column_name FROM information_schema.columns
            WHERE table_schema = 'public' AND table_name IN
                  (SELECT tablename FROM pg_tables WHERE schemaname = 'public')
            ORDER BY table_name, ordinal_position"""
    ):
        columns.setdefault(row["table_name"], []).append(row["column_name"])
    assert set(columns) == set(WORKER_MAY), "a table without its row in WORKER_MAY"
    tried = 0
    for table, names in columns.items():
        for what, statement in _statements(table, names).items():
            allowed = what in WORKER_MAY[table] or (
                what.startswith("UPDATE ") and table in UPDATES_EVERY_COLUMN
            )
            if allowed:
                continue
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await worker_pool.execute(statement)
            tried += 1
    for statement in (
        "SELECT register_erase_dossiers(ARRAY['visa-x'])",
        "CREATE TABLE intruder (x int)",
        "CREATE FUNCTION intruder() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        "CREATE ROLE intruder",
        "GRANT register_writer TO PUBLIC",
        "ALTER ROLE register_writer SUPERUSER",
        "SET ROLE postgres",
    ):
        with pytest.raises(asyncpg.PostgresError):
            await worker_pool.execute(statement)
        tried += 1
    assert tried > 80  # the catalogue was read, not an empty schema
