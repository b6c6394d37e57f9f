"""docker-compose.yml, the production deployment: valid, wired to the code it runs, and
safe by default (docs/production.md, "Start")."""

from __future__ import annotations

import copy
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    AddSearchAttributesResponse,
    ListSearchAttributesRequest,
    ListSearchAttributesResponse,
)
from temporalio.client import Schedule

from scripts import certs as scripts_certs
from scripts import cluster_setup, devstack
from scripts.schedules import SCHEDULES
from tools import check_compose
from workers.settings import Settings
from workflows.search_attributes import ALL_KEYS

ROOT = check_compose.ROOT

# The services of the project's image, each with what it must be given.
PROJECT_SERVICES = {
    "worker": {
        "TEMPORAL_ADDRESS",
        "TEMPORAL_NAMESPACE",
        "TEMPORAL_TASK_QUEUE",
        "PAYLOAD_KEYS",
        "DATABASE_URL",
        "DOCUMENT_SECRET",
        "PERSON_SEARCH_KEY",
        "METRICS_ADDRESS",
        "DATA_DIR",
        "REPORTS_DIR",
    },
    "setup": {
        "TEMPORAL_ADDRESS",
        "TEMPORAL_NAMESPACE",
        "TEMPORAL_TASK_QUEUE",
        "PAYLOAD_KEYS",
        "OPERATOR_LANGUAGE",
    },
    "migrate": {"DATABASE_URL", "MIGRATION_DATABASE_URL"},
    "codec-server": {
        "PAYLOAD_KEYS",
        "CODEC_AUTH",
        "CODEC_SERVER_ADDRESS",
        "CODEC_CORS_ORIGINS",
        "CODEC_READ_ROLES",
        "CODEC_WRITE_ROLES",
        "CODEC_ROLE_CLAIM",
    },
}
# Read by the processes beside `Settings` (docs/configuration.md, "Environment variables").
EXTRA_VARIABLES = {
    "LOG_FORMAT": "workers.logging",
    # How to reach the frontend: `temporalio.envconfig`, read by workers.client.
    "TEMPORAL_TLS_CLIENT_CERT_PATH": "temporalio.envconfig",
    "TEMPORAL_TLS_CLIENT_KEY_PATH": "temporalio.envconfig",
    "TEMPORAL_TLS_SERVER_CA_CERT_PATH": "temporalio.envconfig",
    "TEMPORAL_TLS_SERVER_NAME": "temporalio.envconfig",
    "TEMPORAL_API_KEY": "temporalio.envconfig",
}
SECRETS = {
    "POSTGRES_PASSWORD",
    "TEMPORAL_DB_PASSWORD",
    "REGISTER_OWNER_PASSWORD",
    "REGISTER_WORKER_PASSWORD",
    "PAYLOAD_KEYS",
    "CODEC_AUTH",
    "DOCUMENT_SECRET",
    "PERSON_SEARCH_KEY",
    "UI_OIDC_CLIENT_SECRET",
    "WORKER_TEMPORAL_TOKEN",
    "SETUP_TEMPORAL_TOKEN",
}
# Required, not secret: where the logins and the tokens' keys come from.
REQUIRED = {"OIDC_ISSUER_URL", "OIDC_JWKS_URL", "UI_OIDC_CLIENT_ID"}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|KEYS|TOKEN|AUTH$")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return check_compose.document()


def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


def long_running(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in services(compose).items()
        if service.get("restart", "no") != "no"
    }


def test_the_file_holds_to_the_compose_specification(compose: dict[str, Any]) -> None:
    assert check_compose.schema_errors(compose) == []
    # As written, too: what an editor's schema check sees.
    assert check_compose.schema_errors(check_compose.raw_document()) == []


def test_a_wrong_key_is_caught_by_the_schema(compose: dict[str, Any]) -> None:
    broken = {**compose, "services": {**services(compose), "worker": {"imag": "x"}}}
    assert any("imag" in error for error in check_compose.schema_errors(broken))


def test_search_attributes_are_listed_in_python_only(compose: dict[str, Any]) -> None:
    text = check_compose.compose_text()
    for key in ALL_KEYS:
        assert key.name not in text, f"{key.name} is listed in docker-compose.yml"
    assert "search-attribute" not in text
    setup = services(compose)["setup"]
    assert setup["command"] == ["python", "-m", "scripts.cluster_setup"]
    assert setup["build"] == "."
    assert callable(cluster_setup.main)
    # One implementation, for `make run` and for the cluster.
    assert devstack.ensure_search_attributes is cluster_setup.ensure_search_attributes


@dataclass
class FakeOperatorService:
    attributes: dict[str, IndexedValueType.ValueType] = field(default_factory=dict)
    added: list[dict[str, IndexedValueType.ValueType]] = field(default_factory=list)

    async def list_search_attributes(
        self, request: ListSearchAttributesRequest
    ) -> ListSearchAttributesResponse:
        return ListSearchAttributesResponse(custom_attributes=self.attributes)

    async def add_search_attributes(
        self, request: AddSearchAttributesRequest
    ) -> AddSearchAttributesResponse:
        self.added.append(dict(request.search_attributes))
        self.attributes.update(request.search_attributes)
        return AddSearchAttributesResponse()


@dataclass
class FakeClient:
    operator_service: FakeOperatorService = field(default_factory=FakeOperatorService)
    schedules: dict[str, Schedule] = field(default_factory=dict)

    async def create_schedule(self, schedule_id: str, schedule: Schedule) -> None:
        self.schedules[schedule_id] = schedule


def contract_attributes() -> dict[str, IndexedValueType.ValueType]:
    return {key.name: IndexedValueType.ValueType(key.indexed_value_type) for key in ALL_KEYS}


async def test_setup_registers_the_search_attributes_of_all_keys(
    compose: dict[str, Any],
) -> None:
    settings = setup_settings(compose)
    client = FakeClient()
    await cluster_setup.setup_cluster(client, settings)  # type: ignore[arg-type]
    assert client.operator_service.added == [contract_attributes()]
    # Run again: nothing more to add.
    again = FakeClient(FakeOperatorService(attributes=contract_attributes()))
    await cluster_setup.setup_cluster(again, settings)  # type: ignore[arg-type]
    assert again.operator_service.added == []


async def test_setup_refuses_an_attribute_of_another_type() -> None:
    clashing = contract_attributes()
    clashing[ALL_KEYS[0].name] = IndexedValueType.INDEXED_VALUE_TYPE_TEXT
    client = FakeClient(FakeOperatorService(attributes=clashing))
    with pytest.raises(cluster_setup.SearchAttributeClash, match=ALL_KEYS[0].name):
        await cluster_setup.ensure_search_attributes(client, "default")  # type: ignore[arg-type]


async def test_setup_creates_the_schedules_of_scripts_schedules(compose: dict[str, Any]) -> None:
    settings = setup_settings(compose)
    client = FakeClient()
    await cluster_setup.setup_cluster(client, settings)  # type: ignore[arg-type]
    assert client.schedules == {
        definition.schedule_id: definition.schedule(
            settings.temporal_task_queue, settings.operator_language
        )
        for definition in SCHEDULES
    }
    assert settings.temporal_task_queue == environment(compose, "worker")["TEMPORAL_TASK_QUEUE"]


def setup_settings(compose: dict[str, Any]) -> Settings:
    return Settings.from_env(environment(compose, "setup"))


def environment(compose: dict[str, Any], service: str) -> dict[str, str]:
    env = services(compose)[service].get("environment", {})
    assert isinstance(env, dict), f"{service}: environment as a mapping"
    return {name: str(value) for name, value in env.items()}


@pytest.mark.parametrize("service", sorted(PROJECT_SERVICES))
def test_project_services_set_settings_only(compose: dict[str, Any], service: str) -> None:
    env = environment(compose, service)
    fields = {name.upper() for name in Settings.model_fields}
    unknown = set(env) - fields - set(EXTRA_VARIABLES)
    assert not unknown, f"{service} sets variables no setting reads: {sorted(unknown)}"
    missing = PROJECT_SERVICES[service] - set(env)
    assert not missing, f"{service} lacks {sorted(missing)}"
    # The values hold as settings (an empty one counts as unset).
    Settings.from_env(env)


def test_clients_agree_on_the_cluster(compose: dict[str, Any]) -> None:
    worker, setup = environment(compose, "worker"), environment(compose, "setup")
    shared = ("TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "TEMPORAL_TASK_QUEUE", "PAYLOAD_KEYS")
    for name in (*shared, "OPERATOR_LANGUAGE"):
        assert worker[name] == setup[name], name
    assert environment(compose, "codec-server")["PAYLOAD_KEYS"] == worker["PAYLOAD_KEYS"]
    namespace = environment(compose, "temporal-namespace")["TEMPORAL_NAMESPACE"]
    assert namespace == worker["TEMPORAL_NAMESPACE"]


def test_the_worker_never_holds_the_owners_credentials(compose: dict[str, Any]) -> None:
    worker = environment(compose, "worker")
    assert "MIGRATION_DATABASE_URL" not in worker
    assert "register_owner" not in " ".join(worker.values())
    assert "REGISTER_OWNER_PASSWORD" not in " ".join(worker.values())


def test_worker_keeps_its_data_on_a_volume(compose: dict[str, Any]) -> None:
    worker = services(compose)["worker"]
    env = environment(compose, "worker")
    assert f"worker-data:{env['DATA_DIR']}" in worker["volumes"]
    assert Path(env["REPORTS_DIR"]).is_relative_to(env["DATA_DIR"])
    assert "worker-data" in compose["volumes"]


def test_secrets_have_no_default() -> None:
    text = check_compose.compose_text()
    used = check_compose.variables(text)
    assert check_compose.required_variables(text) >= SECRETS
    for name, operators in used.items():
        if name in SECRETS:
            assert set(operators) == {":?"}, f"{name} is used without :? somewhere"
        elif SECRET_NAME.search(name) and not name.endswith("_FILE"):
            defaults = re.findall(rf"\$\{{{name}:?-([^}}]*)\}}", text)
            assert defaults == [""] * len(defaults), f"{name} has a default"
    # Unset, the Grafana password file is a path that does not exist: no default password.
    default_file = re.findall(r"\$\{GRAFANA_ADMIN_PASSWORD_FILE:-([^}]*)\}", text)
    assert default_file and not any((ROOT / path).exists() for path in default_file)


@pytest.mark.parametrize("secret", sorted(SECRETS | REQUIRED))
def test_compose_refuses_to_start_without_each_secret(secret: str) -> None:
    env = check_compose.dummy_env()
    del env[secret]
    with pytest.raises(check_compose.MissingVariable, match=secret):
        check_compose.document(env)


def test_every_published_port_is_bound_to_bind_address() -> None:
    raw = check_compose.raw_document()
    published = 0
    for name, service in raw["services"].items():
        for port in service.get("ports", []):
            assert isinstance(port, str), f"{name}: {port!r} in the short syntax"
            assert port.startswith("${BIND_ADDRESS:-127.0.0.1}:"), f"{name}: {port}"
            published += 1
    assert published >= 3


def test_every_long_running_service_has_a_healthcheck(compose: dict[str, Any]) -> None:
    running = long_running(compose)
    assert {"postgresql", "temporal", "temporal-ui", "worker", "codec-server"} <= set(running)
    for name, service in running.items():
        check = service.get("healthcheck", {})
        assert check.get("test") and not check.get("disable"), f"{name} has no healthcheck"


def test_one_shots_run_in_order_before_the_workers(compose: dict[str, Any]) -> None:
    def completed(service: str) -> set[str]:
        depends = services(compose)[service].get("depends_on", {})
        return {
            name
            for name, how in depends.items()
            if how.get("condition") == "service_completed_successfully"
        }

    assert {"setup", "migrate"} <= completed("worker")
    assert "setup" in completed("codec-server")
    assert "temporal-namespace" in completed("setup")
    assert {"certs", "temporal-schema", "archival-volume"} <= completed("temporal")
    for one_shot in (
        "certs",
        "temporal-schema",
        "archival-volume",
        "temporal-namespace",
        "setup",
        "migrate",
    ):
        assert services(compose)[one_shot]["restart"] == "no"


def test_mounted_files_exist(compose: dict[str, Any]) -> None:
    for name, service in services(compose).items():
        for volume in service.get("volumes", []):
            source = volume["source"] if isinstance(volume, dict) else volume.split(":", 1)[0]
            if source.startswith("./") and Path(source).suffix:
                assert (ROOT / source).is_file(), f"{name} mounts {source}, which is missing"


def test_namespace_archives_to_the_archival_volume(compose: dict[str, Any]) -> None:
    env = environment(compose, "temporal-namespace")
    temporal = services(compose)["temporal"]
    mount = next(v for v in temporal["volumes"] if v.startswith("temporal-archival:"))
    directory = mount.split(":")[1]
    for name in ("ARCHIVAL_HISTORY_URI", "ARCHIVAL_VISIBILITY_URI"):
        assert env[name].startswith(f"file://{directory}/"), name
    assert re.fullmatch(r"\d+d", env["NAMESPACE_RETENTION"])


def dev_server_versions() -> dict[str, str]:
    """`temporal --version` of the CLI `make run` uses: the server and UI it embeds."""
    output = subprocess.run(
        [str(devstack.temporal_executable()), "--version"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    found = re.search(r"\(Server (?P<server>[\d.]+), UI (?P<ui>[\d.]+)\)", output)
    assert found, output
    return {"server": found["server"], "ui": found["ui"]}


def test_images_are_the_release_make_run_starts(compose: dict[str, Any]) -> None:
    versions = dev_server_versions()
    images = compose["x-images"]
    assert images["server"] == f"temporalio/server:{versions['server']}"
    assert images["admin-tools"] == f"temporalio/admin-tools:{versions['server']}"
    assert images["ui"] == f"temporalio/ui:{versions['ui']}"
    used = {service.get("image") for service in services(compose).values()}
    assert set(images.values()) <= used
    assert not any(str(image).startswith("temporalio/auto-setup") for image in used)


# --- only the authorised write (docs/contract.md, "Only the authorised write") ------------


def test_the_boundary_holds(compose: dict[str, Any]) -> None:
    """The frontend requires mutual TLS and authorises, the UI requires a login, every
    caller of the frontend presents its own certificate of the `certs` one-shot, and only
    `migrate` (and PostgreSQL, which creates the role) holds the owner's password."""
    assert check_compose.boundary_errors(compose) == []


def with_environment(compose: dict[str, Any], service: str, **env: str | None) -> dict[str, Any]:
    changed = copy.deepcopy(compose)
    target = changed["services"][service]["environment"]
    for name, value in env.items():
        if value is None:
            target.pop(name, None)
        else:
            target[name] = value
    return changed


@pytest.mark.parametrize(
    ("service", "change", "said"),
    [
        ("temporal", {"TEMPORAL_TLS_REQUIRE_CLIENT_AUTH": "false"}, "REQUIRE_CLIENT_AUTH"),
        ("temporal", {"TEMPORAL_TLS_CLIENT1_CA_CERT": None}, "CLIENT1_CA_CERT"),
        ("temporal", {"TEMPORAL_AUTH_AUTHORIZER": None}, "AUTHORIZER"),
        ("temporal", {"TEMPORAL_AUTH_CLAIM_MAPPER": ""}, "CLAIM_MAPPER"),
        ("temporal", {"TEMPORAL_JWT_KEY_SOURCE1": None}, "KEY_SOURCE1"),
        ("temporal", {"TEMPORAL_TLS_FRONTEND_KEY": "/elsewhere/key.pem"}, "certs one-shot"),
        ("temporal-ui", {"TEMPORAL_AUTH_ENABLED": "false"}, "AUTH_ENABLED"),
        ("temporal-ui", {"TEMPORAL_AUTH_CLIENT_SECRET": ""}, "CLIENT_SECRET"),
        ("worker", {"TEMPORAL_TLS_CLIENT_CERT_PATH": None}, "without a client certificate"),
        ("setup", {"TEMPORAL_TLS_CLIENT_KEY_PATH": None}, "without a client certificate"),
        ("temporal-namespace", {"TEMPORAL_TLS_KEY": None}, "without a client certificate"),
        (
            "worker",
            {"MIGRATION_DATABASE_URL": "postgresql://register_owner:x@postgresql/register"},
            "owner",
        ),
        ("codec-server", {"PGPASSWORD": "dummy-register_owner_password"}, "owner"),
    ],
)
def test_each_opening_of_the_boundary_is_caught(
    compose: dict[str, Any], service: str, change: dict[str, str | None], said: str
) -> None:
    errors = check_compose.boundary_errors(with_environment(compose, service, **change))
    assert any(said in error and service in error for error in errors), errors


def test_certificates_come_from_the_one_shot_each_service_its_own(compose: dict[str, Any]) -> None:
    certs = services(compose)["certs"]
    assert certs["command"] == ["python", "-m", "scripts.certs", "/certs"]
    assert certs["restart"] == "no" and certs["build"] == "."
    mounted: dict[str, list[str]] = {}
    for name, service in services(compose).items():
        for volume in check_compose._certificate_mounts(service):
            mounted.setdefault(name, []).append(volume["volume"]["subpath"])
    # Each service its own directory, which scripts/certs.py makes; the CAs' keys in none.
    made = {identity.name for identity in scripts_certs.IDENTITIES}
    assert {subpath for paths in mounted.values() for subpath in paths} == made
    assert mounted["worker"] == ["worker"] and mounted["temporal-ui"] == ["temporal-ui"]
    # A whole or writable mount of the volume is refused.
    widened = copy.deepcopy(compose)
    widened["services"]["worker"]["volumes"].append(
        {"type": "volume", "source": "temporal-certs", "target": "/ca"}
    )
    assert any("whole or writable" in e for e in check_compose.boundary_errors(widened))


def test_the_ui_hides_write_actions_unless_told(compose: dict[str, Any]) -> None:
    assert environment(compose, "temporal-ui")["TEMPORAL_DISABLE_WRITE_ACTIONS"] == "true"
    assert environment(compose, "temporal-ui")["TEMPORAL_CODEC_PASS_ACCESS_TOKEN"] == "true"
