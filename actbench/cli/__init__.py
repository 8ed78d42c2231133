"""The actbench command line: parse, call one library function, render.

No training code lives here. User mistakes (ActbenchError) print one message and exit 2;
SIGINT/SIGTERM during a run exit 130/143 after saying how to resume. The commands that
read results or the machine live beside this module (catalog.py: activations, datasets;
doctor.py) and register themselves on the same app when imported.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from actbench.errors import ActbenchError, MachineError

from .base import app, discard, report_lost_output, user_errors

MAX_FAILURES_SHOWN = 20  # the message stays one screen; runs.csv holds every reason

# The options of `run`, declared here so that the command itself reads in one screen.
_RUN_OPTIONS = {
    "overwrite": typer.Option(
        False,
        "--overwrite",
        help="Delete the result files (runs.csv, epochs.csv, summary.csv, metadata.json) and the report "
        "files actbench wrote in the output dir, and start over; nothing else there is touched.",
    ),
    "resume": typer.Option(
        True,
        "--resume/--no-resume",
        help="Skip runs already complete in the output dir (default); "
        "--no-resume refuses to run into a dir with results.",
    ),
    "shard": typer.Option(None, "--shard", metavar="K/N", help="Run only shard K of N of the run list (1-based)."),
    "output": typer.Option(None, "--output", "-o", help="Output dir (overrides output.dir)."),
    "data_dir": typer.Option(
        None, "--data-dir", help="Dir with local dataset files (overrides data_dir and ACTBENCH_DATA_DIR)."
    ),
    "verify_data": typer.Option(
        None,
        "--verify-data/--no-verify-data",
        help="Check dataset checksums (default: the config's data_verify, true).",
    ),
    "engine": typer.Option(None, "--engine", help="packed or sequential (overrides training.engine)."),
    "offline": typer.Option(
        None, "--offline", help="Never download a missing dataset (default: ACTBENCH_OFFLINE, else download)."
    ),
    "data_mirror": typer.Option(
        None,
        "--data-mirror",
        metavar="URL",
        help="Download missing datasets from this base URL (same file names; overrides ACTBENCH_DATA_MIRROR).",
    ),
    "report": typer.Option(False, "--report", help="Write the markdown report and plots at the end."),
}


@app.command()
@user_errors
def run(
    config: Path = typer.Argument(..., help="Experiment YAML file."),
    overwrite: bool = _RUN_OPTIONS["overwrite"],
    resume: bool = _RUN_OPTIONS["resume"],
    shard: str | None = _RUN_OPTIONS["shard"],
    output: str | None = _RUN_OPTIONS["output"],
    data_dir: str | None = _RUN_OPTIONS["data_dir"],
    verify_data: bool | None = _RUN_OPTIONS["verify_data"],
    engine: str | None = _RUN_OPTIONS["engine"],
    offline: bool | None = _RUN_OPTIONS["offline"],
    data_mirror: str | None = _RUN_OPTIONS["data_mirror"],
    report: bool = _RUN_OPTIONS["report"],
):
    """Train the grid of a config and write runs.csv, epochs.csv, summary.csv, metadata.json.

    Example: actbench run configs/quickstart.yaml
    """
    from actbench import api
    from actbench.display import render
    from actbench.run import plan
    from actbench.run.runner import Interrupted, RunOptions, resume_hint

    if engine is not None and engine not in ("packed", "sequential"):
        raise typer.BadParameter("must be packed or sequential", param_hint="--engine")
    k_n = plan.parse_shard(shard)
    reporter = render.reporter_for_terminal()
    try:
        outcome = api.run(
            config,
            output=output,
            overwrite=overwrite,
            resume=resume,
            shard=k_n,
            engine=engine,
            data_dir=data_dir,
            verify_data=verify_data,
            offline=offline,
            data_mirror=data_mirror,
            reporter=reporter,
            download_progress=render.DownloadProgress(),
        )
    except (Interrupted, ActbenchError, OSError, MemoryError) as e:
        reporter.stop()
        if not isinstance(e, (Interrupted, MachineError)):
            raise
        hint = resume_hint(str(config), RunOptions(shard=k_n, output_dir=output))
        render.error(f"{_stopped(e, isinstance(e, Interrupted))}\n  {hint}")
        raise typer.Exit(e.exit_code) from None
    if report:
        from actbench.report.markdown import write_report_files

        written = write_report_files(outcome.path, overwrite=overwrite)
        _say_replaced(written.replaced)
        render.info(f"report: {written.paths[0]}")
    if outcome.failed:
        render.error(_failed_runs_message(outcome.failed))
        raise typer.Exit(1)


def _check_user_code(exp, config: Path) -> list[dict]:
    """Call the config's custom activations and build its user models (builders, saved models)
    once, before anything is written or trained (ConfigError naming what fails); one row each."""
    from actbench.training import activation_check, model_check

    activation_check.check_behaviour(exp, config)
    return model_check.check_user_models(exp)


def _stopped(e: Exception, interrupted: bool) -> str:
    """What stopped a run (a signal, or the machine), and that the resume command follows."""
    if interrupted:
        return f"interrupted by {e}; finished runs are saved. Resume with:"
    return f"{e}\nFinished runs are saved. Once that is fixed, resume with:"


def _failed_runs_message(failed: list[str]) -> str:
    shown, more = failed[:MAX_FAILURES_SHOWN], len(failed) - MAX_FAILURES_SHOWN
    return (
        f"{len(failed)} run(s) failed with an error (recorded in runs.csv as failed; "
        "the next run into this dir retries them):\n  "
        + "\n  ".join(shown)
        + (f"\n  ... and {more} more (column `failure` of runs.csv)" if more > 0 else "")
    )


def _say_replaced(paths: list[Path]) -> None:
    """Name each file of the user's that --overwrite replaced: it is gone, so say so."""
    from actbench.display import render

    for path in paths:
        render.warn(f"--overwrite replaced {path} (actbench had not written it)")


@app.command()
@user_errors
def validate(
    config: Path = typer.Argument(..., help="Experiment YAML file."),
    shard: str | None = typer.Option(None, "--shard", metavar="K/N", help="Show only shard K of N."),
):
    """Check a config and print the expanded run plan, without training.

    Example: actbench validate configs/mnist.yaml
    """
    from actbench import config as config_module
    from actbench.display import render
    from actbench.run import plan

    exp = config_module.load(config)
    built = _check_user_code(exp, config)
    k_n = plan.parse_shard(shard)
    outline = plan.outline(plan.shard(plan.expand(exp), *k_n)) if k_n else plan.outline_grid(exp)
    render.info(
        f"{config}: valid (config hash {exp.config_hash()}, output {exp.output_dir}, "
        f"engine {exp.training.engine}, backend {exp.backend}, baseline {exp.baseline or '-'})"
    )
    _render_outline(outline)
    if built:
        from actbench.training import model_check

        render.render_rows("user models, built once per dataset and activation", built)
        for note in model_check.replacement_notes(exp):
            render.info(note)


def _render_outline(outline) -> None:
    from actbench.display import render

    for field_name, counts in outline.per_field.items():
        shown = ", ".join(f"{value} {n}" for value, n in list(counts.items())[:12])
        more = f", ... ({len(counts) - 12} more)" if len(counts) > 12 else ""
        render.info(f"runs per {field_name}: {shown}{more}")
    rows = [
        {"#": i, "dataset": r.dataset, "model": r.model, "activation": r.activation, "seed": r.seed}
        for i, r in outline.head
    ]
    if outline.tail:
        rows.append({"#": "...", "dataset": "", "model": "", "activation": "", "seed": ""})
        rows += [
            {"#": i, "dataset": r.dataset, "model": r.model, "activation": r.activation, "seed": r.seed}
            for i, r in outline.tail
        ]
    render.render_rows(f"{outline.total} runs", rows)


@app.command()
@user_errors
def compare(
    base: Path = typer.Argument(..., help="Base result dir (or its runs.csv)."),
    candidate: Path = typer.Argument(..., help="Candidate result dir (or its runs.csv)."),
    max_drop: float = typer.Option(
        0.01, "--max-drop", help="Largest tolerated drop in mean test accuracy (absolute, 0.01 = 1 point)."
    ),
    alpha: float = typer.Option(
        0.05, "--alpha", help="Family-wise significance level (Holm across the compared rows)."
    ),
    fmt: str = typer.Option("table", "--format", help="table, markdown, csv or json."),
):
    """Compare two result sets; exit 1 when accuracy regressed beyond max-drop and noise.

    Example: actbench compare results/reference/quickstart results/quickstart --format markdown >> $GITHUB_STEP_SUMMARY
    """
    from actbench import api
    from actbench.display import render
    from actbench.display.compare_format import format_comparison

    if fmt not in ("table", "markdown", "csv", "json"):
        raise typer.BadParameter("must be table, markdown, csv or json", param_hint="--format")
    cmp = api.compare(base, candidate, max_drop=max_drop, alpha=alpha)
    for w in cmp.warnings:
        render.warn(w)
    if fmt == "table":
        render.render_comparison(cmp, max_drop, alpha)
    else:
        typer.echo(format_comparison(cmp, fmt))
    raise typer.Exit(1 if cmp.regressed else 0)


@app.command()
@user_errors
def merge(
    dirs: list[Path] = typer.Argument(..., help="Result dirs to combine (shards or machines)."),
    output: Path = typer.Option(..., "--output", "-o", help="Dir to write the merged results into."),
    overwrite: bool = typer.Option(
        False,
        "--overwrite",
        help="Replace the result files already in the output dir (and delete the report files actbench wrote there).",
    ),
):
    """Combine result dirs of one config into one and rebuild summary.csv.

    Example: actbench merge shard-1 shard-2 shard-3 -o results/merged
    """
    from actbench.analysis.merge import merge_dirs
    from actbench.display import render
    from actbench.results import describe_removed

    rep = merge_dirs(dirs, output, overwrite=overwrite)
    if rep.replaced:
        render.warn(f"--overwrite removed before merging: {describe_removed(rep.replaced)}")
    render.info(
        f"merged {len(dirs)} dirs into {output}: {rep.runs_out} runs "
        f"({rep.exact_duplicates_dropped} exact duplicates dropped)"
    )


@app.command()
@user_errors
def report(
    result_dir: Path = typer.Argument(..., help="Result dir."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Where to write (default RESULT_DIR/report)."),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Replace files there that have a report file's name but that actbench did not write."
    ),
):
    """Write a markdown report and PNG plots for a result dir (beside any other files in the output dir).

    Example: actbench report results/quickstart
    """
    from actbench.display import render
    from actbench.report.markdown import write_report_files

    written = write_report_files(result_dir, output, overwrite)
    _say_replaced(written.replaced)
    render.info("\n".join(str(p) for p in written.paths), soft_wrap=True)  # paths: one line each, to copy


# Registered after the commands above, so `actbench --help` lists run, validate, ... first.
from . import catalog, doctor  # noqa: E402, F401


def entry() -> None:
    """The `actbench` console script: app(), then a quick exit with app's exit code.

    At interpreter exit TensorFlow spends 1-1.5 s tearing down graphs and thread pools,
    after every result file is already on disk (written, fsynced, renamed, lock released),
    so once output is flushed the process ends with os._exit instead."""
    status: str | int | None = 0
    try:
        app()
    except SystemExit as e:
        status = e.code
    if isinstance(status, int):
        code = status
    else:
        if status is not None:
            print(status, file=sys.stderr)
        code = 0 if status is None else 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BrokenPipeError:  # e.g. `actbench ... | head` closed the pipe
            pass
        except OSError as e:  # e.g. stdout redirected to a file on a full disk: output was lost
            if stream is sys.stdout:
                code = report_lost_output(e) if code == 0 else code
                discard(stream)
    if "tensorflow" in sys.modules:
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    entry()
