"""Significance tests and power over per-seed values: the statistics behind every verdict.

Pure functions over arrays; scipy is imported lazily so importing this module stays cheap.
Used by stats.summarize (each activation vs the baseline in one run) and by compare
(candidate vs base), so both decide the same way:

* paired when the two sides share at least 2 seeds: a paired t-test on the per-seed
  differences (runs with the same seed share initial weights and data order, so their
  results are paired); seeds on one side only are left out of the pairing;
* Welch's unequal-variance t-test otherwise (both sides need >= 2 values);
* no test with fewer values (callers fall back to a fixed max-drop rule).

Power: the smallest drop a test of this kind detects with 80% power is
(t_{1-alpha/2, df} + t_{power, df}) * SE, with the observed standard error and degrees
of freedom (the usual normal-approximation formula with t quantiles).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

# Standard errors below this are rounding noise of values read with 10 significant digits:
# the spread is zero (an exact rerun, or the same shift on every seed).
ZERO_SE = 1e-12
PAIRED = "paired"
WELCH = "welch"
NO_TEST = ""
POWER = 0.8


@dataclass(frozen=True)
class TestResult:
    """One two-sided test of mean(candidate) - mean(base)."""

    test: str  # PAIRED, WELCH or NO_TEST
    n: int  # pairs (paired) or the smaller side's count (Welch/none)
    diff: float
    ci_low: float
    ci_high: float
    p_value: float
    se: float  # standard error of diff (NaN without a test)
    df: float  # degrees of freedom (NaN without a test)


def finite_values(values: Iterable) -> np.ndarray:
    """The finite numbers among values (text, None and NaN dropped)."""
    arr = pd.to_numeric(pd.Series(list(values), dtype=object), errors="coerce").to_numpy(dtype=float)
    return arr[np.isfinite(arr)]


def mean_ci(values: Iterable, confidence: float = 0.95) -> tuple[float, float, float, float]:
    """(mean, sample std, ci_low, ci_high) of the finite values.

    The CI is the Student-t interval mean +/- t_{(1+confidence)/2, n-1} * std / sqrt(n).
    No values: all NaN. One value: (value, NaN, NaN, NaN). Identical values: a
    zero-width CI at the mean.
    """
    x = finite_values(values)
    n = len(x)
    if n == 0:
        return (math.nan,) * 4
    mean = float(x.mean())
    if n < 2:
        return mean, math.nan, math.nan, math.nan
    std = float(x.std(ddof=1))
    half = _t_quantile((1 + confidence) / 2, n - 1) * std / math.sqrt(n)
    return mean, std, mean - half, mean + half


def welch(a: Iterable, b: Iterable, confidence: float = 0.95) -> tuple[float, float, float, float]:
    """Welch's t-test of mean(a) - mean(b): (diff, ci_low, ci_high, two-sided p).

    The CI of the difference uses the Welch-Satterthwaite degrees of freedom
    df = (va/na + vb/nb)^2 / ((va/na)^2/(na-1) + (vb/nb)^2/(nb-1)).
    Fewer than 2 finite values on either side: (diff, NaN, NaN, NaN) (diff NaN if a side
    is empty). Both sides without variance: p = 1 when the means are equal, else 0,
    and a zero-width CI.
    """
    r = welch_test(a, b, confidence)
    return r.diff, r.ci_low, r.ci_high, r.p_value


def welch_test(a: Iterable, b: Iterable, confidence: float = 0.95) -> TestResult:
    """welch() with the test's standard error and degrees of freedom."""
    xa, xb = finite_values(a), finite_values(b)
    na, nb = len(xa), len(xb)
    diff = float(xa.mean() - xb.mean()) if na and nb else math.nan
    if na < 2 or nb < 2:
        return TestResult(NO_TEST, min(na, nb), diff, math.nan, math.nan, math.nan, math.nan, math.nan)
    qa, qb = xa.var(ddof=1) / na, xb.var(ddof=1) / nb
    se = math.sqrt(qa + qb)
    if se < ZERO_SE:
        return TestResult(WELCH, min(na, nb), diff, diff, diff, 1.0 if diff == 0.0 else 0.0, 0.0, na + nb - 2.0)
    df = (qa + qb) ** 2 / (qa**2 / (na - 1) + qb**2 / (nb - 1))
    return _t_result(WELCH, min(na, nb), diff, se, df, confidence)


def paired_test(differences: Iterable, confidence: float = 0.95) -> TestResult:
    """Paired t-test of per-seed differences (candidate - base): t = mean(d) / (sd(d)/sqrt(n)), df = n - 1.

    Fewer than 2 differences: no test. All differences equal: p = 1 when they are 0,
    else 0, and a zero-width CI (an exact rerun, or a constant shift).
    """
    d = finite_values(differences)
    n = len(d)
    diff = float(d.mean()) if n else math.nan
    if n < 2:
        return TestResult(NO_TEST, n, diff, math.nan, math.nan, math.nan, math.nan, math.nan)
    se = float(d.std(ddof=1)) / math.sqrt(n)
    if se < ZERO_SE:
        return TestResult(PAIRED, n, diff, diff, diff, 1.0 if diff == 0.0 else 0.0, 0.0, n - 1.0)
    return _t_result(PAIRED, n, diff, se, n - 1.0, confidence)


def _t_result(test: str, n: int, diff: float, se: float, df: float, confidence: float) -> TestResult:
    from scipy import stats as st

    p = float(2.0 * st.t.sf(abs(diff / se), df))
    half = _t_quantile((1 + confidence) / 2, df) * se
    return TestResult(test, n, diff, diff - half, diff + half, min(p, 1.0), se, df)


def _t_quantile(q: float, df: float) -> float:
    from scipy import stats as st

    return float(st.t.ppf(q, df))


def compare_by_seed(cand: Mapping[int, float], base: Mapping[int, float], confidence: float = 0.95) -> TestResult:
    """Test candidate vs base values keyed by seed: paired on the common seeds when there
    are at least 2, else Welch over all values of each side."""
    common = sorted(set(cand) & set(base))
    if len(common) >= 2:
        return paired_test([cand[s] - base[s] for s in common], confidence)
    return welch_test(list(cand.values()), list(base.values()), confidence)


def min_detectable_drop(result: TestResult, alpha: float, power: float = POWER) -> float:
    """The smallest true difference this test detects with the given power at level alpha
    (two-sided), from its observed standard error: (t_{1-alpha/2,df} + t_{power,df}) * SE.
    NaN without a test; 0 when the spread is 0."""
    if result.test == NO_TEST or not math.isfinite(result.se):
        return math.nan
    if result.se == 0.0:
        return 0.0
    return (_t_quantile(1 - alpha / 2, result.df) + _t_quantile(power, result.df)) * result.se


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


def n_tests(pvalues: Sequence[float]) -> int:
    """How many of the p-values are real tests (not NaN): Holm's m."""
    return int(
        np.isfinite(
            np.asarray(pd.to_numeric(pd.Series(list(pvalues), dtype=object), errors="coerce"), dtype=float)
        ).sum()
    )
