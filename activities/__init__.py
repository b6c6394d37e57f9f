"""All I/O of the system: the PostgreSQL register, notifications and reference data."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg


def worker_activities(pool: asyncpg.Pool, reference_data_path: Path | None) -> list[Callable[..., Any]]:
    """Every activity the worker registers, bound to its dependencies."""
    return []
