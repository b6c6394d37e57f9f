"""`VisaApplication`'s core, in the shape the durable shell drives."""

from __future__ import annotations

from datetime import date
from typing import Any

from models import visa_rules
from models.core import Step, TimerDue
from models.reference import ReferenceData
from models.register import DossierView
from models.visa_events import VISA_EVENTS
from models.visa_state import VisaState, visa_view


class VisaCore:
    kind = "visa_application"
    events = tuple(VISA_EVENTS)
    state_type = VisaState

    def open(
        self, raw: Any, reference: ReferenceData, today: date, received_at: str, workflow_id: str
    ) -> Step[VisaState]:
        return visa_rules.open_dossier(raw, reference, today, received_at, workflow_id)

    def receive(
        self,
        state: VisaState,
        name: str,
        raw: Any,
        reference: ReferenceData,
        today: date,
        received_at: str,
    ) -> Step[VisaState]:
        return visa_rules.receive(state, name, raw, reference, today, received_at)

    def due_timer(self, state: VisaState) -> TimerDue | None:
        return visa_rules.due_timer(state)

    def on_deadline(
        self, state: VisaState, key: str, today: date, fired_at: str
    ) -> Step[VisaState]:
        return visa_rules.on_deadline(state, key, today, fired_at)

    def view(self, state: VisaState) -> DossierView:
        return visa_view(state)

    def seq(self, state: VisaState) -> int:
        return state.seq


VISA_CORE = VisaCore()
