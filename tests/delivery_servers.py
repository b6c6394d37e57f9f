"""Real recipients for the delivery tests: an HTTP server taking webhooks and an SMTP
server (aiosmtpd) taking letters, each on a free port, each stopped by its test."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from scripts.ports import free_port


@dataclass
class Webhook:
    """Answers 2xx unless told otherwise: `failures[key]` 500s first, `refuse` 404 always;
    each request's Idempotency-Key and body are kept; `accepted` lists the keys answered 2xx."""

    failures: dict[str, int] = field(default_factory=dict)
    refuse: set[str] = field(default_factory=set)
    held: dict[str, threading.Event] = field(default_factory=dict)  # answered once set
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    signed: list[tuple[bytes, str | None]] = field(default_factory=list)  # body, signature
    accepted: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, key: str, body: dict[str, Any]) -> int:
        with self.lock:
            self.requests.append((key, body))
            hold = self.held.pop(key, None)
        if hold is not None:
            hold.wait(timeout=120)  # the first request waits for the test to let it through
        with self.lock:
            if body.get("kind") in self.refuse:
                return 404
            if self.failures.get(key, 0) > 0:
                self.failures[key] -= 1
                return 500
            if key not in self.accepted:  # the Idempotency-Key: taken once
                self.accepted.append(key)
            return 200


@contextlib.contextmanager
def webhook_server() -> Iterator[tuple[str, Webhook]]:
    hook = Webhook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            with hook.lock:
                hook.signed.append((raw, self.headers.get("X-Dossiers-Signature")))
            body = json.loads(raw or b"{}")
            status = hook.answer(self.headers.get("Idempotency-Key", ""), body)
            self.send_response(status)
            self.end_headers()
            self.wfile.write(b"{}" if status < 400 else b'{"error": "no such consulate"}')

        def log_message(self, format: str, *args: Any) -> None:
            pass

    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}/notifications", hook
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class Mailbox:
    """An aiosmtpd handler keeping every message."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)  # the default policy's class
        self.messages.append(message)
        return "250 OK"


@contextlib.contextmanager
def smtp_server(port: int | None = None) -> Iterator[tuple[int, Mailbox]]:
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port or free_port())
    controller.start()
    try:
        yield controller.port, mailbox
    finally:
        controller.stop()
