"""runs.csv `timing`: the sequential engine's value was renamed from "fit" to "in-run".
Result dirs written before the rename still compare and merge with new ones."""

import shutil
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from actbench.cli import app

REFERENCE = Path(__file__).parent.parent / "results" / "reference" / "quickstart"


def old_copy(tmp_path: Path) -> Path:
    """The committed reference as it was before the rename (only the word differs)."""
    old = tmp_path / "old"
    shutil.copytree(REFERENCE, old)
    text = (old / "runs.csv").read_text()
    (old / "runs.csv").write_text(text.replace(",in-run,", ",fit,"))
    return old


def test_reference_uses_the_new_label():
    assert set(pd.read_csv(REFERENCE / "runs.csv")["timing"]) == {"in-run"}


def test_old_label_still_compares_and_merges(tmp_path):
    old = old_copy(tmp_path)
    assert set(pd.read_csv(old / "runs.csv")["timing"]) == {"fit"}
    runner = CliRunner()
    result = runner.invoke(app, ["compare", str(old), str(REFERENCE)])
    assert result.exit_code == 0 and "no regressions" in result.output, result.output
    result = runner.invoke(app, ["merge", str(old), str(REFERENCE), "--output", str(tmp_path / "merged")])
    assert result.exit_code == 0, result.output
    merged = pd.read_csv(tmp_path / "merged" / "runs.csv")
    assert len(merged) == len(pd.read_csv(REFERENCE / "runs.csv"))
