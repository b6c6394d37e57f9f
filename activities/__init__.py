"""All I/O of the system: the PostgreSQL register, notifications and reference data."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg

from activities.reference import ReferenceActivities
from activities.register import RegisterActivities


def worker_activities(
    pool: asyncpg.Pool, reference_data_path: Path | None
) -> list[Callable[..., Any]]:
    """Every activity the worker registers, bound to its dependencies."""
    register = RegisterActivities(pool)
    reference = ReferenceActivities(reference_data_path)
    return [
        register.claim_dossier,
        register.record_event,
        register.send_notification,
        register.upsert_dossier,
        reference.load_reference_data,
    ]
