"""The I/O of the scheduled workflows: seats of the collective sessions (H1, G2), the daily
deadline digest (B1–B8, H5) and the weekly report to the ministries (J1).

Each write is idempotent on a key of the register, so a retried activity books no second
seat and writes no second notification."""

from __future__ import annotations

import asyncio
import csv
import io
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from temporalio import activity
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from activities import register_gateway as register
from activities.outbox import DeliveryStarter
from activities.reference import ReferenceActivities
from models.notifications import Kind, Recipient
from models.reference import ReferenceData
from models.reporting import (
    DIGEST_RULES,
    DigestSent,
    DossierTally,
    OpenDossier,
    ReportResult,
    SweepDeadlines,
    SweepResult,
    WriteReport,
    build_digests,
    iso_week,
    report_rows,
    report_sections,
)
from models.sessions import (
    Candidate,
    FailedConvocation,
    PlannedSessions,
    PlanSessions,
    Seat,
    SeatsToRelease,
    assign,
    count_by_platform,
    plan_sessions,
)

CONVENE_CONCURRENCY = 20


class ScheduledActivities:
    """Activities of `SessionPlanning`, `DeadlineSweep` and `MinistryReport`."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        reference: ReferenceActivities,
        reports_dir: Path | None = None,
        *,
        start_deliveries: DeliveryStarter | None = None,
        alert_after: timedelta = timedelta(hours=48),
    ) -> None:
        self.pool = pool
        self.reference = reference
        self.reports_dir = reports_dir
        self.start_deliveries = start_deliveries  # of what the runs write; None: kept only
        self.alert_after = alert_after  # an undelivered notification older is alerted

    # --- sessions --------------------------------------------------------------------------

    @activity.defn(name="plan_sessions")
    async def plan_sessions(self, request: PlanSessions) -> PlannedSessions:
        """Plan the sessions of each platform and seat the signatories waiting, in one
        transaction. The seats of `request.planned_by` are recomputed, not added to, so that
        a retry after a lost result books nobody twice."""
        reference = self._reference()
        service = request.service
        wanted = request.platforms
        sessions = [
            session
            for name, platform in sorted(reference.platforms.items())
            if wanted is None or name in wanted
            for session in plan_sessions(
                name, service, getattr(platform, service.value), request.run_on
            )
        ]
        async with self.pool.acquire() as connection, connection.transaction():
            # Two planning runs of one service never hand out the same free seat.
            await connection.execute(
                "SELECT pg_advisory_xact_lock(hashtext($1))", f"session_seat.{service.value}"
            )
            candidates = [
                Candidate.model_validate({**row["wait"], "workflow_id": row["workflow_id"]})
                for row in await register.waiting_for_service(connection, service.value)
            ]
            if wanted is not None:
                candidates = [c for c in candidates if c.platform in wanted]
            # A run interrupted between booking and convening left seats whose holders still
            # wait: they are given back (a run convenes within minutes of booking).
            await register.release_stale_seats(connection, service.value, request.planned_by)
            seated = {
                (row["workflow_id"], row["person_id"])
                for row in await connection.fetch(
                    """SELECT workflow_id, person_id FROM session_seat
                       WHERE service = $1 AND session_on >= $2
                         AND planned_by IS DISTINCT FROM $3""",
                    service.value,
                    request.run_on,
                    request.planned_by,
                )
            }
            taken = {
                row["session_id"]: int(row["seats"])
                for row in await connection.fetch(
                    """SELECT session_id, count(*) AS seats FROM session_seat
                       WHERE session_id = ANY($1::text[]) AND planned_by IS DISTINCT FROM $2
                       GROUP BY session_id""",
                    [s.session_id for s in sessions],
                    request.planned_by,
                )
            }
            assignment = assign(sessions, candidates, taken=taken, seated=seated)
            await _keep_only(connection, request.planned_by, assignment.seats)
            await connection.executemany(
                """INSERT INTO session_seat
                       (session_id, service, platform, session_on, workflow_id, person_id,
                        planned_by)
                   VALUES ($1, $2, $3, $4, $5, $6, $7)
                   ON CONFLICT (session_id, workflow_id, person_id) DO NOTHING""",
                [
                    (
                        seat.session_id,
                        seat.service.value,
                        seat.platform,
                        seat.session_on,
                        seat.workflow_id,
                        seat.person_id,
                        request.planned_by,
                    )
                    for seat in assignment.seats
                ],
            )
        return PlannedSessions(
            service=service,
            run_on=request.run_on,
            platforms=count_by_platform(sessions, taken, candidates, assignment, seated),
            seats=assignment.seats,
            unassigned=assignment.unassigned,
        )

    @activity.defn(name="convene_seats")
    async def convene_seats(self, batch: SeatsToRelease) -> list[FailedConvocation]:
        """Convene each seat's holder by an update, so that the contract answers: a refused
        convocation (the contract closed, or convened meanwhile) gives its seat back at once.
        The update id is the seat's place in the plan, so a retried batch convenes nobody
        twice."""
        client = activity.client()
        limit = asyncio.Semaphore(CONVENE_CONCURRENCY)

        async def convene(index: int, seat: Seat) -> FailedConvocation | None:
            event, payload = seat.convocation()
            async with limit:
                try:
                    await client.get_workflow_handle(seat.workflow_id).execute_update(
                        event, payload, id=batch.update_id(index)
                    )
                except WorkflowUpdateFailedError as error:
                    # The refusal's wording may name the person: kept, not logged.
                    cause = error.cause
                    reason = cause.message if isinstance(cause, ApplicationError) else str(cause)
                    return FailedConvocation(seat=seat, error=reason)
                except RPCError as error:
                    if error.status != RPCStatusCode.NOT_FOUND:
                        raise  # the server is unreachable: the activity retries
                    return FailedConvocation(seat=seat, error="the contract is closed")
            activity.heartbeat(seat.workflow_id)
            return None

        outcomes = await asyncio.gather(
            *(convene(index, seat) for index, seat in enumerate(batch.seats))
        )
        failed = [outcome for outcome in outcomes if outcome is not None]
        if failed:
            await self.release_seats(
                SeatsToRelease(planned_by=batch.planned_by, seats=[f.seat for f in failed])
            )
        return failed

    @activity.defn(name="release_seats")
    async def release_seats(self, release: SeatsToRelease) -> int:
        """Give back the seats of convocations that could not be delivered (the contract
        closed meanwhile)."""
        result: str = await self.pool.execute(
            """DELETE FROM session_seat s
               USING unnest($2::text[], $3::text[], $4::text[]) AS k(session_id, workflow_id,
                                                                     person_id)
               WHERE s.planned_by = $1 AND s.session_id = k.session_id
                 AND s.workflow_id = k.workflow_id AND s.person_id = k.person_id""",
            release.planned_by,
            [seat.session_id for seat in release.seats],
            [seat.workflow_id for seat in release.seats],
            [seat.person_id for seat in release.seats],
        )
        return int(result.split()[-1])

    def _reference(self) -> ReferenceData:
        try:
            return self.reference.load()
        except (OSError, ValueError) as error:
            # A broken configuration file is fixed by an operator, then the retry succeeds.
            raise ApplicationError(f"reference data: {error}") from error

    # --- the deadline digest ---------------------------------------------------------------

    @activity.defn(name="sweep_deadlines")
    async def sweep_deadlines(self, sweep: SweepDeadlines) -> SweepResult:
        """One `deadline_digest` per authority with open dossiers due within the window or
        overdue; written once per day and authority."""
        rows = await register.dossiers_due(self.pool, sweep.day + timedelta(days=sweep.within_days))
        dossiers = [OpenDossier.model_validate(dict(row)) for row in rows]
        digests = build_digests(dossiers, sweep.day, sweep.within_days)
        result = SweepResult(day=sweep.day, dossiers_due=len(dossiers))
        for digest in digests:
            key = digest.key(sweep.day)
            payload = {
                "rule": DIGEST_RULES,
                "day": sweep.day.isoformat(),
                "addressee": digest.addressee,
                "within_days": sweep.within_days,
                "dossiers": [entry.model_dump(mode="json") for entry in digest.entries],
            }
            created = await register.insert_scheduled_notification(
                self.pool,
                sweep.register_id,
                key,
                digest.recipient.value,
                Kind.DEADLINE_DIGEST.value,
                payload,
            )
            result.digests.append(
                DigestSent(
                    recipient=digest.recipient.value,
                    addressee=digest.addressee,
                    key=key,
                    dossiers=len(digest.entries),
                    created=created,
                )
            )
        alert = await self._delivery_alert(sweep)
        written = [digest.key for digest in result.digests] + ([alert] if alert else [])
        await self._deliver(sweep.register_id, written)
        return result

    async def _delivery_alert(self, sweep: SweepDeadlines) -> str | None:
        """One `delivery_alert` to OFII a day while notifications wait undelivered past
        `alert_after` (refused, unroutable or never answered), oldest first."""
        rows = await register.undelivered(self.pool, self.alert_after)
        if not rows:
            return None
        key = f"{sweep.day.isoformat()}.{Kind.DELIVERY_ALERT.value}"
        payload = {
            "rule": "",
            "day": sweep.day.isoformat(),
            "older_than_hours": int(self.alert_after.total_seconds() // 3600),
            "undelivered": [
                {
                    "workflow_id": row["workflow_id"],
                    "key": row["key"],
                    "kind": row["kind"],
                    "recipient": row["recipient"],
                    "since": row["created_at"].isoformat(),
                    "refused": row["refused_at"] is not None,
                    "error": row["delivery_error"],
                }
                for row in rows
            ],
        }
        await register.insert_scheduled_notification(
            self.pool,
            sweep.register_id,
            key,
            Recipient.OFII.value,
            Kind.DELIVERY_ALERT.value,
            payload,
        )
        activity.logger.error("notifications undelivered past the alert age: %d", len(rows))
        return key

    async def _deliver(self, register_id: str, keys: list[str]) -> None:
        if self.start_deliveries is not None and keys:
            await self.start_deliveries([(register_id, key) for key in keys])

    # --- the report to the ministries -------------------------------------------------------

    @activity.defn(name="write_ministry_report")
    async def write_ministry_report(self, request: WriteReport) -> ReportResult:
        """J1: the week's report, as one `ministry_report` notification and a CSV file of
        (section, key, count) rows. A second run in the same week sends nothing new and
        rewrites the file from the report already sent."""
        if self.reports_dir is None:
            raise ApplicationError(
                "REPORTS_DIR is not configured for this worker", non_retryable=True
            )
        week = iso_week(request.as_of)
        filename = f"ministry-report-{week}.csv"
        sections = await self._count()
        payload: dict[str, Any] = {
            "rule": "J1",
            "week": week,
            "as_of": request.as_of.isoformat(),
            "file": filename,
            "sections": sections,
        }
        key = f"{week}.ministry"
        created = await register.insert_scheduled_notification(
            self.pool,
            request.register_id,
            key,
            Recipient.MINISTRY.value,
            Kind.MINISTRY_REPORT.value,
            payload,
        )
        if not created:
            payload = await register.notification_payload(self.pool, request.register_id, key)
        rows = report_rows(payload["sections"])
        path = self.reports_dir / filename
        _write_csv(path, rows)
        await self._deliver(request.register_id, [key])
        return ReportResult(
            week=week,
            as_of=request.as_of,
            path=str(path),
            created=created,
            rows=len(rows),
        )

    async def _count(self) -> dict[str, dict[str, int]]:
        """The register's dossiers counted by the columns the report reads, in one snapshot;
        the sections are decided by `report_sections` (J1)."""
        async with (
            self.pool.acquire() as connection,
            connection.transaction(isolation="repeatable_read", readonly=True),
        ):
            rows = await register.dossier_tally(connection)
        return report_sections(DossierTally.model_validate(dict(row)) for row in rows)


async def _keep_only(
    connection: asyncpg.Connection | PoolConnectionProxy, planned_by: str, seats: list[Seat]
) -> None:
    """Drop the seats an earlier attempt of this planning run booked and this one did not."""
    await connection.execute(
        """DELETE FROM session_seat s
           WHERE s.planned_by = $1 AND NOT EXISTS (
               SELECT 1 FROM unnest($2::text[], $3::text[], $4::text[])
                             AS k(session_id, workflow_id, person_id)
               WHERE k.session_id = s.session_id AND k.workflow_id = s.workflow_id
                 AND k.person_id = s.person_id)""",
        planned_by,
        [seat.session_id for seat in seats],
        [seat.workflow_id for seat in seats],
        [seat.person_id for seat in seats],
    )


def _write_csv(path: Path, rows: list[tuple[str, str, int]]) -> None:
    """Written beside, then renamed: a reader never sees half a report."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["section", "key", "count"])
    writer.writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".csv.{os.getpid()}.partial")
    partial.write_text(buffer.getvalue(), encoding="utf-8")
    os.replace(partial, path)
