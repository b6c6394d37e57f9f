"""Connection pool and versioned migrations of the dossier register."""

from __future__ import annotations

import itertools
import json
from importlib import resources

import asyncpg
from asyncpg.pool import PoolConnectionProxy

# Any constant works, as long as every process migrating this database uses the same one.
_MIGRATION_LOCK_ID = 0x1A1E_0055


def _migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) of every file under migrations/, in order."""
    found = []
    for entry in resources.files("activities.migrations").iterdir():
        if entry.name.endswith(".sql"):
            version = int(entry.name.split("_", 1)[0])
            found.append((version, entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    # Two files of one version: the second would be skipped without a word.
    for (version, first, _), (next_version, second, _) in itertools.pairwise(found):
        if version == next_version:
            raise RuntimeError(f"migrations {first} and {second} share version {version}")
    return found


class MigrationRequired(RuntimeError):
    """The register lacks migrations that this role may not apply."""


async def pending_migrations(connection: asyncpg.Connection | PoolConnectionProxy) -> list[str]:
    """The migrations this database lacks, read without any privilege but SELECT."""
    exists = await connection.fetchval("SELECT to_regclass('schema_migration') IS NOT NULL")
    rows = await connection.fetch("SELECT version FROM schema_migration") if exists else []
    done = {row["version"] for row in rows}
    return [name for version, name, _ in _migrations() if version not in done]


async def migrate(connection: asyncpg.Connection | PoolConnectionProxy) -> list[str]:
    """Apply the migrations this database lacks, under a lock so that concurrent
    processes (the dev stack and a worker) never apply one twice. Returns their names.
    A role that may not apply them (the worker's, in production) gets `MigrationRequired`,
    naming them and what to run."""
    pending = await pending_migrations(connection)
    if not pending:
        return []
    try:
        return await _apply(connection)
    except asyncpg.InsufficientPrivilegeError:
        raise MigrationRequired(
            f"the register lacks {', '.join(pending)}, which this role may not apply: run "
            "`python -m scripts.migrate` as the schema's owner (compose: the migrate one-shot)"
        ) from None


async def _apply(connection: asyncpg.Connection | PoolConnectionProxy) -> list[str]:
    applied: list[str] = []
    async with connection.transaction():
        await connection.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK_ID)
        await connection.execute(
            """CREATE TABLE IF NOT EXISTS schema_migration (
                   version    integer PRIMARY KEY,
                   name       text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        rows = await connection.fetch("SELECT version FROM schema_migration")
        done = {row["version"] for row in rows}
        for version, name, sql in _migrations():
            if version in done:
                continue
            await connection.execute(sql)
            await connection.execute(
                "INSERT INTO schema_migration (version, name) VALUES ($1, $2)", version, name
            )
            applied.append(name)
    return applied


async def _init_connection(connection: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await connection.set_type_codec(
            type_name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


# A statement that has not answered in this time fails, and its activity retries.
COMMAND_TIMEOUT_SECONDS = 30.0


async def open_pool(
    database_url: str,
    *,
    min_size: int = 1,
    max_size: int = 10,
    migrated: bool = True,
    command_timeout: float = COMMAND_TIMEOUT_SECONDS,
) -> asyncpg.Pool:
    """A pool on the register; with `migrated`, first brought to the latest schema (the
    role of `database_url` then owns the schema; see `migrate_database` otherwise)."""
    pool = await asyncpg.create_pool(
        database_url,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        reset=_session_kept,
        command_timeout=command_timeout,
    )
    if migrated:
        async with pool.acquire() as connection:
            await migrate(connection)
    return pool


async def _session_kept(connection: asyncpg.Connection) -> None:
    """A connection goes back to the pool as it is, once asyncpg has rolled back a
    transaction left open and forgotten its listeners. Nothing here changes a session: its
    advisory locks are a transaction's, its settings `SET LOCAL`, and the postman's
    `LISTEN` is undone by the postman. The `RESET ALL`, `CLOSE ALL`, `UNLISTEN *` asyncpg
    sends otherwise cost a round trip on every release: a worker's busiest query."""


async def connect(database_url: str) -> asyncpg.Connection:
    """One connection on the register, reading JSON columns as the pool does (the CLI's)."""
    connection = await asyncpg.connect(database_url)
    await _init_connection(connection)
    return connection


async def migrate_database(owner_url: str) -> list[str]:
    """Migrate as the schema's owner (`MIGRATION_DATABASE_URL`)."""
    connection = await asyncpg.connect(owner_url)
    try:
        return await migrate(connection)
    finally:
        await connection.close()


async def ensure_login_role(owner_url: str, role: str) -> None:
    """A login role with the worker's privileges (`register_writer`), for the embedded
    register of `make run`, whose local connections are trusted (no password)."""
    if not role.replace("_", "").isalnum():
        raise ValueError(f"not a role name: {role!r}")
    connection = await asyncpg.connect(owner_url)
    try:
        async with connection.transaction():
            await connection.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK_ID)
            exists = await connection.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role)
            if not exists:
                await connection.execute(f"CREATE ROLE {role} LOGIN IN ROLE register_writer")
    finally:
        await connection.close()
