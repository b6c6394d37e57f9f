"""B9 inside a running dossier: with the next-working-day policy configured, the workflow
counts the consulate's country's holidays (the `holidays` library runs inside the workflow
sandbox, computing in memory) and sets its deadline on the next working day."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import asyncpg
import holidays
import pytest
from temporalio.testing import WorkflowEnvironment

from models.calendar import CalendarPolicy, last_day_allowed
from tests.conftest import iso, running_harness, visa_input

ON = CalendarPolicy(extend_to_next_working_day=True)


def last_moroccan_holiday_before(day: date) -> date:
    """A weekday before `day` that is a public holiday in Morocco and not in France."""
    while True:
        day -= timedelta(days=1)
        moroccan = day in holidays.country_holidays("MA", years=day.year)
        french = day in holidays.country_holidays("FR", years=day.year)
        if day.weekday() < 5 and moroccan and not french:
            return day


@pytest.mark.rule("B1")
@pytest.mark.rule("B9")
async def test_b1_runs_past_a_moroccan_holiday_when_the_policy_is_on(
    time_env: WorkflowEnvironment, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    override = tmp_path / "reference.json"
    override.write_text(json.dumps({"calendar": {"extend_to_next_working_day": True}}))
    async with running_harness(time_env, pool, override) as harness:
        today = await harness.today()
        holiday = last_moroccan_holiday_before(today)
        complete = holiday - timedelta(days=60)
        dates = {"complete_file_date": iso(complete), "visa_application_date": iso(complete)}
        handle = await harness.start_visa(visa_input(today, **dates))
        state = await handle.query("state")
        expected = last_day_allowed(holiday, ON, "MA")
        assert expected > holiday
        assert state["deadlines"]["evaluation_due"] == iso(expected)
