"""The codec server over real HTTP on a free loopback port: Temporal's remote codec
protocol, the Web UI's CORS preflight, and nobody decodes without credentials."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Iterator, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.error import HTTPError
from urllib.request import Request, urlopen

import jwt
import pytest
import structlog
from cryptography.hazmat.primitives.asymmetric import rsa
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads
from temporalio.contrib.pydantic import pydantic_data_converter

from scripts.ports import free_port
from workers.codec import EncryptionCodec, KeyRing, new_key_entry
from workers.codec_auth import authorizer
from workers.codec_server import MAX_BODY, MAX_PAYLOADS, CodecService, serve

UI = "http://localhost:8233"
NAME = "Amina El Idrissi"
RING = KeyRing.parse(new_key_entry("k1"))


@contextlib.contextmanager
def serving(service: CodecService) -> Iterator[str]:
    """The service on a free loopback port: its URL, until the block ends."""
    port = free_port()
    server = serve(service, "127.0.0.1", port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()


def _server(auth: str | None, *, local: bool = False) -> Iterator[str]:
    service = CodecService(
        codec=EncryptionCodec(RING),
        authorize=authorizer(auth, "127.0.0.1", local_default=local),
        origins=frozenset({UI}),
    )
    with serving(service) as url:
        yield url


@pytest.fixture
def token_server() -> Iterator[str]:
    yield from _server("token:s3cret")


def _sealed_body() -> bytes:
    payload = pydantic_data_converter.payload_converter.to_payloads([{"full_name": NAME}])
    sealed = EncryptionCodec(RING).seal(payload)
    return json_format.MessageToJson(Payloads(payloads=sealed)).encode()


def _post(url: str, body: bytes, **headers: str) -> tuple[int, dict[str, Any], dict[str, str]]:
    request = Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    for name, value in headers.items():
        request.add_header(name.replace("_", "-"), value)
    try:
        with urlopen(request, timeout=10) as answer:
            return answer.status, json.load(answer), dict(answer.headers)
    except HTTPError as error:
        return error.code, json.load(error), dict(error.headers)


def test_the_ui_decodes_a_dossier_with_the_token(token_server: str) -> None:
    status, body, headers = _post(
        f"{token_server}/decode", _sealed_body(), Authorization="Bearer s3cret", Origin=UI
    )
    assert status == 200
    assert headers["Access-Control-Allow-Origin"] == UI
    decoded = json_format.ParseDict(body, Payloads())
    value = pydantic_data_converter.payload_converter.from_payloads(list(decoded.payloads))
    assert value == [{"full_name": NAME}]


def test_encode_then_decode_round_trips(token_server: str) -> None:
    clear = pydantic_data_converter.payload_converter.to_payloads([{"full_name": NAME}])
    body = json_format.MessageToJson(Payloads(payloads=clear)).encode()
    status, encoded, _ = _post(f"{token_server}/encode", body, Authorization="Bearer s3cret")
    assert status == 200 and NAME not in json.dumps(encoded)
    status, decoded, _ = _post(
        f"{token_server}/decode", json.dumps(encoded).encode(), Authorization="Bearer s3cret"
    )
    assert status == 200 and json_format.ParseDict(decoded, Payloads()).payloads == clear


def test_no_token_is_401_a_wrong_one_403(token_server: str) -> None:
    assert _post(f"{token_server}/decode", _sealed_body())[0] == 401
    status, body, _ = _post(f"{token_server}/decode", _sealed_body(), Authorization="Bearer x")
    assert status == 403 and NAME not in json.dumps(body)


def test_the_ui_preflight_is_answered_without_credentials(token_server: str) -> None:
    request = Request(
        f"{token_server}/decode",
        method="OPTIONS",
        headers={
            "Origin": UI,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-namespace,authorization",
        },
    )
    with urlopen(request, timeout=10) as answer:
        assert answer.status == 200
        assert answer.headers["Access-Control-Allow-Origin"] == UI
        assert "POST" in answer.headers["Access-Control-Allow-Methods"]
        assert "X-Namespace" in answer.headers["Access-Control-Allow-Headers"]


def test_another_origin_gets_no_cors_grant(token_server: str) -> None:
    _, _, headers = _post(
        f"{token_server}/decode",
        _sealed_body(),
        Authorization="Bearer s3cret",
        Origin="http://evil.example",
    )
    assert "Access-Control-Allow-Origin" not in headers


def test_a_payload_of_an_unknown_key_is_refused_naming_it(token_server: str) -> None:
    other = EncryptionCodec(KeyRing.parse(new_key_entry("retired")))
    payload = pydantic_data_converter.payload_converter.to_payloads([{"full_name": NAME}])
    body = json_format.MessageToJson(Payloads(payloads=other.seal(payload))).encode()
    status, answer, _ = _post(f"{token_server}/decode", body, Authorization="Bearer s3cret")
    assert status == 422 and "'retired'" in answer["error"]


def test_no_auth_is_for_loopback_and_make_run_only() -> None:
    with pytest.raises(ValueError, match="loopback only"):
        authorizer("none", "0.0.0.0", local_default=False)
    with pytest.raises(ValueError, match="CODEC_AUTH is required"):
        authorizer(None, "127.0.0.1", local_default=False)
    with pytest.raises(ValueError, match="must be none, token"):
        authorizer("password:x", "127.0.0.1", local_default=False)
    for url in _server(None, local=True):
        assert _post(f"{url}/decode", _sealed_body())[0] == 200


# --- OIDC: a local issuer publishing its keys ----------------------------------------------


@pytest.fixture
def issuer() -> Iterator[tuple[str, rsa.RSAPrivateKey]]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    port = free_port()
    base = f"http://127.0.0.1:{port}"

    class Issuer(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            documents = {
                "/.well-known/openid-configuration": {
                    "issuer": base,
                    "jwks_uri": f"{base}/jwks",
                },
                "/jwks": {"keys": [{**jwk, "kid": "k", "use": "sig", "alg": "RS256"}]},
            }
            body = json.dumps(documents.get(self.path, {})).encode()
            self.send_response(200 if self.path in documents else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", port), Issuer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield base, key
    finally:
        server.shutdown()
        server.server_close()


AUDIENCE = "dossiers-codec"


def _token(issuer: str, key: rsa.RSAPrivateKey, **claims: Any) -> str:
    now = int(time.time())
    body = {
        "iss": issuer,
        "sub": "agent-1",
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 300,
        "roles": ["dossiers-read"],
        **claims,
    }
    return jwt.encode(body, key, algorithm="RS256", headers={"kid": "k"})


def _status(url: str, token: str) -> int:
    return _post(f"{url}/decode", _sealed_body(), Authorization=f"Bearer {token}")[0]


def test_an_oidc_access_token_of_the_issuer_for_this_audience_decodes(
    issuer: tuple[str, rsa.RSAPrivateKey],
) -> None:
    base, key = issuer
    for url in _server(f"oidc:{base} {AUDIENCE}"):
        assert _status(url, _token(base, key)) == 200
        assert _status(url, _token(base, key, exp=int(time.time()) - 60)) == 403
        stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        assert _status(url, _token(base, stranger)) == 403
        assert _status(url, _token("http://elsewhere", key)) == 403
        assert _post(f"{url}/decode", _sealed_body())[0] == 401


def test_a_token_issued_to_another_application_is_403(
    issuer: tuple[str, rsa.RSAPrivateKey],
) -> None:
    base, key = issuer
    for url in _server(f"oidc:{base} {AUDIENCE}"):
        assert _status(url, _token(base, key, aud="the-intranet")) == 403
        no_audience = _token(base, key)
        body = jwt.decode(no_audience, options={"verify_signature": False})
        del body["aud"]
        assert _status(url, jwt.encode(body, key, algorithm="RS256", headers={"kid": "k"})) == 403


def test_a_token_without_a_reading_role_is_403(
    issuer: tuple[str, rsa.RSAPrivateKey],
) -> None:
    base, key = issuer
    for url in _server(f"oidc:{base} {AUDIENCE}"):
        status, answer, _ = _post(
            f"{url}/decode",
            _sealed_body(),
            Authorization=f"Bearer {_token(base, key, roles=['dossiers-admin-ui'])}",
        )
        assert status == 403 and "no role allowing to read" in answer["error"]
        assert _status(url, _token(base, key, roles=None)) == 403


def test_only_a_writing_role_may_seal_inputs(issuer: tuple[str, rsa.RSAPrivateKey]) -> None:
    base, key = issuer
    clear = pydantic_data_converter.payload_converter.to_payloads([{"filed_on": "2009-02-01"}])
    body = json_format.MessageToJson(Payloads(payloads=clear)).encode()
    reader, writer = _token(base, key), _token(base, key, roles=["dossiers-write"])
    for url in _server(f"oidc:{base} {AUDIENCE}"):
        status, answer, _ = _post(f"{url}/encode", body, Authorization=f"Bearer {reader}")
        assert status == 403 and "write" in answer["error"]
        assert _post(f"{url}/encode", body, Authorization=f"Bearer {writer}")[0] == 200
        assert _status(url, writer) == 403  # writing is not reading


def test_the_role_claim_may_be_nested_or_a_string(
    issuer: tuple[str, rsa.RSAPrivateKey],
) -> None:
    base, key = issuer
    auth = authorizer(
        f"oidc:{base} {AUDIENCE}",
        "127.0.0.1",
        local_default=False,
        read_roles=["consulate-agent"],
        role_claim="realm_access.roles",
    )
    nested = _token(base, key, realm_access={"roles": ["consulate-agent"]})
    assert auth(f"Bearer {nested}").subject == "agent-1"
    auth = authorizer(
        f"oidc:{base} {AUDIENCE}",
        "127.0.0.1",
        local_default=False,
        read_roles=["reader"],
        role_claim="scope",
    )
    assert auth(f"Bearer {_token(base, key, scope='openid reader')}").method == "oidc"


def test_oidc_needs_an_https_issuer_and_an_audience() -> None:
    with pytest.raises(ValueError, match="https://"):
        authorizer("oidc:http://idp.example.org aud", "0.0.0.0", local_default=False)
    with pytest.raises(ValueError, match="audience"):
        authorizer("oidc:https://idp.example.org", "0.0.0.0", local_default=False)
    with pytest.raises(ValueError, match="CODEC_READ_ROLES"):
        authorizer(
            "oidc:https://idp.example.org aud", "0.0.0.0", local_default=False, read_roles=[]
        )
    # A local issuer over http is a test stack's, on loopback only.
    authorizer("oidc:http://127.0.0.1:9 aud", "127.0.0.1", local_default=False)


# --- a hostile client: the server answers clearly and holds its memory ----------------------


def _raw(url: str, request: bytes, *, timeout: float = 10) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    answer = b""
    with socket.create_connection((host, int(port)), timeout=timeout) as conn:
        try:
            conn.sendall(request)
            conn.shutdown(socket.SHUT_WR)  # all is sent: a server waiting for more reads the end
            while chunk := conn.recv(65536):
                answer += chunk
        except (ConnectionResetError, BrokenPipeError, OSError) as closed:
            # Closed by the server with our request unread: a reset, not a goodbye.
            if isinstance(closed, TimeoutError):
                raise
    return answer


def _request(length: str, body: bytes = b"", host: str = "127.0.0.1") -> bytes:
    head = (
        f"POST /decode HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer s3cret\r\n"
        f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    )
    return head.encode() + body


@pytest.mark.parametrize(
    ("length", "status"),
    [("-1", b" 400 "), ("abc", b" 400 "), ("99999999999", b" 413 "), ("20", b" 400 ")],
)
def test_a_length_that_lies_is_a_clear_error(token_server: str, length: str, status: bytes) -> None:
    answer = _raw(token_server, _request(length, b"{}"))
    assert status in answer.split(b"\r\n", 1)[0]
    assert b'"error"' in answer


def test_no_payload_is_an_empty_answer_as_protobuf_writes_it(token_server: str) -> None:
    """The `temporal` CLI sends `{}` for a query without arguments (an empty list is left
    out of protobuf's JSON): it was refused, and every query through the codec failed."""
    for body in (b"{}", b'{"payloads": []}', b'{"payloads": null}'):
        status, answer, _ = _post(f"{token_server}/decode", body, Authorization="Bearer s3cret")
        assert (status, answer.get("payloads", [])) == (200, [])


def test_a_body_that_is_not_the_protocol_is_400(token_server: str) -> None:
    for body in (b"[1]", b'{"payloads": 3}', b"\xff\xfe", b"[" * 5000, b'{"payloads": [1]}'):
        status, answer, _ = _post(f"{token_server}/decode", body, Authorization="Bearer s3cret")
        assert status == 400 and "payloads" in answer["error"]


def test_a_huge_count_of_payloads_is_refused_with_bounded_memory(token_server: str) -> None:
    body = b'{"payloads": [' + b",".join([b"{}"] * 200_000) + b"]}"
    tracemalloc.start()
    try:
        status, answer, _ = _post(f"{token_server}/decode", body, Authorization="Bearer s3cret")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert status == 413 and str(MAX_PAYLOADS) in answer["error"]
    assert peak < 64 * 1024 * 1024, f"peak {peak / 2**20:.0f} MiB"


def test_idle_clients_neither_hold_the_server_nor_grow_without_bound() -> None:
    service = CodecService(
        codec=EncryptionCodec(RING),
        authorize=authorizer("token:s3cret", "127.0.0.1", local_default=False),
        origins=frozenset({UI}),
        socket_timeout=5.0,  # long enough that the idle ones still hold their slots below
    )
    port = free_port()
    server = serve(service, "127.0.0.1", port, max_connections=4)
    url = f"http://127.0.0.1:{port}"
    idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(10)]
    try:
        for conn in idle:
            conn.sendall(b"POST /decode HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and no more
        # Past the cap, a connection is closed at once; the held ones time out.
        assert _raw(url, _request("2", b"{}"), timeout=5) == b""
        # Once the held ones time out, the server answers again, however loaded the machine.
        deadline = time.monotonic() + 30
        while True:
            try:
                status, _, _ = _post(f"{url}/decode", _sealed_body(), Authorization="Bearer s3cret")
                break
            except OSError:  # closed at once: the slots are still held
                assert time.monotonic() < deadline, "the idle clients held the server"
                time.sleep(0.5)
        assert status == 200
    finally:
        for conn in idle:
            conn.close()
        server.shutdown()
        server.server_close()


def test_without_authentication_only_a_loopback_host_is_served() -> None:
    for url in _server(None, local=True):
        rebound = _raw(url, _request(str(len(_sealed_body())), _sealed_body(), "evil.example"))
        assert b" 403 " in rebound.split(b"\r\n", 1)[0]
        for host in ("localhost:8234", "127.0.0.1", "[::1]:8234"):
            served = _raw(url, _request(str(len(_sealed_body())), _sealed_body(), host))
            assert b" 200 " in served.split(b"\r\n", 1)[0]


def _audit_lines(logs: Sequence[Mapping[str, Any]]) -> int:
    return sum(1 for line in logs if line["event"] == "codec request")


def test_every_request_writes_one_audit_line_without_content(token_server: str) -> None:
    with structlog.testing.capture_logs() as logs:
        _post(
            f"{token_server}/decode",
            _sealed_body(),
            Authorization="Bearer s3cret",
            X_Namespace="consulats",
        )
        _post(f"{token_server}/decode", _sealed_body(), Authorization="Bearer wrong")
        # The handler's thread writes after answering: wait for both lines (a loaded
        # machine may take a while), never longer than five seconds.
        give_up = time.monotonic() + 5
        while time.monotonic() < give_up and _audit_lines(logs) < 2:
            time.sleep(0.02)
    # Each handler's thread writes after answering, so the two lines may come in either
    # order: they are matched by status, not by position.
    lines = sorted(
        (line for line in logs if line["event"] == "codec request"), key=lambda line: line["status"]
    )
    assert [(line["status"], line["payloads"]) for line in lines] == [(200, 1), (403, 0)]
    assert lines[0]["subject"] == "token" and lines[0]["namespace"] == "consulats"
    assert lines[0]["address"] == "127.0.0.1"
    assert NAME not in repr(logs)


# The codec server in a process of its own, so that its memory is measured alone.
_SERVE = """
import sys, time
from workers.codec import EncryptionCodec, KeyRing
from workers.codec_auth import authorizer
from workers.codec_server import CodecService, serve
service = CodecService(
    codec=EncryptionCodec(KeyRing.parse(sys.argv[2])),
    authorize=authorizer("token:s3cret", "127.0.0.1", local_default=False),
    origins=frozenset(),
    socket_timeout=2.0,
)
serve(service, "127.0.0.1", int(sys.argv[1]))
print("listening", flush=True)
time.sleep(600)
"""
# What the hostile requests below may add to the server's peak resident memory. Without
# the bounds, a body of empty objects alone took hundreds of MiB.
RSS_GROWTH_MAX = 24 * 1024 * 1024


def _memory(pid: int, field: str) -> int:
    """`VmRSS` (resident now) or `VmHWM` (its peak), in bytes, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field} for process {pid}")


@pytest.mark.rule("contract")
def test_the_codec_server_survives_slow_negative_length_and_huge_count_in_bounded_memory() -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-c", _SERVE, str(port), RING.spec()],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.PIPE,
    )
    try:
        assert server.stdout is not None and server.stdout.readline() == b"listening\n"
        # Warm: the code of every answer is loaded before the baseline.
        assert _post(f"{url}/decode", _sealed_body(), Authorization="Bearer s3cret")[0] == 200
        assert b" 400 " in _raw(url, _request("-1", b"{}"))
        baseline = _memory(server.pid, "VmHWM")

        # The largest body allowed, every byte of it empty objects: over a million payloads.
        huge = b'{"payloads": [' + b",".join([b"{}"] * ((MAX_BODY - 20) // 3)) + b"]}"
        for _ in range(3):
            status, answer, _ = _post(f"{url}/decode", huge, Authorization="Bearer s3cret")
            assert status == 413 and str(MAX_PAYLOADS) in answer["error"]
        for length in ("-1", "-99999999999", "99999999999"):
            assert b'"error"' in _raw(url, _request(length, b"{}"))
        slow = [socket.create_connection(("127.0.0.1", port)) for _ in range(8)]
        for conn in slow:
            conn.sendall(_request(str(MAX_BODY), b'{"payloads": ['))  # and never the rest
        time.sleep(3)  # past the server's 2 seconds of patience
        for conn in slow:
            conn.close()

        growth = _memory(server.pid, "VmHWM") - baseline
        print(f"codec server peak RSS growth: {growth / 2**20:.1f} MiB")
        assert growth < RSS_GROWTH_MAX, f"peak RSS grew by {growth / 2**20:.0f} MiB"
        # And it still serves.
        assert _post(f"{url}/decode", _sealed_body(), Authorization="Bearer s3cret")[0] == 200
    finally:
        server.terminate()
        server.wait(10)
