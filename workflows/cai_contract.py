"""`CaiContract` and `CaiFamilyContract`: the CAI in France (circular part II)."""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

from temporalio import workflow

from workflows import register
from workflows.dossier import DossierWorkflow, dossier_workflow

with workflow.unsafe.imports_passed_through():
    from activities.register import RegisterActivities
    from models.cai import CAI, CaiState
    from models.cai.abroad import with_language_abroad, with_outcome_abroad
    from models.cai.kind import CAI_COPY_TO_FRANCE_TRAVAIL_ONLY
    from models.dossier import DossierRecord
    from models.dossier_kind import DossierKind
    from models.family import FAMILY, FamilyState
    from models.family.kind import (
        FAMILY_NAMING_PERSON_IDS,
        FAMILY_REPORTING_AT_FIRST_ABSENCE_NAMING_PERSON_IDS,
    )

S = TypeVar("S", bound=DossierRecord)

# D2, D6, D7: the language outcome abroad is read from the visa dossier before the CAI opens.
# Runs begun before open without that read.
OUTCOME_ABROAD_FROM_REGISTER = "language-outcome-abroad-from-register"
# D2, D6, D7, C1: the visa dossier's whole language record is read (a C1 exemption, a
# training followed). Runs begun before read the outcome alone.
LANGUAGE_RECORD_FROM_REGISTER = "language-record-abroad-from-register"
# H4: the skills assessment's result goes to the signatory too. Runs begun before keep
# sending France Travail's copy only.
RESULT_TO_SIGNATORY = "h4-result-to-signatory"
# G4: parents reported at the end of the follow-up, only when convened. Runs begun before
# keep reporting at an absence without reason, and every parent at the end.
CONVENED_PARENTS_REPORTED_AT_END = "g4-convened-parents-reported-at-end"
# G4: a parent's notifications keyed by their rank (`parent-1`), never their person id,
# which delivery workflow ids, `Idempotency-Key` headers and log lines would carry in clear.
# Runs begun before keep the keys they have written.
PARENTS_NAMED_BY_RANK = "parents-named-by-rank"
# Carried on continue-as-new: the run keeps the reading it began under.
BEGUN_BEFORE = "begun_before_patch"
NAMED_BY_RANK = "parents_named_by_rank"


class ReadingSinceAPatch(DossierWorkflow[S]):
    """A dossier workflow whose rules changed under a patch: a run begun before keeps
    `kind_before_patch`, the reading it began under, through its continued runs."""

    reading_patch: ClassVar[str]
    kind_before_patch: ClassVar[DossierKind[Any]]

    def _pick_reading(self, carried: Any) -> None:
        if carried is None and not self._patched(self.reading_patch):
            self._begun_before()

    def _begun_before(self) -> None:
        # This instance's own kind; the class's stays the current reading for new runs.
        self.dossier_kind = self.kind_before_patch  # type: ignore[misc]

    def _carry(self) -> dict[str, Any]:
        return {**super()._carry(), BEGUN_BEFORE: self.dossier_kind is self.kind_before_patch}

    def _restore(self, carried: dict[str, Any]) -> None:
        if carried.get(BEGUN_BEFORE):
            self._begun_before()
        super()._restore(carried)


@dossier_workflow("CaiContract")
class CaiContract(ReadingSinceAPatch[CaiState]):
    """Workflow id `cai-{contract_id}`: one signatory's reception and integration
    contract, its skills assessment (H1–H5) and its follow-up (I1–I3)."""

    dossier_kind = CAI
    reading_patch = RESULT_TO_SIGNATORY
    kind_before_patch = CAI_COPY_TO_FRANCE_TRAVAIL_ONLY

    @workflow.run
    async def run(self, contract: Any, carried: Any = None) -> dict[str, Any]:
        self._pick_reading(carried)
        if carried is None:
            if self._patched(LANGUAGE_RECORD_FROM_REGISTER):
                contract = await _with_record_read(contract)
            elif self._patched(OUTCOME_ABROAD_FROM_REGISTER):
                contract = await _with_outcome_read(contract)
        return await self.run_dossier(contract, carried)


def _visa_application_id(contract: Any) -> str | None:
    application_id = contract.get("visa_application_id") if isinstance(contract, dict) else None
    return application_id if isinstance(application_id, str) and application_id else None


async def _with_record_read(contract: Any) -> Any:
    """The start input with the language record of its visa dossier, when it names one:
    the activity's result is in the history, so the opening replays the same."""
    application_id = _visa_application_id(contract)
    if application_id is None:
        return contract
    record = await register.call(RegisterActivities.language_record_abroad, application_id)
    return with_language_abroad(contract, record)


async def _with_outcome_read(contract: Any) -> Any:
    """The start input with the outcome alone, as runs begun before the whole record read."""
    application_id = _visa_application_id(contract)
    if application_id is None:
        return contract
    outcome = await register.call(RegisterActivities.language_outcome_abroad, application_id)
    return with_outcome_abroad(contract, outcome)


@dossier_workflow("CaiFamilyContract")
class CaiFamilyContract(ReadingSinceAPatch[FamilyState]):
    """Workflow id `caif-{contract_id}`: the CAI for the family (G1–G4)."""

    dossier_kind = FAMILY
    reading_patch = CONVENED_PARENTS_REPORTED_AT_END
    # Begun before the convened-parents reading, a run began before ranks too.
    kind_before_patch = FAMILY_REPORTING_AT_FIRST_ABSENCE_NAMING_PERSON_IDS

    @workflow.run
    async def run(self, contract: Any, carried: Any = None) -> dict[str, Any]:
        self._pick_reading(carried)
        if (
            carried is None
            and self.dossier_kind is FAMILY
            and not self._patched(PARENTS_NAMED_BY_RANK)
        ):
            self._naming_person_ids()
        return await self.run_dossier(contract, carried)

    def _naming_person_ids(self) -> None:
        self.dossier_kind = FAMILY_NAMING_PERSON_IDS  # type: ignore[misc]

    def _carry(self) -> dict[str, Any]:
        return {**super()._carry(), NAMED_BY_RANK: self.dossier_kind is FAMILY}

    def _restore(self, carried: dict[str, Any]) -> None:
        # Carried by a run begun before ranks, the flag is absent: it keeps person ids.
        if not carried.get(BEGUN_BEFORE) and not carried.get(NAMED_BY_RANK):
            self._naming_person_ids()
        super()._restore(carried)
