"""Rejections of bad input: each names the field and the rule it breaks."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import ValidationError


class InputRejected(Exception):
    """An event or input the circular does not allow, or that is malformed."""

    def __init__(self, rule: str, message: str, field: str | None = None) -> None:
        self.rule = rule
        self.field = field
        self.message = message
        where = f"{field}: " if field else ""
        super().__init__(f"{rule}: {where}{message}")

    @property
    def reason(self) -> str:
        return str(self)


def from_validation_error(
    error: ValidationError, default_rule: str, field_rules: Mapping[str, str]
) -> InputRejected:
    """The first problem of a pydantic error, named by field and rule."""
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or None
    top = str(first["loc"][0]) if first["loc"] else ""
    rule = field_rules.get(top, default_rule)
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = "unknown field"
    elif first["type"] == "missing":
        message = "is required"
    more = len(error.errors()) - 1
    if more:
        message += f" (and {more} more problem{'s' if more > 1 else ''})"
    return InputRejected(rule, message, field)


class Waiting(InputRejected):
    """Refused for now only: the input rests on a fact of the dossier that has not arrived
    yet and may still come (a training's prescription, a session's convocation, the absence
    that frees a new convocation). The fold holds it and tries it again in event time after
    each accepted fact (models.history, docs/interpretations.md "Held facts"). A rule raises
    it before it changes anything: the fold may try the fact again later in its day."""
