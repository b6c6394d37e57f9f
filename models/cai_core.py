"""The cores of `CaiContract` and `CaiFamilyContract`, in the shape the shell drives."""

from __future__ import annotations

from datetime import date
from typing import Any

from models import cai_rules, caif_rules
from models.cai_events import CAI_EVENTS, FAMILY_EVENTS
from models.cai_state import CaiState, cai_view
from models.caif_state import FamilyState, family_view
from models.core import Step, TimerDue
from models.reference import ReferenceData
from models.register import DossierView


class CaiCore:
    kind = "cai_contract"
    events = tuple(CAI_EVENTS)
    state_type = CaiState

    def open(
        self, raw: Any, reference: ReferenceData, today: date, received_at: str, workflow_id: str
    ) -> Step[CaiState]:
        return cai_rules.open_contract(raw, reference, today, received_at, workflow_id)

    def receive(
        self,
        state: CaiState,
        name: str,
        raw: Any,
        reference: ReferenceData,
        today: date,
        received_at: str,
    ) -> Step[CaiState]:
        return cai_rules.receive(state, name, raw, reference, today, received_at)

    def due_timer(self, state: CaiState) -> TimerDue | None:
        return cai_rules.due_timer(state)

    def on_deadline(self, state: CaiState, key: str, today: date, fired_at: str) -> Step[CaiState]:
        return cai_rules.on_deadline(state, key, today, fired_at)

    def view(self, state: CaiState) -> DossierView:
        return cai_view(state)

    def seq(self, state: CaiState) -> int:
        return state.seq


class FamilyCore:
    kind = "cai_family_contract"
    events = tuple(FAMILY_EVENTS)
    state_type = FamilyState

    def open(
        self, raw: Any, reference: ReferenceData, today: date, received_at: str, workflow_id: str
    ) -> Step[FamilyState]:
        return caif_rules.open_family_contract(raw, reference, today, received_at, workflow_id)

    def receive(
        self,
        state: FamilyState,
        name: str,
        raw: Any,
        reference: ReferenceData,
        today: date,
        received_at: str,
    ) -> Step[FamilyState]:
        return caif_rules.receive(state, name, raw, reference, today, received_at)

    def due_timer(self, state: FamilyState) -> TimerDue | None:
        return caif_rules.due_timer(state)

    def on_deadline(
        self, state: FamilyState, key: str, today: date, fired_at: str
    ) -> Step[FamilyState]:
        return caif_rules.on_deadline(state, key, today, fired_at)

    def view(self, state: FamilyState) -> DossierView:
        return family_view(state)

    def seq(self, state: FamilyState) -> int:
        return state.seq


CAI_CORE = CaiCore()
FAMILY_CORE = FamilyCore()
