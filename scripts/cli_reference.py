"""Write docs/cli.md's help blocks from the Typer app: each command's `--help`, as printed.

python scripts/cli_reference.py          # rewrite docs/cli.md in place
python scripts/cli_reference.py --check  # exit 1 when it differs (tests/test_docs.py does the same)

A block `<!-- help: run -->` ... `<!-- /help -->` holds `actbench run --help`; `<!-- help: actbench -->`
the app's own.
"""

from __future__ import annotations

import re
import sys
from unittest import mock

from doc_blocks import ROOT, main
from typer import rich_utils
from typer.testing import CliRunner

from actbench.cli import app

DOC = ROOT / "docs" / "cli.md"
KIND = "help"
WIDTH = 100  # fixed, so the text does not depend on the terminal it is generated in
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def help_text(command: str) -> str:
    argv = [] if command == "actbench" else command.split()
    # Typer reads TERMINAL_WIDTH and FORCE_COLOR/GITHUB_ACTIONS at import: pin width and plain text here,
    # or CI would generate another layout (with colour codes) than a laptop.
    with (
        mock.patch.object(rich_utils, "MAX_WIDTH", WIDTH),
        mock.patch.object(rich_utils, "FORCE_TERMINAL", False),
        mock.patch.object(rich_utils, "COLOR_SYSTEM", None),
    ):
        result = CliRunner().invoke(app, [*argv, "--help"], prog_name="actbench", env={"COLUMNS": str(WIDTH)})
    if result.exit_code != 0:
        raise RuntimeError(f"actbench {command} --help exited {result.exit_code}: {result.output}")
    lines = [ANSI.sub("", line).rstrip() for line in result.output.splitlines()]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return "```text\n" + "\n".join(lines) + "\n```"


if __name__ == "__main__":
    sys.exit(main(DOC, KIND, help_text, sys.argv))
