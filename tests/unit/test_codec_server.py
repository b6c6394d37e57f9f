"""The codec server over real HTTP on a free loopback port: Temporal's remote codec
protocol, the Web UI's CORS preflight, and nobody decodes without credentials."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.error import HTTPError
from urllib.request import Request, urlopen

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads
from temporalio.contrib.pydantic import pydantic_data_converter

from scripts.ports import free_port
from workers.codec import EncryptionCodec, KeyRing, new_key_entry
from workers.codec_server import CodecService, authorizer, serve

UI = "http://localhost:8233"
NAME = "Amina El Idrissi"
RING = KeyRing.parse(new_key_entry("k1"))


def _server(auth: str | None, *, local: bool = False) -> Iterator[str]:
    service = CodecService(
        codec=EncryptionCodec(RING),
        authorize=authorizer(auth, "127.0.0.1", local_default=local),
        origins=frozenset({UI}),
    )
    port = free_port()
    server = serve(service, "127.0.0.1", port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()


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


def _token(issuer: str, key: rsa.RSAPrivateKey, **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": issuer, "sub": "agent-1", "iat": now, "exp": now + 300, **claims}
    return jwt.encode(body, key, algorithm="RS256", headers={"kid": "k"})


def test_an_oidc_access_token_of_the_issuer_decodes(
    issuer: tuple[str, rsa.RSAPrivateKey],
) -> None:
    base, key = issuer
    for url in _server(f"oidc:{base}"):
        good = _token(base, key)
        assert _post(f"{url}/decode", _sealed_body(), Authorization=f"Bearer {good}")[0] == 200
        expired = _token(base, key, exp=int(time.time()) - 60)
        assert _post(f"{url}/decode", _sealed_body(), Authorization=f"Bearer {expired}")[0] == 403
        stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        forged = _token(base, stranger)
        assert _post(f"{url}/decode", _sealed_body(), Authorization=f"Bearer {forged}")[0] == 403
        other_issuer = _token("http://elsewhere", key)
        assert (
            _post(f"{url}/decode", _sealed_body(), Authorization=f"Bearer {other_issuer}")[0] == 403
        )
        assert _post(f"{url}/decode", _sealed_body())[0] == 401
