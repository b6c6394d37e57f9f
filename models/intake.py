"""Turning raw JSON into a validated model, or a rejection naming the field and the rule."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from models.errors import InputRejected, from_validation_error

M = TypeVar("M", bound=BaseModel)


# No event of the contract comes near this; a larger payload is refused whole (the register
# keeps its size and digest, never its content).
MAX_PAYLOAD_BYTES = 64 * 1024
# What the worker's codec hands in for a payload it refused (in clear, unauthenticated,
# bound to another dossier, unreadable JSON): the reason alone, never the content.
REFUSED_PAYLOAD = "$refused_payload"


def payload_size(raw: Any) -> int:
    return len(json.dumps(raw, ensure_ascii=False, default=str).encode(errors="replace"))


def parse_payload(
    model: type[M], raw: Any, rule: str, field_rules: Mapping[str, str] | None = None
) -> M:
    """Validate `raw` as `model`; any problem becomes an `InputRejected`."""
    if not isinstance(raw, dict):
        raise InputRejected(rule, f"the payload must be a JSON object, got {type(raw).__name__}")
    if isinstance(refused := raw.get(REFUSED_PAYLOAD), str):
        raise InputRejected("contract", refused, "payload")
    size = payload_size(raw)
    if size > MAX_PAYLOAD_BYTES:
        raise InputRejected(
            rule, f"the payload has {size} bytes; at most {MAX_PAYLOAD_BYTES} are taken"
        )
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        raise from_validation_error(error, rule, field_rules or {}) from None
