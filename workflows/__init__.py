"""The durable shell: one module per workflow kind."""

from typing import Any

WORKFLOWS: list[type[Any]] = []
