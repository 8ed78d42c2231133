"""The reference in docs/ stays true to the code: the generated blocks (every command's --help,
the config's fields) equal what the code gives today, and every YAML snippet in README.md and
docs/*.md is a config actbench loads. docs/development.md describes the conventions."""

from __future__ import annotations

import difflib
import re
import sys
from pathlib import Path

import pytest
import yaml
from cli_invocations import check, invocations
from test_cli_docs import COMMANDS, SUBCOMMANDS

from actbench import config
from actbench.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import activation_table  # noqa: E402  (scripts/ is not a package: found through the path above)
import cli_reference  # noqa: E402
import config_reference  # noqa: E402
import doc_blocks  # noqa: E402

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _drift(path: Path, kind: str, render, script: str) -> str:
    """'' when path's generated blocks are up to date, else a diff saying what to run."""
    text = path.read_text(encoding="utf-8")
    new = doc_blocks.regenerate(text, kind, render)
    if new == text:
        return ""
    diff = difflib.unified_diff(text.splitlines(), new.splitlines(), "as committed", "from the code", lineterm="", n=1)
    return f"{path.relative_to(ROOT)} differs from the code: run python scripts/{script}\n" + "\n".join(diff)


def test_cli_reference_is_generated_from_the_app():
    problem = _drift(cli_reference.DOC, cli_reference.KIND, cli_reference.help_text, "cli_reference.py")
    assert not problem, problem


def test_cli_reference_has_every_command():
    shown = doc_blocks.blocks(cli_reference.DOC.read_text(encoding="utf-8"), cli_reference.KIND)
    assert sorted(shown) == sorted(["actbench", *COMMANDS, *SUBCOMMANDS])


def test_config_reference_is_generated_from_the_models():
    problem = _drift(config_reference.DOC, config_reference.KIND, config_reference.field_table, "config_reference.py")
    assert not problem, problem


def test_config_reference_has_every_section():
    shown = doc_blocks.blocks(config_reference.DOC.read_text(encoding="utf-8"), config_reference.KIND)
    assert sorted(shown) == sorted(config_reference.SECTIONS)


def test_activation_table_is_generated_from_the_registry():
    problem = _drift(
        activation_table.DOC, activation_table.KIND, activation_table.activation_table, "activation_table.py"
    )
    assert not problem, problem


# A ```yaml block, with the `<!-- yaml: ... -->` comment on the line above it when there is one.
YAML_BLOCK = re.compile(r"(?:^<!-- yaml: (?P<marks>[^>]*?) -->\n)?^```yaml\n(?P<body>.*?)^```", re.S | re.M)


def _snippets() -> list:
    found = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for m in YAML_BLOCK.finditer(text):
            line = text.count("\n", 0, m.start("body")) + 1
            marks = [w.strip() for w in (m.group("marks") or "").split(",") if w.strip()]
            found.append(pytest.param(page, line, marks, m.group("body"), id=f"{page.relative_to(ROOT)}:{line}"))
    return found


SNIPPETS = _snippets()
MINIMAL = {"name": "snippet", "datasets": "[mnist_sample]", "activations": "[relu]"}


def test_snippets_are_found():
    # the README's first config and the reference's annotated one at least
    assert {p.values[0].name for p in SNIPPETS} >= {"README.md", "config.md"}


@pytest.mark.parametrize("page, line, marks, body", SNIPPETS)
def test_every_yaml_snippet_is_a_config_actbench_loads(page, line, marks, body, tmp_path, monkeypatch):
    unknown = [m for m in marks if m != "fragment" and not m.startswith("in ")]
    assert not unknown, f"{page.name}:{line}: unknown <!-- yaml: --> mark {unknown} (docs/development.md lists them)"
    where = next((m[3:] for m in marks if m.startswith("in ")), None)
    # custom modules are looked for beside the config and in the working directory: `in DIR` makes that DIR
    monkeypatch.chdir(ROOT / where if where else tmp_path)
    if "fragment" in marks:
        given = yaml.safe_load(body) or {}
        # appended, so that line N of a message is line N of the block
        body += "".join(f"{k}: {v}\n" for k, v in MINIMAL.items() if k not in given)
    path = tmp_path / "snippet.yaml"
    path.write_text(body, encoding="utf-8")
    try:
        config.load(path)
    except ConfigError as e:
        where_shown = f"{page.relative_to(ROOT)}, the ```yaml block whose line 1 is line {line} of the page"
        raise AssertionError(f"{where_shown}:\n{e}") from None


LINK = re.compile(r"\]\(([^)\s]+)\)")


LINKED_PAGES = [*PAGES, ROOT / "results" / "studies" / "README.md", ROOT / "benchmarks" / "README.md"]


@pytest.mark.parametrize("page", LINKED_PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page):
    """Sections moved between pages: a relative link must still reach a file (anchors are not checked)."""
    text = re.sub(r"^```.*?^```", "", page.read_text(encoding="utf-8"), flags=re.S | re.M)
    broken = [
        target
        for target in LINK.findall(text)
        if not re.match(r"[a-z]+:", target)
        and not target.startswith("#")
        and not (page.parent / target.split("#")[0]).exists()
    ]
    assert not broken, f"{page.relative_to(ROOT)}: links to nothing: {broken}"


def test_every_shown_command_line_parses():
    """Each `actbench ...` in a sh/bash block of README.md and docs/ parses as the CLI would
    parse it (nothing runs): a moved or renamed option fails the page that shows it."""
    shown = []
    for page in PAGES:
        for block in re.findall(
            r"^[ \t]*```(?:sh|bash)\n(.*?)^[ \t]*```", page.read_text(encoding="utf-8"), re.S | re.M
        ):
            for argv in invocations(block):
                shown.append(check(argv, f"{page.relative_to(ROOT)}, a code block"))
    assert {"run", "validate", "report", "datasets fetch"} <= set(shown), shown


def test_readme_links_every_reference_page():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    unlinked = [p.name for p in sorted((ROOT / "docs").glob("*.md")) if f"](docs/{p.name})" not in readme]
    assert not unlinked, f"README.md's Reference table does not link {unlinked}"
