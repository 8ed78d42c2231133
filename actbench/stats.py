"""Statistics over result tables: per-activation summaries, CIs, Welch tests, Holm.

Pure functions over pandas DataFrames; no Keras/TensorFlow import (scipy is imported
lazily, inside the functions that need it, so importing this module stays cheap).

Definitions used throughout (also in SUMMARY_COLUMNS, which the README mirrors):

* Diverged runs (diverged == true) are excluded from every mean, std, CI and test; they
  are only counted in ``n_diverged``.
* Confidence intervals are two-sided Student-t intervals: mean +/- t(1-a/2, n-1)*s/sqrt(n)
  with the sample std s (ddof=1). With fewer than 2 values the std and CI are NaN.
* Tests against the baseline are Welch's unequal-variance t-tests, two-sided, with
  Welch-Satterthwaite degrees of freedom; p-values of the non-baseline activations of
  one dataset+model are Holm-corrected together.
* Rank (within one dataset+model): activation B *clearly beats* A when both have n >= 2
  and B's CI lies entirely above A's (B.ci_low > A.ci_high), or, when either has n < 2,
  when B's mean accuracy is higher. rank(A) = 1 + the number of activations that clearly
  beat A. So rank 1 = "not clearly beaten by anything"; activations with overlapping CIs
  share ranks. Activations with no finished non-diverged run rank below all others.
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from .results import GROUP_KEYS, RUN_COLUMNS, RUN_KEYS

SUMMARY_COLUMNS: dict[str, str] = {
    "dataset": "Dataset name.",
    "model": "Model name.",
    "activation": "Activation label (as given in the config).",
    "n": "Number of finished, non-diverged runs (seeds) the statistics use.",
    "n_diverged": "Number of finished runs that diverged (excluded from all statistics).",
    "test_accuracy_mean": "Mean test accuracy (fraction 0..1) over the non-diverged seeds.",
    "test_accuracy_std": "Sample standard deviation (ddof=1) of test accuracy; empty when n < 2.",
    "test_accuracy_ci_low": "Lower end of the 95% Student-t confidence interval of the mean test accuracy; empty when n < 2.",
    "test_accuracy_ci_high": "Upper end of the 95% Student-t confidence interval of the mean test accuracy; empty when n < 2.",
    "test_loss_mean": "Mean test loss over the non-diverged seeds.",
    "test_loss_std": "Sample standard deviation (ddof=1) of test loss; empty when n < 2.",
    "test_loss_ci_low": "Lower end of the 95% confidence interval of the mean test loss; empty when n < 2.",
    "test_loss_ci_high": "Upper end of the 95% confidence interval of the mean test loss; empty when n < 2.",
    "rank": ("1 + number of activations (same dataset and model) that clearly beat this one: whose 95% CI "
             "lies entirely above this one's, or, when either side has n < 2, whose mean accuracy is higher. "
             "Overlapping CIs share a rank; activations with no usable run rank last."),
    "best": "true when rank == 1.",
    "baseline": "The baseline activation this row is compared with; empty when no baseline is set or it is not in this dataset and model.",
    "diff_vs_baseline": "test_accuracy_mean minus the baseline's test_accuracy_mean (fraction; 0.01 = 1 point).",
    "p_value": "Two-sided Welch t-test p-value of test accuracy vs the baseline; empty for the baseline itself or when either side has n < 2.",
    "p_holm": "p_value after Holm's correction across the non-baseline activations of the same dataset and model.",
    "verdict": ("'baseline' for the baseline row; 'better' / 'worse' when p_holm < alpha (by the sign of "
                "diff_vs_baseline); 'same' otherwise; empty when no test is possible (no baseline, or n < 2 on either side)."),
    "curve_metric": "Which per-epoch curve epochs_to_99pct and val_auc use: 'val_accuracy', or 'accuracy' (training) when there is no validation split.",
    "epochs_to_99pct": ("Mean over seeds of the first epoch (1-based) at which the run's curve_metric reaches 99% of "
                        "that run's best curve_metric value."),
    "val_auc": ("Mean over seeds of the normalised area under the curve_metric curve: the run's mean curve_metric "
                "over its epochs (1.0 = perfect from the first epoch). Rewards fast and stable learning."),
    "seconds_per_epoch_mean": "Mean seconds per training epoch over the non-diverged seeds.",
    "train_seconds_mean": "Mean total training seconds over the non-diverged seeds.",
    "<diagnostic>_mean": ("For every numeric diagnostic column of runs.csv (e.g. dead_fraction/conv1, grad_ratio_min): "
                          "its mean over the non-diverged seeds."),
}

# The fixed summary columns in file order (diagnostic means follow, sorted by name).
FIXED_SUMMARY_COLUMNS = [c for c in SUMMARY_COLUMNS if not c.startswith("<")]

# runs.csv columns that are never summarised as diagnostics.
_NON_DIAGNOSTIC = set(RUN_COLUMNS)


# ---------------------------------------------------------------- primitives

def _clean(values: Iterable) -> np.ndarray:
    arr = pd.to_numeric(pd.Series(list(values), dtype=object), errors="coerce").to_numpy(dtype=float)
    return arr[np.isfinite(arr)]


def mean_ci(values: Iterable, confidence: float = 0.95) -> tuple[float, float, float, float]:
    """(mean, sample std, ci_low, ci_high) of the finite values.

    The CI is the Student-t interval mean +/- t_{(1+confidence)/2, n-1} * std / sqrt(n).
    No values: all NaN. One value: (value, NaN, NaN, NaN). Identical values: a
    zero-width CI at the mean.
    """
    x = _clean(values)
    n = len(x)
    if n == 0:
        return (math.nan,) * 4
    mean = float(x.mean())
    if n < 2:
        return mean, math.nan, math.nan, math.nan
    from scipy import stats as st

    std = float(x.std(ddof=1))
    half = float(st.t.ppf((1 + confidence) / 2, n - 1)) * std / math.sqrt(n)
    return mean, std, mean - half, mean + half


def welch(a: Iterable, b: Iterable, confidence: float = 0.95) -> tuple[float, float, float, float]:
    """Welch's t-test of mean(a) - mean(b): (diff, ci_low, ci_high, two-sided p).

    The CI of the difference uses the Welch-Satterthwaite degrees of freedom
    df = (va/na + vb/nb)^2 / ((va/na)^2/(na-1) + (vb/nb)^2/(nb-1)).
    Fewer than 2 finite values on either side: (diff, NaN, NaN, NaN) (diff NaN if a side
    is empty). Both sides without variance: p = 1 when the means are equal, else 0,
    and a zero-width CI.
    """
    xa, xb = _clean(a), _clean(b)
    na, nb = len(xa), len(xb)
    if na == 0 or nb == 0:
        return (math.nan,) * 4
    diff = float(xa.mean() - xb.mean())
    if na < 2 or nb < 2:
        return diff, math.nan, math.nan, math.nan
    from scipy import stats as st

    qa, qb = xa.var(ddof=1) / na, xb.var(ddof=1) / nb
    se = math.sqrt(qa + qb)
    if se == 0.0:
        return diff, diff, diff, (1.0 if diff == 0.0 else 0.0)
    df = (qa + qb) ** 2 / (qa ** 2 / (na - 1) + qb ** 2 / (nb - 1))
    t = diff / se
    p = float(2.0 * st.t.sf(abs(t), df))
    half = float(st.t.ppf((1 + confidence) / 2, df)) * se
    return diff, diff - half, diff + half, min(p, 1.0)


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm-Bonferroni step-down adjusted p-values, in the input order.

    NaN entries stay NaN and do not count towards the number of tests m. The i-th
    smallest p (0-based) is multiplied by (m - i); adjusted values are made monotone
    with a running max and capped at 1.
    """
    p = np.asarray(pd.to_numeric(pd.Series(list(pvalues), dtype=object), errors="coerce"), dtype=float)
    out = np.full(p.shape, np.nan)
    idx = np.flatnonzero(~np.isnan(p))
    m = len(idx)
    if m == 0:
        return out
    order = idx[np.argsort(p[idx], kind="mergesort")]
    adjusted = np.maximum.accumulate(p[order] * (m - np.arange(m)))
    out[order] = np.minimum(adjusted, 1.0)
    return out


# ---------------------------------------------------------------- summary

def _diverged_mask(runs: pd.DataFrame) -> pd.Series:
    if "diverged" not in runs.columns:
        return pd.Series(False, index=runs.index)
    d = runs["diverged"]
    if d.dtype == bool:
        return d
    return d.astype(str).str.strip().str.lower().isin(["true", "1", "1.0", "yes"])


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


def _num(s: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        return s.astype(float)
    return pd.to_numeric(s.astype(object).where(s.astype(str).str.strip() != "", None), errors="coerce")


def curve_stats(epochs: pd.DataFrame) -> pd.DataFrame:
    """Per run (RUN_KEYS): curve_metric, epochs_to_99pct and val_auc (see SUMMARY_COLUMNS)."""
    rows = []
    if epochs is None or epochs.empty:
        return pd.DataFrame(columns=[*RUN_KEYS, "curve_metric", "epochs_to_99pct", "val_auc"])
    ep = epochs.copy()
    ep["epoch"] = _num(ep["epoch"])
    for key, g in ep.sort_values("epoch", kind="mergesort").groupby(RUN_KEYS, sort=False):
        metric = "accuracy"
        if "val_accuracy" in g.columns and _num(g["val_accuracy"]).notna().any():
            metric = "val_accuracy"
        vals = _num(g[metric]).to_numpy()
        eps = g["epoch"].to_numpy()
        ok = np.isfinite(vals)
        if not ok.any():
            rows.append((*key, metric, math.nan, math.nan))
            continue
        best = vals[ok].max()
        reach = np.flatnonzero(ok & (vals >= 0.99 * best))
        rows.append((*key, metric, float(eps[reach[0]]), float(vals[ok].mean())))
    return pd.DataFrame(rows, columns=[*RUN_KEYS, "curve_metric", "epochs_to_99pct", "val_auc"])


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


def summarize(runs: pd.DataFrame, epochs: pd.DataFrame | None = None, baseline: str | None = None,
              alpha: float = 0.05) -> pd.DataFrame:
    """summary.csv rows: one per (dataset, model, activation), sorted by dataset, model, rank.

    Columns: FIXED_SUMMARY_COLUMNS, then "<diagnostic>_mean" for every diagnostic column
    of runs (see SUMMARY_COLUMNS for each definition).
    """
    runs = runs.reset_index(drop=True)
    for k in GROUP_KEYS:
        runs[k] = runs[k].astype(str)
    diverged = _diverged_mask(runs)
    for c in ("test_accuracy", "test_loss", "seconds_per_epoch", "train_seconds"):
        runs[c] = _num(runs[c]) if c in runs.columns else math.nan
    diag = diagnostic_columns(runs)
    for c in diag:
        runs[c] = _num(runs[c])
    good = runs[~diverged]

    curves = None
    if epochs is not None and not epochs.empty:
        ep = epochs.copy()
        for k in GROUP_KEYS:
            ep[k] = ep[k].astype(str)
        ep["seed"] = _num(ep["seed"]).astype("int64")
        keys = good[RUN_KEYS].copy()
        keys["seed"] = _num(keys["seed"]).astype("int64")
        ep = ep.merge(keys.drop_duplicates(), on=RUN_KEYS, how="inner")  # finished, non-diverged runs only
        curves = curve_stats(ep)

    baseline = None if baseline in (None, "") else str(baseline)
    out_rows = []
    for (dataset, model), grp in runs.groupby(["dataset", "model"], sort=True):
        acts = list(dict.fromkeys(grp["activation"]))
        rows = []
        for act in acts:
            mine = grp[grp["activation"] == act]
            ok = mine[~diverged.loc[mine.index]]
            acc = mean_ci(ok["test_accuracy"])
            loss = mean_ci(ok["test_loss"])
            row = {
                "dataset": dataset, "model": model, "activation": act,
                "n": int(len(ok)), "n_diverged": int(len(mine) - len(ok)),
                "test_accuracy_mean": acc[0], "test_accuracy_std": acc[1],
                "test_accuracy_ci_low": acc[2], "test_accuracy_ci_high": acc[3],
                "test_loss_mean": loss[0], "test_loss_std": loss[1],
                "test_loss_ci_low": loss[2], "test_loss_ci_high": loss[3],
                "curve_metric": "", "epochs_to_99pct": math.nan, "val_auc": math.nan,
                "seconds_per_epoch_mean": _mean(ok["seconds_per_epoch"]),
                "train_seconds_mean": _mean(ok["train_seconds"]),
            }
            if curves is not None:
                c = curves[(curves["dataset"] == dataset) & (curves["model"] == model)
                           & (curves["activation"] == act)]
                if len(c):
                    row["curve_metric"] = "val_accuracy" if (c["curve_metric"] == "val_accuracy").all() else "accuracy"
                    row["epochs_to_99pct"] = _mean(c["epochs_to_99pct"])
                    row["val_auc"] = _mean(c["val_auc"])
            for d in diag:
                row[f"{d}_mean"] = _mean(ok[d])
            row["_acc"] = ok["test_accuracy"]
            rows.append(row)

        ranks = _ranks([r["test_accuracy_mean"] for r in rows], [r["test_accuracy_ci_low"] for r in rows],
                       [r["test_accuracy_ci_high"] for r in rows], [r["n"] for r in rows])
        for r, rk in zip(rows, ranks):
            r["rank"] = rk
            r["best"] = rk == 1

        base_row = next((r for r in rows if baseline is not None and r["activation"] == baseline), None)
        for r in rows:
            r.update(baseline="", diff_vs_baseline=math.nan, p_value=math.nan, p_holm=math.nan, verdict="")
            if base_row is None:
                continue
            r["baseline"] = baseline
            r["diff_vs_baseline"] = r["test_accuracy_mean"] - base_row["test_accuracy_mean"]
            if r is base_row:
                r["verdict"] = "baseline"
            else:
                r["p_value"] = welch(r["_acc"], base_row["_acc"])[3]
        others = [r for r in rows if base_row is not None and r is not base_row]
        for r, ph in zip(others, holm([r["p_value"] for r in others])):
            r["p_holm"] = float(ph)
            if math.isfinite(ph):
                if ph < alpha and r["diff_vs_baseline"] > 0:
                    r["verdict"] = "better"
                elif ph < alpha and r["diff_vs_baseline"] < 0:
                    r["verdict"] = "worse"
                else:
                    r["verdict"] = "same"
        rows.sort(key=lambda r: (r["rank"], -_finite_or(r["test_accuracy_mean"], -math.inf), r["activation"]))
        out_rows.extend(rows)

    diag_cols = [f"{d}_mean" for d in diag]
    df = pd.DataFrame(out_rows, columns=[*FIXED_SUMMARY_COLUMNS, *diag_cols])
    df["n"] = df["n"].astype("int64")
    df["n_diverged"] = df["n_diverged"].astype("int64")
    df["rank"] = df["rank"].astype("int64")
    df["best"] = df["best"].astype(bool)
    return df.reset_index(drop=True)


def _mean(s: pd.Series) -> float:
    x = _clean(s)
    return float(x.mean()) if len(x) else math.nan


def _finite_or(x: float, default: float) -> float:
    return x if isinstance(x, (int, float)) and math.isfinite(x) else default
