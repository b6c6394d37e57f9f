"""Erase the personal data retention finds due, or that of one closed dossier.

    python -m scripts.retention [--dossier WORKFLOW_ID] [--days N]

What the daily `retention` schedule does, on demand: dossiers closed more than
`RETENTION_DAYS` (default 1095) ago, dossiers never closed whose last activity is older
than `RETENTION_MAX_OPEN_DAYS` (default 1825), and rejected starts of dossiers that never
opened. The register is reached as its owner (`MIGRATION_DATABASE_URL`, else
`DATABASE_URL`, else the embedded one of `make run`). `--dossier` erases one dossier, and
refuses one still open or closed within the period. Each erasure is logged by dossier id
only.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence

import asyncpg
import structlog

from activities.database import migrate_database
from activities.retention import RetentionRefused, erase_dossier, erase_expired
from workers.client import exit_process
from workers.logging import settings_with_logging
from workers.postgres import (
    holds_embedded_database,
    owner_database_url,
    release_embedded_database,
)
from workers.settings import Settings

log = structlog.get_logger("retention")


async def run(settings: Settings, days: int, dossier: str | None) -> int:
    url = await asyncio.to_thread(owner_database_url, settings)
    try:
        await migrate_database(url)
        connection = await asyncpg.connect(url)
        try:
            if dossier is not None:
                erased = await erase_dossier(connection, dossier, days)
            else:
                max_open_days = max(settings.retention_max_open_days, days)
                erased = await erase_expired(connection, days, max_open_days)
        finally:
            await connection.close()
    except (RetentionRefused, asyncpg.InvalidParameterValueError) as refused:
        # A period under a year is refused by the register itself (migration 012).
        log.error("erasure refused", reason=str(refused))
        return 2
    finally:
        if holds_embedded_database(settings):
            await asyncio.to_thread(release_embedded_database, settings.data_dir)
    log.info(
        "retention done",
        dossiers=len(erased.causes),
        events=erased.events,
        notifications=erased.notifications,
        documents=erased.documents,
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.retention", description=__doc__)
    parser.add_argument("--dossier", metavar="WORKFLOW_ID", help="only this closed dossier")
    parser.add_argument("--days", type=int, help="the retention period (RETENTION_DAYS)")
    args = parser.parse_args(argv)
    settings = settings_with_logging()
    if settings is None:
        return 2
    days = args.days if args.days is not None else settings.retention_days
    if days < 0:
        parser.error("--days must not be negative")
    return asyncio.run(run(settings, days, args.dossier))


if __name__ == "__main__":
    exit_process(main())
