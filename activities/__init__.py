"""All I/O of the system: the PostgreSQL register, notifications and reference data."""

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg

from activities.delivery import DeliveryActivities
from activities.reference import ReferenceActivities
from activities.register import RegisterActivities
from activities.scheduled import ScheduledActivities


def worker_activities(
    pool: asyncpg.Pool,
    reference_data_path: Path | None,
    reports_dir: Path | None = None,
    delivery: DeliveryActivities | None = None,
) -> list[Callable[..., Any]]:
    """Every activity the worker registers, bound to its dependencies. Without
    `reports_dir` the ministry report cannot write its CSV file (REPORTS_DIR); without
    `delivery`, notifications stay in the register and nothing is delivered."""
    register = RegisterActivities(pool, deliver=delivery is not None)
    reference = ReferenceActivities(reference_data_path)
    reference.load()  # a broken reference file stops the worker at start, naming the file
    scheduled = ScheduledActivities(
        pool,
        reference,
        reports_dir,
        deliver=delivery is not None,
        alert_after=delivery.alert_after if delivery is not None else timedelta(hours=48),
    )
    found: list[Callable[..., Any]] = [
        register.record_step,
        # The activities of the steps written before one transaction per step, for the
        # dossiers still running on that branch of their history.
        register.claim_dossier,
        register.record_event,
        register.send_notification,
        register.upsert_dossier,
        reference.load_reference_data,
        scheduled.plan_sessions,
        scheduled.release_seats,
        scheduled.convene_seats,
        scheduled.sweep_deadlines,
        scheduled.write_ministry_report,
    ]
    if delivery is not None:
        found.append(delivery.deliver_notification)
    return found
