"""Result files: their schemas, atomic writes, and reading them back with validation.

An output dir holds runs.csv (one row per finished run), epochs.csv (one row per run
and epoch), summary.csv (one row per dataset x model x activation) and metadata.json.
This module never imports Keras, so compare/merge/report start fast.

Crash safety: every write goes to a temp file that is fsync'd and then os.replace'd
over the old one, so a file is always either the old or the new version, never half a
row. epochs.csv is written before runs.csv; a run counts as done only once its row is
in runs.csv, so epoch rows without a run row (a kill between the two writes) belong to
an unfinished run and are dropped when the run is redone.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import socket
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .errors import ResultsError

RUNS_FILE = "runs.csv"
EPOCHS_FILE = "epochs.csv"
SUMMARY_FILE = "summary.csv"
METADATA_FILE = "metadata.json"
LOCK_FILE = ".actbench.lock"

# A run is identified by these keys under one config hash.
GROUP_KEYS = ["dataset", "model", "activation"]
RUN_KEYS = GROUP_KEYS + ["seed"]

# Fixed columns, in file order. Diagnostic columns (named "<measure>/<layer>") follow
# them; which ones exist depends on the model and the diagnostics config.
RUN_COLUMNS = [
    "config_hash", *RUN_KEYS, "activation_name", "params", "epochs_run",
    "test_loss", "test_accuracy", "best_val_accuracy", "best_epoch",
    "train_seconds", "seconds_per_epoch", "timing", "test_examples_per_second",
    "diverged", "diverged_epoch", "engine", "backend",
]
EPOCH_COLUMNS = [
    "config_hash", *RUN_KEYS, "epoch", "loss", "accuracy", "val_loss", "val_accuracy",
    "seconds",
]
# Columns that must parse as numbers (empty allowed where a value can be missing).
NUMERIC_RUN_COLUMNS = [
    "seed", "params", "epochs_run", "test_loss", "test_accuracy", "best_val_accuracy",
    "best_epoch", "train_seconds", "seconds_per_epoch", "test_examples_per_second",
    "diverged_epoch",
]
NUMERIC_EPOCH_COLUMNS = ["seed", "epoch", "loss", "accuracy", "val_loss", "val_accuracy", "seconds"]
# Columns that may be empty: no validation split, no divergence, diverged runs' metrics.
OPTIONAL_VALUE_COLUMNS = {
    "best_val_accuracy", "best_epoch", "diverged_epoch", "val_loss", "val_accuracy",
    "test_loss", "test_accuracy", "loss", "accuracy", "test_examples_per_second",
    "seconds_per_epoch",
}


def run_id(row) -> tuple:
    """The identity of a run within one config hash."""
    return tuple(row[k] for k in RUN_KEYS)


# ---------------------------------------------------------------- writing

_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write_text(path: Path, text: str) -> None:
    """Write text so that readers see either the old file or the whole new one."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes it private; result files are ordinary files
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    # The rename itself is only durable once the directory entry is flushed.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_csv(path: Path, df: pd.DataFrame) -> None:
    # 10 significant digits: more than float32 metrics carry, and a value read back and
    # written again keeps its exact text (merged shards equal an unsharded run).
    text = bools_as_text(df).to_csv(index=False, float_format="%.10g", lineterminator="\n")
    atomic_write_text(path, text)


def bools_as_text(df: pd.DataFrame) -> pd.DataFrame:
    """Boolean columns (diverged, best, ...) as 'true'/'false', the spelling the result files use."""
    cols = [c for c in df.columns if df[c].dtype == bool]
    if not cols:
        return df
    df = df.copy()
    for c in cols:
        df[c] = df[c].map({True: "true", False: "false"})
    return df


def write_json(path: Path, data: dict) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def order_columns(df: pd.DataFrame, fixed: list[str]) -> pd.DataFrame:
    """Fixed columns first (in schema order), then diagnostic columns sorted by name."""
    extra = sorted(c for c in df.columns if c not in fixed)
    return df[[c for c in fixed if c in df.columns] + extra]


# ---------------------------------------------------------------- reading

@dataclass
class ResultSet:
    """What one output dir (or a lone runs.csv) holds."""

    source: Path
    runs: pd.DataFrame
    epochs: pd.DataFrame | None = None
    metadata: dict | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def config_hashes(self) -> list[str]:
        return sorted(self.runs["config_hash"].astype(str).unique()) if len(self.runs) else []


def read_csv_checked(path: Path, required: list[str], numeric: list[str],
                     optional_values: set[str] = OPTIONAL_VALUE_COLUMNS) -> pd.DataFrame:
    """Read a result CSV, failing with file and line on anything malformed.

    Checks: the file exists and is not empty, every required column is present, every
    row has as many fields as the header, and numeric columns hold numbers (empty only
    where a value may legitimately be missing).
    """
    path = Path(path)
    if not path.exists():
        raise ResultsError(f"{path}: file not found.")
    text = path.read_text(encoding="utf-8", errors="replace")
    if not text.strip():
        raise ResultsError(f"{path}: the file is empty (expected a CSV header with columns {', '.join(required)}).")
    lines = text.splitlines()
    header = lines[0].split(",")
    missing = [c for c in required if c not in header]
    if missing:
        raise ResultsError(
            f"{path}: missing required column(s): {', '.join(missing)}.\n"
            f"Found: {', '.join(header)}"
        )
    if not text.endswith("\n"):
        raise ResultsError(f"{path}, line {len(lines)}: the last row is cut off (no line end); "
                           "the file was truncated.")
    for lineno, line in enumerate(lines[1:], start=2):
        n = _count_fields(line)
        if n != len(header):
            raise ResultsError(f"{path}, line {lineno}: {n} fields where the header has {len(header)}; "
                               "the row is truncated or was edited by hand.")
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    for col in numeric:
        if col not in df.columns:
            continue
        values = df[col]
        parsed = pd.to_numeric(values.replace("", None), errors="coerce")
        bad = values[(values != "") & parsed.isna() & ~values.str.lower().isin(["nan", "inf", "-inf"])]
        if len(bad):
            i = bad.index[0]
            raise ResultsError(f"{path}, line {i + 2}: column '{col}' holds '{bad.iloc[0]}', not a number.")
        empty = values[values == ""]
        if len(empty) and col not in optional_values:
            i = empty.index[0]
            raise ResultsError(f"{path}, line {i + 2}: column '{col}' is empty.")
        df[col] = parsed
    if "seed" in df.columns:
        df["seed"] = df["seed"].astype("int64")
    if "diverged" in df.columns:
        df["diverged"] = df["diverged"].str.lower().map({"true": True, "false": False, "1": True, "0": False})
        if df["diverged"].isna().any():
            i = df.index[df["diverged"].isna()][0]
            raise ResultsError(f"{path}, line {i + 2}: column 'diverged' must be true or false.")
        df["diverged"] = df["diverged"].astype(bool)
    return df


def _count_fields(line: str) -> int:
    # Our writers never quote, but a hand edit might: count commas outside quotes.
    count, quoted = 1, False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            count += 1
    return count


REQUIRED_RUN_COLUMNS = ["config_hash", *RUN_KEYS, "test_loss", "test_accuracy", "diverged"]
REQUIRED_EPOCH_COLUMNS = ["config_hash", *RUN_KEYS, "epoch", "loss", "accuracy"]


def _diagnostics_as_numbers(df: pd.DataFrame, fixed: list[str]) -> pd.DataFrame:
    # Every column outside the fixed schema is a numeric diagnostic, including the ones
    # without a layer in their name (grad_ratio, grad_ratio_min, grad_ratio_max). Left as
    # text they would mix with new float rows on resume and be written back unformatted.
    for col in df.columns:
        if col not in fixed and not pd.api.types.is_numeric_dtype(df[col]):
            df[col] = pd.to_numeric(df[col].replace("", None), errors="coerce")
    return df


def read_runs(path: Path) -> pd.DataFrame:
    df = _diagnostics_as_numbers(read_csv_checked(path, REQUIRED_RUN_COLUMNS, NUMERIC_RUN_COLUMNS), RUN_COLUMNS)
    if "model" in df.columns:
        df["model"] = df["model"].astype(str)
    dup = df.duplicated(subset=["config_hash", *RUN_KEYS], keep=False)
    if dup.any():
        i = df.index[dup][1] if dup.sum() > 1 else df.index[dup][0]
        raise ResultsError(f"{path}, line {i + 2}: run {run_id(df.loc[i])} appears more than once.")
    return df


def read_epochs(path: Path) -> pd.DataFrame:
    return _diagnostics_as_numbers(read_csv_checked(path, REQUIRED_EPOCH_COLUMNS, NUMERIC_EPOCH_COLUMNS),
                                   EPOCH_COLUMNS)


def read_metadata(path: Path) -> dict:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ResultsError(f"{path}, line {e.lineno}: not valid JSON ({e.msg}).") from None


def read_result_set(path: str | Path, need_epochs: bool = False) -> ResultSet:
    """Read a result dir (runs.csv, and epochs.csv/metadata.json when present) or a lone runs.csv."""
    path = Path(path)
    if path.is_dir():
        directory, runs_path = path, path / RUNS_FILE
        if not runs_path.exists():
            raise ResultsError(f"{path}: no {RUNS_FILE} in this directory (is it an actbench output dir?).")
    elif path.exists():
        directory, runs_path = path.parent, path
    else:
        raise ResultsError(f"{path}: no such file or directory.")
    runs = read_runs(runs_path)
    if runs.empty:
        raise ResultsError(f"{runs_path}: holds a header but no runs.")
    epochs_path = directory / EPOCHS_FILE
    epochs = read_epochs(epochs_path) if epochs_path.exists() else None
    if need_epochs and epochs is None:
        raise ResultsError(f"{directory}: no {EPOCHS_FILE} next to {RUNS_FILE}.")
    meta_path = directory / METADATA_FILE
    metadata = read_metadata(meta_path) if meta_path.exists() else None
    return ResultSet(source=path, runs=runs, epochs=epochs, metadata=metadata)


# ---------------------------------------------------------------- locking

class OutputLock:
    """An exclusive lock on an output dir: a file holding pid and host.

    A second process refuses with a message naming the holder. A lock left by a dead
    process on this host is detected (the pid no longer exists) and taken over.
    """

    def __init__(self, directory: Path):
        self.path = Path(directory) / LOCK_FILE
        self.held = False

    def acquire(self) -> None:
        # Serialise lock-taking on this host, so two processes that both find a stale
        # lock cannot both take it over (the kernel drops this guard when a process dies).
        with open(self.path.parent / f"{LOCK_FILE}.guard", "a") as guard:
            fcntl.flock(guard, fcntl.LOCK_EX)
            self._acquire()

    def _acquire(self) -> None:
        host = socket.gethostname()
        text = json.dumps({"pid": os.getpid(), "host": host, "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
        for _ in range(2):
            try:
                self._create(text)
            except FileExistsError:
                holder = self._read_holder()
                if holder and holder.get("host") == host and not _pid_alive(holder.get("pid", -1)):
                    self.path.unlink(missing_ok=True)  # stale: its process is gone
                    continue
                who = f"pid {holder.get('pid')} on host {holder.get('host')}, since {holder.get('since')}" \
                    if holder else "an unknown process"
                raise ResultsError(
                    f"{self.path.parent}: another actbench process is writing here ({who}).\n"
                    f"Wait for it to finish, or choose another output dir. If that process is gone "
                    f"(e.g. it ran on another machine), delete {self.path}."
                ) from None
            self.held = True
            self._remove_stale_temp_files()
            return
        raise ResultsError(f"{self.path}: could not take the lock.")

    def _remove_stale_temp_files(self) -> None:
        # Temp files of a writer killed mid-write; with the lock held nobody else writes here.
        for name in (RUNS_FILE, EPOCHS_FILE, SUMMARY_FILE, METADATA_FILE):
            for leftover in self.path.parent.glob(f".{name}.*.tmp"):
                leftover.unlink(missing_ok=True)

    def _create(self, text: str) -> None:
        """Create the lock file with its content in one step: write a temp file, then
        hard-link it to the lock name (atomic; FileExistsError when the lock is held).
        A kill at any moment leaves either no lock or a complete one naming its pid,
        never an empty lock that no later run could tell from a live one."""
        fd, tmp = tempfile.mkstemp(prefix=f"{LOCK_FILE}.", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w") as f:
                f.write(text)
            try:
                os.link(tmp, self.path)
            except FileExistsError:
                raise
            except OSError:  # a file system without hard links: exclusive create instead
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
                with os.fdopen(fd, "w") as f:
                    f.write(text)
        finally:
            try:
                os.unlink(tmp)
            except OSError:
                pass

    def _read_holder(self) -> dict | None:
        try:
            return json.loads(self.path.read_text())
        except (OSError, json.JSONDecodeError):
            return None

    def release(self) -> None:
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()


def _pid_alive(pid) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, ValueError, TypeError):
        return False
    except PermissionError:
        return True
    return True


def is_finite(x) -> bool:
    try:
        return math.isfinite(float(x))
    except (TypeError, ValueError):
        return False
