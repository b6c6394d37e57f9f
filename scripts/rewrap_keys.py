"""Rotate the master key over the dossiers' data keys.

    python -m scripts.rewrap_keys

After a new key is put first in `PAYLOAD_KEYS` (docs/configuration.md, "Personal data is
sealed"): every data key of the register still wrapped by an older key is wrapped again by
the new one. The data keys themselves do not change, so every payload sealed with them
still opens; once this has run (and no payload sealed with the master key itself is still
needed), the old key can leave `PAYLOAD_KEYS`. The register is reached as its owner
(`MIGRATION_DATABASE_URL`, else `DATABASE_URL`, else the embedded one of `make run`). Safe
to run again; it logs counts only.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence

import asyncpg
import structlog

from activities.database import migrate_database
from workers.client import exit_process
from workers.codec import PayloadKeyError
from workers.data_keys import rewrap_all
from workers.logging import settings_with_logging
from workers.postgres import (
    holds_embedded_database,
    owner_database_url,
    release_embedded_database,
)
from workers.settings import Settings

log = structlog.get_logger("rewrap_keys")


async def run(settings: Settings) -> int:
    url = await asyncio.to_thread(owner_database_url, settings)
    try:
        await migrate_database(url)
        connection = await asyncpg.connect(url)
        try:
            await rewrap_all(connection, settings.key_ring())
        finally:
            await connection.close()
    except PayloadKeyError as error:
        # A data key wrapped by a master key no longer in PAYLOAD_KEYS: put it back.
        log.error("rewrapping stopped", reason=str(error))
        return 2
    finally:
        if holds_embedded_database(settings):
            await asyncio.to_thread(release_embedded_database, settings.data_dir)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argparse.ArgumentParser(prog="python -m scripts.rewrap_keys", description=__doc__).parse_args(
        argv
    )
    settings = settings_with_logging()
    if settings is None:
        return 2
    return asyncio.run(run(settings))


if __name__ == "__main__":
    exit_process(main())
