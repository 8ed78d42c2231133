"""`actbench doctor`: can this machine run a config (the first step of a CI job)."""

from __future__ import annotations

from pathlib import Path

import typer

from .base import app, user_errors


@app.command()
@user_errors
def doctor(
    config: Path | None = typer.Argument(
        None, help="Experiment YAML file (default: the reference model on mnist_sample)."
    ),
    backend: str | None = typer.Option(None, "--backend", help="tensorflow or jax (overrides the config's backend)."),
    output: str | None = typer.Option(None, "--output", "-o", help="Output dir to check (overrides output.dir)."),
    data_dir: str | None = typer.Option(None, "--data-dir", help="Dir with local dataset files."),
    fmt: str = typer.Option("table", "--format", help="table or json."),
):
    """Check that this machine can run a config: versions, backend, devices, determinism, datasets, output dir.

    Exit 0 when ready, 1 when a check failed. Nothing is trained or written.

    Example: actbench doctor configs/mnist.yaml --format json  (on a GPU runner: ACTBENCH_EXPECT_GPU=1)
    """
    import json

    from actbench import config as config_module
    from actbench.display import render
    from actbench.run.doctor import diagnose
    from actbench.training.backends import NAMES

    if fmt not in ("table", "json"):
        raise typer.BadParameter("must be table or json", param_hint="--format")
    if backend is not None and backend not in NAMES:
        raise typer.BadParameter(f"must be one of {', '.join(NAMES)}", param_hint="--backend")
    if config is None:
        exp, described = _without_config()
    else:
        exp, described = config_module.load(config), str(config)
    if backend is not None:
        exp = exp.with_overrides({"backend": backend})
    diagnosis = diagnose(exp, described, output, data_dir)
    if fmt == "json":
        typer.echo(json.dumps(diagnosis.as_dict(), indent=2))
    else:
        render.render_diagnosis(diagnosis)
    raise typer.Exit(0 if diagnosis.ready else 1)


def _without_config():
    """What `doctor` checks without a config: the reference model on the dataset shipped inside
    actbench (no download), and how to name that in its output."""
    from actbench import datasets
    from actbench.config import Experiment

    shipped = next(name for name in datasets.names() if datasets.spec_of(name).embedded)
    exp = Experiment.model_validate({"name": "doctor", "datasets": [shipped], "activations": ["relu"], "seeds": [0]})
    return exp, f"no config, the reference model on {shipped}"
