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
* output rows are in canonical_order, the same order the run writer uses, so merged
  shards equal an unsharded run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import ResultsError
from .results import (EPOCH_COLUMNS, EPOCHS_FILE, METADATA_FILE, RUN_COLUMNS, RUN_KEYS, RUNS_FILE,
                      SUMMARY_FILE, OutputLock, order_columns, read_result_set, write_csv, write_json)

TIMING_RUN_COLUMNS = {"train_seconds", "seconds_per_epoch", "timing", "test_examples_per_second"}
TIMING_EPOCH_COLUMNS = {"seconds"}


@dataclass
class MergeReport:
    runs_in: int = 0
    runs_out: int = 0
    exact_duplicates_dropped: int = 0
    conflicts: list[str] = field(default_factory=list)  # always empty on success: conflicts raise
    orphan_epoch_rows_dropped: int = 0
    sources: list[str] = field(default_factory=list)
    config_hash: str = ""
    written: list[Path] = field(default_factory=list)


def canonical_order(runs: pd.DataFrame, epochs: pd.DataFrame | None = None
                    ) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Sort runs by (dataset, model, activation, seed) and epochs by those plus epoch.

    Stable (ties keep their order), index reset. Returns (runs, epochs); epochs may be None.
    """
    runs = runs.sort_values(RUN_KEYS, kind="mergesort").reset_index(drop=True)
    if epochs is not None:
        epochs = epochs.sort_values([*RUN_KEYS, "epoch"], kind="mergesort").reset_index(drop=True)
    return runs, epochs


def _same(a: pd.Series, b: pd.Series) -> list[str]:
    """Names of the columns whose values differ (NaN equals NaN; missing column equals empty)."""
    out = []
    for col in sorted(set(a.index) | set(b.index)):
        x, y = a.get(col, np.nan), b.get(col, np.nan)
        if _blank(x) and _blank(y):
            continue
        if _blank(x) or _blank(y):
            out.append(col)
            continue
        if isinstance(x, (float, int, np.floating, np.integer)) and isinstance(y, (float, int, np.floating, np.integer)):
            if float(x) != float(y):
                out.append(col)
        elif str(x) != str(y):
            out.append(col)
    return out


def _blank(x) -> bool:
    if x is None:
        return True
    if isinstance(x, str):
        return x == ""
    try:
        return bool(pd.isna(x))
    except (TypeError, ValueError):
        return False


def merge_dirs(dirs: list[Path], out: Path, baseline: str | None = None) -> MergeReport:
    """Merge result dirs into `out` (runs.csv, epochs.csv, summary.csv, metadata.json)."""
    from .stats import summarize

    if not dirs:
        raise ResultsError("merge: give at least one result dir.")
    dirs = [Path(d) for d in dirs]
    out = Path(out)
    for d in dirs:
        if out.resolve() == d.resolve():
            raise ResultsError(f"merge: the output dir {out} is also an input; choose a new output dir.")
    sets = [read_result_set(d, need_epochs=True) for d in dirs]

    hashes = {str(d): rs.config_hashes for d, rs in zip(dirs, sets)}
    if len({h for hs in hashes.values() for h in hs}) > 1:
        listing = "\n".join(f"  {d}: {', '.join(hs)}" for d, hs in hashes.items())
        raise ResultsError("merge: the dirs hold results of different configs (config hashes differ):\n"
                           f"{listing}\nOnly shards of one config can be merged.")

    report = MergeReport(sources=[str(d) for d in dirs], config_hash=sets[0].config_hashes[0])
    kept_runs: dict[tuple, tuple[int, pd.Series]] = {}   # run id -> (set index, run row)
    run_parts, epoch_parts = [], []
    conflicts = []
    for i, rs in enumerate(sets):
        ep = rs.epochs
        ep_groups = {tuple(k): g for k, g in ep.groupby(RUN_KEYS, sort=False)}
        run_ids = set()
        keep = []
        for idx, row in rs.runs.iterrows():
            rid = tuple(row[k] for k in RUN_KEYS)
            run_ids.add(rid)
            report.runs_in += 1
            mine = ep_groups.get(rid, ep.iloc[0:0])
            if rid in kept_runs:
                j, first = kept_runs[rid]
                diff = [c for c in _same(first.drop(labels=list(TIMING_RUN_COLUMNS), errors="ignore"),
                                         row.drop(labels=list(TIMING_RUN_COLUMNS), errors="ignore"))]
                first_ep = _epoch_frame(sets[j].epochs, rid)
                diff += [f"epochs.csv {c}" for c in _epoch_diff(first_ep, mine)]
                if diff:
                    conflicts.append(f"{'/'.join(map(str, rid[:3]))} seed {rid[3]}: {dirs[j]} vs {dirs[i]} "
                                     f"differ in {', '.join(diff)}")
                else:
                    report.exact_duplicates_dropped += 1
                continue
            kept_runs[rid] = (i, row)
            keep.append(idx)
            epoch_parts.append(mine)
        run_parts.append(rs.runs.loc[keep])
        orphans = [k for k in ep_groups if k not in run_ids]
        report.orphan_epoch_rows_dropped += int(sum(len(ep_groups[k]) for k in orphans))
    if conflicts:
        raise ResultsError("merge: the same run appears with different results (not exact duplicates):\n  "
                           + "\n  ".join(conflicts))

    runs = pd.concat(run_parts, ignore_index=True)
    epochs = pd.concat(epoch_parts, ignore_index=True) if epoch_parts else sets[0].epochs.iloc[0:0]
    runs, epochs = canonical_order(runs, epochs)
    runs["seed"] = runs["seed"].astype("int64")
    epochs["seed"] = epochs["seed"].astype("int64")
    report.runs_out = len(runs)

    meta0 = sets[0].metadata or {}
    if baseline is None:
        baseline = (meta0.get("config") or {}).get("baseline")
    summary = summarize(runs, epochs, baseline)
    metadata = dict(meta0)
    metadata.setdefault("config_hash", report.config_hash)
    metadata["merged_from"] = [str(d) for d in dirs]
    metadata["shard"] = None  # the merged set is the whole plan (or as much of it as the dirs hold)

    out.mkdir(parents=True, exist_ok=True)
    with OutputLock(out):
        # Same order as the run writer: epochs before runs.
        write_csv(out / EPOCHS_FILE, order_columns(epochs, EPOCH_COLUMNS))
        write_csv(out / RUNS_FILE, order_columns(runs, RUN_COLUMNS))
        write_csv(out / SUMMARY_FILE, summary)
        write_json(out / METADATA_FILE, metadata)
    report.written = [out / EPOCHS_FILE, out / RUNS_FILE, out / SUMMARY_FILE, out / METADATA_FILE]
    return report


def _epoch_frame(epochs: pd.DataFrame, rid: tuple) -> pd.DataFrame:
    mask = np.ones(len(epochs), dtype=bool)
    for k, v in zip(RUN_KEYS, rid):
        mask &= (epochs[k] == v).to_numpy()
    return epochs[mask]


def _epoch_diff(a: pd.DataFrame, b: pd.DataFrame) -> list[str]:
    if len(a) != len(b):
        return [f"number of epochs ({len(a)} vs {len(b)})"]
    a = a.sort_values("epoch", kind="mergesort").drop(columns=list(TIMING_EPOCH_COLUMNS), errors="ignore")
    b = b.sort_values("epoch", kind="mergesort").drop(columns=list(TIMING_EPOCH_COLUMNS), errors="ignore")
    cols: list[str] = []
    for (_, x), (_, y) in zip(a.iterrows(), b.iterrows()):
        for c in _same(x, y):
            if c not in cols:
                cols.append(c)
    return cols
