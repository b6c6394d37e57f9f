"""The codec server: `python -m workers.codec_server`.

Temporal's remote codec protocol (`POST /encode`, `POST /decode`, a JSON body
`{"payloads": [...]}`), so that the Web UI and the `temporal` CLI (`--codec-endpoint`) show
dossiers decoded to those allowed to read them. `CODEC_AUTH` says who is: `none` (refused
unless the server listens on loopback only), `token:<secret>` (`Authorization: Bearer
<secret>`) or `oidc:<issuer URL>` (the Web UI's access token, verified against the
issuer's published keys). Payloads are never logged.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.request import urlopen

import jwt
import structlog
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from workers.codec import EncryptionCodec, PayloadKeyError

log = structlog.get_logger("codec_server")
MAX_BODY = 16 * 1024 * 1024


class AuthError(Exception):
    def __init__(self, status: HTTPStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status


Authorizer = Callable[[str | None], None]


def no_auth(header: str | None) -> None:
    return None


def token_auth(secret: str) -> Authorizer:
    expected = f"Bearer {secret}".encode()

    def check(header: str | None) -> None:
        if not header:
            raise AuthError(HTTPStatus.UNAUTHORIZED, "missing Authorization header")
        if not hmac.compare_digest(header.encode(), expected):
            raise AuthError(HTTPStatus.FORBIDDEN, "invalid token")

    return check


def oidc_auth(issuer: str, audience: str | None = None) -> Authorizer:
    """Verify a bearer JWT: signed by a key the issuer publishes, issued by it, in date."""
    issuer = issuer.rstrip("/")
    keys: dict[str, jwt.PyJWKClient] = {}
    lock = threading.Lock()

    def jwks() -> jwt.PyJWKClient:
        with lock:
            if "client" not in keys:
                with urlopen(f"{issuer}/.well-known/openid-configuration", timeout=10) as answer:
                    discovery = json.load(answer)
                keys["client"] = jwt.PyJWKClient(discovery["jwks_uri"], timeout=10)
            return keys["client"]

    def check(header: str | None) -> None:
        if not header or not header.startswith("Bearer "):
            raise AuthError(HTTPStatus.UNAUTHORIZED, "missing bearer token")
        token = header.removeprefix("Bearer ").strip()
        try:
            key = jwks().get_signing_key_from_jwt(token)
            jwt.decode(
                token,
                key.key,
                algorithms=["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"],
                issuer=issuer,
                audience=audience,
                options={"verify_aud": audience is not None, "require": ["exp", "iss"]},
            )
        except (jwt.PyJWTError, OSError, KeyError, ValueError) as error:
            refused = f"token refused: {type(error).__name__}"
            raise AuthError(HTTPStatus.FORBIDDEN, refused) from None

    return check


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def authorizer(spec: str | None, host: str, *, local_default: bool) -> Authorizer:
    """`CODEC_AUTH` read: `none` only on loopback; unset means `none` under `make run`."""
    if spec is None:
        if not local_default:
            raise ValueError("CODEC_AUTH is required outside `make run`")
        spec = "none"
    kind, _, value = spec.partition(":")
    if kind == "none":
        if not is_loopback(host):
            raise ValueError(f"CODEC_AUTH=none listens on loopback only, not on {host}")
        return no_auth
    if kind == "token" and value:
        return token_auth(value)
    if kind == "oidc" and value.startswith(("https://", "http://")):
        issuer, _, audience = value.partition(" ")
        return oidc_auth(issuer, audience or None)
    raise ValueError("CODEC_AUTH must be none, token:<secret> or oidc:<issuer URL>")


@dataclass(frozen=True)
class CodecService:
    codec: EncryptionCodec
    authorize: Authorizer
    origins: frozenset[str]

    def transform(self, path: str, body: bytes) -> bytes:
        payloads = Payloads()
        json_format.Parse(body, payloads)
        if path.endswith("/encode"):
            done = self.codec.seal(payloads.payloads)
        else:
            done = self.codec.open(payloads.payloads)
        return json_format.MessageToJson(Payloads(payloads=done)).encode()


def handler_for(service: CodecService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "codec-server"

        def log_message(self, format: str, *args: Any) -> None:
            log.info("request", method=self.command, path=self.path, status=args[1:2])

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

        def do_OPTIONS(self) -> None:
            self.send_response(HTTPStatus.OK)
            self._cors()
            self.send_header("Access-Control-Allow-Methods", "POST, OPTIONS")
            self.send_header(
                "Access-Control-Allow-Headers", "Content-Type, X-Namespace, Authorization"
            )
            self.send_header("Access-Control-Max-Age", "600")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_POST(self) -> None:
            path = self.path.split("?", 1)[0].rstrip("/")
            if not path.endswith(("/encode", "/decode")):
                self._error(HTTPStatus.NOT_FOUND, "POST /encode or /decode")
                return
            try:
                service.authorize(self.headers.get("Authorization"))
            except AuthError as refused:
                self._error(refused.status, str(refused))
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "body too large")
                return
            try:
                body = service.transform(path, self.rfile.read(length))
            except PayloadKeyError as error:
                self._error(HTTPStatus.UNPROCESSABLE_ENTITY, str(error))
                return
            except (json_format.ParseError, ValueError):
                self._error(HTTPStatus.BAD_REQUEST, 'expected {"payloads": [...]}')
                return
            self._reply(HTTPStatus.OK, body, "application/json")

    return Handler


def serve(service: CodecService, host: str, port: int) -> ThreadingHTTPServer:
    """A started server (in a thread of its own); `shutdown()` it when done."""
    server = ThreadingHTTPServer((host, port), handler_for(service))
    threading.Thread(target=server.serve_forever, name="codec-server", daemon=True).start()
    return server


def main(argv: Sequence[str] | None = None) -> int:
    from workers.logging import settings_with_logging

    settings = settings_with_logging()
    if settings is None:
        return 2
    host, _, port = settings.codec_server_address.rpartition(":")
    try:
        auth = settings.codec_auth.get_secret_value() if settings.codec_auth else None
        service = CodecService(
            codec=EncryptionCodec(settings.key_ring()),
            authorize=authorizer(auth, host, local_default=settings.database_url is None),
            origins=frozenset(o.strip() for o in settings.codec_cors_origins.split(",")),
        )
    except ValueError as error:
        log.error("codec server refused to start", reason=str(error))
        return 2
    server = ThreadingHTTPServer((host, int(port)), handler_for(service))
    # SIGTERM stops it cleanly, as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    log.info("codec server started", address=settings.codec_server_address)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    log.info("codec server stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
