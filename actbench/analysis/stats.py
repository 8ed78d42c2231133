"""Summaries of one result set: per-activation means, CIs, ranks, and verdicts vs the baseline.

Pure functions over pandas DataFrames; no Keras/TensorFlow import. The tests themselves
(paired / Welch, Holm, power) live in significance.py, shared with compare.py.

Definitions used throughout (also in SUMMARY_COLUMNS, which docs/result-files.md mirrors):

* Diverged runs (diverged == true) are excluded from every mean, std, CI and test; they
  are only counted in ``n_diverged``. Runs at chance (``at_chance``) stay in every
  statistic and are counted in ``n_at_chance``.
* Confidence intervals are two-sided Student-t intervals: mean +/- t(1-a/2, n-1)*s/sqrt(n)
  with the sample std s (ddof=1). With fewer than 2 values the std and CI are NaN.
* Tests against the baseline are paired t-tests on the seeds both activations finished
  (the same seed gives both the same initial weights and data order) when there are at
  least 2 such seeds, else Welch's t-test; p-values of the non-baseline activations of
  one dataset+model are Holm-corrected together.
* Rank (within one dataset+model): activation B *clearly beats* A when both have n >= 2
  and B's CI lies entirely above A's (B.ci_low > A.ci_high), or, when either has n < 2,
  when B's mean accuracy is higher. rank(A) = 1 + the number of activations that clearly
  beat A. So rank 1 = "not clearly beaten by anything"; activations with overlapping CIs
  share ranks. Activations with no finished non-diverged run rank below all others.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from actbench.results import (
    FIXED_SUMMARY_COLUMNS,
    GROUP_KEYS,
    RUN_COLUMNS,
    RUN_KEYS,
    TUNED_MODEL,
    ResultDir,
    flag_column,
    with_at_chance,
)

from .significance import compare_by_seed, finite_values, holm, mean_ci, min_detectable_drop, n_tests

# runs.csv columns that are never summarised as diagnostics.
_NON_DIAGNOSTIC = set(RUN_COLUMNS)


# ---------------------------------------------------------------- column helpers


def diverged_mask(runs: pd.DataFrame) -> pd.Series:
    """The diverged column as booleans (also from text such as 'true' / '1'); all False when absent."""
    return flag_column(runs, "diverged")


def failed_mask(runs: pd.DataFrame) -> pd.Series:
    """The failed column as booleans; all False when absent (files written before it existed)."""
    return flag_column(runs, "failed")


def at_chance_mask(runs: pd.DataFrame) -> pd.Series:
    """The at_chance column as booleans; computed from the dataset registry when absent."""
    if "at_chance" not in runs.columns:
        runs = with_at_chance(runs.assign(test_accuracy=numeric(runs["test_accuracy"]), diverged=diverged_mask(runs)))
    return flag_column(runs, "at_chance")


def numeric(s: pd.Series) -> pd.Series:
    """A column as floats; empty text and non-numbers become NaN."""
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        return s.astype(float)
    return pd.to_numeric(s.astype(object).where(s.astype(str).str.strip() != "", None), errors="coerce")


# ---------------------------------------------------------------- summary


def summarize_written(out: ResultDir, baseline: str | None, tune: bool = False) -> pd.DataFrame:
    """summary.csv's rows for an output dir, from its files as written (ResultDir.written), so
    an uninterrupted, a resumed and a merged run get the same summary; empty without runs."""
    if out.runs.empty:
        return pd.DataFrame()
    runs, epochs = out.written()
    return summarize(runs, epochs, baseline, tune=tune)


def summarize(
    runs: pd.DataFrame,
    epochs: pd.DataFrame | None = None,
    baseline: str | None = None,
    alpha: float = 0.05,
    tune: bool = False,
) -> pd.DataFrame:
    """summary.csv rows: one per (dataset, model, activation), sorted by dataset, model, rank;
    with tune, each dataset's models are followed by its tuned comparison (model "tuned": each
    activation at the model/variant with its best mean validation accuracy; test accuracy is not
    looked at to choose).

    Columns: FIXED_SUMMARY_COLUMNS, then "<diagnostic>_mean" for every diagnostic column
    of runs (see SUMMARY_COLUMNS for each definition).
    """
    runs, diag = typed_runs(runs)
    epochs = None if epochs is None or epochs.empty else _typed_epoch_keys(epochs)
    runs["final_val_accuracy"] = _final_val_accuracy(runs, epochs)
    curves = _curves_of_good_runs(runs, epochs)
    baseline = None if baseline in (None, "") else str(baseline)
    out_rows = []
    for _, in_dataset in runs.groupby("dataset", sort=True):
        rows = [row for _, grp in in_dataset.groupby("model", sort=True) for row in _group_rows(grp, diag, curves)]
        out_rows += rows
        if tune:
            out_rows += _tuned_rows(in_dataset, rows, diag, curves)
    for _, rows in _by_group(out_rows):
        _verdicts_vs_baseline(rows, baseline, alpha)

    df = pd.DataFrame(out_rows, columns=[*FIXED_SUMMARY_COLUMNS, *[f"{d}_mean" for d in diag]])
    for col in ("n", "n_diverged", "n_failed", "n_at_chance", "rank"):
        df[col] = df[col].astype("int64")
    df["best"] = df["best"].astype(bool)
    df["tuned_choice"] = df["tuned_choice"].fillna("")
    return df.reset_index(drop=True)


def _by_group(rows: list[dict]) -> list[tuple[tuple[str, str], list[dict]]]:
    """Summary rows grouped by (dataset, model), in order of first appearance."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["dataset"], r["model"]), []).append(r)
    return list(groups.items())


def _group_rows(grp: pd.DataFrame, diag: list[str], curves: pd.DataFrame | None) -> list[dict]:
    """The rows of one (dataset, model), ranked and sorted by rank (verdicts are filled in later)."""
    rows = [_activation_row(grp[grp["activation"] == act], diag, curves) for act in dict.fromkeys(grp["activation"])]
    ranks = _ranks(
        [r["test_accuracy_mean"] for r in rows],
        [r["test_accuracy_ci_low"] for r in rows],
        [r["test_accuracy_ci_high"] for r in rows],
        [r["n"] for r in rows],
    )
    for r, rk in zip(rows, ranks):
        r["rank"], r["best"] = rk, rk == 1
    rows.sort(key=lambda r: (r["rank"], -_finite_or(r["test_accuracy_mean"], -math.inf), r["activation"]))
    return rows


def _tuned_rows(runs: pd.DataFrame, rows: list[dict], diag: list[str], curves: pd.DataFrame | None) -> list[dict]:
    """The tuned comparison of one dataset: for each activation, the runs of the model whose mean
    final validation accuracy is highest, relabelled model "tuned" and summarised like any model.
    Models where a run diverged or failed are chosen only when every model did; ties go to the
    first model in name order."""
    choice = {}
    for act in dict.fromkeys(runs["activation"]):
        scored = [r for r in rows if r["activation"] == act and math.isfinite(r["val_accuracy_mean"])]
        clean = [r for r in scored if not r["n_diverged"] and not r["n_failed"]] or scored
        if clean:
            choice[act] = max(clean, key=lambda r: r["val_accuracy_mean"])["model"]  # first of equals wins
    if not choice:
        return []
    chosen = pd.Series([choice.get(a) == m for a, m in zip(runs["activation"], runs["model"])], index=runs.index)
    tuned = runs[chosen].assign(model=TUNED_MODEL)
    if curves is not None:
        picked = curves[[choice.get(a) == m for a, m in zip(curves["activation"], curves["model"])]]
        curves = picked.assign(model=TUNED_MODEL)
    tuned_rows = _group_rows(tuned, diag, curves)
    for r in tuned_rows:
        r["tuned_choice"] = choice[r["activation"]]
    return tuned_rows


def _final_val_accuracy(runs: pd.DataFrame, epochs: pd.DataFrame | None) -> pd.Series:
    """Each run's validation accuracy at its last epoch (NaN without epochs or a validation split)."""
    if epochs is None or "val_accuracy" not in epochs.columns:
        return pd.Series(math.nan, index=runs.index)
    ep = epochs.assign(epoch=numeric(epochs["epoch"]))
    last = ep.sort_values("epoch", kind="mergesort").groupby(RUN_KEYS, sort=False).tail(1)
    last = last.assign(final_val_accuracy=numeric(last["val_accuracy"]))[[*RUN_KEYS, "final_val_accuracy"]]
    merged = runs[RUN_KEYS].merge(last, on=RUN_KEYS, how="left")
    return pd.Series(merged["final_val_accuracy"].to_numpy(dtype=float), index=runs.index)


def typed_runs(runs: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """runs with keys as text, flags as bool, metrics as floats; and its diagnostic columns."""
    runs = runs.reset_index(drop=True).copy()
    for k in GROUP_KEYS:
        runs[k] = runs[k].astype(str)
    runs["seed"] = numeric(runs["seed"]).astype("int64")
    runs["at_chance"] = at_chance_mask(runs)
    runs["diverged"] = diverged_mask(runs)
    runs["failed"] = failed_mask(runs)
    for c in ("test_accuracy", "test_loss", "seconds_per_epoch", "train_seconds"):
        runs[c] = numeric(runs[c]) if c in runs.columns else math.nan
    diag = diagnostic_columns(runs)
    for c in diag:
        runs[c] = numeric(runs[c])
    return runs, diag


def _curves_of_good_runs(runs: pd.DataFrame, epochs: pd.DataFrame | None) -> pd.DataFrame | None:
    """curve_stats over the epochs of finished, non-diverged runs only."""
    if epochs is None:
        return None
    keys = runs.loc[~runs["diverged"] & ~runs["failed"], RUN_KEYS].drop_duplicates()
    return curve_stats(epochs.merge(keys, on=RUN_KEYS, how="inner"))


def _typed_epoch_keys(epochs: pd.DataFrame) -> pd.DataFrame:
    """epochs with the run keys typed as typed_runs types them (text, int seed), so they merge."""
    ep = epochs.copy()
    for k in GROUP_KEYS:
        ep[k] = ep[k].astype(str)
    ep["seed"] = numeric(ep["seed"]).astype("int64")
    return ep


def _activation_row(mine: pd.DataFrame, diag: list[str], curves: pd.DataFrame | None) -> dict:
    """The statistics of one activation's runs (verdict columns are filled in later)."""
    ok = mine[~mine["diverged"] & ~mine["failed"]]
    acc, loss = mean_ci(ok["test_accuracy"]), mean_ci(ok["test_loss"])
    first = mine.iloc[0]
    row = {
        "dataset": first["dataset"],
        "model": first["model"],
        "activation": first["activation"],
        "tuned_choice": "",
        "n": int(len(ok)),
        "n_diverged": int(mine["diverged"].sum()),
        "n_failed": int(mine["failed"].sum()),
        "n_at_chance": int(ok["at_chance"].sum()),
        "test_accuracy_mean": acc[0],
        "test_accuracy_std": acc[1],
        "test_accuracy_ci_low": acc[2],
        "test_accuracy_ci_high": acc[3],
        "test_loss_mean": loss[0],
        "test_loss_std": loss[1],
        "test_loss_ci_low": loss[2],
        "test_loss_ci_high": loss[3],
        "val_accuracy_mean": _mean(ok["final_val_accuracy"]),
        "curve_metric": "",
        "epochs_to_99pct": math.nan,
        "curve_mean": math.nan,
        "seconds_per_epoch_mean": _mean(ok["seconds_per_epoch"]),
        "train_seconds_mean": _mean(ok["train_seconds"]),
        "_by_seed": _accuracy_by_seed(ok),
    }
    if curves is not None:
        c = curves[
            (curves["dataset"] == row["dataset"])
            & (curves["model"] == row["model"])
            & (curves["activation"] == row["activation"])
        ]
        if len(c):
            row["curve_metric"] = "val_accuracy" if (c["curve_metric"] == "val_accuracy").all() else "accuracy"
            row["epochs_to_99pct"] = _mean(c["epochs_to_99pct"])
            row["curve_mean"] = _mean(c["curve_mean"])
    for d in diag:
        row[f"{d}_mean"] = _mean(ok[d])
    return row


def _accuracy_by_seed(ok: pd.DataFrame) -> dict[int, float]:
    acc = ok[np.isfinite(ok["test_accuracy"].to_numpy(dtype=float))]
    return dict(zip(acc["seed"].astype(int), acc["test_accuracy"].astype(float)))


def _verdicts_vs_baseline(rows: list[dict], baseline: str | None, alpha: float) -> None:
    """Fill baseline, diff_vs_baseline, test, p_value, p_holm, min_detectable_drop, verdict."""
    base_row = next((r for r in rows if baseline is not None and r["activation"] == baseline), None)
    tests = {}
    for r in rows:
        r.update(
            baseline="",
            diff_vs_baseline=math.nan,
            test="",
            p_value=math.nan,
            p_holm=math.nan,
            min_detectable_drop=math.nan,
            verdict="",
        )
        if base_row is None:
            continue
        r["baseline"] = baseline
        r["diff_vs_baseline"] = r["test_accuracy_mean"] - base_row["test_accuracy_mean"]
        if r is base_row:
            r["verdict"] = "baseline"
            continue
        tests[r["activation"]] = compare_by_seed(r["_by_seed"], base_row["_by_seed"])
        r["test"], r["p_value"] = tests[r["activation"]].test, tests[r["activation"]].p_value
    others = [r for r in rows if r["activation"] in tests]
    adjusted = holm([r["p_value"] for r in others])
    level = alpha / max(n_tests([r["p_value"] for r in others]), 1)
    for r, ph in zip(others, adjusted):
        r["p_holm"] = float(ph)
        r["min_detectable_drop"] = min_detectable_drop(tests[r["activation"]], level)
        if math.isfinite(ph):
            r["verdict"] = _verdict(ph, r["diff_vs_baseline"], alpha)
    for r in rows:
        del r["_by_seed"]


def _verdict(p_holm: float, diff: float, alpha: float) -> str:
    if p_holm < alpha and diff > 0:
        return "better"
    if p_holm < alpha and diff < 0:
        return "worse"
    return "same"


def _mean(s: pd.Series) -> float:
    x = finite_values(s)
    return float(x.mean()) if len(x) else math.nan


def _finite_or(x: float, default: float) -> float:
    return x if isinstance(x, (int, float)) and math.isfinite(x) else default


# ---------------------------------------------------------------- per-run curves, ranks, diagnostics


def diagnostic_columns(runs: pd.DataFrame) -> list[str]:
    """Numeric runs.csv columns outside the fixed schema (sorted): '<measure>/<layer>', grad_ratio_min, ..."""
    cols = []
    for c in runs.columns:
        if c in _NON_DIAGNOSTIC:
            continue
        s = runs[c]
        if pd.api.types.is_bool_dtype(s):
            continue
        if pd.api.types.is_numeric_dtype(s):
            cols.append(c)
            continue
        text = s.astype(str).str.strip()
        present = text[(text != "") & s.notna()]
        if len(present) and pd.to_numeric(present, errors="coerce").notna().all():
            cols.append(c)
    return sorted(cols)


def curve_stats(epochs: pd.DataFrame) -> pd.DataFrame:
    """Per run (RUN_KEYS): curve_metric, epochs_to_99pct and curve_mean (see SUMMARY_COLUMNS)."""
    rows = []
    if epochs is None or epochs.empty:
        return pd.DataFrame(columns=[*RUN_KEYS, "curve_metric", "epochs_to_99pct", "curve_mean"])
    ep = epochs.copy()
    ep["epoch"] = numeric(ep["epoch"])
    for key, g in ep.sort_values("epoch", kind="mergesort").groupby(RUN_KEYS, sort=False):
        metric = "accuracy"
        if "val_accuracy" in g.columns and numeric(g["val_accuracy"]).notna().any():
            metric = "val_accuracy"
        vals = numeric(g[metric]).to_numpy()
        eps = g["epoch"].to_numpy()
        ok = np.isfinite(vals)
        if not ok.any():
            rows.append((*key, metric, math.nan, math.nan))
            continue
        best = vals[ok].max()
        reach = np.flatnonzero(ok & (vals >= 0.99 * best))
        rows.append((*key, metric, float(eps[reach[0]]), float(vals[ok].mean())))
    return pd.DataFrame(rows, columns=[*RUN_KEYS, "curve_metric", "epochs_to_99pct", "curve_mean"])


def _ranks(means: list[float], lows: list[float], highs: list[float], ns: list[int]) -> list[int]:
    k = len(means)
    usable = [ns[i] > 0 and math.isfinite(means[i]) for i in range(k)]
    n_usable = sum(usable)
    ranks = []
    for i in range(k):
        if not usable[i]:
            ranks.append(n_usable + 1)
            continue
        beaten_by = 0
        for j in range(k):
            if j == i or not usable[j]:
                continue
            if ns[i] >= 2 and ns[j] >= 2 and math.isfinite(lows[j]) and math.isfinite(highs[i]):
                beaten_by += lows[j] > highs[i]
            else:
                beaten_by += means[j] > means[i]
        ranks.append(1 + beaten_by)
    return ranks
