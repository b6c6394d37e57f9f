"""The language of what an operator reads of a running workflow: its Web UI current
details and the summaries of its timers and activities (`OPERATOR_LANGUAGE`).

Workflows cannot read the environment, so the worker chooses it once, before it runs
(`workers.main.build_worker`); every module is passed through the sandbox
(`workers.main.workflow_runner`), so each workflow reads this one choice. It is the one
setting a workflow module holds, and deterministic enough for what it feeds:

- display only. The texts it selects never feed a decision, a command's arguments or a
  stored value: the search attributes, the `state` query and the register keep the
  contract's codes;
- the current details are not in the history at all, and a timer's or an activity's
  summary (user metadata) is not compared on replay: the histories recorded in English
  replay under the French default (tests/workflow/test_replay.py);
- a worker restarted with another language shows the new one from its next task on.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.operator_text import DEFAULT_LANGUAGE, LANGUAGES, Language


class _Choice:
    language: Language = DEFAULT_LANGUAGE


def choose(language: Language) -> None:
    """Set by the worker before it polls; tests choose it around the worker they run."""
    if language not in LANGUAGES:
        raise ValueError(f"operator language {language!r}: expected one of {LANGUAGES}")
    _Choice.language = language


def current() -> Language:
    return _Choice.language
