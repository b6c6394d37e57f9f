"""The outbox's second half: once the register has committed notifications, something
starts their delivery. The writers are given it (`DeliveryStarter`) rather than knowing
how deliveries run; the worker binds it to its Temporal client (`TemporalDeliveryStarter`
in `activities.delivery`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class DeliveryStarter(Protocol):
    """Start the delivery of each committed (workflow id, key); starting one twice starts
    it once. With `tell_dossier`, the delivery tells the dossier how it went."""

    async def __call__(
        self, notes: Sequence[tuple[str, str]], *, tell_dossier: bool = False
    ) -> None: ...
