"""CPU time of a letter, per language (`python -m tools.bench --letters`).

Every sample letter (`examples/documents/letters.json`, one per template) is rendered in a renderer
process as the worker starts it (`activities.documents.document_renderer`), its CPU time
read there with `time.process_time`: first the very first letter of the process (fonts
parsed, subsetting sources made), then, after a warm-up round, `rounds` rounds of every
template in every language, each round under another name, so that no letter is the one
before it again. A language's figure is its median letter; the goal is `LETTER_GOAL_MS`.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from datetime import date
from typing import Any

import examples
from activities.documents import document_renderer, render_pdf
from models.documents import (
    Composed,
    compose,
    person_id_of,
    person_of,
    reference_of,
    verification_code,
)

LETTER_GOAL_MS = 30.0
LANGUAGES = ("fr", "ar", "tr", "en")
ISSUED_ON = date(2009, 3, 1)
SECRET = b"bench-letters"
# One per round: Latin, Turkish, Arabic-script and Cyrillic names, as dossiers carry them.
NAMES = (
    "Amina El Idrissi",
    "Mehmet Yılmaz",
    "Ayşe Demir",
    "Nguyễn Thị Lan",
    "أمينة الإدريسي",
    "Наталья Петрова",
    "Jean-Baptiste Lefèvre",
    "Zoë Ørsted",
)


@dataclass(frozen=True)
class LetterTimes:
    language: str
    median_ms: float
    letters: int


def _person(sample: dict[str, Any], name: str) -> dict[str, Any] | None:
    if not sample.get("person"):
        return None
    start = examples.load(sample["person"])
    return {**person_of(start, person_id_of(sample["payload"])), "full_name": name}


def letters(language: str, name: str) -> list[Composed]:
    """Every template in `language`, addressed to `name`."""
    samples = examples.load("documents/letters")["letters"]
    return [
        compose(
            sample["kind"],
            {**sample["payload"], "full_name": name},
            language,
            person=_person(sample, name),
            recipient=sample["key"].split(".")[2] if sample["key"].count(".") >= 2 else "applicant",
            reference=reference_of(sample["payload"]),
            rule=sample["payload"]["rule"],
            issued_on=ISSUED_ON,
            verification_code=verification_code(sample["workflow_id"], sample["key"], SECRET),
        )
        for sample in samples
    ]


def _cpu_ms(composed: Composed) -> float:
    start = time.process_time()
    render_pdf(composed)
    return (time.process_time() - start) * 1e3


def measure_in_this_process(rounds: int) -> tuple[float, list[LetterTimes]]:
    """The first letter's CPU milliseconds, and each language's median letter after it."""
    first = _cpu_ms(letters(LANGUAGES[0], NAMES[0])[0])
    for language in LANGUAGES:  # the warm-up round
        for composed in letters(language, NAMES[0]):
            render_pdf(composed)
    samples: dict[str, list[float]] = {language: [] for language in LANGUAGES}
    for round_ in range(rounds):
        name = NAMES[(round_ + 1) % len(NAMES)]
        for language in LANGUAGES:
            samples[language] += [_cpu_ms(composed) for composed in letters(language, name)]
    return first, [
        LetterTimes(language, statistics.median(times), len(times))
        for language, times in samples.items()
    ]


def bench_letters(rounds: int) -> tuple[float, list[LetterTimes]]:
    """`measure_in_this_process` in a renderer process of its own, as the worker has."""
    with document_renderer() as renderer:
        return renderer.submit(measure_in_this_process, rounds).result()


def report(first_ms: float, times: list[LetterTimes]) -> None:
    print(f"letters: first letter of a renderer process {first_ms:.0f} ms CPU", flush=True)
    for each in times:
        print(
            f"letters {each.language}: median {each.median_ms:.1f} ms CPU per letter "
            f"over {each.letters} letters; {each.median_ms / LETTER_GOAL_MS:.2f}x "
            f"the {LETTER_GOAL_MS:.0f} ms goal",
            flush=True,
        )
