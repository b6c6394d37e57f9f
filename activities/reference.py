"""Reference data (barèmes, country registry, letter languages) read from configuration,
once per worker: every dossier opened on a worker gets the same version, identified by
the digest of its content."""

from __future__ import annotations

import json
from pathlib import Path

from temporalio import activity
from temporalio.exceptions import ApplicationError

from models.reference import ReferenceData, default_reference_data, merge_reference_data


class ReferenceActivities:
    """Loads the defaults shipped in `models/`, overridden by an operator's JSON file."""

    def __init__(self, override_path: Path | None = None) -> None:
        self.override_path = override_path
        self._loaded: ReferenceData | None = None

    def load(self) -> ReferenceData:
        """Read and checked on first use, then kept for the worker's life: a changed file
        takes effect when workers restart, and open dossiers keep the version they got."""
        if self._loaded is None:
            override = {}
            if self.override_path is not None:
                override = json.loads(self.override_path.read_text(encoding="utf-8"))
            self._loaded = merge_reference_data(default_reference_data(), override)
        return self._loaded

    @activity.defn(name="load_reference_data")
    async def load_reference_data(self) -> ReferenceData:
        """The reference data; run as a local activity by dossiers opened since one
        transaction per step, as a normal one by the dossiers opened before."""
        try:
            return self.load()
        except (OSError, ValueError) as error:
            # A broken configuration file is fixed by an operator, then the retry succeeds.
            raise ApplicationError(f"reference data {self.override_path}: {error}") from error
