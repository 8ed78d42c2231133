"""The output folder's format: file names, columns, run identity, canonical row order.

Everything that says what a result file holds lives here, so adding a column or a file
is one edit. No I/O and no Keras here; run identity is keys.py's (pandas-free).
"""

from __future__ import annotations

import pandas as pd

from .keys import RUN_KEYS

RUNS_FILE = "runs.csv"
EPOCHS_FILE = "epochs.csv"
SUMMARY_FILE = "summary.csv"
METADATA_FILE = "metadata.json"
LOCK_FILE = ".actbench.lock"
# The files an output dir owns, in the order they are written: epochs before runs (a run
# counts as done only once its runs.csv row exists), the summary and metadata last.
RESULT_FILES = (EPOCHS_FILE, RUNS_FILE, SUMMARY_FILE, METADATA_FILE)

# Fixed columns, in file order. Diagnostic columns (named "<measure>/<layer>") follow
# them; which ones exist depends on the model and the diagnostics config.
RUN_COLUMNS = [
    "config_hash",
    *RUN_KEYS,
    "activation_name",
    "params",
    "epochs_run",
    "test_loss",
    "test_accuracy",
    "best_val_accuracy",
    "best_epoch",
    "train_seconds",
    "seconds_per_epoch",
    "timing",
    "test_examples_per_second",
    "diverged",
    "diverged_epoch",
    "at_chance",
    "failed",
    "failure",
    "engine",
    "backend",
]
EPOCH_COLUMNS = [
    "config_hash",
    *RUN_KEYS,
    "epoch",
    "loss",
    "accuracy",
    "val_loss",
    "val_accuracy",
    "seconds",
]
# Columns that must parse as numbers (empty allowed where a value can be missing).
NUMERIC_RUN_COLUMNS = [
    "seed",
    "params",
    "epochs_run",
    "test_loss",
    "test_accuracy",
    "best_val_accuracy",
    "best_epoch",
    "train_seconds",
    "seconds_per_epoch",
    "test_examples_per_second",
    "diverged_epoch",
]
NUMERIC_EPOCH_COLUMNS = ["seed", "epoch", "loss", "accuracy", "val_loss", "val_accuracy", "seconds"]
# Columns that may be empty: no validation split, no divergence, diverged runs' metrics.
OPTIONAL_VALUE_COLUMNS = {
    "best_val_accuracy",
    "best_epoch",
    "diverged_epoch",
    "val_loss",
    "val_accuracy",
    "test_loss",
    "test_accuracy",
    "loss",
    "accuracy",
    "test_examples_per_second",
    "seconds_per_epoch",
    "train_seconds",
    "params",  # unknown for a run that failed (failed = true)
}
# true/false columns. at_chance and failed are absent from files written before they existed.
BOOLEAN_RUN_COLUMNS = ["diverged", "at_chance", "failed"]
REQUIRED_RUN_COLUMNS = ["config_hash", *RUN_KEYS, "test_loss", "test_accuracy", "diverged"]
REQUIRED_EPOCH_COLUMNS = ["config_hash", *RUN_KEYS, "epoch", "loss", "accuracy"]

# A run is "at chance" when its test accuracy stays within this many accuracy points
# (fraction) above 1/classes. Two points: a collapsed model that predicts one class
# scores that class's share of the test set (11.35 % for MNIST's "1", chance 10 %), and
# every run that learned anything on the supported datasets scores far above it.
AT_CHANCE_MARGIN = 0.02


def is_at_chance(test_accuracy: float | None, n_classes: int | None) -> bool:
    """True when test_accuracy <= 1/n_classes + AT_CHANCE_MARGIN (False when unknown or NaN)."""
    if not n_classes or test_accuracy is None or test_accuracy != test_accuracy:
        return False
    return bool(test_accuracy <= 1.0 / n_classes + AT_CHANCE_MARGIN)


def flag_column(runs: pd.DataFrame, col: str) -> pd.Series:
    """A true/false column as booleans (also from text such as 'true' / '1'); all False when
    absent (files written before the column existed)."""
    if col not in runs.columns:
        return pd.Series(False, index=runs.index)
    d = runs[col]
    if d.dtype == bool:
        return d
    return d.astype(str).str.strip().str.lower().isin(["true", "1", "1.0", "yes"])


def canonical_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """runs sorted by (dataset, model, activation, seed); stable, index reset."""
    return runs.sort_values(RUN_KEYS, kind="mergesort").reset_index(drop=True)


def canonical_epochs(epochs: pd.DataFrame) -> pd.DataFrame:
    """epochs sorted by (dataset, model, activation, seed, epoch); stable, index reset."""
    return epochs.sort_values([*RUN_KEYS, "epoch"], kind="mergesort").reset_index(drop=True)


def canonical_order(runs: pd.DataFrame, epochs: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """(canonical_runs(runs), canonical_epochs(epochs)); epochs may be None.

    Every writer uses this order, so merged shards equal an unsharded run row for row.
    """
    return canonical_runs(runs), None if epochs is None else canonical_epochs(epochs)


def order_columns(df: pd.DataFrame, fixed: list[str]) -> pd.DataFrame:
    """Fixed columns first (in schema order), then diagnostic columns sorted by name."""
    extra = sorted(c for c in df.columns if c not in fixed)
    return df[[c for c in fixed if c in df.columns] + extra]


# summary.csv: every column and what it means (the README table and a test follow this).
SUMMARY_COLUMNS: dict[str, str] = {
    "dataset": "Dataset name.",
    "model": "Model name.",
    "activation": "Activation label (as given in the config).",
    "tuned_choice": (
        "Rows of model 'tuned' only (config tune: true): the model or variant chosen for this dataset and "
        "activation, the one with the highest val_accuracy_mean (test accuracy is never used to choose); "
        "the row's statistics are that model's. Empty on every other row."
    ),
    "n": "Number of finished, non-diverged runs (seeds) the statistics use.",
    "n_diverged": "Number of finished runs that diverged (excluded from all statistics).",
    "n_failed": (
        "Number of runs that failed with an error (failed in runs.csv; excluded from all statistics, "
        "retried by the next run into the same dir)."
    ),
    "n_at_chance": (
        "Number of the n runs whose test accuracy stayed at chance (at_chance in runs.csv); they are "
        "included in the mean, which then describes neither the runs that learned nor those that did not."
    ),
    "test_accuracy_mean": "Mean test accuracy (fraction 0..1) over the non-diverged seeds.",
    "test_accuracy_std": "Sample standard deviation (ddof=1) of test accuracy; empty when n < 2.",
    "test_accuracy_ci_low": (
        "Lower end of the 95% Student-t confidence interval of the mean test accuracy; empty when n < 2."
    ),
    "test_accuracy_ci_high": (
        "Upper end of the 95% Student-t confidence interval of the mean test accuracy; empty when n < 2."
    ),
    "test_loss_mean": "Mean test loss over the non-diverged seeds.",
    "test_loss_std": "Sample standard deviation (ddof=1) of test loss; empty when n < 2.",
    "test_loss_ci_low": "Lower end of the 95% confidence interval of the mean test loss; empty when n < 2.",
    "test_loss_ci_high": "Upper end of the 95% confidence interval of the mean test loss; empty when n < 2.",
    "val_accuracy_mean": (
        "Mean over the non-diverged seeds of the validation accuracy after the last epoch (what tune: true "
        "chooses by); empty without a validation split."
    ),
    "rank": (
        "1 + number of activations (same dataset and model) that clearly beat this one: whose 95% CI "
        "lies entirely above this one's, or, when either side has n < 2, whose mean accuracy is higher. "
        "Overlapping CIs share a rank; activations with no usable run rank last."
    ),
    "best": "true when rank == 1.",
    "baseline": (
        "The baseline activation this row is compared with; empty when no baseline is set or it is not "
        "in this dataset and model."
    ),
    "diff_vs_baseline": "test_accuracy_mean minus the baseline's test_accuracy_mean (fraction; 0.01 = 1 point).",
    "test": (
        "Which test gave p_value: 'paired' (paired t-test over the seeds both finished, when there are at least "
        "2), 'welch' (Welch's t-test), empty when no test is possible."
    ),
    "p_value": (
        "Two-sided p-value of test accuracy vs the baseline (see test); empty for the baseline itself or "
        "when no test is possible."
    ),
    "p_holm": "p_value after Holm's correction across the non-baseline activations of the same dataset and model.",
    "min_detectable_drop": (
        "Smallest difference from the baseline (fraction) this test would detect with 80% power at "
        "alpha 0.05 Holm-corrected (alpha/m for m tests), from the observed spread and n."
    ),
    "verdict": (
        "'baseline' for the baseline row; 'better' / 'worse' when p_holm < alpha (by the sign of "
        "diff_vs_baseline); 'same' otherwise; empty when no test is possible (no baseline, or n < 2 on "
        "either side)."
    ),
    "curve_metric": (
        "Which per-epoch curve epochs_to_99pct and curve_mean use: 'val_accuracy', or 'accuracy' "
        "(training) when there is no validation split."
    ),
    "epochs_to_99pct": (
        "Mean over seeds of the first epoch (1-based) at which the run's curve_metric reaches 99% of "
        "that run's best curve_metric value."
    ),
    "curve_mean": (
        "Mean over seeds of the run's mean curve_metric over its epochs: the normalised area under the "
        "curve (1.0 = perfect from the first epoch). Rewards fast and stable learning."
    ),
    "seconds_per_epoch_mean": "Mean seconds per training epoch over the non-diverged seeds.",
    "train_seconds_mean": "Mean total training seconds over the non-diverged seeds.",
    "<diagnostic>_mean": (
        "For every numeric diagnostic column of runs.csv (e.g. dead_fraction/conv1, grad_ratio_min): "
        "its mean over the non-diverged seeds."
    ),
}

# The fixed summary columns in file order (diagnostic means follow, sorted by name).
FIXED_SUMMARY_COLUMNS = [c for c in SUMMARY_COLUMNS if not c.startswith("<")]
