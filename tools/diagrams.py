"""The operator's guide's timeline of part I's statutory delays, computed from the code that
keeps them.

    python -m tools.diagrams

prints the mermaid `gantt` block of docs/operators.md ("The statutory delays of part I"): each
delay of a family-reunification dossier on sample dates, its last day computed with the
delays of `models.visa.delays` and the calendar of B9 (`models.calendar`). A unit test
(tests/unit/test_diagrams.py) fails when the guide's block differs from this output, and
when a stage diagram of the guide misses a stage of its dossier kind or names one that does
not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from models.calendar import CalendarPolicy, days_after, months_after
from models.visa.delays import (
    EVALUATION_DELAY_DAYS,
    PREFECTURE_DELAY_MONTHS,
    RESULTS_DELAY_DAYS,
    SURSIS_MONTHS,
    TRAINING_LENGTH_MONTHS,
    TRAINING_START_MONTHS,
)

# The sample dossier: what happens on which day (a Monday in January 2009 to begin with).
COMPLETE_FILE = date(2009, 1, 5)
VISA_APPLICATION = date(2009, 1, 12)
EVALUATION = date(2009, 2, 16)
RESULTS_NOTIFIED = date(2009, 2, 19)
TRAINING_STARTED = date(2009, 3, 2)


@dataclass(frozen=True)
class Delay:
    section: str
    """What starts the delay, and on which day."""
    task: str
    start: date
    last_day: date


def _day(day: date) -> str:
    return f"{day.day} {day:%b}"


def delays(policy: CalendarPolicy | None = None) -> list[Delay]:
    """Part I's delays on the sample dates, as the workflow computes their last days (B9:
    without the optional extension to the next working day, off by default)."""
    policy = policy or CalendarPolicy()
    complete = f"complete file {_day(COMPLETE_FILE)}"
    return [
        Delay(
            complete,
            f"B1 evaluation within {EVALUATION_DELAY_DAYS} days",
            COMPLETE_FILE,
            days_after(COMPLETE_FILE, EVALUATION_DELAY_DAYS, policy),
        ),
        Delay(
            complete,
            f"B2 prefect rules within {PREFECTURE_DELAY_MONTHS} months",
            COMPLETE_FILE,
            months_after(COMPLETE_FILE, PREFECTURE_DELAY_MONTHS, policy),
        ),
        Delay(
            f"visa application {_day(VISA_APPLICATION)}",
            f"B4 sursis à statuer, {SURSIS_MONTHS} months at most",
            VISA_APPLICATION,
            months_after(VISA_APPLICATION, SURSIS_MONTHS, policy),
        ),
        Delay(
            f"evaluation {_day(EVALUATION)}",
            f"B6 results to the consulate within the week ({RESULTS_DELAY_DAYS} days)",
            EVALUATION,
            days_after(EVALUATION, RESULTS_DELAY_DAYS, policy),
        ),
        Delay(
            f"results notified {_day(RESULTS_NOTIFIED)}",
            f"B7 training starts within {TRAINING_START_MONTHS} months",
            RESULTS_NOTIFIED,
            months_after(RESULTS_NOTIFIED, TRAINING_START_MONTHS, policy),
        ),
        Delay(
            f"training start {_day(TRAINING_STARTED)}",
            f"B8 training lasts {TRAINING_LENGTH_MONTHS} months at most",
            TRAINING_STARTED,
            months_after(TRAINING_STARTED, TRAINING_LENGTH_MONTHS, policy),
        ),
    ]


def delays_gantt() -> str:
    """The mermaid block's text, between its fences, each line ending with a newline."""
    lines = [
        "gantt",
        "    title Part I: the statutory delays of a family-reunification dossier, on sample dates",
        "    dateFormat YYYY-MM-DD",
        "    axisFormat %d %b",
        "    todayMarker off",
    ]
    section = None
    for number, delay in enumerate(delays(), start=1):
        if delay.section != section:
            section = delay.section
            lines.append(f"    section {section}")
        lines.append(
            f"    {delay.task} :d{number}, {delay.start.isoformat()}, {delay.last_day.isoformat()}"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    print(f"```mermaid\n{delays_gantt()}```")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
