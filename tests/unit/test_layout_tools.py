"""The product apart from its tools, read statically.

`scripts/` is what operators and production run (the `dossiers` CLI, the cluster setup,
schedules, retention, `make run`'s stack, the demo); `tools/` is what only developers run
(benchmarks, fault injection, fuzzing, pictures, checks). The image holds neither the tools
nor the tests, so nothing it runs may import them, and the samples it needs (`examples/`)
ship in the wheel.
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("scripts", "tools", "examples")


def modules_of(package: str) -> dict[str, Path]:
    return {
        f"{package}.{path.relative_to(ROOT / package).with_suffix('').as_posix()}".replace(
            "/", "."
        ).removesuffix(".__init__"): path
        for path in sorted((ROOT / package).rglob("*.py"))
    }


def imported(path: Path) -> Iterator[str]:
    """Every module the file imports, at its top or inside a function."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            # `from scripts import cli_delivery` imports the module scripts.cli_delivery.
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def top_package(module: str) -> str:
    return module.split(".", 1)[0]


def imports_from(package: str, other: str) -> list[str]:
    """Every import of a module of `other` by a module of `package`."""
    return [
        f"{module} imports {name}"
        for module, path in modules_of(package).items()
        for name in imported(path)
        if top_package(name) == other
    ]


@pytest.mark.parametrize("package", PACKAGES)
def test_nothing_imports_the_tests(package: str) -> None:
    assert imports_from(package, "tests") == []


@pytest.mark.parametrize("package", ["scripts", "examples"])
def test_the_product_imports_no_tool(package: str) -> None:
    assert imports_from(package, "tools") == []


@pytest.mark.parametrize("package", PACKAGES)
def test_no_two_modules_import_each_other(package: str) -> None:
    modules = modules_of(package)
    imports = {
        module: {name for name in imported(path) if name in modules and name != module}
        for module, path in modules.items()
    }
    cycles = sorted(
        f"{a} <-> {b}" for a, targets in imports.items() for b in targets if a in imports[b]
    )
    assert cycles == []


def test_the_image_copies_neither_the_tools_nor_the_tests() -> None:
    copied = [
        line.split()[1]
        for line in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines()
        if line.startswith("COPY ") and "--from=" not in line
    ]
    assert "scripts" in copied and "examples" in copied
    assert not {"tools", "tests", "."} & set(copied)
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert {"tools", "tests"} <= set(ignored)


def test_the_wheel_holds_the_product_and_its_samples_only() -> None:
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "setuptools"
    ]
    found = setuptools["packages"]["find"]
    assert {"scripts*", "examples*"} <= set(found["include"])
    assert {"tools*", "tests*"} <= set(found["exclude"])
    assert not {"tools*", "tests*"} & set(found["include"])
    # Every sample is matched by the package data the demo reads from the installed wheel.
    assert setuptools["package-data"]["examples"] == ["*/*.json"]
    samples = sorted(
        path
        for path in (ROOT / "examples").rglob("*.json")
        if not path.relative_to(ROOT / "examples").parts[0].startswith("client-")
    )
    assert samples
    assert all(len(path.relative_to(ROOT / "examples").parts) == 2 for path in samples)
