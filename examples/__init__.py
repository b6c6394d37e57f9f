"""Sample dossiers and the events they receive, as JSON: one copy of each for the demo, the
tools and the tests, shipped in the wheel beside the demo that reads them.

`load("visa/family_reunification")` reads `examples/visa/family_reunification.json`.

Dates: every sample is written as if today were `EXAMPLES_DAY`. `load(name, today=day)`
moves every date in it (any string that is exactly YYYY-MM-DD) by `day - EXAMPLES_DAY`, so
that the sample keeps its distances to today: filed today stays filed today, an applicant of
36 stays 36, a deadline 60 days past stays 60 days past. Without `today`, the dates are
those of the file.

Events: a sample's `"events"` is a list of `{"event": name, "payload": {...}}`, in the order
the dossier receives them; `events(sample)` gives them as (name, payload) pairs.

Placeholders: `load(name, run="a1b2")` replaces `{run}` in every string of the sample (ids
that must differ from one run to the next); a placeholder not given stays as written.
"""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from importlib import resources
from typing import Any

EXAMPLES_DAY = date(2009, 2, 2)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def load(name: str, *, today: date | None = None, **placeholders: str) -> dict[str, Any]:
    """The sample `name` (its path under `examples/`, without `.json`) as plain JSON."""
    text = resources.files(__name__).joinpath(f"{name}.json").read_text(encoding="utf-8")
    sample = json.loads(text)
    if not isinstance(sample, dict):
        raise ValueError(f"example {name}: a JSON object expected")
    shift = timedelta(0) if today is None else today - EXAMPLES_DAY
    return _filled(sample, shift, placeholders)  # type: ignore[no-any-return]


def events(sample: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The sample's events as (name, payload) pairs, in the order they are sent."""
    return [(event["event"], event["payload"]) for event in sample["events"]]


def _filled(value: Any, shift: timedelta, placeholders: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {key: _filled(item, shift, placeholders) for key, item in value.items()}
    if isinstance(value, list):
        return [_filled(item, shift, placeholders) for item in value]
    if isinstance(value, str):
        if shift and _DATE.fullmatch(value):
            return (date.fromisoformat(value) + shift).isoformat()
        for key, replacement in placeholders.items():
            value = value.replace(f"{{{key}}}", replacement)
    return value
