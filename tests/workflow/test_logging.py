"""The worker's logs are JSON lines bound to the workflow and run they come from."""

from __future__ import annotations

import io
import json
import logging

from tests.conftest import Harness, iso, visa_input
from workers.logging import json_formatter


async def test_a_workflow_log_line_carries_its_workflow_and_run_ids(harness: Harness) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(json_formatter())
    logger = logging.getLogger("temporalio.workflow")
    logger.addHandler(handler)
    try:
        today = await harness.today()
        handle = await harness.start_visa(visa_input(today))
        await handle.signal(
            "training_prescribed",
            {"kind": "language", "hours": 30, "provider": "P", "notified_on": iso(today)},
        )

        async def logged() -> bool:
            return "rejected" in stream.getvalue()

        await harness.until(logged)
    finally:
        logger.removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    [line] = [line for line in lines if "rejected" in line["event"]]
    assert line["workflow_id"] == handle.id
    assert line["run_id"] == handle.result_run_id
    assert line["level"] == "warning" and line["workflow_type"] == "VisaApplication"
