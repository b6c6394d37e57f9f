"""CPU time of a letter, per language (`python -m tools.bench --letters`).

Every sample letter (`examples/documents/letters.json`, one per template) is rendered in a
renderer process as the worker starts it (`activities.documents.document_renderer`, which
lays out every template once as it starts), its CPU time read there with
`time.process_time`: first the renderer's start (imports, then every template laid out
once), then the first letter after it, then `rounds` rounds of every template in every
language, each round under another name, so that no letter is the one before it again. A
language's figure is its median letter; the goal is `LETTER_GOAL_MS`.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

from activities.documents import document_renderer, render_pdf
from activities.sample_letters import sample_letters
from models.documents import Composed

LETTER_GOAL_MS = 30.0
LANGUAGES = ("fr", "ar", "tr", "en")
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


def _cpu_ms(composed: Composed) -> float:
    start = time.process_time()
    render_pdf(composed)
    return (time.process_time() - start) * 1e3


@dataclass(frozen=True)
class Start:
    """A renderer's start: its CPU until it takes its first letter, and that letter's."""

    start_ms: float
    first_letter_ms: float


def measure_in_this_process(rounds: int) -> tuple[Start, list[LetterTimes]]:
    """The renderer's start and first letter, and each language's median letter after it."""
    start = Start(time.process_time() * 1e3, _cpu_ms(sample_letters(LANGUAGES[0], NAMES[1])[0]))
    samples: dict[str, list[float]] = {language: [] for language in LANGUAGES}
    for round_ in range(rounds):
        name = NAMES[(round_ + 2) % len(NAMES)]
        for language in LANGUAGES:
            samples[language] += [_cpu_ms(composed) for composed in sample_letters(language, name)]
    return start, [
        LetterTimes(language, statistics.median(times), len(times))
        for language, times in samples.items()
    ]


def bench_letters(rounds: int) -> tuple[Start, list[LetterTimes]]:
    """`measure_in_this_process` in a renderer process of its own, as the worker has."""
    with document_renderer() as renderer:
        return renderer.submit(measure_in_this_process, rounds).result()


def report(start: Start, times: list[LetterTimes]) -> None:
    print(
        f"letters: a renderer's start {start.start_ms:.0f} ms CPU (imports, every template "
        f"laid out once); its first letter then {start.first_letter_ms:.1f} ms CPU",
        flush=True,
    )
    for each in times:
        print(
            f"letters {each.language}: median {each.median_ms:.1f} ms CPU per letter "
            f"over {each.letters} letters; {each.median_ms / LETTER_GOAL_MS:.2f}x "
            f"the {LETTER_GOAL_MS:.0f} ms goal",
            flush=True,
        )
