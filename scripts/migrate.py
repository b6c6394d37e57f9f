"""Bring the register to this release's schema, as its owner: `python -m scripts.migrate`.

Reads `MIGRATION_DATABASE_URL` (the schema owner's URL), else `DATABASE_URL`, whose role
then owns the schema. docker-compose.yml runs it as the one-shot `migrate` before the
workers, so that a worker never holds the owner's credentials: it checks the schema is
current at start, and refuses to run on one that is not. Running it again applies nothing.
"""

from __future__ import annotations

import asyncio

import structlog

from activities.database import migrate_database
from workers.client import exit_process
from workers.logging import settings_with_logging
from workers.postgres import database_url, release_embedded_database
from workers.settings import Settings

log = structlog.get_logger("migrate")


async def run(settings: Settings) -> int:
    owner = settings.migration_database_url
    url = owner.get_secret_value() if owner else await asyncio.to_thread(database_url, settings)
    try:
        applied = await migrate_database(url)
    finally:
        if settings.database_url is None and owner is None:
            await asyncio.to_thread(release_embedded_database, settings.data_dir)
    log.info("register migrated", applied=applied)
    return 0


def main() -> int:
    settings = settings_with_logging()
    if settings is None:
        return 2
    return asyncio.run(run(settings))


if __name__ == "__main__":
    exit_process(main())
