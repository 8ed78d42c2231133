"""The CLI's help, the README and the result-column tables of docs/result-files.md stay in step with the code."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from cli_invocations import all_options, check, invocations
from typer.testing import CliRunner

from actbench import __version__, results
from actbench.cli import app
from actbench.results import FIXED_SUMMARY_COLUMNS
from actbench.results.columns import column_table

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
RESULT_FILES_DOC = (ROOT / "docs" / "result-files.md").read_text()
runner = CliRunner()
GROUPS = {g.name: g.typer_instance for g in app.registered_groups}
COMMANDS = [c.name or c.callback.__name__ for c in app.registered_commands] + list(GROUPS)
SUBCOMMANDS = [
    f"{group} {c.name or c.callback.__name__}" for group, sub in GROUPS.items() for c in sub.registered_commands
]


def test_commands():
    assert set(COMMANDS) == {"run", "validate", "doctor", "activations", "datasets", "compare", "merge", "report"}


def test_subcommands():
    assert SUBCOMMANDS == ["datasets fetch"]


@pytest.mark.parametrize("command", COMMANDS + SUBCOMMANDS)
def test_every_command_has_help_with_example(command):
    result = runner.invoke(app, [*command.split(), "--help"])
    assert result.exit_code == 0
    assert "Example: actbench " + command in " ".join(result.output.split())
    assert f"`actbench {command}" in README


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output


@pytest.mark.parametrize("file", ["runs", "epochs", "summary"])
def test_column_tables_are_generated_from_the_column_table(file):
    block = f"<!-- columns: {file} -->\n{column_table(file)}\n<!-- /columns -->"
    assert block in RESULT_FILES_DOC, (
        f"docs/result-files.md's {file}.csv table differs from results/columns.py: run python scripts/column_tables.py"
    )


def test_every_fixed_column_is_in_the_column_table():
    fixed = results.RUN_COLUMNS + results.EPOCH_COLUMNS + list(FIXED_SUMMARY_COLUMNS)
    tables = "\n".join(column_table(f) for f in ("runs", "epochs", "summary"))
    assert not [c for c in fixed if f"`{c}`" not in tables]


def test_readme_starts_with_the_two_commands():
    head = README.split("\n## ", 1)[0]
    assert "make run" in head and "make test" in head
    first_block = re.search(r"```sh\n(.*?)```", README, re.S)
    assert first_block and [line.split()[:2] for line in first_block.group(1).splitlines()[:2]] == [
        ["make", "run"],
        ["make", "test"],
    ]


def test_readme_is_a_front_page():
    """The reference lives in docs/ (issue 27): the README stays short enough to read."""
    lines = len(README.splitlines())
    assert lines <= 200, f"README.md has {lines} lines: move reference material to docs/ (at most 200)"


def test_activations_and_datasets_commands():
    result = runner.invoke(app, ["activations"])
    assert result.exit_code == 0 and "leaky_relu" in result.output and "negative_slope" in result.output
    result = runner.invoke(app, ["datasets"])
    assert result.exit_code == 0 and "mnist_sample" in result.output


def test_result_commands_do_not_import_keras():
    code = (
        "import sys; from typer.testing import CliRunner; from actbench.cli import app; "
        "CliRunner().invoke(app, ['compare', '--help']); "
        "import actbench.analysis.compare, actbench.analysis.merge, actbench.analysis.stats, actbench.report.markdown, "
        "actbench.display.numbers; "
        "bad = [m for m in ('keras', 'tensorflow', 'jax', 'torch', 'matplotlib.pyplot') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


def test_validate_imports_neither_pandas_nor_keras():
    # `validate` must answer fast on large plans: the import of pandas alone costs ~0.2 s.
    code = (
        "import sys; from typer.testing import CliRunner; from actbench.cli import app; "
        "r = CliRunner().invoke(app, ['validate', 'configs/quickstart.yaml']); assert r.exit_code == 0, r.output; "
        "heavy = [m for m in ('pandas', 'keras', 'tensorflow', 'matplotlib') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


CI_DOC = ROOT / "docs" / "ci-and-clusters.md"


def _code_blocks(markdown: str) -> list[str]:
    return re.findall(r"^[ \t]*```(?:bash|sh)?\n(.*?)^[ \t]*```", markdown, flags=re.S | re.M)


def _inline_spans(markdown: str) -> list[str]:
    prose = re.sub(r"^[ \t]*```.*?^[ \t]*```", "", markdown, flags=re.S | re.M)
    return [" ".join(span.split()) for span in re.findall(r"`([^`]+)`", prose)]


def test_ci_doc_shows_only_real_commands_and_options():
    """docs/ci-and-clusters.md: each `actbench ...` in its code blocks parses as the CLI would
    parse it; each one quoted in its prose names a real command and real options; each
    option quoted alone (`--offline`) belongs to some command."""
    doc = CI_DOC.read_text()
    shown = []
    for block in _code_blocks(doc):
        for argv in invocations(block):
            shown.append(check(argv, "docs/ci-and-clusters.md, a code block"))
    for span in _inline_spans(doc):
        if span.startswith("actbench "):
            for argv in invocations(span):
                shown.append(check(argv, f"docs/ci-and-clusters.md: `{span}`", complete=False))
    assert {"run", "validate", "merge", "compare", "report", "doctor", "datasets fetch"} <= set(shown), shown
    options = all_options()
    alone = [s.split()[0] for s in _inline_spans(doc) if re.fullmatch(r"--[a-z][a-z-]*( \S+)?", s)]
    assert alone and not [o for o in alone if o not in options], f"not an actbench option: {alone}"


def test_ci_doc_script_invocations_parse():
    """The helper script's command lines on that page parse with its own parser."""
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import ci_benchmark
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    lines = [
        line.split("ci_benchmark.py", 1)[1].split()
        for block in _code_blocks(CI_DOC.read_text())
        for line in block.replace("\\\n", " ").splitlines()
        if "scripts/ci_benchmark.py" in line
    ]
    assert lines
    for args in lines:
        try:
            ci_benchmark.parser().parse_args(args)
        except SystemExit as e:  # argparse has printed why: an unknown or missing option
            raise AssertionError(f"docs/ci-and-clusters.md: `scripts/ci_benchmark.py {' '.join(args)}`") from e
