"""The outbox's second half: once the register has committed notifications, something
starts their delivery. The writers are given it (`DeliveryStarter`) rather than knowing
how deliveries run; the worker binds it to the postmen and its Temporal client
(`DeliveryOutbox` in `activities.delivery`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class DeliveryStarter(Protocol):
    """Have each committed (workflow id, key) delivered: by the postmen, or, `handed_off`
    (written for a `NotificationDelivery` workflow of its own), by that workflow, started
    once however often this is called. With `tell_dossier`, that workflow tells the dossier
    how it went."""

    async def __call__(
        self,
        notes: Sequence[tuple[str, str]],
        *,
        handed_off: bool = False,
        tell_dossier: bool = False,
    ) -> None: ...
