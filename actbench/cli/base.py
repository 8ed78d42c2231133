"""The Typer app every command module registers on, and the one user-error handler."""

from __future__ import annotations

import functools

import typer

from actbench._version import __version__
from actbench.errors import ActbenchError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Benchmark activation functions in Keras CNNs: reproducible grids over datasets, "
    "activations and seeds, honest statistics, CI-ready comparisons.",
)


def _version(value: bool):
    if value:
        typer.echo(f"actbench {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
):
    """actbench: compare activation functions in Keras CNNs."""


def user_errors(fn):
    """Turn user mistakes into one clear message and exit code 2 (no traceback)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from actbench.display import render

        try:
            return fn(*args, **kwargs)
        except ActbenchError as e:
            render.error(str(e))
            raise typer.Exit(e.exit_code) from None

    return wrapper
