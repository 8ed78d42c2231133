"""The output folder's format: file names, columns, run identity, canonical row order.

Everything that says what a result file holds lives here: the columns themselves are one
table in columns.py, and the lists below are derived from it. No I/O and no Keras here;
run identity is keys.py's (pandas-free).
"""

from __future__ import annotations

import pandas as pd

from .columns import COLUMNS, names
from .keys import RUN_KEYS

RUNS_FILE = "runs.csv"
EPOCHS_FILE = "epochs.csv"
SUMMARY_FILE = "summary.csv"
METADATA_FILE = "metadata.json"
LOCK_FILE = ".actbench.lock"
# The files an output dir owns, in the order they are written: epochs before runs (a run
# counts as done only once its runs.csv row exists), the summary and metadata last.
RESULT_FILES = (EPOCHS_FILE, RUNS_FILE, SUMMARY_FILE, METADATA_FILE)

# The column lists every reader and writer uses, all derived from columns.COLUMNS.
# Fixed columns, in file order. Diagnostic columns (named "<measure>/<layer>") follow
# them; which ones exist depends on the model and the diagnostics config.
RUN_COLUMNS = names("runs")
EPOCH_COLUMNS = names("epochs")
# Columns that must parse as numbers (empty allowed where a value can be missing).
NUMERIC_RUN_COLUMNS = names("runs", ("int", "float"))
NUMERIC_EPOCH_COLUMNS = names("epochs", ("int", "float"))
# Columns that may be empty: no validation split, no divergence, diverged runs' metrics, failed runs.
OPTIONAL_VALUE_COLUMNS = {c.name for c in COLUMNS if c.empty_ok}
# true/false columns. at_chance and failed are absent from files written before they existed.
BOOLEAN_RUN_COLUMNS = names("runs", ("bool",))
REQUIRED_RUN_COLUMNS = names("runs", required=True)
REQUIRED_EPOCH_COLUMNS = names("epochs", required=True)

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


# summary.csv: every column and what it means; the fixed ones in file order (diagnostic
# means follow, sorted by name).
SUMMARY_COLUMNS: dict[str, str] = {c.name: c.doc for c in COLUMNS if c.file == "summary"}
FIXED_SUMMARY_COLUMNS = names("summary")
