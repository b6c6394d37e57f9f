"""The postman (docs/contract.md, "Notifications are delivered"): the register's
undelivered notifications delivered by the workers polling the documents' queue, leased so
that two postmen never take one row and a dead one's rows are taken again, each sent once
to a live HTTP server."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import timedelta

import asyncpg
import pytest

from activities import register_gateway as register
from activities.delivery import DeliveryActivities
from models.common import Recipient
from models.delivery import Route, RouteTable, idempotency_key
from tests.conftest import postman_running
from tests.delivery_servers import Webhook, webhook_server


async def _never_handed_over(workflow_id: str, key: str, reason: str, refused: bool) -> None:
    raise AssertionError(f"{workflow_id} {key} handed over: {reason}")


def _deliveries(pool: asyncpg.Pool, url: str) -> DeliveryActivities:
    return DeliveryActivities(pool, RouteTable(routes=[Route(recipient=Recipient.OFII, url=url)]))


async def _due(
    pool: asyncpg.Pool, count: int, *, handed_off: bool = False, kind: str = "visa_application_copy"
) -> list[str]:
    """`count` notifications to the OFII committed in the register; their idempotency keys."""
    workflow_id = f"visa-POST-{uuid.uuid4().hex[:8]}"
    keys = [f"{n:06d}.{kind}.ofii" for n in range(1, count + 1)]
    await pool.executemany(
        """INSERT INTO notification (workflow_id, key, recipient, kind, language, payload,
                                     run_id, handed_off_at)
           VALUES ($1, $2, 'ofii', $3, 'fr', '{"rule": "A5"}', 'run-1',
                   CASE WHEN $4::boolean THEN now() END)""",
        [(workflow_id, key, kind, handed_off) for key in keys],
    )
    await register.wake_postmen(pool)
    return [idempotency_key(workflow_id, key) for key in keys]


async def _until_accepted(hook: Webhook, keys: list[str], seconds: float = 30) -> None:
    for _ in range(int(seconds * 20)):
        if set(keys) <= set(hook.accepted):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{len(set(keys) - set(hook.accepted))} of {len(keys)} not delivered")


@pytest.mark.rule("A5")
async def test_two_postmen_on_one_register_deliver_each_notification_once(
    own_register: asyncpg.Pool,
) -> None:
    with webhook_server() as (url, hook):
        deliveries = _deliveries(own_register, url)
        async with (
            postman_running(own_register, deliveries, _never_handed_over),
            postman_running(own_register, deliveries, _never_handed_over),
        ):
            keys = await _due(own_register, 60)
            await _until_accepted(hook, keys)
    assert Counter(key for key, _ in hook.requests) == Counter(keys), "each sent once"
    undelivered = await own_register.fetchval(
        "SELECT count(*) FROM notification WHERE delivered_at IS NULL"
    )
    assert undelivered == 0


@pytest.mark.rule("A5")
async def test_a_dead_postmans_rows_are_taken_again_once_its_lease_ends(
    own_register: asyncpg.Pool,
) -> None:
    with webhook_server() as (url, hook):
        keys = await _due(own_register, 3)
        # A postman leased them and died: its lease runs out, nobody renews it.
        dead = await register.lease_notifications(
            own_register, "postman-dead", timedelta(seconds=2), 10
        )
        assert len(dead) == 3
        async with postman_running(
            own_register, _deliveries(own_register, url), _never_handed_over
        ):
            await asyncio.sleep(1)
            assert hook.requests == [], "a lease still running is left to its postman"
            await _until_accepted(hook, keys)
    assert sorted(key for key, _ in hook.requests) == sorted(keys)


async def test_a_postman_leaves_what_a_delivery_workflow_owns(own_register: asyncpg.Pool) -> None:
    """A dossier begun before the postman has a `NotificationDelivery` workflow for each of
    its notifications (`handed_off_at`): the postman never sends them as well."""
    with webhook_server() as (url, hook):
        await _due(own_register, 2, handed_off=True)
        fresh = await _due(own_register, 1)
        async with postman_running(
            own_register, _deliveries(own_register, url), _never_handed_over
        ):
            await _until_accepted(hook, fresh)
            await asyncio.sleep(0.5)  # more than two of its looks
    assert [key for key, _ in hook.requests] == fresh


@pytest.mark.rule("A5")
async def test_a_failed_attempt_is_handed_to_its_workflow_with_why(
    own_register: asyncpg.Pool,
) -> None:
    """Refused (404) or to be tried again (503): the postman hands the notification over
    once, saying why and whether it was refused, and takes it no more."""
    handed: list[tuple[str, str, bool]] = []

    async def hand_over(workflow_id: str, key: str, reason: str, refused: bool) -> None:
        handed.append((idempotency_key(workflow_id, key), reason, refused))

    with webhook_server() as (url, hook):
        hook.refuse.add("visa_application_copy")
        [later] = await _due(own_register, 1, kind="evaluation_results")
        hook.failures[later] = 1
        [refused] = await _due(own_register, 1)
        async with postman_running(own_register, _deliveries(own_register, url), hand_over):
            for _ in range(200):
                if len(handed) == 2:
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)  # more than two looks: nothing is taken again
    assert sorted(handed) == sorted(
        [(refused, f"{url} refused: HTTP 404", True), (later, f"{url}: HTTP 500", False)]
    )
    assert Counter(key for key, _ in hook.requests) == Counter([refused, later]), "once each"
    rows = {
        row["kind"]: row
        for row in await own_register.fetch(
            "SELECT kind, handed_off_at, refused_at, delivery_error FROM notification"
        )
    }
    assert all(row["handed_off_at"] is not None for row in rows.values())
    assert rows["visa_application_copy"]["refused_at"] is not None
    assert rows["evaluation_results"]["refused_at"] is None
    assert rows["evaluation_results"]["delivery_error"].startswith("HTTP 500")
