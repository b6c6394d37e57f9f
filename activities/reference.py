"""Reference data (barèmes, country registry, letter languages) read from configuration."""

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

    def load(self) -> ReferenceData:
        override = {}
        if self.override_path is not None:
            override = json.loads(self.override_path.read_text(encoding="utf-8"))
        return merge_reference_data(default_reference_data(), override)

    @activity.defn(name="load_reference_data")
    async def load_reference_data(self) -> ReferenceData:
        try:
            return self.load()
        except (OSError, ValueError) as error:
            # A broken configuration file is fixed by an operator, then the retry succeeds.
            raise ApplicationError(f"reference data {self.override_path}: {error}") from error
