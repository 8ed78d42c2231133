"""ResultDir: the one owner of an output folder, used by both `run` and `merge`.

It knows the folder's files, holds its rows in canonical order, writes them atomically
with epochs before runs (a run is done only once its runs.csv row exists, so epoch rows
without a run row belong to an unfinished run), writes the summary.csv its caller computed
from the rows as written, and takes the lock.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import ResultsError
from .io import read_epochs, read_metadata, read_runs, write_csv, write_json, writing
from .keys import RUN_KEYS, RunKey, describe_key, key_columns, run_key
from .lock import OutputLock
from .manifest import remove_report_files
from .schema import (
    EPOCH_COLUMNS,
    EPOCHS_FILE,
    METADATA_FILE,
    RESULT_FILES,
    RUN_COLUMNS,
    RUNS_FILE,
    SUMMARY_FILE,
    canonical_epochs,
    canonical_runs,
    flag_column,
    is_at_chance,
    order_columns,
)

REPORT_DIR = "report"


def run_row(config_hash: str, key: RunKey, values: Mapping[str, Any], n_classes: int | None) -> dict[str, Any]:
    """A runs.csv row: the run's keys, the engine's values, and the at_chance flag."""
    row = {**key_columns(config_hash, key), "failed": False, "failure": "", **values}
    row["at_chance"] = is_at_chance(values.get("test_accuracy"), n_classes) and not values.get("diverged")
    return row


def epoch_rows(config_hash: str, key: RunKey, rows: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """epochs.csv rows of one run: the run's keys on every epoch."""
    keys = key_columns(config_hash, key)
    return [{**keys, **row} for row in rows]


def unfinished_epochs(runs: pd.DataFrame | None, epochs: pd.DataFrame) -> pd.Series:
    """Mask of epoch rows whose run has no runs.csv row (a run that did not finish)."""
    done = set() if runs is None else {run_key(r) for _, r in runs.iterrows()}
    if epochs.empty:
        return pd.Series(False, index=epochs.index)
    return ~epochs.apply(lambda r: run_key(r) in done, axis=1).astype(bool)


class ResultDir:
    """An output folder: runs.csv, epochs.csv, summary.csv, metadata.json, and the lock."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.runs = pd.DataFrame(columns=RUN_COLUMNS)
        self.epochs = pd.DataFrame(columns=EPOCH_COLUMNS)

    def file(self, name: str) -> Path:
        return self.path / name

    @property
    def files(self) -> list[Path]:
        return [self.path / f for f in RESULT_FILES]

    def has_results(self) -> bool:
        return self.path.is_dir() and any(f.exists() for f in self.files)

    def lock(self) -> OutputLock:
        """The output lock (a context manager; acquire() / release() for longer holds)."""
        return OutputLock(self.path)

    def existing_files(self) -> list[Path]:
        """The files here under a result file's name, whoever wrote them."""
        return [f for f in self.files if f.is_file() or f.is_symlink()]

    def unclaimed_files(self, metadata: dict | None) -> list[Path]:
        """Result-named files that no actbench result set here accounts for (after load_rows and the
        config checks): a run writes metadata.json before anything else and summary.csv only from
        runs.csv, so without metadata.json or runs.csv, and for summary.csv without runs.csv, the
        files are someone else's that a run would replace."""
        present = self.existing_files()
        has_runs = self.file(RUNS_FILE) in present
        if metadata is None and not has_runs:
            return present
        return [self.file(SUMMARY_FILE)] if self.file(SUMMARY_FILE) in present and not has_runs else []

    def clear(self) -> list[Path]:
        """Delete the result files and the report files actbench wrote (for --overwrite; hold the lock),
        nothing else: the dir and its report/ may hold the user's own files. Returns what was removed."""
        removed = self.existing_files()
        with writing(self.path, "deleting the old results (--overwrite)"):
            for f in removed:
                f.unlink()
        return removed + remove_report_files(self.path / REPORT_DIR)

    # ------------------------------------------------------------ reading

    def read_metadata(self) -> dict | None:
        path = self.file(METADATA_FILE)
        return read_metadata(path) if path.exists() else None

    def load_rows(self) -> int:
        """Read the finished rows already here (checked); drop epoch rows of unfinished runs.

        Returns how many epoch rows were dropped. Raises ResultsError on damaged files.
        """
        runs = read_runs(self.file(RUNS_FILE)) if self.file(RUNS_FILE).exists() else None
        epochs = read_epochs(self.file(EPOCHS_FILE)) if self.file(EPOCHS_FILE).exists() else None
        dropped = 0
        if epochs is not None:
            orphan = unfinished_epochs(runs, epochs)
            dropped = int(orphan.sum())
            epochs = epochs[~orphan].reset_index(drop=True)
        self.runs = runs if runs is not None else self.runs
        self.epochs = epochs if epochs is not None else self.epochs
        return dropped

    def done_keys(self) -> set[RunKey]:
        """Runs finished here; a run that failed with an error is not done: the next run retries it."""
        failed = flag_column(self.runs, "failed")
        return {run_key(r) for _, r in self.runs[~failed].iterrows()}

    def failures(self) -> list[str]:
        """'<run>: <reason>' for each run recorded as failed."""
        failed = self.runs[flag_column(self.runs, "failed")]
        return [f"{describe_key(run_key(r))}: {r.get('failure', '')}" for _, r in failed.iterrows()]

    def config_hashes(self) -> list[str]:
        return sorted(self.runs["config_hash"].astype(str).unique()) if len(self.runs) else []

    # ------------------------------------------------------------ writing

    def add(self, runs: list[dict[str, Any]], epochs: list[dict[str, Any]]) -> None:
        """Add finished runs (run_row / epoch_rows) and rewrite runs.csv and epochs.csv. A retried
        run's earlier rows (it failed before) are replaced."""
        old_runs, old_epochs = self.runs, self.epochs
        if flag_column(old_runs, "failed").any():
            new = {run_key(r) for r in runs}
            old_runs = old_runs[~_has_key(old_runs, new)]
            old_epochs = old_epochs[~_has_key(old_epochs, new)]
        # Columns even when empty: a group whose runs all failed has no epoch rows at all.
        new_runs = pd.DataFrame(runs, columns=_columns(runs))
        new_epochs = pd.DataFrame(epochs, columns=_columns(epochs))
        self.write_rows(_concat(old_runs, new_runs), _concat(old_epochs, new_epochs, EPOCH_COLUMNS))

    def write_rows(self, runs: pd.DataFrame, epochs: pd.DataFrame) -> None:
        """Replace all rows: canonical order, schema column order, epochs.csv before runs.csv."""
        if runs.duplicated(subset=RUN_KEYS).any():
            raise ResultsError(f"{self.path}: the same run would be written twice.")
        runs, epochs = canonical_runs(runs), canonical_epochs(epochs)
        runs["seed"] = runs["seed"].astype("int64")
        epochs["seed"] = epochs["seed"].astype("int64")
        runs, epochs = order_columns(runs, RUN_COLUMNS), order_columns(epochs, EPOCH_COLUMNS)
        write_csv(self.file(EPOCHS_FILE), epochs)
        write_csv(self.file(RUNS_FILE), runs)
        # Only now: a write that fails (disk full) leaves these as the files still say.
        self.runs, self.epochs = runs, epochs

    def written(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """runs.csv and epochs.csv as written (10 significant digits), not the in-memory floats: a
        summary of these is a function of the files alone, identical for an uninterrupted, a
        resumed and a merged run."""
        return read_runs(self.file(RUNS_FILE)), read_epochs(self.file(EPOCHS_FILE))

    def write_summary(self, summary: pd.DataFrame) -> None:
        """summary.csv, as its caller computed it (stats.summarize_written); none without runs."""
        if not self.runs.empty:
            write_csv(self.file(SUMMARY_FILE), summary)

    def write_metadata(self, metadata: dict) -> None:
        write_json(self.file(METADATA_FILE), metadata)


def _has_key(df: pd.DataFrame, keys: set[RunKey]) -> pd.Series:
    """Mask of the rows of df that belong to one of the runs `keys`."""
    cols = [df[k].astype(str) for k in RUN_KEYS[:-1]] + [df["seed"].astype(int)]
    return pd.Series([k in keys for k in zip(*cols)], index=df.index, dtype=bool)


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(c for row in rows for c in row))


def _concat(old: pd.DataFrame, new: pd.DataFrame, columns: list[str] | None = None) -> pd.DataFrame:
    if old.empty and new.empty:
        return old if len(old.columns) else pd.DataFrame(columns=columns)
    if old.empty:
        return new
    if new.empty:
        return old
    return pd.concat([old, new], ignore_index=True)


def describe_removed(paths: list[Path]) -> str:
    """What --overwrite removed, in one line: each result file by path (one may have been the user's,
    so it is named), the report files as a count per folder."""
    result = [str(p) for p in paths if p.name in RESULT_FILES]
    folders: dict[Path, int] = {}
    for p in paths:
        if p.name not in RESULT_FILES:
            folders[p.parent] = folders.get(p.parent, 0) + 1
    report = [f"{n} report file(s) actbench wrote in {folder}" for folder, n in folders.items()]
    return ", ".join(result + report)
