"""Commands that describe what actbench knows: `activations` and `datasets` (and `datasets fetch`)."""

from __future__ import annotations

from pathlib import Path

import typer

from actbench.errors import ActbenchError, ActivationSpecError

from .base import app, user_errors


@app.command("activations")
@user_errors
def activations_cmd(
    plot: Path | None = typer.Option(None, "--plot", help="Write a PNG of f and f' on [-5, 5]."),
    names: list[str] | None = typer.Argument(None, help="Activations to plot (default: all)."),
):
    """List the registered activations with their formulas and parameters.

    Example: actbench activations --plot shapes.png relu elu gelu
    """
    from actbench import activations
    from actbench.display import render
    from actbench.report import plots

    render.render_rows("activations (or 'module:function' for your own)", activations.describe())
    if plot:
        chosen = names or activations.names()
        for name in chosen:
            try:
                activations.validate(name, {})
            except ActivationSpecError as e:
                raise ActbenchError(f"activations --plot: {e}") from None
        specs: list[tuple[str, str, dict]] = [(name, name, {}) for name in chosen]
        render.info(f"plot: {plots.plot_activation_shapes(specs, plot)}")


datasets_app = typer.Typer()
app.add_typer(datasets_app, name="datasets")


@datasets_app.callback(invoke_without_command=True)
@user_errors
def datasets_cmd(
    ctx: typer.Context,
    data_dir: str | None = typer.Option(None, "--data-dir", help="Dir with local dataset files."),
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Add shapes, descriptions, files and every place looked in."
    ),
):
    """List the datasets, whether each is on this machine and where from; `datasets fetch` downloads them.

    Example: actbench datasets --verbose
    """
    if ctx.invoked_subcommand is not None:
        return
    from actbench import datasets
    from actbench.display import render

    render.render_rows(f"datasets (Keras cache: {datasets.keras_cache_dir()})", datasets.status_rows(data_dir))
    if verbose:
        render.info(datasets.status_details(data_dir))


@datasets_app.command("fetch")
@user_errors
def datasets_fetch(
    names: list[str] | None = typer.Argument(None, help="Datasets to download."),
    config: Path | None = typer.Option(None, "--config", help="Fetch the datasets this config uses."),
    data_dir: str | None = typer.Option(None, "--data-dir", help="Dir with local dataset files (not fetched again)."),
    data_mirror: str | None = typer.Option(
        None,
        "--data-mirror",
        metavar="URL",
        help="Download from this base URL instead of the official origins (same file names).",
    ),
):
    """Download datasets into the Keras cache ahead of time (CI cache steps, air-gapped preparation).

    Example: actbench datasets fetch --config configs/mnist.yaml
    """
    from actbench import config as config_module
    from actbench import datasets
    from actbench.display import render

    wanted = list(names or [])
    if config is not None:
        exp = config_module.load(config)
        wanted += exp.datasets
        data_dir = config_module.data_dir_of(exp, data_dir)
    if not wanted:
        raise typer.BadParameter("name at least one dataset, or give --config", param_hint="NAMES")
    policy = datasets.FetchPolicy.resolve(mirror=data_mirror, progress=render.DownloadProgress())
    render.render_rows("datasets fetch", datasets.prefetch(wanted, data_dir, policy))
