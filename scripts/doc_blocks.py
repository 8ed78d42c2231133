"""Generated blocks in the docs: what stands between `<!-- KIND: ARG -->` and `<!-- /KIND -->`
is written by code (a table of result columns, a command's --help, a config section's fields).

Each generator script (column_tables.py, cli_reference.py, config_reference.py) hands its
KIND and a render(ARG) function to `main`; the tests call `regenerate` in memory and fail
when a doc differs, so a doc that restates code cannot drift from it unnoticed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def pattern(kind: str) -> re.Pattern[str]:
    return re.compile(rf"(<!-- {kind}: ([\w .\[\]-]+?) -->\n)(.*?)(<!-- /{kind} -->)", re.S)


def regenerate(text: str, kind: str, render: Callable[[str], str]) -> str:
    """text with every KIND block rewritten from the code."""
    return pattern(kind).sub(lambda m: f"{m.group(1)}{render(m.group(2))}\n{m.group(4)}", text)


def blocks(text: str, kind: str) -> list[str]:
    """The ARGs of the KIND blocks in text, in order."""
    return [m.group(2) for m in pattern(kind).finditer(text)]


def main(path: Path, kind: str, render: Callable[[str], str], argv: list[str]) -> int:
    """Rewrite path's KIND blocks in place; with --check, exit 1 (writing nothing) when they differ."""
    text = path.read_text(encoding="utf-8")
    if not blocks(text, kind):
        print(f"{path}: no <!-- {kind}: ... --> block")
        return 1
    new = regenerate(text, kind, render)
    if "--check" in argv:
        if new != text:
            print(f"{path.relative_to(ROOT)} is out of date: run python scripts/{Path(argv[0]).name}")
        return 0 if new == text else 1
    path.write_text(new, encoding="utf-8")
    return 0
