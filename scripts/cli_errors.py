"""The two ways a `dossiers` command fails, apart from the CLI so that its sub-modules
(`scripts.cli_delivery`) raise them without importing the CLI back."""

from collections.abc import Mapping
from typing import Any

DUPLICATE = "duplicate"
"""The rule of an event identical to one already accepted: it was applied, nothing changed."""


class CommandError(Exception):
    """The command could not be carried out; the message says why (exit 1)."""


class Rejected(Exception):
    """The system refused the input (exit 3): `reason` names the rule and the field, and
    `details` are the rejection's (`event`, `received_at`, `reason`, `rule`, `field`, `seq`:
    docs/schema/rejection.json) when the workflow gave them."""

    def __init__(self, reason: str, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.details: dict[str, Any] = dict(details or {"reason": reason})

    @property
    def rule(self) -> str | None:
        rule = self.details.get("rule")
        return rule if isinstance(rule, str) else None


class NotVerified(CommandError):
    """`dossiers verify`: no document of the reference carries the code (exit 1)."""
