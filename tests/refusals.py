"""assert_refused: `actbench validate` exits 2 on a config, with the expected words and no traceback."""

from pathlib import Path

from typer.testing import CliRunner

from actbench.cli import app

runner = CliRunner()


def assert_refused(tmp_path: Path, text: str, expected: list[str]) -> None:
    """Write `text` as a config, validate it: exit code 2, every one of `expected` in the message."""
    path = tmp_path / "exp.yaml"
    path.write_text(text)
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    out = " ".join(result.output.split())  # the message may be wrapped
    for words in expected:
        assert words in out, f"{words!r} not in:\n{result.output}"
