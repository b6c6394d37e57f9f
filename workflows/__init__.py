"""The durable shell: one module per workflow kind."""

from typing import Any

from workflows.visa_application import VisaApplication

WORKFLOWS: list[type[Any]] = [VisaApplication]
