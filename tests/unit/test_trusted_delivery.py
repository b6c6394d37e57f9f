"""Deliveries a recipient can trust (docs/contract.md, "Delivery"): outside loopback a
webhook is https:// and signs its body, mail goes over TLS with a login; the outbox keeps
its files to the worker's user and names every notification, however long its id."""

from __future__ import annotations

import stat
import time
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from activities.delivery import NAME_BYTES, _file, _post, _safe
from models.common import Recipient
from models.delivery import (
    NotificationToDeliver,
    Outcome,
    Route,
    default_routes,
    sign_body,
    signature_matches,
)
from tests.delivery_servers import webhook_server

SECRET = "route-secret"


def _note(workflow_id: str = "visa-RBT-1") -> NotificationToDeliver:
    return NotificationToDeliver(
        workflow_id=workflow_id,
        key="000001.invitation.applicant",
        kind="invitation",
        recipient="applicant",
        payload={"rule": "A4", "full_name": "Amina El Idrissi"},
    )


@pytest.mark.parametrize(
    ("route", "problem"),
    [
        ({"url": "http://hooks.example/n", "signing_secret": SECRET}, "https://"),
        ({"url": "https://hooks.example/n"}, "signing_secret"),
        ({"url": "smtp://mail.example:587", "mail_to": "m@x"}, "logs in"),
        ({"url": "smtps://mail.example:465", "mail_to": "m@x"}, "logs in"),
    ],
)
def test_outside_loopback_a_route_is_signed_https_or_mail_with_a_login(
    route: dict[str, str], problem: str
) -> None:
    with pytest.raises(ValidationError, match=problem):
        Route.model_validate({"recipient": "consulate", **route})


def test_on_loopback_and_with_tls_and_login_a_route_holds() -> None:
    assert Route(recipient=Recipient.CONSULATE, url="http://127.0.0.1:9/n").channel == "webhook"
    assert Route(
        recipient=Recipient.APPLICANT, url="smtp://localhost:25", mail_to="m@x"
    ).mail_tls == (
        False,
        None,
    )
    mail = Route(
        recipient=Recipient.APPLICANT, url="smtp://user:pw@mail.example:587", mail_to="m@x"
    )
    assert mail.mail_tls == (False, True)  # STARTTLS required: no fall back to clear text
    secure = Route(
        recipient=Recipient.APPLICANT, url="smtps://user:pw@mail.example:465", mail_to="m@x"
    )
    assert secure.mail_tls == (True, False)
    assert (
        "pw" not in secure.endpoint
        and "pw"
        not in repr(
            Route(recipient=Recipient.CONSULATE, url="https://h.example", signing_secret=SECRET)
        )
        + secure.endpoint
    )
    table = default_routes("https://hooks.example/n", None, None, None, SecretStr(SECRET))
    assert all(route.signing_secret is not None for route in table.routes)


async def test_a_webhook_signs_its_body_and_the_recipient_checks_it() -> None:
    with webhook_server() as (url, hook):
        route = Route(recipient=Recipient.CONSULATE, url=url, signing_secret=SECRET)
        outcome, _ = await _post(route, _note(), None)
    assert outcome == Outcome.DELIVERED
    [(body, signature)] = hook.signed
    assert signature is not None
    now = int(time.time())
    assert signature_matches(SECRET, body, signature, now)
    assert not signature_matches("another-secret", body, signature, now)
    assert not signature_matches(SECRET, body + b" ", signature, now)
    assert not signature_matches(SECRET, body, signature, now + 3600), "a replay an hour later"


def test_the_signature_is_the_documented_hmac() -> None:
    import hashlib
    import hmac

    expected = hmac.new(SECRET.encode(), b"1700000000.{}", hashlib.sha256).hexdigest()
    assert sign_body(SECRET, b"{}", 1_700_000_000) == f"t=1700000000,v1={expected}"


def test_the_outbox_keeps_its_files_to_the_worker_and_names_a_long_id(tmp_path: Path) -> None:
    route = Route(recipient=Recipient.APPLICANT, url=tmp_path.as_uri())
    long_id = "visa-" + "R" * 400
    assert _file(route, _note(long_id), ("lettre.pdf", b"%PDF"))[0] == Outcome.DELIVERED
    [folder] = (tmp_path / "applicant").iterdir()
    assert len(folder.name) <= NAME_BYTES
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for path in folder.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert _safe(long_id) != _safe(long_id + "2"), "two long ids never share a file"
