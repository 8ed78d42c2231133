"""The output folder's format: file names, columns, run identity, canonical row order.

Everything that says what a result file holds lives here, so adding a column or a file
is one edit. No I/O and no Keras here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import pandas as pd

RUNS_FILE = "runs.csv"
EPOCHS_FILE = "epochs.csv"
SUMMARY_FILE = "summary.csv"
METADATA_FILE = "metadata.json"
LOCK_FILE = ".actbench.lock"
# The files an output dir owns, in the order they are written: epochs before runs (a run
# counts as done only once its runs.csv row exists), the summary and metadata last.
RESULT_FILES = (EPOCHS_FILE, RUNS_FILE, SUMMARY_FILE, METADATA_FILE)

# A run is identified by these keys under one config hash.
GROUP_KEYS = ["dataset", "model", "activation"]
RUN_KEYS = GROUP_KEYS + ["seed"]

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


class RunKey(NamedTuple):
    """The identity of a run within one config hash (also a plain tuple)."""

    dataset: str
    model: str
    activation: str
    seed: int


def run_key(row: Mapping[str, Any] | pd.Series) -> RunKey:
    """The RunKey of a result row (a dict or a DataFrame row)."""
    return RunKey(str(row["dataset"]), str(row["model"]), str(row["activation"]), int(row["seed"]))


def key_columns(config_hash: str, key: RunKey) -> dict[str, Any]:
    """The identifying columns every row of one run carries."""
    return {"config_hash": config_hash, **key._asdict()}


def describe_key(key: RunKey) -> str:
    return f"{key.dataset}/{key.model}/{key.activation} seed {key.seed}"


def is_at_chance(test_accuracy: float | None, n_classes: int | None) -> bool:
    """True when test_accuracy <= 1/n_classes + AT_CHANCE_MARGIN (False when unknown or NaN)."""
    if not n_classes or test_accuracy is None or test_accuracy != test_accuracy:
        return False
    return bool(test_accuracy <= 1.0 / n_classes + AT_CHANCE_MARGIN)


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
