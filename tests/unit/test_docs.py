"""The documents hold to the tree: every rule id the code and the tests cite is defined in
the rule catalogue (docs/rules.md), once; the catalogue's two path columns are those the
tree gives today; every relative link of README.md and docs/ leads to a file (and heading)
that exists; every setting of the worker is documented.

When modules move, the path columns go stale and the test says so: rewrite them with
`python -m tests.unit.test_docs` (it rewrites docs/rules.md in place, nothing else)."""

from __future__ import annotations

import re
import sys
from collections import Counter
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

from workers.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
CATALOGUE = DOCS / "rules.md"
REGENERATE = "python -m tests.unit.test_docs"

# Where a rule is implemented: the functional core. Where a rule id may be cited in code.
CORE_DIRS = ("models",)
CODE_DIRS = ("models", "workflows", "activities", "workers", "scripts", "tools")
TEST_DIRS = ("tests",)

# A rule of the circular: a letter A to J and one digit (`B4`, `D2`), a word of its own.
# Person and session ids of the tests (`P1`, `S2`) fall outside A–J, and two digits never
# name a rule.
CIRCULAR_RULE = re.compile(r"\b[A-J][1-9]\b")
# The rule a test proves: its `rule` mark with the id as a string literal.
MARKED_RULE = re.compile(r"""\bmark\.rule\(\s*["']([^"']+)["']\s*\)""")
# A catalogue row: `| B4 | …`, the id alone in its first cell.
ROW = re.compile(r"^\|\s*`?([A-Za-z][\w-]*)`?\s*\|")
# A markdown link or image, `[text](target)`, outside code.
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def python_files(*dirs: str) -> Iterator[Path]:
    for name in dirs:
        yield from sorted((ROOT / name).rglob("*.py"))


def relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def mentions(text: str, rule: str) -> bool:
    """Whether code names a rule: a circular rule as a word, another (`core`) as a string."""
    if CIRCULAR_RULE.fullmatch(rule):
        return re.search(rf"\b{rule}\b", text) is not None
    return re.search(rf"""["']{re.escape(rule)}["']""", text) is not None


@cache
def marked_rules() -> dict[str, frozenset[str]]:
    """Test file → the rules its tests are marked with."""
    return {
        relative(path): frozenset(MARKED_RULE.findall(path.read_text(encoding="utf-8")))
        for path in python_files(*TEST_DIRS)
    }


def implemented_in(rule: str) -> list[str]:
    """The modules of the functional core that name the rule."""
    return [
        relative(path)
        for path in python_files(*CORE_DIRS)
        if mentions(path.read_text(encoding="utf-8"), rule)
    ]


def proven_in(rule: str) -> list[str]:
    """The test files with a test marked `@pytest.mark.rule(rule)`."""
    return sorted(path for path, rules in marked_rules().items() if rule in rules)


def cited_rules() -> dict[str, str]:
    """Every rule id the code and the tests cite → one file citing it (for the message)."""
    cited: dict[str, str] = {}
    for path in python_files(*CODE_DIRS):
        for rule in CIRCULAR_RULE.findall(path.read_text(encoding="utf-8")):
            cited.setdefault(rule, relative(path))
    for test_file, rules in marked_rules().items():
        for rule in rules:
            cited.setdefault(rule, test_file)
    return cited


# --- the catalogue ---------------------------------------------------------------------------


def table_cells(line: str) -> list[str]:
    """The cells of a markdown table row (`\\|` inside a cell is not a separator)."""
    cells = re.split(r"(?<!\\)\|", line.strip().strip("|"))
    return [cell.strip() for cell in cells]


def catalogue_rows(text: str) -> list[list[str]]:
    """The rows of every table of the catalogue whose first header cell is `rule`."""
    rows: list[list[str]] = []
    in_table = False
    header_seen = False
    for line in text.splitlines():
        if not line.startswith("|"):
            in_table = header_seen = False
            continue
        cells = table_cells(line)
        if not header_seen:
            header_seen, in_table = True, cells[0] == "rule"
        elif in_table and not set(cells[0]) <= set("-: ") and ROW.match(line):
            rows.append(cells)
    return rows


def path_cell(paths: list[str]) -> str:
    return ", ".join(f"`{path}`" for path in paths) or "—"


def paths_of(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def catalogue_ids() -> list[str]:
    return [row[0].strip("`") for row in catalogue_rows(CATALOGUE.read_text(encoding="utf-8"))]


def test_every_rule_cited_in_code_and_tests_is_in_the_catalogue() -> None:
    defined = set(catalogue_ids())
    undefined = {rule: where for rule, where in cited_rules().items() if rule not in defined}
    assert not undefined, (
        f"rule ids cited but not defined in docs/rules.md (rule → a file citing it): "
        f"{dict(sorted(undefined.items()))}; add a row for each, or fix the citation"
    )


def test_each_rule_has_one_row_in_the_catalogue() -> None:
    counted = Counter(catalogue_ids())
    assert counted, "docs/rules.md has no table whose first header cell is `rule`"
    twice = sorted(rule for rule, count in counted.items() if count > 1)
    assert not twice, f"rules with more than one row in docs/rules.md: {twice}"


def test_every_rule_of_the_circular_is_catalogued() -> None:
    """The ids of the circular's rules run without a gap within each letter (A1…A6)."""
    ids = [rule for rule in catalogue_ids() if CIRCULAR_RULE.fullmatch(rule)]
    for letter in sorted({rule[0] for rule in ids}):
        numbers = sorted(int(rule[1]) for rule in ids if rule[0] == letter)
        assert numbers == list(range(1, len(numbers) + 1)), f"a gap among the {letter} rules"


def stale_rows() -> dict[str, str]:
    """Rule → what differs between its row's path columns and the tree."""
    stale: dict[str, str] = {}
    for row in catalogue_rows(CATALOGUE.read_text(encoding="utf-8")):
        rule, implemented, tested = row[0].strip("`"), paths_of(row[-2]), paths_of(row[-1])
        if implemented != implemented_in(rule):
            stale[rule] = f"implemented in {implemented} → {implemented_in(rule)}"
        elif tested != proven_in(rule):
            stale[rule] = f"tested in {tested} → {proven_in(rule)}"
    return stale


def test_the_catalogue_says_where_each_rule_is_implemented_and_tested() -> None:
    stale = stale_rows()
    assert not stale, (
        f"docs/rules.md's path columns differ from the tree; run `{REGENERATE}` to rewrite "
        f"them: {stale}"
    )


def test_every_path_the_catalogue_lists_exists() -> None:
    for row in catalogue_rows(CATALOGUE.read_text(encoding="utf-8")):
        for path in paths_of(row[-2]) + paths_of(row[-1]):
            assert (ROOT / path).is_file(), f"docs/rules.md, {row[0]}: no file {path}"


def rewrite_catalogue() -> None:
    """Rewrite the last two cells of each catalogue row from the tree."""
    lines = CATALOGUE.read_text(encoding="utf-8").splitlines()
    ids = set(catalogue_ids())
    rewritten = []
    for line in lines:
        matched = ROW.match(line)
        cells = table_cells(line) if matched else []
        if matched and cells[0].strip("`") in ids and len(cells) >= 3:
            rule = cells[0].strip("`")
            cells[-2:] = [path_cell(implemented_in(rule)), path_cell(proven_in(rule))]
            line = "| " + " | ".join(cells) + " |"
        rewritten.append(line)
    CATALOGUE.write_text("\n".join(rewritten) + "\n", encoding="utf-8")


# --- links -----------------------------------------------------------------------------------


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]


def outside_code(text: str) -> str:
    """The text without its fenced blocks and inline code, where brackets are not links."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.DOTALL | re.MULTILINE)
    return re.sub(r"`[^`\n]*`", "", text)


def heading_anchors(path: Path) -> set[str]:
    """The anchors GitHub gives the headings of a markdown file."""
    anchors: set[str] = set()
    seen: Counter[str] = Counter()
    text = re.sub(r"^```.*?^```", "", path.read_text(encoding="utf-8"), flags=re.S | re.M)
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", text, re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        anchors.add(f"{slug}-{seen[slug]}" if seen[slug] else slug)
        seen[slug] += 1
    return anchors


@pytest.mark.parametrize("document", documents(), ids=relative)
def test_every_relative_link_resolves(document: Path) -> None:
    broken = []
    for target in LINK.findall(outside_code(document.read_text(encoding="utf-8"))):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):
            continue  # http:, https:, mailto:
        file_part, _, anchor = target.partition("#")
        linked = (document.parent / file_part).resolve() if file_part else document
        if not linked.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and linked.suffix == ".md" and anchor not in heading_anchors(linked):
            broken.append(f"{target} (no such heading in {relative(linked)})")
    assert not broken, f"{relative(document)}: broken links {broken}"


def test_the_readme_links_every_document_of_docs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    linked = {target.partition("#")[0] for target in LINK.findall(readme)}
    missing = [relative(path) for path in sorted(DOCS.glob("*.md")) if relative(path) not in linked]
    assert not missing, f"README.md links none of {missing}"


# --- configuration ---------------------------------------------------------------------------


def test_every_setting_is_documented() -> None:
    documented = (DOCS / "configuration.md").read_text(encoding="utf-8")
    missing = [
        name.upper() for name in Settings.model_fields if f"`{name.upper()}`" not in documented
    ]
    assert not missing, f"settings not in docs/configuration.md: {missing}"


if __name__ == "__main__":
    rewrite_catalogue()
    sys.stdout.write(f"{relative(CATALOGUE)}: path columns rewritten from the tree\n")
