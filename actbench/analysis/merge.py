"""Merge result dirs of one config (e.g. shards run on several machines) into one dir.

Rules:
* every dir must hold runs.csv and epochs.csv of the same config hash;
* the same run (dataset, model, activation, seed) in several dirs is an *exact duplicate*
  when every run and epoch value matches except timing (train_seconds,
  seconds_per_epoch, timing, test_examples_per_second; epoch 'seconds'), which
  legitimately varies between machines: the first copy is kept;
* the same run with any other value differing is a *conflict*: the merge refuses and
  lists every conflicting run;
* epoch rows without a run row (an unfinished run) are dropped;
* the merged dir is written by ResultDir, the same owner the run writer uses (canonical
  row order, epochs before runs, summary from the rows as written), so merged shards
  equal an unsharded run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from actbench.errors import ResultsError
from actbench.results import RUN_KEYS, ResultDir, ResultSet, RunKey, describe_key, read_result_set, run_key, writing

from .stats import summarize_written

TIMING_RUN_COLUMNS = ["train_seconds", "seconds_per_epoch", "timing", "test_examples_per_second"]
TIMING_EPOCH_COLUMNS = ["seconds"]


@dataclass
class MergeReport:
    runs_in: int = 0
    runs_out: int = 0
    exact_duplicates_dropped: int = 0
    orphan_epoch_rows_dropped: int = 0
    sources: list[str] = field(default_factory=list)
    config_hash: str = ""
    written: list[Path] = field(default_factory=list)
    replaced: list[Path] = field(default_factory=list)  # what overwrite removed first


def merge_dirs(dirs: list[Path], out: Path, baseline: str | None = None, overwrite: bool = False) -> MergeReport:
    """Merge result dirs into `out` (runs.csv, epochs.csv, summary.csv, metadata.json). Files already
    there under those names are refused unless overwrite, which removes them and the report files
    actbench wrote in out/report first; nothing else in `out` is touched."""
    if not dirs:
        raise ResultsError("merge: give at least one result dir.")
    dirs = [Path(d) for d in dirs]
    target = ResultDir(out)
    for d in dirs:
        if target.path.resolve() == d.resolve():
            raise ResultsError(f"merge: the output dir {out} is also an input; choose a new output dir.")
    _refuse_to_replace(target, overwrite)
    sets = [read_result_set(d, need_epochs=True) for d in dirs]
    _check_one_config(dirs, sets)
    report = MergeReport(sources=[str(d) for d in dirs], config_hash=sets[0].config_hashes[0])
    runs, epochs = _collect(dirs, sets, report)
    report.runs_out = len(runs)

    meta0 = sets[0].metadata or {}
    if baseline is None:
        baseline = (meta0.get("config") or {}).get("baseline")
    metadata = dict(meta0)
    metadata.setdefault("config_hash", report.config_hash)
    metadata["merged_from"] = [str(d) for d in dirs]
    metadata["shard"] = None  # the merged set is the whole plan (or as much of it as the dirs hold)

    with writing(target.path, "creating the merged dir"):
        target.path.mkdir(parents=True, exist_ok=True)
    with target.lock():
        report.replaced = target.clear() if overwrite else []
        target.write_rows(runs, epochs)
        target.write_summary(summarize_written(target, baseline, bool((meta0.get("config") or {}).get("tune"))))
        target.write_metadata(metadata)
    report.written = target.files
    return report


def _refuse_to_replace(target: ResultDir, overwrite: bool) -> None:
    """Files under the result files' names in the output dir, whether an earlier merge or the user
    wrote them, are replaced only with overwrite."""
    present = target.existing_files()
    if present and not overwrite:
        listing = "\n  ".join(str(p) for p in present)
        raise ResultsError(
            f"merge: the output dir {target.path} already holds\n  {listing}\nand merging would replace them. "
            "Choose a new output dir, or use --overwrite to replace them (it removes only these files and the "
            "report files actbench wrote there)."
        )


def _check_one_config(dirs: list[Path], sets: list[ResultSet]) -> None:
    hashes = {str(d): rs.config_hashes for d, rs in zip(dirs, sets)}
    if len({h for hs in hashes.values() for h in hs}) > 1:
        listing = "\n".join(f"  {d}: {', '.join(hs)}" for d, hs in hashes.items())
        raise ResultsError(
            "merge: the dirs hold results of different configs (config hashes differ):\n"
            f"{listing}\nOnly shards of one config can be merged."
        )


def _collect(dirs: list[Path], sets: list[ResultSet], report: MergeReport) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every run once (the first copy of exact duplicates) with its epoch rows; refuse on conflicts."""
    kept: dict[RunKey, tuple[int, pd.Series, pd.DataFrame]] = {}  # run -> (set index, run row, epoch rows)
    keep_rows: list[list] = [[] for _ in sets]  # per set: index labels of the run rows kept
    conflicts = []
    for i, rs in enumerate(sets):
        epochs = rs.epochs if rs.epochs is not None else pd.DataFrame(columns=RUN_KEYS)
        ep_groups = {run_key(dict(zip(RUN_KEYS, k))): g for k, g in epochs.groupby(RUN_KEYS, sort=False)}
        finished = set()
        for idx, row in rs.runs.iterrows():
            key = run_key(row)
            finished.add(key)
            report.runs_in += 1
            mine = ep_groups.get(key, epochs.iloc[0:0])
            if key not in kept:
                kept[key] = (i, row, mine)
                keep_rows[i].append(idx)
                continue
            j, first, first_epochs = kept[key]
            diff = _differing_columns(
                first.drop(labels=TIMING_RUN_COLUMNS, errors="ignore"),
                row.drop(labels=TIMING_RUN_COLUMNS, errors="ignore"),
            )
            diff += [f"epochs.csv {c}" for c in _epoch_differences(first_epochs, mine)]
            if diff:
                conflicts.append(f"{describe_key(key)}: {dirs[j]} vs {dirs[i]} differ in {', '.join(diff)}")
            else:
                report.exact_duplicates_dropped += 1
        report.orphan_epoch_rows_dropped += sum(len(g) for k, g in ep_groups.items() if k not in finished)
    if conflicts:
        raise ResultsError(
            "merge: the same run appears with different results (not exact duplicates):\n  " + "\n  ".join(conflicts)
        )
    # Whole frames, not rows rebuilt from Series, so every column keeps its dtype (and its written text).
    runs = pd.concat([rs.runs.loc[rows] for rs, rows in zip(sets, keep_rows)], ignore_index=True)
    epochs = pd.concat([ep for _, _, ep in kept.values()], ignore_index=True)
    return runs, epochs


def _differing_columns(a: pd.Series, b: pd.Series) -> list[str]:
    """Names of the columns whose values differ (NaN equals NaN; missing column equals empty)."""
    out = []
    for col in sorted(set(a.index) | set(b.index)):
        x, y = a.get(col, np.nan), b.get(col, np.nan)
        if _blank(x) and _blank(y):
            continue
        if _blank(x) or _blank(y):
            out.append(col)
        elif _is_number(x) and _is_number(y):
            if float(x) != float(y):
                out.append(col)
        elif str(x) != str(y):
            out.append(col)
    return out


def _is_number(x) -> bool:
    return isinstance(x, (float, int, np.floating, np.integer))


def _blank(x) -> bool:
    if x is None:
        return True
    if isinstance(x, str):
        return x == ""
    try:
        return bool(pd.isna(x))
    except (TypeError, ValueError):
        return False


def _epoch_differences(a: pd.DataFrame, b: pd.DataFrame) -> list[str]:
    """Columns (other than timing) whose epoch values differ between two copies of a run."""
    if len(a) != len(b):
        return [f"number of epochs ({len(a)} vs {len(b)})"]
    a = a.sort_values("epoch", kind="mergesort").drop(columns=TIMING_EPOCH_COLUMNS, errors="ignore")
    b = b.sort_values("epoch", kind="mergesort").drop(columns=TIMING_EPOCH_COLUMNS, errors="ignore")
    cols: list[str] = []
    for (_, x), (_, y) in zip(a.iterrows(), b.iterrows()):
        cols += [c for c in _differing_columns(x, y) if c not in cols]
    return cols
