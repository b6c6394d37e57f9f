"""`NotificationDelivery`: one notification taken to its recipient (docs/contract.md,
"Notifications are delivered"), apart from its dossier, so that a recipient who does not
answer never holds up the dossier's own events.

The postman (`activities.postman`) delivers most notifications without one; it hands a
notification over to this workflow when its own attempt failed (`first_attempt`): refused or
unroutable, the run fails at once, shown in the Web UI until an operator redelivers;
otherwise it waits the first backoff and tries again as below.

Workflow id `delivery-{workflow_id}-{key}`. Its input is the notification's keys only;
the content is read from the register by the activity. Attempts back off from 10 seconds
to an hour, for 30 days; a refusal (4xx but 408 and 429) or a recipient without a route
fails the workflow at once, recorded in the register, until an operator fixes the route
and redelivers (`dossiers notifications redeliver`)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

from workflows import operator_language

with workflow.unsafe.imports_passed_through():
    from activities.delivery import REFUSED, UNROUTABLE, DeliveryActivities
    from models.delivery import DeliveryOutcome, DeliveryRequest, DeliveryResult, Outcome
    from models.operator_text import DELIVERY_OUTCOMES, phrase

DELIVERY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=10),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(hours=1),
    non_retryable_error_types=[REFUSED, UNROUTABLE],
)
DELIVERY_PATIENCE = timedelta(days=30)
ATTEMPT_TIMEOUT = timedelta(minutes=2)
HEARTBEAT_TIMEOUT = timedelta(seconds=45)  # longer than one send may take (30 s)


# The signal a dossier receives when one of its notifications is delivered or refused.
DELIVERY_OUTCOME = "delivery_outcome"


@workflow.defn(name="NotificationDelivery")
class NotificationDelivery:
    @workflow.run
    async def run(self, request: DeliveryRequest) -> DeliveryResult:
        language = operator_language.current()
        shown = phrase("delivery", language, key=request.key, workflow_id=request.workflow_id)
        workflow.set_current_details(shown)
        if request.first_attempt is not None:
            # Handed over by the postman, whose own attempt failed.
            if request.first_refused:
                workflow.set_current_details(
                    phrase(
                        "delivery_outcome", language, delivery=shown, outcome=request.first_attempt
                    )
                )
                raise ApplicationError(request.first_attempt, type=REFUSED, non_retryable=True)
            await workflow.sleep(DELIVERY_RETRY.initial_interval or timedelta(seconds=10))
        try:
            result: DeliveryResult = await workflow.execute_activity_method(
                DeliveryActivities.deliver_notification,
                request,
                start_to_close_timeout=ATTEMPT_TIMEOUT,
                # A worker that dies mid-attempt is noticed this soon, not after two minutes.
                heartbeat_timeout=HEARTBEAT_TIMEOUT,
                schedule_to_close_timeout=DELIVERY_PATIENCE,
                retry_policy=DELIVERY_RETRY,
                summary=phrase("deliver", language, key=request.key),
            )
        except ActivityError as error:
            cause = error.cause
            reason = cause.message if isinstance(cause, ApplicationError) else str(error)
            await _tell(request, Outcome.REFUSED, reason)
            raise ApplicationError(reason, type=REFUSED, non_retryable=True) from None
        outcome = DELIVERY_OUTCOMES[result.outcome.value].text(language)
        if result.endpoint:
            outcome += phrase("delivered_to", language, endpoint=result.endpoint)
        workflow.set_current_details(
            phrase("delivery_outcome", language, delivery=shown, outcome=outcome)
        )
        await _tell(request, result.outcome, None)
        return result


async def _tell(request: DeliveryRequest, outcome: Outcome, reason: str | None) -> None:
    """The dossier keeps its count of undelivered notifications (its search attribute);
    a dossier closed meanwhile has nothing left to show."""
    if not request.tell_dossier:
        return
    dossier = workflow.get_external_workflow_handle(request.workflow_id)
    try:
        await dossier.signal(
            DELIVERY_OUTCOME, DeliveryOutcome(key=request.key, outcome=outcome, reason=reason)
        )
    except ApplicationError:
        workflow.logger.info("the dossier closed before its delivery ended")
