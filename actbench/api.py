"""The Python API, for notebooks and scripts: run a config, load a result dir, compare two.

    import actbench

    res = actbench.run("configs/quickstart.yaml")   # or a dict of the same settings
    res.summary                                     # pandas DataFrames: .runs, .epochs, .summary
    ref = actbench.load("results/reference/quickstart")
    cmp = actbench.compare(ref, res)                # cmp.rows, cmp.regressed, cmp.warnings

The CLI is these functions plus parsing and rendering. Nothing here prints (progress goes to a
reporter, when one is given) and user mistakes raise actbench.errors.ActbenchError subclasses
with the message the CLI would print. pandas and Keras are imported on first call, not on
`import actbench`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from actbench.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from actbench.analysis.compare import Comparison
    from actbench.config import Experiment


@dataclass
class Results:
    """One result dir (or lone runs.csv) as pandas DataFrames, with the columns of the files
    (docs/python-api.md; docs/result-files.md)."""

    path: Path
    runs: pd.DataFrame  # one row per finished run (runs.csv)
    epochs: pd.DataFrame  # one row per run and epoch (epochs.csv; empty without one)
    summary: pd.DataFrame  # one row per (dataset, model, activation), as summary.csv
    metadata: dict = field(default_factory=dict)  # metadata.json ({} without one)
    ran: int = 0  # from run(): the runs trained by this call
    already_done: int = 0  # from run(): the runs found finished and skipped
    failed: list[str] = field(default_factory=list)  # '<run>: <reason>' of each run that failed with an error

    @property
    def config_hash(self) -> str | None:
        return self.metadata.get("config_hash")

    def __repr__(self) -> str:
        return f"Results({str(self.path)!r}: {len(self.runs)} runs, {len(self.summary)} summary rows)"


def load(path: str | Path) -> Results:
    """Read a result dir (runs.csv; epochs.csv and metadata.json when there) or a lone runs.csv,
    checked as `compare` and `report` read them. The summary is computed from the rows, with the
    config's baseline and tune, exactly as summary.csv was written."""
    return _read(path)


def _read(path: str | Path, summary: pd.DataFrame | None = None) -> Results:
    import pandas as pd

    from actbench.analysis.stats import summarize
    from actbench.results import read_result_set

    rs = read_result_set(path)
    meta = rs.metadata if isinstance(rs.metadata, dict) else {}
    if summary is None:
        config = meta.get("config") or {}
        summary = summarize(rs.runs, rs.epochs, config.get("baseline"), tune=bool(config.get("tune")))
    epochs = rs.epochs if rs.epochs is not None else pd.DataFrame()
    return Results(Path(path), rs.runs, epochs, summary, meta)


def experiment(config: str | Path | Mapping[str, Any] | Experiment) -> Experiment:
    """A config file's path, a mapping of its settings, or an Experiment, as a validated Experiment."""
    from actbench import config as config_module

    if isinstance(config, config_module.Experiment):
        return config
    if isinstance(config, Mapping):
        return config_module.from_mapping(config)
    if isinstance(config, (str, Path)):
        return config_module.load(config)
    raise ConfigError(
        "config: expected the path of a YAML file, a mapping of settings or an Experiment, "
        f"got {type(config).__name__}."
    )


def run(
    config: str | Path | Mapping[str, Any] | Experiment,
    *,
    output: str | Path | None = None,
    overwrite: bool = False,
    resume: bool = True,
    shard: str | tuple[int, int] | None = None,
    engine: str | None = None,
    data_dir: str | None = None,
    verify_data: bool | None = None,
    offline: bool | None = None,
    data_mirror: str | None = None,
    reporter: Any = None,
    download_progress: Any = None,
) -> Results:
    """Train the grid of a config (as `actbench run` does: resumes, writes the result files) and
    return what the output dir then holds. The keywords are run's options; `reporter` receives the
    progress events (render.reporter_for_terminal() prints them as the CLI does)."""
    from actbench.run import plan
    from actbench.run.runner import RunOptions, run_experiment
    from actbench.training import activation_check, model_check

    exp = experiment(config)
    config_path = None if isinstance(config, Mapping) or not isinstance(config, (str, Path)) else Path(config)
    activation_check.check_behaviour(exp, config_path)  # before anything is written
    model_check.check_user_models(exp)
    opts = RunOptions(
        overwrite=overwrite,
        resume=resume,
        shard=plan.parse_shard(shard) if isinstance(shard, str) else shard,
        data_dir=data_dir,
        verify_data=verify_data,
        engine=engine,
        output_dir=str(output) if output is not None else None,
        offline=offline,
        data_mirror=data_mirror,
        download_progress=download_progress,
    )
    outcome = run_experiment(exp, opts, reporter)
    # The summary as run_experiment wrote it to summary.csv: not computed twice.
    has_runs = _has_runs(outcome.output_dir)
    results = _read(outcome.output_dir, outcome.summary) if has_runs else _nothing_yet(outcome.output_dir)
    results.ran, results.already_done, results.failed = outcome.ran, outcome.already_done, outcome.failed
    return results


def _has_runs(path: Path) -> bool:
    from actbench.results import RUNS_FILE

    return (Path(path) / RUNS_FILE).exists()


def _nothing_yet(path: Path) -> Results:
    """An output dir where no run has finished (an empty shard): empty frames, not an error."""
    import pandas as pd

    return Results(Path(path), pd.DataFrame(), pd.DataFrame(), pd.DataFrame())


def compare(
    base: str | Path | Results, candidate: str | Path | Results, max_drop: float = 0.01, alpha: float = 0.05
) -> Comparison:
    """Compare candidate results against base (each a result dir, a runs.csv, or Results), as
    `actbench compare` does: .rows (a DataFrame), .regressed, .warnings, .identical."""
    from actbench.analysis.compare import compare as compare_sets

    return compare_sets(_result_set(base), _result_set(candidate), max_drop=max_drop, alpha=alpha)


def _result_set(source: str | Path | Results):
    from actbench.results import ResultSet, read_result_set

    if isinstance(source, Results):
        epochs = source.epochs if len(source.epochs.columns) else None
        return ResultSet(source.path, source.runs, epochs, source.metadata or None)
    return read_result_set(source)
