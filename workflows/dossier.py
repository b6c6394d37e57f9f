"""The durable shell every dossier kind shares.

A dossier workflow holds its state, feeds each signal, update and due timer to its
functional core, runs the activities for the effects, and keeps its search attributes
and Web UI details current. It decides nothing the circular decides: the core does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Any, ClassVar, Generic, NoReturn, TypeVar

from temporalio import workflow
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    from activities.reference import ReferenceActivities
    from activities.register import RegisterActivities
    from models import history, person_search
    from models.common import Rejection
    from models.core import Step
    from models.delivery import DeliveryOutcome, Outcome
    from models.dossier import DossierRecord
    from models.dossier_kind import DossierKind
    from models.errors import InputRejected
    from models.notifications import Kind, Recipient
    from models.operator_text import (
        details_markdown,
        notification_summary,
        overdue_rules,
        phrase,
        step_summary,
        timer_summary,
        undelivered_text,
    )
    from models.records import (
        DossierClaim,
        DossierRow,
        DossierView,
        EventRecord,
        NotificationRecord,
        StepRecord,
    )
    from models.reference import ReferenceData
    from workflows import operator_language, register
    from workflows import search_attributes as sa
    from workflows.delivery import DELIVERY_OUTCOME

S = TypeVar("S", bound=DossierRecord)

INPUT_REJECTED = "InputRejected"
# `NextDeadline` is a day: noon UTC reads as that same day in the Web UI from UTC-11 to
# UTC+11 (midnight UTC read as the day before in any consulate west of Greenwich).
DEADLINE_TIME = time(12)
# A refused input is the contract working, not a failure of the system: the SDK logs it at
# DEBUG and counts no failure in its metrics (the business metrics count rejections).
BENIGN = ApplicationErrorCategory.BENIGN

# Each step commits its input, notifications and projection in one transaction, and only
# what changed reaches the search attributes. Histories begun before keep their four
# activities a step on replay; once none is open, `workflow.deprecate_patch` retires them.
ONE_TRANSACTION_PER_STEP = "one-transaction-per-step"
# The dossier counts its notifications not yet delivered (search attribute and details).
UNDELIVERED_COUNT = "undelivered-notifications"
SETTLE_BEFORE_CLOSING = "settle-before-closing"
CLOSING_SETTLE = timedelta(seconds=1)
# Every patch asked once, in the run's first task. On replay, Core answers a patch from the
# markers of the task it replays; a patch first asked right after a local activity that
# outlived its workflow task (a slow register: the task is heartbeated and split) is asked
# one task early on replay, answered "no", and the history no longer replays. Asked before
# any local activity, each marker lands in the first task. Runs begun before keep asking
# each patch where they first did.
PATCHES_UP_FRONT = "patches-up-front"
# D4, E5: the attestation of training followed goes to the applicant too. The steps of the
# dossiers begun before one transaction per step write one activity per notification: on
# replay of their steps taken before, the applicant's copy was not due (and such a run,
# its answer memoised, keeps the consulate's copy only).
ATTESTATION_TO_THE_APPLICANT = "attestation-to-the-applicant"
LATER_PATCHES = (ONE_TRANSACTION_PER_STEP, UNDELIVERED_COUNT, SETTLE_BEFORE_CLOSING)
# The rules of the delays passed (`OverdueRules`), beside `Overdue`.
OVERDUE_RULES = "overdue-rules"
# The keyed hashes of the people the dossier is about (`PersonKeys`), from a local activity
# that holds the key. Both asked up front; runs begun before asking patches up front (none
# still open since) go without them.
PERSON_KEYS = "person-keys"
# A delivery no longer signals its outcome back: that signal cost the server one more
# dossier task per notification, some ten a lifecycle (tools/bench.py, end to end). What is
# undelivered is the register's `notification.delivered_at`, which the CLI and the Web UI's
# list of `NotificationDelivery` runs show. Asked in the first task only: a run begun before
# keeps counting what its deliveries tell it, on replay too.
UNDELIVERED_FROM_REGISTER = "undelivered-from-register"
# The patches whose answers the run keeps, asked in its first task after `LATER_PATCHES`.
KEPT_PATCHES = (OVERDUE_RULES, PERSON_KEYS, UNDELIVERED_FROM_REGISTER)
# Every patch above answered "yes" by one marker. Each patch asked is a marker and an upsert
# of `TemporalChangeVersion` (Core's): seven of each in a new dossier's first task, whose
# completion then took the server longer than the rest of the opening (tools/bench.py,
# intake). A run begun since asks this one patch only; a run begun before answers no to it,
# on replay too, and keeps asking its patches where it first did.
EVERY_PATCH = "every-patch-in-one-marker"


class DossierWorkflow(Generic[S]):
    """Base of `VisaApplication` and the CAI workflows; subclasses name their dossier kind."""

    dossier_kind: ClassVar[DossierKind[Any]]
    # The step's transaction as a local activity: measured faster (docs/design.md, "Performance");
    # False runs it as a normal activity from the first attempt.
    local_step: ClassVar[bool] = True

    def __init__(self) -> None:
        self._state: S | None = None
        self._reference: ReferenceData | None = None
        self._lock = asyncio.Lock()
        self._changes = 0
        self._start_rejection: str | None = None
        self._shown: dict[str, Any] = {}  # search attributes and details as last published
        self._told: dict[str, DeliveryOutcome] = {}  # what the deliveries reported back
        self._show_overdue_rules = False
        self._find_by_person = False
        self._people: list[person_search.Identity] | None = None  # as last hashed
        self._person_keys: list[str] = []
        self._deliveries_tell = True  # False once the register answers what is undelivered
        self._every_patch: bool | None = None  # `EVERY_PATCH`, once asked

    # --- the run -----------------------------------------------------------------------

    async def run_dossier(self, raw: Any, carried: Any) -> dict[str, Any]:
        if self._begun_with_every_patch():
            self._show_overdue_rules = self._find_by_person = True
            self._deliveries_tell = False
        elif workflow.patched(PATCHES_UP_FRONT):
            for patch in LATER_PATCHES:
                workflow.patched(patch)
            self._show_overdue_rules = workflow.patched(OVERDUE_RULES)
            self._find_by_person = workflow.patched(PERSON_KEYS)
            self._deliveries_tell = not workflow.patched(UNDELIVERED_FROM_REGISTER)
        if carried is not None:
            await self._continue(raw, carried)
        else:
            await self._open(raw)
        while not self._view().closed:
            await self._wait_for_change_or_deadline()
            if workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(args=[raw, self._carry()])
        await workflow.wait_condition(workflow.all_handlers_finished)
        if self._patched(SETTLE_BEFORE_CLOSING):
            # The closing update answers in its own task, the run ends in a later one: a
            # delivery's signal landing in the task that ends the run fails that task
            # (UnhandledCommand), which must not fail the client's update with it.
            await workflow.sleep(
                CLOSING_SETTLE, summary=phrase("closing", operator_language.current())
            )
            await workflow.wait_condition(workflow.all_handlers_finished)
        return self.state_json()

    async def _open(self, raw: Any) -> None:
        if not self._one_transaction():
            await self._open_in_writes(raw)
            return
        # Events wait for the opening to be committed: none is written before the claim.
        async with self._lock:
            self._reference = await register.reference_data()
            try:
                step = self._opening_step(raw)
            except InputRejected as rejected:
                await self._refuse_start(raw, rejected)
            self._state = step.state
            await self._persist(step, "start", "start", raw, claim=self._claim(step))

    def _opening_step(self, raw: Any) -> Step[S]:
        return history.open_dossier(
            self.dossier_kind,
            raw,
            self._current_reference(),
            workflow.now(),
            workflow.info().workflow_id,
        )

    def _claim(self, step: Step[S]) -> DossierClaim:
        info = workflow.info()
        view = self.dossier_kind.view(step.state)
        return DossierClaim(
            workflow_id=info.workflow_id,
            first_run_id=info.first_execution_run_id,
            kind=view.kind,
            reference=view.reference,
        )

    async def _open_in_writes(self, raw: Any) -> None:
        """The opening of the dossiers begun before one transaction per step."""
        self._reference = await register.call(ReferenceActivities.load_reference_data)
        try:
            step = self._opening_step(raw)
        except InputRejected as rejected:
            await self._refuse_start(raw, rejected)
        holder = await register.call(RegisterActivities.claim_dossier, self._claim(step))
        if holder is not None:
            _duplicate(holder)
        self._state = step.state
        await self._persist(step, "start", "start", raw)

    async def _refuse_start(self, raw: Any, rejected: InputRejected) -> NoReturn:
        """A start the contract refuses: recorded, and the workflow fails for good."""
        self._start_rejection = rejected.reason
        # seq 0: a corrected application may start again under the same id, and its
        # accepted start is then event 1.
        record = self._event_record(0, "start", "start", raw, rejected.reason, rule=rejected.rule)
        if self._one_transaction():
            await register.write_step(StepRecord(event=record), local=self.local_step)
        else:
            await register.call(RegisterActivities.record_event, record)
        # The reason may name a person's data: the log says only where it broke.
        workflow.logger.warning("start rejected", extra=_where(rejected.rule, rejected.field))
        raise ApplicationError(
            rejected.reason, type=INPUT_REJECTED, non_retryable=True, category=BENIGN
        )

    async def _continue(self, raw: Any, carried: Any) -> None:
        """A state is carried only by this workflow's own continue-as-new: handed in at a
        first start, it would skip validation and the one-dossier-per-id claim."""
        if workflow.info().continued_run_id is None:
            await self._refuse_start(
                raw,
                InputRejected(
                    "contract",
                    "a carried state is accepted only on a run continued as new",
                    "carried",
                ),
            )
        try:
            self._restore(carried)
        except (ValidationError, KeyError, TypeError, ValueError) as error:
            raise ApplicationError(
                f"the carried state does not load ({type(error).__name__})",
                type="CarriedStateInvalid",
                non_retryable=True,
            ) from None

    async def _wait_for_change_or_deadline(self) -> None:
        changes = self._changes
        timer = history.due_timer(self.dossier_kind, self._current())
        if timer is None:
            await workflow.wait_condition(lambda: self._changes != changes)
            return
        remaining = timer.fire_at(self._current().time_zone) - workflow.now()
        if remaining > timedelta(0):
            try:
                await workflow.wait_condition(
                    lambda: self._changes != changes,
                    timeout=remaining,
                    timeout_summary=timer_summary(
                        self.dossier_kind.kind,
                        timer.key,
                        operator_language.current(),
                        self._view().procedure,
                    ),
                )
                return
            except TimeoutError:
                pass
        async with self._lock:
            if history.due_timer(self.dossier_kind, self._current()) != timer:
                return  # an event settled it meanwhile
            step = history.on_deadline(self.dossier_kind, self._current(), workflow.now())
            self._state = step.state
            await self._persist(step, f"deadline:{timer.key}", "timer", None)

    # --- events --------------------------------------------------------------------------

    async def receive_event(self, name: str, raw: Any, source: str) -> Step[S]:
        """Feed one signal or update to the core, persist its effects, and return the step."""
        await workflow.wait_condition(lambda: self._state is not None)
        async with self._lock:
            step: Step[S] = history.receive(
                self.dossier_kind,
                self._current(),
                name,
                raw,
                self._current_reference(),
                *self._clock(),
            )
            self._state = step.state
            await self._persist(step, name, source, raw)
        if step.rejection is not None:
            workflow.logger.warning(
                "%s %s rejected",
                source,
                name,
                extra=_where(step.rejection.rule, step.rejection.field),
            )
        return step

    async def update_event(self, name: str, raw: Any) -> dict[str, Any]:
        step = await self.receive_event(name, raw, "update")
        if step.rejection is not None:
            raise _rejected(step.rejection)
        return self.state_json()

    @workflow.signal(dynamic=True)
    async def unknown_signal(self, name: str, args: Sequence[RawValue]) -> None:
        # An event name the contract does not know is recorded as rejected, never dropped.
        await self.receive_event(name, _first_arg(args), "signal")

    @workflow.update(dynamic=True)
    async def unknown_update(self, name: str, args: Sequence[RawValue]) -> dict[str, Any]:
        return await self.update_event(name, _first_arg(args))

    @workflow.query(name="state", description="The dossier as JSON (contract: query state)")
    def state(self) -> dict[str, Any]:
        return self.state_json()

    def state_json(self) -> dict[str, Any]:
        if self._state is None:
            return {
                "stage": "rejected" if self._start_rejection else "opening",
                "rejection": self._start_rejection,
            }
        return self._state.model_dump(mode="json")

    # --- effects -------------------------------------------------------------------------

    async def _persist(
        self,
        step: Step[S],
        event: str,
        source: str,
        raw: Any,
        claim: DossierClaim | None = None,
    ) -> None:
        """Commit the step (its input, the notifications due, the projection of the
        dossier), then show the new situation in the Web UI."""
        info = workflow.info()
        seq = step.state.seq
        reason = step.rejection.reason if step.rejection is not None else None
        rule = step.rejection.rule if step.rejection is not None else None
        record = self._event_record(seq, event, source, raw, reason, step.corrects, rule=rule)
        # Held facts (migration 013): the input waits, or this step placed or refused those
        # that waited. Nothing here changes what the workflow does, only what the row says.
        record.status = "held" if step.held is not None else None
        record.placed = step.placed
        record.refused_held = [r.model_dump(mode="json") for r in step.refused_held]
        notifications = [
            NotificationRecord.of(info.workflow_id, due, info.run_id, seq)
            for due in step.notifications
        ]
        view = self._view()
        projection = None
        if step.rejection is None:
            projection = DossierRow(
                workflow_id=info.workflow_id,
                first_run_id=info.first_execution_run_id,
                view=view,
                run_id=info.run_id,
            )
        if step.rejection is None and self._find_by_person:
            await self._hash_people(step.state)
        one_transaction = self._one_transaction()
        if one_transaction:
            holder = await register.write_step(
                StepRecord(
                    event=record,
                    notifications=notifications,
                    projection=projection,
                    claim=claim,
                    tell_deliveries=self._deliveries_tell,
                ),
                local=self.local_step,
                summary=self._step_summary(event, step, view.procedure),
            )
            if holder is not None:
                _duplicate(holder)
        else:
            await self._persist_in_writes(record, notifications, projection)
        if step.rejection is None:
            self._publish(view, only_changed=one_transaction)
        self._changes += 1

    async def _hash_people(self, state: S) -> None:
        """`PersonKeys` for the people the input names, hashed again only when they
        change: at the opening, and when a correction of the start renames someone."""
        people = person_search.people_of(state)
        if people != self._people:
            self._person_keys = await register.person_keys(people)
            self._people = people

    @workflow.signal(name=DELIVERY_OUTCOME, description="A delivery's outcome (internal)")
    def delivery_outcome(self, outcome: DeliveryOutcome) -> None:
        """Sent by `NotificationDelivery`: the count of undelivered notifications follows."""
        self._told[outcome.key] = outcome
        if self._state is not None:
            self._publish(self._view(), only_changed=True)

    def _undelivered(self) -> tuple[int, int]:
        """(not delivered yet, of which refused) among the notifications the dossier said
        (its state keeps each by register key, a withdrawn one too: it was written)."""
        outcomes = [self._told.get(key) for key in self._current().said]
        waiting = [o for o in outcomes if o is None or o.outcome != Outcome.DELIVERED]
        return len(waiting), sum(1 for o in waiting if o is not None)

    async def _persist_in_writes(
        self,
        record: EventRecord,
        notifications: list[NotificationRecord],
        projection: DossierRow | None,
    ) -> None:
        """The steps of the dossiers begun before one transaction per step: an activity per
        row, all at once (each write is idempotent and the projection is versioned)."""
        if not self._patched(ATTESTATION_TO_THE_APPLICANT):
            notifications = [n for n in notifications if not _attestation_to_applicant(n)]
        writes: list[Awaitable[Any]] = [register.call(RegisterActivities.record_event, record)]
        writes += [
            register.call(
                RegisterActivities.send_notification,
                note,
                summary=notification_summary(
                    note.kind, note.recipient, note.payload["rule"], operator_language.current()
                ),
            )
            for note in notifications
        ]
        if projection is not None:
            writes.append(register.call(RegisterActivities.upsert_dossier, projection))
        await asyncio.gather(*writes)

    def _event_record(
        self,
        seq: int,
        event: str,
        source: str,
        raw: Any,
        reason: str | None,
        corrects: int | None = None,
        *,
        rule: str | None = None,
    ) -> EventRecord:
        return EventRecord(
            workflow_id=workflow.info().workflow_id,
            seq=seq,
            event=event,
            source=source,
            accepted=reason is None,
            payload=raw,
            reason=reason,
            rule=rule,
            received_at=workflow.now().isoformat(),
            corrects=corrects,
            run_id=workflow.info().run_id,
        )

    def _publish(self, view: DossierView, *, only_changed: bool) -> None:
        """Search attributes (no personal data) and the human-readable details of the Web
        UI; with `only_changed`, only the values that differ from the last published."""
        shown = dict(_search_attributes(view))
        language = operator_language.current()
        held = self._state.held_inputs if self._state is not None else []
        details = details_markdown(view, language, held)
        if self._patched(UNDELIVERED_COUNT) and self._deliveries_tell:
            undelivered, refused = self._undelivered()
            shown[sa.UNDELIVERED.name] = (sa.UNDELIVERED, undelivered)
            if undelivered:
                details += "\n\n" + undelivered_text(undelivered, refused, language)
        # A keyword list left empty is unset (None), as a next deadline no longer there.
        if self._show_overdue_rules:
            shown[sa.OVERDUE_RULES.name] = (sa.OVERDUE_RULES, overdue_rules(view) or None)
        if self._find_by_person:
            shown[sa.PERSON_KEYS.name] = (sa.PERSON_KEYS, self._person_keys or None)
        changed = {
            name: (key, value)
            for name, (key, value) in shown.items()
            if not only_changed or self._shown.get(name) != value
        }
        if changed:
            workflow.upsert_search_attributes(
                [
                    key.value_unset() if value is None else key.value_set(value)
                    for key, value in changed.values()
                ]
            )
        if not only_changed or self._shown.get("details") != details:
            workflow.set_current_details(details)
        self._shown = {name: value for name, (_, value) in shown.items()} | {"details": details}

    def _step_summary(self, event: str, step: Step[Any], procedure: str | None) -> str:
        """What the Web UI shows on the step's activity, in the operator's language."""
        return step_summary(
            event,
            step.rejection is not None,
            (due.kind for due in step.notifications),
            operator_language.current(),
            self.dossier_kind.kind,
            procedure,
        )

    def _one_transaction(self) -> bool:
        return self._patched(ONE_TRANSACTION_PER_STEP)

    def _begun_with_every_patch(self) -> bool:
        """Whether this run answers every patch yes without asking (`EVERY_PATCH`): asked
        once, first thing in the run."""
        if self._every_patch is None:
            self._every_patch = workflow.patched(EVERY_PATCH)
        return self._every_patch

    def _patched(self, patch: str) -> bool:
        """`workflow.patched` of a patch older than `EVERY_PATCH`, answered yes without a
        marker in a run begun since. A patch added later is asked with `workflow.patched`:
        a run begun before it must answer no."""
        return self._begun_with_every_patch() or workflow.patched(patch)

    # --- helpers -------------------------------------------------------------------------

    def _clock(self) -> tuple[datetime, str]:
        # The core turns the instant into the day where the dossier's authority sits (B9).
        now = workflow.now()
        return now, now.isoformat()

    def _current(self) -> S:
        assert self._state is not None, "the dossier is opened before any event is fed"
        return self._state

    def _current_reference(self) -> ReferenceData:
        assert self._reference is not None
        return self._reference

    def _view(self) -> DossierView:
        return self.dossier_kind.view(self._current())

    def _carry(self) -> dict[str, Any]:
        carried = {
            "state": self._current().model_dump(mode="json"),
            "reference": self._current_reference().model_dump(mode="json"),
            "changes": self._changes,
            "told": {key: told.model_dump(mode="json") for key, told in self._told.items()},
        }
        if self._people is not None:
            carried["person_keys"] = self._person_keys
        return carried

    def _restore(self, carried: dict[str, Any]) -> None:
        self._state = self.dossier_kind.state_type.model_validate(carried["state"])
        self._reference = ReferenceData.model_validate(carried["reference"])
        self._changes = int(carried.get("changes", 0))
        self._told = {
            key: DeliveryOutcome.model_validate(told)
            for key, told in carried.get("told", {}).items()
        }
        if "person_keys" in carried:
            self._person_keys = list(carried["person_keys"])
            self._people = person_search.people_of(self._current())
        self._publish(self._view(), only_changed=False)


def _where(rule: str | None, field: str | None) -> dict[str, Any]:
    return {"rule": rule, "field": field}


def _rejected(rejection: Rejection) -> ApplicationError:
    return ApplicationError(
        rejection.reason,
        rejection.model_dump(mode="json"),
        type=INPUT_REJECTED,
        non_retryable=True,
        category=BENIGN,
    )


def _search_attributes(view: DossierView) -> list[tuple[str, tuple[Any, Any]]]:
    """The search attributes of a dossier (never personal data), by name: a keyword not
    known yet is left out, a next deadline no longer there is unset (None)."""
    keywords = [
        (sa.PROCEDURE, view.procedure),
        (sa.COUNTRY_OF_RESIDENCE, view.country),
        (sa.CONSULATE, view.consulate),
        (sa.RESPONSIBLE_BODY, view.responsible_body),
        (sa.DOSSIER_STAGE, view.stage),
    ]
    next_deadline = (
        datetime.combine(view.next_deadline, DEADLINE_TIME, tzinfo=UTC)
        if view.next_deadline is not None
        else None
    )
    values: list[tuple[Any, Any]] = [(key, value) for key, value in keywords if value is not None]
    values += [
        (sa.NEXT_DEADLINE, next_deadline),
        (sa.OVERDUE, bool(view.overdue)),
        (sa.TRAINING_PRESCRIBED, view.training_prescribed),
    ]
    return [(key.name, (key, value)) for key, value in values]


def _duplicate(holder: str) -> NoReturn:
    raise ApplicationError(
        f"contract: {workflow.info().workflow_id} already holds the dossier opened by run "
        f"{holder}; starting the same id twice must not create a second dossier",
        type="DuplicateDossier",
        non_retryable=True,
        category=BENIGN,
    )


# --- handlers: every event both as a signal and as an update, under the same name ---------


def _signal_handler(name: str) -> Callable[..., Any]:
    # `self` stays unannotated: the SDK reads the handler's annotations as its payload types.
    async def handler(self, payload: Any = None) -> None:  # type: ignore[no-untyped-def]
        await self.receive_event(name, payload, "signal")

    handler.__name__ = handler.__qualname__ = f"signal_{name}"
    return workflow.signal(name=name, description=f"Event `{name}` (fire-and-forget)")(handler)


def _update_handler(name: str) -> Callable[..., Any]:
    async def handler(self, payload: Any = None) -> dict[str, Any]:  # type: ignore[no-untyped-def]
        state: dict[str, Any] = await self.update_event(name, payload)
        return state

    handler.__name__ = handler.__qualname__ = f"update_{name}"
    return workflow.update(
        name=name, description=f"Event `{name}`: returns the state or the rejection"
    )(handler)


def _first_arg(args: Sequence[RawValue]) -> Any:
    if not args:
        return None
    return workflow.payload_converter().from_payload(args[0].payload)


def dossier_workflow(
    name: str,
) -> Callable[[type[DossierWorkflow[Any]]], type[DossierWorkflow[Any]]]:
    """`workflow.defn` for a dossier class, after adding a signal and an update per event of
    its dossier kind."""

    def decorate(cls: type[DossierWorkflow[Any]]) -> type[DossierWorkflow[Any]]:
        for event in history.event_names(cls.dossier_kind):
            setattr(cls, f"signal_{event}", _signal_handler(event))
            setattr(cls, f"update_{event}", _update_handler(event))
        return workflow.defn(name=name)(cls)

    return decorate


def _attestation_to_applicant(note: NotificationRecord) -> bool:
    """The notification the rules added to a step of training completed (D4, E5)."""
    return note.kind == Kind.TRAINING_ATTESTATION and note.recipient == Recipient.APPLICANT
