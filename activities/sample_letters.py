"""Every letter template, composed from its sample (examples/documents/letters.json): what a
renderer process lays out once as it starts (`warm_up`), and what the letters' benchmark
measures (tools/bench_letters.py).

A renderer's first letters paid for what the process then keeps (activities/typefaces.py:
the faces, their subsetting tables, shaping and widths; activities/documents.py: the
templates' lines): the first delivery after a worker's start waited for it. Laid out once
in every template's languages as the renderer starts, the static text of every template is
shaped and broken before the first delivery comes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

import examples
from models.documents import (
    Composed,
    compose,
    person_id_of,
    person_of,
    reference_of,
    template_languages,
    verification_code,
)

ISSUED_ON = date(2009, 3, 1)
SECRET = b"sample-letters"
SAMPLE_NAME = "Amina El Idrissi"


def _person(sample: dict[str, Any], name: str | None) -> Mapping[str, Any] | None:
    if not sample.get("person"):
        return None
    person = person_of(examples.load(sample["person"]), person_id_of(sample["payload"]))
    return {**person, "full_name": name} if name is not None else person


def _recipient(key: str) -> str:
    """The recipient a notification key names (`<dossier>.<kind>.<recipient>`)."""
    return key.split(".")[2] if key.count(".") >= 2 else "applicant"


def samples() -> list[dict[str, Any]]:
    """The sample notifications of every letter kind (`examples/documents/letters.json`)."""
    return list(examples.load("documents/letters")["letters"])


def compose_sample(
    sample: dict[str, Any],
    language: str,
    *,
    name: str | None = None,
    issued_on: date = ISSUED_ON,
    secret: bytes = SECRET,
) -> Composed:
    """The letter of one sample in `language`, to `name` (the sample's own when None)."""
    payload = sample["payload"] if name is None else {**sample["payload"], "full_name": name}
    return compose(
        sample["kind"],
        payload,
        language,
        person=_person(sample, name),
        recipient=_recipient(sample["key"]),
        reference=reference_of(payload),
        rule=str(payload["rule"]),
        issued_on=issued_on,
        verification_code=verification_code(sample["workflow_id"], sample["key"], secret),
    )


def sample_letters(language: str | None, name: str = SAMPLE_NAME) -> list[Composed]:
    """Every template in `language` (each in its own languages when None), to `name`."""
    return [
        compose_sample(sample, written, name=name)
        for sample in samples()
        for written in ([language] if language else sorted(template_languages(sample["kind"])))
    ]


def warm_up(render: Callable[[Composed], bytes]) -> float:
    """Lay out every template in each of its languages; the CPU milliseconds it took."""
    start = time.process_time()
    for composed in sample_letters(None):
        render(composed)
    return (time.process_time() - start) * 1e3
