"""scripts/certs.py, the `certs` one-shot of docker-compose.yml: the certificates it makes
carry a real mutual TLS handshake, and the frontend refuses a client of another CA."""

from __future__ import annotations

import socket
import ssl
import stat
import threading
from pathlib import Path
from typing import Any

import pytest

from scripts import certs
from workers.client import connect_config
from workers.settings import Settings


def server_context(directory: Path, name: str = "temporal") -> ssl.SSLContext:
    """As the frontend with TEMPORAL_TLS_REQUIRE_CLIENT_AUTH: its certificate, and a client
    certificate of the CA required."""
    own = directory / name
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(own / certs.CERT, own / certs.KEY)
    context.load_verify_locations(own / certs.CA_CERT)
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def client_context(directory: Path, name: str = "worker") -> ssl.SSLContext:
    own = directory / name
    context = ssl.create_default_context(cafile=own / certs.CA_CERT)
    context.load_cert_chain(own / certs.CERT, own / certs.KEY)
    return context


def handshake(
    server: ssl.SSLContext, client: ssl.SSLContext, server_name: str = "temporal"
) -> str | None:
    """The client's certificate subject as the server saw it; None when refused."""
    seen: list[str | None] = []
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def serve() -> None:
            connection, _ = listener.accept()
            try:
                with server.wrap_socket(connection, server_side=True) as tls:
                    peer = tls.getpeercert() or {}
                    subject: Any = peer.get("subject", ())
                    seen.append(next(v for ((k, v),) in subject if k == "commonName"))
                    tls.sendall(b"ok")
            except (ssl.SSLError, OSError):
                seen.append(None)

        thread = threading.Thread(target=serve)
        thread.start()
        try:
            with (
                socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
                client.wrap_socket(raw, server_hostname=server_name) as tls,
            ):
                tls.recv(2)
        except (ssl.SSLError, OSError):
            pass
        thread.join(timeout=10)
    return seen[0] if seen else None


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("certs")
    assert certs.ensure(directory) == [identity.name for identity in certs.IDENTITIES]
    return directory


def test_a_client_of_the_ca_completes_a_mutual_handshake(made: Path) -> None:
    assert handshake(server_context(made), client_context(made)) == "worker"


def test_a_client_of_another_ca_is_refused(made: Path, tmp_path: Path) -> None:
    certs.ensure(tmp_path)  # another cluster's CA
    assert handshake(server_context(made), client_context(tmp_path)) is None


def test_only_the_admin_one_shot_reaches_the_internal_frontend(made: Path) -> None:
    """The internal frontend skips the authoriser: the frontend's clients cannot reach it."""
    internode = server_context(made, "temporal-internode")
    assert handshake(internode, client_context(made, "temporal-namespace")) == (
        "temporal-namespace"
    )
    for client in ("worker", "setup", "cli", "temporal-ui"):
        assert handshake(internode, client_context(made, client)) is None, client
    assert handshake(server_context(made), client_context(made, "temporal-namespace")) is None


def test_a_client_without_a_certificate_is_refused(made: Path) -> None:
    anonymous = ssl.create_default_context(cafile=made / "worker" / certs.CA_CERT)
    assert handshake(server_context(made), anonymous) is None


def test_the_server_certificate_names_the_compose_service(made: Path) -> None:
    assert handshake(server_context(made), client_context(made), "temporal") == "worker"
    assert handshake(server_context(made), client_context(made), "localhost") == "worker"
    assert handshake(server_context(made), client_context(made), "elsewhere") is None


def test_private_keys_are_0600_and_the_script_runs_again_making_nothing(made: Path) -> None:
    keys = sorted(made.glob(f"*/{certs.KEY}"))
    assert len(keys) == len(certs.IDENTITIES) + len(certs.AUTHORITIES)
    for key in keys:
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key
    before = {path: path.read_bytes() for path in made.rglob("*.pem")}
    assert certs.ensure(made) == []
    assert {path: path.read_bytes() for path in made.rglob("*.pem")} == before
    # Each service mounts its own directory: the CA's key is in none of them.
    ca_key = (made / certs.CA_DIR / certs.KEY).read_bytes()
    assert all((made / i.name / certs.KEY).read_bytes() != ca_key for i in certs.IDENTITIES)


def test_a_removed_directory_is_reissued_under_the_same_ca(made: Path, tmp_path: Path) -> None:
    directory = tmp_path / "volume"
    certs.ensure(directory)
    ca = (directory / certs.CA_DIR / certs.CERT).read_bytes()
    for path in (directory / "cli").iterdir():
        path.unlink()
    assert certs.ensure(directory) == ["cli"]
    assert (directory / "cli" / certs.CA_CERT).read_bytes() == ca
    assert handshake(server_context(directory), client_context(directory, "cli")) == "cli"


def test_the_clients_read_their_files_through_envconfig(made: Path) -> None:
    """As compose gives them to the worker, setup and CLI containers (TEMPORAL_TLS_*)."""
    own = made / "worker"
    config = connect_config(
        Settings.from_env({}),
        {
            "TEMPORAL_ADDRESS": "temporal:7233",
            "TEMPORAL_TLS_CLIENT_CERT_PATH": str(own / certs.CERT),
            "TEMPORAL_TLS_CLIENT_KEY_PATH": str(own / certs.KEY),
            "TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(own / certs.CA_CERT),
            "TEMPORAL_TLS_SERVER_NAME": "temporal",
        },
    )
    tls = config.get("tls")
    assert not isinstance(tls, bool) and tls is not None
    assert tls.client_cert == (own / certs.CERT).read_bytes()
    assert tls.client_private_key == (own / certs.KEY).read_bytes()
    assert tls.server_root_ca_cert == (own / certs.CA_CERT).read_bytes()
    assert tls.domain == "temporal"


def test_main_says_what_it_made(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert certs.main([str(tmp_path)]) == 0
    assert "made temporal" in capsys.readouterr().out
    assert certs.main([str(tmp_path)]) == 0
    assert "none made" in capsys.readouterr().out
    assert certs.main([]) == 2
