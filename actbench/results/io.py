"""Result files on disk: atomic writes, and reading them back checked and typed.

Crash safety: every write goes to a temp file that is fsync'd and then os.replace'd
over the old one, so a file is always either the old or the new version, never half a
row. Reading checks every row (file and line in every message) and normalises column
types once, here: keys as text, seed as int64, numeric columns as floats, true/false
columns as bool. Nothing downstream converts types again. No Keras import.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..errors import ResultsError, machine_error
from .keys import GROUP_KEYS, RUN_KEYS, describe_key, run_key
from .schema import (
    BOOLEAN_RUN_COLUMNS,
    EPOCH_COLUMNS,
    EPOCHS_FILE,
    METADATA_FILE,
    NUMERIC_EPOCH_COLUMNS,
    NUMERIC_RUN_COLUMNS,
    OPTIONAL_VALUE_COLUMNS,
    REQUIRED_EPOCH_COLUMNS,
    REQUIRED_RUN_COLUMNS,
    RUN_COLUMNS,
    RUNS_FILE,
    is_at_chance,
)

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
        try:
            os.unlink(tmp)
        except OSError:
            pass  # the error being raised is the one to report; a leftover temp is removed by the next lock
        raise
    _fsync_dir(path.parent)


@contextmanager
def writing(path: Path, doing: str = "writing it") -> Iterator[None]:
    """OSError and MemoryError inside turned into a MachineError that names `path` and what to do."""
    try:
        yield
    except (OSError, MemoryError) as e:
        raise machine_error(e, doing, path) from None


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
    with writing(path):
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
    with writing(path):
        atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


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


def read_csv_checked(
    path: Path, required: list[str], numeric: list[str], optional_values: set[str] = OPTIONAL_VALUE_COLUMNS
) -> pd.DataFrame:
    """Read a result CSV, failing with file and line on anything malformed.

    Checks: the file exists and is not empty, every required column is present, every
    row has as many fields as the header, numeric columns hold numbers (empty only where
    a value may legitimately be missing) and true/false columns hold true or false.
    """
    path = Path(path)
    _check_text(path, required)
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    for col in numeric:
        if col in df.columns:
            df[col] = _parse_numbers(path, df[col], col, col in optional_values)
    if "seed" in df.columns:
        df["seed"] = df["seed"].astype("int64")
    for col in BOOLEAN_RUN_COLUMNS:
        if col in df.columns:
            df[col] = _parse_booleans(path, df[col], col)
    for col in GROUP_KEYS:
        if col in df.columns:
            df[col] = df[col].astype(str)
    return df


def _check_text(path: Path, required: list[str]) -> None:
    if not path.exists():
        raise ResultsError(f"{path}: file not found.")
    text = path.read_text(encoding="utf-8", errors="replace")
    if not text.strip():
        raise ResultsError(f"{path}: the file is empty (expected a CSV header with columns {', '.join(required)}).")
    lines = text.splitlines()
    header = lines[0].split(",")
    missing = [c for c in required if c not in header]
    if missing:
        raise ResultsError(f"{path}: missing required column(s): {', '.join(missing)}.\nFound: {', '.join(header)}")
    if not text.endswith("\n"):
        raise ResultsError(f"{path}, line {len(lines)}: the last row is cut off (no line end); the file was truncated.")
    for lineno, line in enumerate(lines[1:], start=2):
        n = _count_fields(line)
        if n != len(header):
            raise ResultsError(
                f"{path}, line {lineno}: {n} fields where the header has {len(header)}; "
                "the row is truncated or was edited by hand."
            )


def _parse_numbers(path: Path, values: pd.Series, col: str, may_be_empty: bool) -> pd.Series:
    parsed = pd.to_numeric(values.replace("", None), errors="coerce")
    bad = values[(values != "") & parsed.isna() & ~values.str.lower().isin(["nan", "inf", "-inf"])]
    if len(bad):
        raise ResultsError(f"{path}, line {bad.index[0] + 2}: column '{col}' holds '{bad.iloc[0]}', not a number.")
    empty = values[values == ""]
    if len(empty) and not may_be_empty:
        raise ResultsError(f"{path}, line {empty.index[0] + 2}: column '{col}' is empty.")
    return parsed


def _parse_booleans(path: Path, values: pd.Series, col: str) -> pd.Series:
    parsed = values.str.lower().map({"true": True, "false": False, "1": True, "0": False})
    if parsed.isna().any():
        i = parsed.index[parsed.isna()][0]
        raise ResultsError(f"{path}, line {i + 2}: column '{col}' must be true or false.")
    return parsed.astype(bool)


def _count_fields(line: str) -> int:
    # Our writers never quote, but a hand edit might: count commas outside quotes.
    count, quoted = 1, False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            count += 1
    return count


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
    dup = df.duplicated(subset=["config_hash", *RUN_KEYS], keep=False)
    if dup.any():
        i = df.index[dup][1] if dup.sum() > 1 else df.index[dup][0]
        raise ResultsError(f"{path}, line {i + 2}: run {describe_key(run_key(df.loc[i]))} appears more than once.")
    if "at_chance" not in df.columns:
        df = with_at_chance(df)
    return df


def with_at_chance(runs: pd.DataFrame) -> pd.DataFrame:
    """runs with an at_chance column computed from test_accuracy and each dataset's class count.

    For files written before at_chance existed. Datasets the registry does not know
    (or diverged runs) count as not at chance.
    """
    from .. import datasets  # the registry is pure data; it never imports Keras

    def n_classes(name: str) -> int | None:
        spec = datasets.NAMES.get(name)
        return spec.num_classes if spec is not None else None

    classes = {name: n_classes(name) for name in runs["dataset"].unique()} if len(runs) else {}
    flags = [
        is_at_chance(acc, classes.get(ds)) and not div
        for ds, acc, div in zip(runs["dataset"], runs["test_accuracy"], runs["diverged"])
    ]
    out = runs.copy()
    out.insert(list(out.columns).index("diverged") + 1, "at_chance", pd.Series(flags, index=runs.index, dtype=bool))
    return out


def read_epochs(path: Path) -> pd.DataFrame:
    return _diagnostics_as_numbers(read_csv_checked(path, REQUIRED_EPOCH_COLUMNS, NUMERIC_EPOCH_COLUMNS), EPOCH_COLUMNS)


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
