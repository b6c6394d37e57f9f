"""Checks docker-compose.yml: `python -m tools.check_compose`.

The file, its variables interpolated as compose does (the secrets given dummy values),
must hold to the Compose Specification's JSON schema (deploy/compose-spec.json, vendored
from compose-spec/compose-spec, Apache License 2.0). Where a `docker compose` client is
installed, `docker compose config -q` must accept it too, every profile included; where
none is, that is said and only the schema is checked. Exit 0 when the checks made pass,
1 otherwise.

Whatever the client, the boundary is checked too (`boundary_errors`): the frontend requires
mutual TLS with certificates of the `certs` one-shot, authorises with Temporal's default
authorizer and JWT claim mapper, the Web UI requires an OIDC login, every caller of the
frontend presents its own certificate, and only `migrate` holds the register owner's password.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
SCHEMA_FILE = ROOT / "deploy" / "compose-spec.json"

# $$, ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?message}, ${NAME?message}, $NAME
_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


class MissingVariable(ValueError):
    """A `${NAME:?message}` whose variable is unset (or empty)."""


def interpolate_text(text: str, env: Mapping[str, str]) -> str:
    """`text` with its variables replaced as compose does, `$$` becoming `$`."""

    def replace(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["braced"] or match["bare"]
        op, arg = match["op"], match["arg"] or ""
        value = env.get(name)
        unset = value is None or (value == "" and op is not None and op.startswith(":"))
        if op in ("-", ":-") and unset:
            return arg
        if op in ("?", ":?") and unset:
            raise MissingVariable(f"{name}: {arg or 'required'}")
        return value or ""

    return _VARIABLE.sub(replace, text)


def interpolate(value: Any, env: Mapping[str, str]) -> Any:
    """Every string of a loaded compose document interpolated (keys are left alone)."""
    if isinstance(value, str):
        return interpolate_text(value, env)
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    return value


def compose_text() -> str:
    return COMPOSE_FILE.read_text(encoding="utf-8")


def raw_document() -> dict[str, Any]:
    """docker-compose.yml as written, anchors merged, variables left as they are."""
    document = yaml.safe_load(compose_text())
    assert isinstance(document, dict)
    return document


def variables(text: str) -> dict[str, list[str | None]]:
    """Each variable the text uses, with the operator of each use (None: plain)."""
    found: dict[str, list[str | None]] = {}
    for match in _VARIABLE.finditer(text):
        name = match["braced"] or match["bare"]
        if name:
            found.setdefault(name, []).append(match["op"])
    return found


def required_variables(text: str) -> set[str]:
    """The variables compose refuses to start without (`${NAME:?…}`)."""
    return {name for name, ops in variables(text).items() if ":?" in ops or "?" in ops}


def dummy_env() -> dict[str, str]:
    """A value for every required variable, as an operator would export them."""
    return {name: f"dummy-{name.lower()}" for name in required_variables(compose_text())}


def document(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """docker-compose.yml as compose reads it with `env` (default: `dummy_env()`)."""
    result = interpolate(raw_document(), dummy_env() if env is None else env)
    assert isinstance(result, dict)
    return result


@cache
def _schema() -> dict[str, Any]:
    loaded = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def schema_errors(compose: Mapping[str, Any]) -> list[str]:
    """What in `compose` the Compose Specification's schema (Draft 7) refuses."""
    import jsonschema  # type: ignore[import-untyped, unused-ignore]

    validator = jsonschema.Draft7Validator(
        _schema(), format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
    )
    return [
        f"{'/'.join(str(part) for part in error.absolute_path) or '(root)'}: {error.message}"
        for error in sorted(validator.iter_errors(compose), key=lambda e: list(e.path))
    ]


CERTS_VOLUME = "temporal-certs"
CERTS_SERVICE = "certs"
# Creates the roles on first start (deploy/postgres-init.sh), the owner's among them.
OWNER_PASSWORD_HOLDERS = {"migrate", "postgresql"}
# The variables through which each kind of service reads its TLS files.
TLS_FILE_VARIABLES = (
    "TEMPORAL_TLS_FRONTEND_CERT",
    "TEMPORAL_TLS_FRONTEND_KEY",
    "TEMPORAL_TLS_CLIENT1_CA_CERT",
    "TEMPORAL_TLS_SERVER_CERT",
    "TEMPORAL_TLS_SERVER_KEY",
    "TEMPORAL_TLS_SERVER_CA_CERT",
    "TEMPORAL_TLS_CLIENT_CERT_PATH",
    "TEMPORAL_TLS_CLIENT_KEY_PATH",
    "TEMPORAL_TLS_SERVER_CA_CERT_PATH",
    "TEMPORAL_TLS_CERT",
    "TEMPORAL_TLS_KEY",
    "TEMPORAL_TLS_CA",
)
# What each holds, by the variable names of its image.
FRONTEND_REQUIRES = {
    "TEMPORAL_TLS_REQUIRE_CLIENT_AUTH": "true",
    "TEMPORAL_AUTH_AUTHORIZER": "default",
    "TEMPORAL_AUTH_CLAIM_MAPPER": "default",
    "USE_INTERNAL_FRONTEND": "true",
}
FRONTEND_SETS = (
    "TEMPORAL_TLS_FRONTEND_CERT",
    "TEMPORAL_TLS_FRONTEND_KEY",
    "TEMPORAL_TLS_CLIENT1_CA_CERT",
    "TEMPORAL_JWT_KEY_SOURCE1",
)
UI_REQUIRES = {"TEMPORAL_AUTH_ENABLED": "true", "TEMPORAL_AUTH_TYPE": "oidc"}
UI_SETS = (
    "TEMPORAL_AUTH_PROVIDER_URL",
    "TEMPORAL_AUTH_CLIENT_ID",
    "TEMPORAL_AUTH_CLIENT_SECRET",
    "TEMPORAL_AUTH_CALLBACK_URL",
    "TEMPORAL_TLS_CERT",
    "TEMPORAL_TLS_KEY",
    "TEMPORAL_TLS_CA",
)
CLIENT_CERT_VARIABLES = (
    ("TEMPORAL_TLS_CLIENT_CERT_PATH", "TEMPORAL_TLS_CLIENT_KEY_PATH"),  # temporalio.envconfig
    ("TEMPORAL_TLS_CERT", "TEMPORAL_TLS_KEY"),  # the temporal CLI and the Web UI
)


def _environment(service: Mapping[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    return {str(name): str(value) for name, value in dict(env).items()}


def _certificate_mounts(service: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [
        volume
        for volume in service.get("volumes", [])
        if isinstance(volume, Mapping) and volume.get("source") == CERTS_VOLUME
    ]


def _depends_on(compose: Mapping[str, Any], name: str) -> set[str]:
    """Every service `name` waits for, directly or not."""
    seen: set[str] = set()
    todo = [name]
    while todo:
        depends = compose["services"][todo.pop()].get("depends_on", {})
        for other in depends:
            if other not in seen:
                seen.add(other)
                todo.append(other)
    return seen


def boundary_errors(compose: Mapping[str, Any]) -> list[str]:
    """What leaves the cluster open: the checks of the module's docstring."""
    errors: list[str] = []
    services: Mapping[str, Mapping[str, Any]] = compose["services"]
    frontend, ui = _environment(services["temporal"]), _environment(services["temporal-ui"])
    for where, env, required, present in (
        ("temporal", frontend, FRONTEND_REQUIRES, FRONTEND_SETS),
        ("temporal-ui", ui, UI_REQUIRES, UI_SETS),
    ):
        errors += [
            f"{where}: {name} must be {value!r}"
            for name, value in required.items()
            if env.get(name, "").lower() != value
        ]
        errors += [f"{where}: {name} is not set" for name in present if not env.get(name)]
    certs = services.get(CERTS_SERVICE, {})
    if not certs.get("command") or "scripts.certs" not in " ".join(certs.get("command", [])):
        errors.append(f"{CERTS_SERVICE}: the one-shot does not run scripts.certs")
    # The password as compose gives it to PostgreSQL, under whatever name another holds it.
    owner_password = _environment(services["postgresql"]).get("REGISTER_OWNER_PASSWORD") or "-"
    for name, service in services.items():
        env = _environment(service)
        if name not in OWNER_PASSWORD_HOLDERS and any(
            "register_owner" in value or owner_password in value or "OWNER_PASSWORD" in key
            for key, value in env.items()
        ):
            errors.append(f"{name}: holds the register owner's credentials")
        if name == CERTS_SERVICE:
            continue
        mounts = _certificate_mounts(service)
        for mount in mounts:
            if not mount.get("read_only") or not (mount.get("volume") or {}).get("subpath"):
                errors.append(f"{name}: mounts {CERTS_VOLUME} whole or writable")
        targets = [str(mount["target"]) for mount in mounts]
        for variable in TLS_FILE_VARIABLES:
            path = env.get(variable)
            if path and not any(path.startswith(f"{target}/") for target in targets):
                errors.append(f"{name}: {variable} is not a file of the certs one-shot")
        if mounts and CERTS_SERVICE not in _depends_on(compose, name):
            errors.append(f"{name}: does not wait for the {CERTS_SERVICE} one-shot")
        calls_temporal = "TEMPORAL_ADDRESS" in env and name != "temporal"
        if calls_temporal and not any(
            env.get(cert) and env.get(key) for cert, key in CLIENT_CERT_VARIABLES
        ):
            errors.append(f"{name}: reaches Temporal without a client certificate")
    return errors


def docker_compose_available() -> bool:
    """Whether `docker compose` (the plugin) answers here."""
    if shutil.which("docker") is None:
        return False
    try:
        probe = subprocess.run(
            ["docker", "compose", "version"], capture_output=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


def docker_compose_config() -> subprocess.CompletedProcess[str]:
    """`docker compose config -q` on the file, every profile on, with dummy secrets."""
    profiles = sorted(
        {
            profile
            for service in raw_document()["services"].values()
            for profile in service.get("profiles", [])
        }
    )
    profile_flags = [flag for profile in profiles for flag in ("--profile", profile)]
    with tempfile.TemporaryDirectory() as scratch:
        password_file = Path(scratch) / "grafana-admin-password"
        password_file.write_text("dummy\n", encoding="utf-8")
        env = {
            **os.environ,
            **dummy_env(),
            "GRAFANA_ADMIN_PASSWORD_FILE": str(password_file),
        }
        return subprocess.run(
            ["docker", "compose", "-f", str(COMPOSE_FILE), *profile_flags, "config", "-q"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            cwd=ROOT,
        )


def main() -> int:
    checks = (
        (schema_errors, "valid against the Compose Specification's schema"),
        (boundary_errors, "mutual TLS, authoriser and login required"),
    )
    for check, passed in checks:
        errors = check(document())
        for error in errors:
            print(f"docker-compose.yml: {error}", file=sys.stderr)
        if errors:
            return 1
        print(f"docker-compose.yml: {passed}")
    if not docker_compose_available():
        print("docker compose not available: static checks only")
        return 0
    config = docker_compose_config()
    if config.returncode != 0:
        print(f"docker compose config refuses the file:\n{config.stderr}", file=sys.stderr)
        return 1
    print("docker compose config: accepted")
    return 0


if __name__ == "__main__":
    sys.exit(main())
