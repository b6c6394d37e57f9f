"""Notifications reach their recipients (docs/contract.md, "Delivery"): a
real HTTP server takes the webhooks, a real SMTP server (aiosmtpd) the letters."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from pypdf import PdfReader
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from temporalio.worker import Worker

from activities.delivery import (
    DeliveryActivities,
    DeliveryOutbox,
    delivery_id,
    redeliver,
)
from activities.documents import NotificationDocuments
from activities.reference import ReferenceActivities
from activities.scheduled import ScheduledActivities
from models.common import Recipient
from models.delivery import (
    DeliveryRequest,
    LetterChannel,
    Outcome,
    Route,
    RoutesError,
    RouteTable,
    default_routes,
    idempotency_key,
    letter_channel,
    parse_routes,
)
from models.reporting import SweepDeadlines
from scripts.cli_delivery import deliveries, write_document
from scripts.devstack import process_env
from scripts.ports import free_port
from tests.conftest import Harness, iso, postman_running, url_of, visa_input
from tests.delivery_servers import Webhook, smtp_server, webhook_server
from tests.unit.document_samples import letter_samples
from tests.workflow.test_one_step import _upserts
from workers.main import Deliveries, worker_activities, workflow_runner
from workers.settings import Settings
from workflows import WORKFLOWS
from workflows.delivery import DELIVERY_OUTCOME

MAILROOM = "courrier@consulat.example"


def _routes(webhook_url: str, smtp_port: int) -> RouteTable:
    authorities = [
        Route(recipient=recipient, url=webhook_url)
        for recipient in Recipient
        if recipient != Recipient.APPLICANT
    ]
    letters = Route(
        recipient=Recipient.APPLICANT, url=f"smtp://127.0.0.1:{smtp_port}", mail_to=MAILROOM
    )
    return RouteTable(routes=[*authorities, letters])


@pytest.fixture
async def delivering(
    own_time_env: WorkflowEnvironment, own_register: asyncpg.Pool
) -> AsyncIterator[tuple[Harness, Webhook, int]]:
    """A worker that delivers, with its postman, on a register of the test's own: webhooks
    to a live HTTP server, letters to a port where the test may start (or not yet) an SMTP
    server."""
    pool, time_env = own_register, own_time_env
    with webhook_server() as (url, hook):
        smtp_port = free_port()
        delivery = DeliveryActivities(
            pool, _routes(url, smtp_port), documents=NotificationDocuments(pool, b"test secret")
        )
        harness = Harness(time_env, pool, f"test-{uuid.uuid4()}")
        outbox = DeliveryOutbox(pool, time_env.client, harness.task_queue)
        async with (
            Worker(
                time_env.client,
                task_queue=harness.task_queue,
                workflows=WORKFLOWS,
                workflow_runner=workflow_runner(),
                activities=worker_activities(pool, None, None, Deliveries(delivery, outbox)),
            ),
            postman_running(pool, delivery, outbox.hand_over),
        ):
            try:
                yield harness, hook, smtp_port
            finally:
                await harness.close()


async def _undelivered(harness: Harness, workflow_id: str) -> list[asyncpg.Record]:
    return [row for row in await harness.notifications(workflow_id) if row["delivered_at"] is None]


async def _until_delivered(harness: Harness, workflow_id: str) -> list[asyncpg.Record]:
    async def done() -> bool:
        rows = await harness.notifications(workflow_id)
        return bool(rows) and not await _undelivered(harness, workflow_id)

    await harness.until(done, seconds=60)
    return await harness.notifications(workflow_id)


async def _until_undelivered_only(harness: Harness, workflow_id: str, key: str) -> None:
    """Until every notification of the dossier but `key` is delivered."""

    async def only_key() -> bool:
        return [row["key"] for row in await _undelivered(harness, workflow_id)] == [key]

    await harness.until(only_key, seconds=60)


async def _until_handed_over(harness: Harness, workflow_id: str, key: str) -> None:
    """Until the postman, whose attempt failed, handed the notification to its workflow."""

    async def handed_over() -> bool:
        rows = await harness.notifications(workflow_id)
        return any(r["key"] == key and r["handed_off_at"] is not None for r in rows)

    await harness.until(handed_over, seconds=60)


async def _issued_visa(harness: Harness) -> str:
    today = await harness.today()
    handle = await harness.start_visa(visa_input(today))
    await handle.execute_update(
        "language_evaluation",
        {"evaluated_on": iso(today), "oral_score": 50, "written_score": 20, "evaluator": "E"},
    )
    await handle.execute_update(
        "values_evaluation",
        {
            "evaluated_on": iso(today),
            "language_used": "ar",
            "questions_asked": 6,
            "correct_answers": 6,
            "evaluator": "E",
        },
    )
    await handle.execute_update("visa_decision", {"decision": "issued", "decided_on": iso(today)})
    return handle.id


@pytest.mark.rule("A4")
@pytest.mark.rule("B6")
@pytest.mark.rule("F4")
async def test_a_whole_lifecycle_delivers_every_notification_exactly_once(
    delivering: tuple[Harness, Webhook, int], database_url: str, tmp_path: Path
) -> None:
    harness, hook, smtp_port = delivering
    with smtp_server(smtp_port) as (_, mailbox):
        workflow_id = await _issued_visa(harness)
        rows = await _until_delivered(harness, workflow_id)

    # Each delivered at the postman's first attempt: no workflow of its own.
    assert all(row["handed_off_at"] is None for row in rows)
    with pytest.raises(RPCError):
        await harness.client.get_workflow_handle(
            delivery_id(workflow_id, rows[0]["key"])
        ).describe()
    to_authorities = {
        idempotency_key(workflow_id, r["key"]) for r in rows if r["recipient"] != "applicant"
    }
    letters = [r for r in rows if r["recipient"] == "applicant"]
    assert to_authorities and letters
    assert sorted(hook.accepted) == sorted(to_authorities)
    assert Counter(key for key, _ in hook.requests) == Counter(to_authorities), "each sent once"
    mailed = Counter(message["Idempotency-Key"].strip() for message in mailbox.messages)
    assert mailed == Counter(idempotency_key(workflow_id, r["key"]) for r in letters)
    # The applicant gave an e-mail address: the letters are mailed to it, as a letter.
    email = visa_input(date.today())["applicant"]["contact"]["email"]
    assert all(message["To"] == email for message in mailbox.messages)
    for message in mailbox.messages:
        covering = message.get_body()
        assert covering is not None and "{" not in covering.get_content()
    body = next(b for k, b in hook.requests if b["kind"] == "visa_decision")
    assert (body["workflow_id"], body["recipient"], body["rule"]) == (workflow_id, "ofii", "F4")
    assert "document" not in body  # a decision is not a letter

    # A4, D2: the letters reach the applicant with their PDF, the copies the consulate.
    invitation = next(m for m in mailbox.messages if "invitation" in m["Idempotency-Key"])
    [attached] = list(invitation.iter_attachments())
    assert attached.get_content_type() == "application/pdf"
    text = _pdf_text(attached.get_content())
    assert "Amina El Idrissi" in text and "I.1.3" in text  # the circular's section, not A4
    copy = next(b for _, b in hook.requests if b["kind"] == "attestation_language_exemption")
    pdf = base64.b64decode(copy["document"]["content_base64"])
    assert hashlib.sha256(pdf).hexdigest() == copy["document"]["sha256"]
    assert "Amina El Idrissi" in _pdf_text(pdf)

    # The CLI hands an operator the very document that was sent.
    settings = Settings(database_url=await url_of(harness.pool, database_url))
    key = invitation["Idempotency-Key"].strip().split("/", 1)[1]
    said = await write_document(settings, workflow_id, key, tmp_path / "letter.pdf")
    assert (tmp_path / "letter.pdf").read_bytes() == attached.get_content(), said
    # `dossiers notifications` reads how each stands from the register.
    listed = await deliveries(settings, workflow_id, 100, undelivered=False)
    assert {item["key"] for item in listed.data} == {row["key"] for row in rows}
    assert {item["status"] for item in listed.data} == {"delivered"}
    left = await deliveries(settings, workflow_id, 100, undelivered=True, language="en")
    assert left.data == [] and left.text == "every notification was delivered"


def _pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


@pytest.mark.rule("A5")
async def test_a_webhook_failing_three_times_then_answering_gets_it_once(
    delivering: tuple[Harness, Webhook, int],
) -> None:
    harness, hook, smtp_port = delivering
    today = await harness.today()
    application = visa_input(today, procedure="spouse_of_french", prefecture=None)
    workflow_id = f"visa-{application['application_id']}"
    copy = idempotency_key(workflow_id, "000001.visa_application_copy.ofii")
    hook.failures[copy] = 3
    with smtp_server(smtp_port):
        await harness.start_visa(application)
        await harness.env.sleep(timedelta(minutes=5))  # the attempts back off: 10, 20, 40 s
        await _until_delivered(harness, workflow_id)
    assert [key for key, _ in hook.requests].count(copy) == 4
    assert hook.accepted.count(copy) == 1


@pytest.mark.rule("A4")
async def test_a_mailbox_down_for_an_hour_gets_the_letter_when_it_comes_back(
    delivering: tuple[Harness, Webhook, int],
) -> None:
    harness, _, smtp_port = delivering
    today = await harness.today()
    handle = await harness.start_visa(visa_input(today))
    invitation = "000001.invitation.applicant"
    await harness.env.sleep(timedelta(hours=1))  # attempts back off while nobody answers
    [row] = [r for r in await harness.notifications(handle.id) if r["key"] == invitation]
    assert row["delivered_at"] is None
    with smtp_server(smtp_port) as (_, mailbox):
        await harness.env.sleep(timedelta(hours=1))  # the next attempt finds the mailbox up
        await _until_delivered(harness, handle.id)
    assert [m["Idempotency-Key"].strip() for m in mailbox.messages] == [
        idempotency_key(handle.id, invitation)
    ]


@pytest.mark.rule("A5")
async def test_a_refusal_is_recorded_not_retried_and_redelivered_once_the_route_is_fixed(
    delivering: tuple[Harness, Webhook, int], database_url: str
) -> None:
    harness, hook, smtp_port = delivering
    hook.refuse.add("visa_application_copy")
    with smtp_server(smtp_port):
        today = await harness.today()
        handle = await harness.start_visa(
            visa_input(today, procedure="spouse_of_french", prefecture=None)
        )
        key = "000001.visa_application_copy.ofii"
        await _until_handed_over(harness, handle.id, key)
        delivery = harness.client.get_workflow_handle(delivery_id(handle.id, key))
        with pytest.raises(WorkflowFailureError) as failed:
            await delivery.result()
        [row] = [r for r in await harness.notifications(handle.id) if r["key"] == key]
        assert row["delivered_at"] is None and row["refused_at"] is not None
        assert row["delivery_error"].startswith("HTTP 404")
        # The answer (it may quote the letter) is in the register only, never in a failure.
        assert "no such consulate" in row["delivery_error"]
        assert "no such consulate" not in str(failed.value.cause)
        assert "no such consulate" not in str(failed.value.cause.__cause__)
        assert sum(1 for k, _ in hook.requests if k.endswith(key)) == 1, "not retried blindly"
        # The dossier's other letters are delivered meanwhile, some laid out first.
        await _until_undelivered_only(harness, handle.id, key)
        settings = Settings(database_url=await url_of(harness.pool, database_url))
        [listed] = (await deliveries(settings, handle.id, 10, undelivered=True)).data
        assert (listed["key"], listed["status"], listed["error"]) == (key, "refused", "HTTP 404")
        alert = await _sweep_alert(harness, handle.id, key)
        assert alert["error"].startswith("HTTP 404") and alert["refused"] is True
        hook.refuse.clear()  # the operator fixed the route
        again = await redeliver(harness.client, harness.task_queue, handle.id, key)
        await again.result()
        [row] = [r for r in await harness.notifications(handle.id) if r["key"] == key]
        assert row["delivered_at"] is not None and row["delivery_error"] is None
        await _nothing_told_back(harness, handle.id)


async def _nothing_told_back(harness: Harness, workflow_id: str) -> None:
    """The register answers what is undelivered: a delivery no longer signals its outcome
    to the dossier, which no longer counts it in `UndeliveredNotifications`. Only an
    operator's redelivery tells (a dossier begun before still counts), and it is ignored."""
    history = await harness.client.get_workflow_handle(workflow_id).fetch_history()
    signals = [
        event.workflow_execution_signaled_event_attributes.signal_name
        for event in history.events
        if event.HasField("workflow_execution_signaled_event_attributes")
    ]
    assert signals.count(DELIVERY_OUTCOME) == 1, "the redelivery's only"
    assert not [u for u in _upserts(list(history.events)) if "UndeliveredNotifications" in u]


async def _sweep_alert(harness: Harness, workflow_id: str, key: str) -> dict[str, Any]:
    """The daily sweep's `delivery_alert` entry for one notification (alerted at once)."""
    sweep = ScheduledActivities(harness.pool, ReferenceActivities(None), alert_after=timedelta(0))
    register_id = f"sweep-{uuid.uuid4()}"
    await sweep.sweep_deadlines(SweepDeadlines(register_id=register_id, day=await harness.today()))
    [row] = await harness.pool.fetch(
        "SELECT payload FROM notification WHERE workflow_id = $1 AND kind = 'delivery_alert'",
        register_id,
    )
    entries = [
        e
        for e in row["payload"]["undelivered"]
        if (e["workflow_id"], e["key"]) == (workflow_id, key)
    ]
    assert len(entries) == 1
    return dict(entries[0])


def test_a_routes_file_that_does_not_hold_is_named_with_its_line() -> None:
    text = (
        '{"routes": [\n'
        '  {"recipient": "consulate", "url": "https://c.example/n", "signing_secret": "s"},\n'
        '  {"recipient": "prefecture", "url": "ftp://p.example"}\n'
        "]}"
    )
    with pytest.raises(ValueError, match=r"routes.json:3: route 2: url: .*not an https://"):
        parse_routes(text, "routes.json", RouteTable())
    with pytest.raises(ValueError, match=r"routes.json:2: not JSON"):
        parse_routes('{"routes": [\n  {,]}', "routes.json", RouteTable())


def test_the_most_specific_route_wins() -> None:
    table = parse_routes(
        '{"routes": [{"recipient": "consulate", "url": "https://all.example",'
        ' "signing_secret": "s"},'
        ' {"recipient": "consulate", "addressee": "Rabat", "url": "https://rabat.example",'
        ' "signing_secret": "s"}]}',
        "routes.json",
        RouteTable(),
    )
    chosen = table.resolve("consulate", "evaluation_results", "Rabat")
    assert chosen is not None and chosen.url == "https://rabat.example"
    other = table.resolve("consulate", "evaluation_results", "Tunis")
    assert other is not None and other.url == "https://all.example"
    assert table.resolve("prefecture", "prefecture_decision_due", "Paris") is None


def test_a_worker_refuses_a_routes_file_that_does_not_hold(tmp_path: Path) -> None:
    """The worker's settings read the routes at start: the error names the file and line."""
    routes = tmp_path / "routes.json"
    routes.write_text('{"routes": [\n  {"recipient": "consulat", "url": "https://c.example"}\n]}')
    settings = Settings(
        database_url="postgresql://register.invalid/db", delivery_routes_path=routes
    )
    with pytest.raises(RoutesError, match=rf"{routes}:2: route 1: recipient"):
        settings.delivery_routes()
    bad_url = Settings(
        database_url="postgresql://register.invalid/db", notify_webhook_url="ftp://x"
    )
    with pytest.raises(RoutesError, match="NOTIFY_WEBHOOK_URL"):
        bad_url.delivery_routes()


def test_the_worker_make_run_starts_routes_every_recipient_to_the_outbox(tmp_path: Path) -> None:
    """`make run`'s worker joins the embedded register by URL: the outbox must still take
    every notification, or each would be refused for want of a route."""
    stack = Settings(data_dir=tmp_path)
    env = process_env(stack, "127.0.0.1:7233", "postgresql://127.0.0.1:5/register")
    table = Settings.from_env(env).delivery_routes()
    outbox = (tmp_path / "outbox").resolve().as_uri()
    for recipient in Recipient:
        route = table.resolve(recipient.value, "invitation", "Rabat")
        assert route is not None and route.url == outbox, recipient
    with_webhook = stack.model_copy(
        update={"notify_webhook_url": "https://hooks.example", "notify_webhook_secret": "s"}
    )
    assert "DELIVERY_OUTBOX_DIR" not in process_env(
        with_webhook, "127.0.0.1:7233", "postgresql://x"
    )


# --- letters by the channel the applicant allows (docs/contract.md, "Letters that can be posted")


async def _letter_due(pool: asyncpg.Pool, contact: dict[str, Any] | None) -> tuple[str, str]:
    """An invitation due to an applicant with this contact, in the register."""
    workflow_id = f"visa-CHAN-{uuid.uuid4().hex[:8]}"
    application = visa_input(date(2009, 2, 2))
    application["applicant"]["contact"] = contact
    key = "000001.invitation.applicant"
    await pool.execute(
        """INSERT INTO dossier_event (workflow_id, seq, event, source, accepted, payload,
                                      received_at, run_id)
           VALUES ($1, 1, 'start', 'start', true, $2, now(), 'run-1')""",
        workflow_id,
        application,
    )
    payload = {**letter_samples()["invitation"].payload, "full_name": "Amina"}
    await pool.execute(
        """INSERT INTO notification (workflow_id, key, recipient, kind, language, payload, run_id)
           VALUES ($1, $2, 'applicant', 'invitation', 'fr', $3, 'run-1')""",
        workflow_id,
        key,
        payload,
    )
    return workflow_id, key


async def _deliver(delivery: DeliveryActivities, workflow_id: str, key: str) -> Any:
    return await ActivityEnvironment().run(
        delivery.deliver_notification, DeliveryRequest(workflow_id=workflow_id, key=key)
    )


async def test_a_letter_to_an_applicant_with_an_address_alone_goes_to_the_mail_room(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    contact = visa_input(date(2009, 2, 2))["applicant"]["contact"]
    workflow_id, key = await _letter_due(pool, {**contact, "email": None})
    routes = default_routes(None, None, None, (tmp_path / "outbox").as_uri())
    delivery = DeliveryActivities(pool, routes, documents=NotificationDocuments(pool, b"s"))
    result = await _deliver(delivery, workflow_id, key)
    assert result.outcome == Outcome.DELIVERED
    [batch] = list((tmp_path / "outbox" / "mailroom").glob("*/*"))  # body / day
    [pdf] = list(batch.glob("*.pdf"))
    text = _pdf_text(pdf.read_bytes())
    assert "12, rue Oued Ziz" in text and "10090 Rabat" in text  # for the window envelope
    [manifest] = list(batch.glob("*.manifest.json"))
    assert json.loads(manifest.read_text())["key"] == key
    assert not (tmp_path / "outbox" / "applicant").exists()
    [row] = await pool.fetch("SELECT * FROM notification WHERE workflow_id = $1", workflow_id)
    assert row["delivered_at"] is not None  # one row, delivered once


async def test_a_letter_to_an_applicant_without_address_nor_email_is_handed_over(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    workflow_id, key = await _letter_due(pool, None)
    with webhook_server() as (url, hook):
        routes = RouteTable(routes=[Route(recipient=Recipient.OFII, url=url)])
        delivery = DeliveryActivities(pool, routes, documents=NotificationDocuments(pool, b"s"))
        result = await _deliver(delivery, workflow_id, key)
    assert result.outcome == Outcome.DELIVERED
    [(idempotency, body)] = hook.requests
    assert idempotency == idempotency_key(workflow_id, key)
    assert body["recipient"] == "applicant" and body["hand_over"]["to"] == "applicant"
    assert body["document"]["filename"].startswith("invitation-")
    rows = await pool.fetch(
        "SELECT delivered_at FROM notification WHERE workflow_id = $1", workflow_id
    )
    assert len(rows) == 1 and rows[0]["delivered_at"] is not None


async def test_a_latin_name_no_font_draws_is_refused_once_never_retried(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    workflow_id, key = await _letter_due(pool, None)
    await pool.execute(
        'UPDATE notification SET payload = payload || \'{"full_name": "王芳"}\' '
        "WHERE workflow_id = $1",
        workflow_id,
    )
    routes = default_routes(None, None, None, (tmp_path / "outbox").as_uri())
    delivery = DeliveryActivities(pool, routes, documents=NotificationDocuments(pool, b"s"))
    with pytest.raises(ApplicationError) as refused:
        await _deliver(delivery, workflow_id, key)
    assert refused.value.non_retryable
    [row] = await pool.fetch("SELECT * FROM notification WHERE workflow_id = $1", workflow_id)
    assert row["refused_at"] is not None and "no shipped font" in row["delivery_error"]


def test_routes_choose_the_letter_channel() -> None:
    routes = default_routes(None, "smtp://127.0.0.1:2525", "c@x.example", "file:///outbox")
    by_post = routes.resolve("applicant", "invitation", "OFII Rabat", LetterChannel.POST)
    assert by_post is not None and by_post.url == "file:///outbox"
    by_mail = routes.resolve("applicant", "invitation", "OFII Rabat", LetterChannel.EMAIL)
    assert by_mail is not None and by_mail.channel.value == "mail"
    assert letter_channel({"email": "a@b.example"}) == LetterChannel.EMAIL
    assert letter_channel({"postal_address": {"lines": ["x"]}}) == LetterChannel.POST
    assert letter_channel(None) == LetterChannel.HAND
