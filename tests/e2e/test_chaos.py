"""The short chaos run of CI (`make chaos` runs the long one): a few dossiers through their
lifecycle while the worker is SIGKILLed every few seconds, PostgreSQL and the Temporal dev
server each restarted once; every dossier and notification matches an undisturbed run."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.chaos import run_chaos


@pytest.mark.e2e
@pytest.mark.rule("B6")
@pytest.mark.rule("F4")
async def test_nothing_is_lost_or_doubled_through_kills_and_restarts(tmp_path: Path) -> None:
    report = await run_chaos(dossiers=4, kill_every=3.0, root=tmp_path)
    assert report.kills >= 3 and report.postgres_restarts == 1
    assert report.temporal_restarts == 1
    assert report.ok, report.line() + "; " + "; ".join(report.mismatched)
