"""The codec server: `python -m workers.codec_server`.

Temporal's remote codec protocol (`POST /encode`, `POST /decode`, a JSON body
`{"payloads": [...]}`), so that the Web UI and the `temporal` CLI (`--codec-endpoint`) show
dossiers decoded to those allowed to read them. `CODEC_AUTH` says who is: `none` (refused
unless the server listens on loopback only), `token:<secret>` (`Authorization: Bearer
<secret>`) or `oidc:<issuer URL>` (the Web UI's access token, verified against the
issuer's published keys). Payloads are never logged.

A dossier's payloads are sealed with its data key, which the server reads from the register
(`DATABASE_URL`, the embedded one under `make run`) and keeps in a bounded cache. A payload
of a dossier that retention erased decodes to a placeholder, `{"erased": "…"}`: the Web UI
shows that the personal data is gone, not an error. The cache trusts a key for
`ERASURE_VISIBLE_SECONDS` only, so that an erasure shows within seconds.

`/encode` seals with the master key, since the protocol does not say which workflow a
payload is for; a request naming its dossier (`X-Dossier-Id: visa-…`, or `?dossier=visa-…`)
is sealed with that dossier's data key, bound to it, so that retention erases it with the
rest of the dossier.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import threading
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar
from urllib.parse import parse_qs

import asyncpg
import structlog
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.converter import WorkflowSerializationContext

from activities.database import open_pool
from workers.codec import (
    NO_DATA_KEYS,
    DataKeys,
    EncryptionCodec,
    KeyRing,
    PayloadErased,
    PayloadKeyError,
    erased_placeholder,
    key_owner,
)
from workers.codec_auth import (
    AuthError,
    Authorizer,
    Identity,
    authorizer,
    host_is_loopback,
    no_auth,
)
from workers.data_keys import RegisterDataKeys
from workers.postgres import database_url, release_embedded_database
from workers.settings import Settings
from workers.startup import StartupError

log = structlog.get_logger("codec_server")
audit = structlog.get_logger("codec_audit")
# The frontend's own limit on a gRPC message: no real request is larger.
MAX_BODY = 4 * 1024 * 1024
# A page of history or one workflow's answer: far fewer. Parsing payloads costs memory
# whatever their size (200,000 empty ones took 880 MiB), so their count is bounded too.
MAX_PAYLOADS = 1000
# Requests served at once; one more is closed at once, so idle clients bound no memory.
MAX_CONNECTIONS = 32
# Seconds a client may stay silent while sending its request.
SOCKET_TIMEOUT = 10.0
# Seconds the register may take to give the data keys of a request.
KEYS_TIMEOUT = 10.0
# Seconds a data key read from the register is trusted here: a dossier erased by retention
# shows as erased within this time (the worker forgets the keys it erases at once).
ERASURE_VISIBLE_SECONDS = 5.0
# The header (or query parameter) naming the dossier an `/encode` request seals for.
DOSSIER_HEADER = "X-Dossier-Id"
DOSSIER_PARAMETER = "dossier"

T = TypeVar("T")


class BadRequest(Exception):
    def __init__(self, status: HTTPStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status


class RegisterUnavailable(Exception):
    """The register did not give the data keys a request needs."""


class KeyLoop:
    """The event loop of the data keys (the register's pool and the keys' cache live on it),
    in a thread of its own, to which the request threads hand their look-ups."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, name="data-keys", daemon=True).start()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = KEYS_TIMEOUT) -> T:
        try:
            return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)
        except (TimeoutError, OSError, asyncpg.PostgresError) as error:
            raise RegisterUnavailable(f"the register did not give the data keys: {error}") from None

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)


@dataclass(frozen=True)
class CodecService:
    codec: EncryptionCodec
    authorize: Authorizer
    origins: frozenset[str]
    socket_timeout: float = SOCKET_TIMEOUT
    keys: KeyLoop | None = None
    """Where `codec.keys` is read; None: the codec has no data keys (master-key payloads only)."""

    @property
    def loopback_host_only(self) -> bool:
        """With no authentication (`none`), only a request naming loopback in its Host
        header is served: a page of another site whose name was rebound to 127.0.0.1 is
        refused (DNS rebinding)."""
        return self.authorize is no_auth

    def transform(
        self, path: str, body: bytes, dossier: str | None = None, namespace: str = "default"
    ) -> tuple[bytes, int]:
        """The answer's body and the number of payloads it carries; `dossier`, the workflow
        id an `/encode` seals for (None: the master key)."""
        document = _parsed(body)
        # Protobuf's JSON leaves an empty list out: `{}` is no payload (a query without
        # arguments, as the `temporal` CLI sends it).
        listed = (document.get("payloads") or []) if isinstance(document, dict) else None
        if not isinstance(listed, list):
            raise BadRequest(HTTPStatus.BAD_REQUEST, _EXPECTED)
        if len(listed) > MAX_PAYLOADS:
            raise _too_many()
        payloads = Payloads()
        try:
            json_format.ParseDict(document, payloads)
        except (json_format.ParseError, ValueError, TypeError):
            raise BadRequest(HTTPStatus.BAD_REQUEST, _EXPECTED) from None
        if path.endswith("/encode"):
            done = self.encode(payloads.payloads, dossier, namespace)
        else:
            done = self.decode(payloads.payloads)
        return json_format.MessageToJson(Payloads(payloads=done)).encode(), len(done)

    def encode(
        self, payloads: Sequence[Payload], dossier: str | None, namespace: str
    ) -> list[Payload]:
        """Sealed for `dossier` with its data key (made with its first payload), bound to
        it; with no dossier named, with the master key, as the protocol has no workflow."""
        if dossier is None:
            return self.codec.seal(payloads)
        if key_owner(dossier) is None or self.keys is None:
            raise BadRequest(
                HTTPStatus.BAD_REQUEST,
                f"{DOSSIER_HEADER} must name a dossier's workflow id (visa-…, cai-…, caif-…) "
                "on a codec server that reads the register",
            )
        bound = self.codec.with_context(WorkflowSerializationContext(namespace, dossier))
        return self.keys.run(bound.encode(payloads))

    def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Opened, the payloads of erased dossiers shown as such (`erased_placeholder`)."""
        data_keys: DataKeys = NO_DATA_KEYS
        if self.keys is not None:
            data_keys = self.keys.run(self.codec.data_keys_of(payloads))
        return [self._shown(payload, data_keys) for payload in payloads]

    def _shown(self, payload: Payload, data_keys: DataKeys) -> Payload:
        try:
            return self.codec.open_one(payload, data_keys)
        except PayloadErased as erased:
            return erased_placeholder(erased)


_EXPECTED = 'expected a JSON body {"payloads": [...]}'
# Objects a request may hold: each payload is two (itself and its metadata). A body of
# empty objects within `MAX_BODY` was 1.4 million of them, parsed before being counted.
MAX_OBJECTS = 2 * MAX_PAYLOADS + 2


class _TooManyObjects(Exception):
    pass


def _too_many() -> BadRequest:
    return BadRequest(
        HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"at most {MAX_PAYLOADS} payloads a request"
    )


def _parsed(body: bytes) -> Any:
    """The request's JSON, its parsing stopped at the `MAX_OBJECTS`-th object, so that its
    memory stays bounded whatever the body holds."""
    objects = 0

    def counted(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal objects
        objects += 1
        if objects > MAX_OBJECTS:
            raise _TooManyObjects
        return dict(pairs)

    try:
        return json.loads(body, object_pairs_hook=counted)
    except _TooManyObjects:
        raise _too_many() from None
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise BadRequest(HTTPStatus.BAD_REQUEST, _EXPECTED) from None


def body_length(header: str | None) -> int:
    """The Content-Length a request must give: digits, within `MAX_BODY`."""
    if header is None:
        raise BadRequest(HTTPStatus.LENGTH_REQUIRED, "Content-Length is required")
    if not header.strip().isdigit():
        raise BadRequest(HTTPStatus.BAD_REQUEST, "Content-Length must be a number of bytes")
    length = int(header)
    if length > MAX_BODY:
        raise BadRequest(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body over {MAX_BODY} bytes")
    return length


def handler_for(service: CodecService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "codec-server"
        timeout = service.socket_timeout

        def log_message(self, format: str, *args: Any) -> None:
            pass  # each POST writes its audit line; nothing else is worth a line

        def _cors(self) -> None:
            origin = self.headers.get("Origin")
            if origin and origin in service.origins:
                self.send_header("Access-Control-Allow-Origin", origin)
                self.send_header("Access-Control-Allow-Credentials", "true")
                self.send_header("Vary", "Origin")

        def _reply(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self._cors()
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _error(self, status: HTTPStatus, reason: str) -> None:
            self._reply(status, json.dumps({"error": reason}).encode(), "application/json")

        def _host_allowed(self) -> bool:
            return not service.loopback_host_only or host_is_loopback(self.headers.get("Host"))

        def do_OPTIONS(self) -> None:
            if not self._host_allowed():
                self._error(HTTPStatus.FORBIDDEN, "Host must name loopback")
                return
            self.send_response(HTTPStatus.OK)
            self._cors()
            self.send_header("Access-Control-Allow-Methods", "POST, OPTIONS")
            self.send_header(
                "Access-Control-Allow-Headers",
                f"Content-Type, X-Namespace, Authorization, {DOSSIER_HEADER}",
            )
            self.send_header("Access-Control-Max-Age", "600")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_POST(self) -> None:
            path, _, query = self.path.partition("?")
            path = path.rstrip("/")
            identity: Identity | None = None
            count = 0
            status = HTTPStatus.INTERNAL_SERVER_ERROR  # until the request is answered
            try:
                if not path.endswith(("/encode", "/decode")):
                    raise BadRequest(HTTPStatus.NOT_FOUND, "POST /encode or /decode")
                if not self._host_allowed():
                    raise BadRequest(HTTPStatus.FORBIDDEN, "Host must name loopback")
                identity = service.authorize(self.headers.get("Authorization"))
                identity.check(path.rsplit("/", 1)[-1])
                if self.headers.get("Transfer-Encoding"):
                    raise BadRequest(HTTPStatus.LENGTH_REQUIRED, "send Content-Length, not chunks")
                length = body_length(self.headers.get("Content-Length"))
                try:
                    body = self.rfile.read(length)
                except TimeoutError:
                    raise BadRequest(HTTPStatus.REQUEST_TIMEOUT, "body not sent in time") from None
                if len(body) != length:
                    raise BadRequest(HTTPStatus.BAD_REQUEST, "body shorter than Content-Length")
                answer, count = service.transform(
                    path, body, self._dossier(query), self.headers.get("X-Namespace") or "default"
                )
                status = HTTPStatus.OK
            except (AuthError, BadRequest) as refused:
                status = refused.status
                self._error(status, str(refused))
            except PayloadKeyError as error:
                status = HTTPStatus.UNPROCESSABLE_ENTITY
                self._error(status, str(error))
            except RegisterUnavailable as error:
                status = HTTPStatus.SERVICE_UNAVAILABLE
                self._error(status, str(error))
            else:
                self._reply(status, answer, "application/json")
            finally:
                sealed_for = self._dossier(query) if path.endswith("/encode") else None
                self._audit(path, identity, count, status, sealed_for)

        def _dossier(self, query: str) -> str | None:
            """The dossier an `/encode` seals for: the header, else the query parameter."""
            named = self.headers.get(DOSSIER_HEADER)
            if named is None:
                named = next(iter(parse_qs(query).get(DOSSIER_PARAMETER, [])), None)
            return named.strip() if named and named.strip() else None

        def _audit(
            self,
            path: str,
            identity: Identity | None,
            count: int,
            status: HTTPStatus,
            sealed_for: str | None,
        ) -> None:
            """One line per request: who, from where, on which namespace, how many
            payloads, for which dossier an encode sealed them (never their content)."""
            audit.info(
                "codec request",
                operation=path.rsplit("/", 1)[-1],
                subject=identity.subject if identity else None,
                method=identity.method if identity else None,
                address=self.client_address[0],
                namespace=self.headers.get("X-Namespace"),
                payloads=count,
                sealed_for=sealed_for,
                status=int(status),
            )

    return Handler


class BoundedServer(ThreadingHTTPServer):
    """A thread per request, at most `max_connections` at once: one more is closed."""

    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        super().__init__(address, handler)
        self._slots = threading.BoundedSemaphore(max_connections)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except Exception:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


def serve(
    service: CodecService, host: str, port: int, max_connections: int = MAX_CONNECTIONS
) -> ThreadingHTTPServer:
    """A started server (in a thread of its own); `shutdown()` it when done."""
    server = BoundedServer((host, port), handler_for(service), max_connections)
    threading.Thread(target=server.serve_forever, name="codec-server", daemon=True).start()
    return server


def main(argv: Sequence[str] | None = None) -> int:
    from workers.logging import settings_with_logging

    settings = settings_with_logging()
    if settings is None:
        return 2
    host, _, port = settings.codec_server_address.rpartition(":")
    keys = KeyLoop()
    try:
        auth = settings.codec_auth.get_secret_value() if settings.codec_auth else None
        authorize = authorizer(
            auth,
            host,
            local_default=settings.database_url is None,
            read_roles=_listed(settings.codec_read_roles),
            role_claim=settings.codec_role_claim,
            write_roles=_listed(settings.codec_write_roles),
        )
        ring = settings.key_ring()
        pool = keys.run(_register_pool(settings), timeout=KEYS_START_TIMEOUT)
        service = CodecService(
            codec=EncryptionCodec(ring, keys=register_keys(pool, ring)),
            authorize=authorize,
            origins=frozenset(_listed(settings.codec_cors_origins)),
            keys=keys,
        )
    except (ValueError, RegisterUnavailable, StartupError) as error:
        log.error("codec server refused to start", reason=str(error))
        return 2
    server = BoundedServer((host, int(port)), handler_for(service))
    # SIGTERM stops it cleanly, as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    log.info("codec server started", address=settings.codec_server_address)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        keys.run(pool.close())
        keys.close()
        if settings.database_url is None:
            release_embedded_database(settings.data_dir)
    log.info("codec server stopped")
    return 0


# Long enough for `make run`'s embedded register to start.
KEYS_START_TIMEOUT = 120.0


async def _register_pool(settings: Settings) -> asyncpg.Pool:
    """A small pool on the register, for reading data keys (SELECT on `dossier_key`, and
    INSERT to make the key of a dossier an `/encode` seals for first); the embedded register
    under `make run`."""
    url = await asyncio.to_thread(database_url, settings)
    return await open_pool(url, min_size=1, max_size=4, migrated=False)


def register_keys(db: asyncpg.Pool, ring: KeyRing) -> RegisterDataKeys:
    """The codec server's data keys: each trusted `ERASURE_VISIBLE_SECONDS`, then read again,
    so that retention's erasure shows promptly (the Web UI is not a hot path)."""
    return RegisterDataKeys(db, ring, ttl=ERASURE_VISIBLE_SECONDS)


def _listed(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


if __name__ == "__main__":
    sys.exit(main())
