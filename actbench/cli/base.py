"""The Typer app every command module registers on, and the one user-error handler."""

from __future__ import annotations

import functools
import os
import sys

import typer

from actbench._version import __version__
from actbench.errors import ActbenchError, machine_error

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
    """Turn user mistakes (exit 2) and problems of the machine (exit 3: a full disk, no permission,
    no memory) into one clear message, without a traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from actbench.display import render

        try:
            try:
                return fn(*args, **kwargs)
            finally:
                _flush_stdout()  # here, so that output lost to a full disk is an error, not exit 0
        except ActbenchError as e:
            render.error(str(e))
            raise typer.Exit(e.exit_code) from None
        except (OSError, MemoryError) as e:  # an error no library call turned into a MachineError
            error = machine_error(e, f"running `actbench {fn.__name__}`")
            render.error(str(error))
            raise typer.Exit(error.exit_code) from None

    return wrapper


def _flush_stdout() -> None:
    try:
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. `actbench ... | head` closed the pipe: not an error
        pass
    except OSError as e:
        raise machine_error(e, "writing the output", "standard output") from None


def report_lost_output(e: OSError) -> int:
    error = machine_error(e, "writing the output", "standard output")
    try:
        print(f"error: {error}", file=sys.stderr)
    except OSError:
        pass
    return error.exit_code


def discard(stream) -> None:
    """What `stream` still holds goes to /dev/null, so that the interpreter's own flush at exit
    does not fail again with an 'Exception ignored' report."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, stream.fileno())
        os.close(null)
        stream.flush()
    except (OSError, ValueError):
        pass
