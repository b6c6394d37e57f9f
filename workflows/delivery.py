"""`NotificationDelivery`: one notification taken to its recipient (CONTRACT.md,
"Notifications are delivered"), apart from its dossier, so that a recipient who does not
answer never holds up the dossier's own events.

Workflow id `delivery-{workflow_id}-{key}`. Its input is the notification's keys only;
the content is read from the register by the activity. Attempts back off from 10 seconds
to an hour, for 30 days; a refusal (4xx but 408 and 429) or a recipient without a route
fails the workflow at once, recorded in the register, until an operator fixes the route
and redelivers (`dossiers notifications redeliver`)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.delivery import REFUSED, UNROUTABLE, DeliveryActivities
    from models.delivery import DeliveryRequest, DeliveryResult

DELIVERY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=10),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(hours=1),
    non_retryable_error_types=[REFUSED, UNROUTABLE],
)
DELIVERY_PATIENCE = timedelta(days=30)
ATTEMPT_TIMEOUT = timedelta(minutes=2)


@workflow.defn(name="NotificationDelivery")
class NotificationDelivery:
    @workflow.run
    async def run(self, request: DeliveryRequest) -> DeliveryResult:
        workflow.set_current_details(f"**{request.key}** of {request.workflow_id}")
        result: DeliveryResult = await workflow.execute_activity_method(
            DeliveryActivities.deliver_notification,
            request,
            start_to_close_timeout=ATTEMPT_TIMEOUT,
            schedule_to_close_timeout=DELIVERY_PATIENCE,
            retry_policy=DELIVERY_RETRY,
            summary=f"deliver {request.key}",
        )
        workflow.set_current_details(
            f"**{request.key}** of {request.workflow_id}: {result.outcome.value}"
            + (f" to {result.endpoint}" if result.endpoint else "")
        )
        return result
