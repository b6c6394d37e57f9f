"""The two ways a `dossiers` command fails, apart from the CLI so that its sub-modules
(`scripts.cli_delivery`) raise them without importing the CLI back."""


class CommandError(Exception):
    """The command could not be carried out; the message says why (exit 1)."""


class Rejected(Exception):
    """The system refused the input; `reason` names the rule and the field (exit 2)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotVerified(CommandError):
    """`dossiers verify`: no document of the reference carries the code (exit 1)."""
