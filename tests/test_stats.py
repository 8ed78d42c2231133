"""actbench.analysis.stats against hand-computed values."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st

from actbench.analysis.significance import holm, mean_ci, welch
from actbench.analysis.stats import summarize
from actbench.results import FIXED_SUMMARY_COLUMNS, SUMMARY_COLUMNS

T_975_DF2 = 4.302653  # t quantile 0.975 with 2 degrees of freedom (tables)


# ---------------------------------------------------------------- mean_ci


def test_mean_ci_hand_computed():
    mean, std, lo, hi = mean_ci([0.90, 0.92, 0.94])
    assert mean == pytest.approx(0.92)
    assert std == pytest.approx(0.02)  # sqrt((0.02^2 + 0 + 0.02^2) / 2)
    half = T_975_DF2 * 0.02 / math.sqrt(3)
    assert lo == pytest.approx(0.92 - half, abs=1e-6)
    assert hi == pytest.approx(0.92 + half, abs=1e-6)


def test_mean_ci_small_and_missing():
    assert all(math.isnan(v) for v in mean_ci([]))
    m, s, lo, hi = mean_ci([0.5])
    assert m == 0.5 and math.isnan(s) and math.isnan(lo) and math.isnan(hi)
    # NaN and None are ignored, not counted
    assert mean_ci([0.90, float("nan"), 0.92, None, 0.94])[0] == pytest.approx(0.92)
    m, s, lo, hi = mean_ci([0.7, 0.7, 0.7])
    assert (m, s, lo, hi) == pytest.approx((0.7, 0.0, 0.7, 0.7))


# ---------------------------------------------------------------- welch


def test_welch_hand_computed():
    a = [0.91, 0.92, 0.93]  # mean 0.92, var 1e-4
    b = [0.88, 0.90, 0.92]  # mean 0.90, var 4e-4
    diff, lo, hi, p = welch(a, b)
    se = math.sqrt(1e-4 / 3 + 4e-4 / 3)
    df = (5e-4 / 3) ** 2 / ((1e-4 / 3) ** 2 / 2 + (4e-4 / 3) ** 2 / 2)
    assert df == pytest.approx(50 / 17)
    t = 0.02 / se
    assert t == pytest.approx(1.549193, abs=1e-6)
    assert diff == pytest.approx(0.02)
    assert p == pytest.approx(2 * (1 - st.t.cdf(t, df)))
    half = st.t.ppf(0.975, df) * se
    assert (lo, hi) == pytest.approx((0.02 - half, 0.02 + half))
    # cross-check with scipy's own Welch test
    assert p == pytest.approx(st.ttest_ind(a, b, equal_var=False).pvalue)
    assert 0.2 < p < 0.3


def test_welch_direction_and_degenerate_cases():
    assert welch([1, 2, 3], [4, 6, 8])[0] == pytest.approx(-4.0)
    d, lo, hi, p = welch([0.9], [0.8, 0.82])
    assert d == pytest.approx(0.09) and math.isnan(lo) and math.isnan(hi) and math.isnan(p)
    assert all(math.isnan(v) for v in welch([], [0.8, 0.9]))
    assert welch([0.9, 0.9], [0.9, 0.9])[3] == 1.0
    assert welch([0.9, 0.9], [0.8, 0.8])[3] == 0.0


# ---------------------------------------------------------------- holm


def test_holm_hand_computed():
    # sorted: 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> running max 0.06
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    out = holm([float("nan"), 0.02, 0.5])  # NaN is not a test: m = 2
    assert math.isnan(out[0]) and list(out[1:]) == pytest.approx([0.04, 0.5])
    assert holm([0.6, 0.7]) == pytest.approx([1.0, 1.0])  # capped at 1
    assert len(holm([])) == 0


# ---------------------------------------------------------------- summarize


def _runs(spec, dataset="mnist", model="cnn"):
    """spec: {activation: [acc or None for diverged, ...]}"""
    rows = []
    for act, accs in spec.items():
        for seed, acc in enumerate(accs):
            rows.append(
                {
                    "config_hash": "h",
                    "dataset": dataset,
                    "model": model,
                    "activation": act,
                    "seed": seed,
                    "test_loss": np.nan if acc is None else 1 - acc,
                    "test_accuracy": np.nan if acc is None else acc,
                    "train_seconds": 10.0 + seed,
                    "seconds_per_epoch": 2.0 + seed,
                    "timing": "steady",
                    "diverged": acc is None,
                    "engine": "keras",
                    "dead_fraction/conv1": 0.1 * (seed + 1),
                    "grad_ratio_min": 2.0,
                }
            )
    return pd.DataFrame(rows)


def test_summarize_hand_computed():
    runs = _runs({"relu": [0.90, 0.92, 0.94], "gelu": [0.95, 0.96, 0.97, None], "sigmoid": [0.50, 0.51, 0.52]})
    s = summarize(runs, None, baseline="relu")
    assert list(s["activation"]) == ["gelu", "relu", "sigmoid"]  # by rank, then mean
    r = s.set_index("activation")
    assert r.loc["gelu", "n"] == 3 and r.loc["gelu", "n_diverged"] == 1
    assert r.loc["relu", "test_accuracy_mean"] == pytest.approx(0.92)
    assert r.loc["relu", "test_accuracy_std"] == pytest.approx(0.02)
    assert r.loc["relu", "test_accuracy_ci_high"] == pytest.approx(0.92 + T_975_DF2 * 0.02 / math.sqrt(3), abs=1e-6)
    assert r.loc["relu", "test_loss_mean"] == pytest.approx(0.08)
    # relu CI [0.870, 0.970] overlaps gelu's [0.935, 0.985]: both rank 1; sigmoid clearly below both
    assert list(r["rank"]) == [1, 1, 3] and list(r["best"]) == [True, True, False]
    assert r.loc["gelu", "diff_vs_baseline"] == pytest.approx(0.04)
    # gelu and relu share seeds 0-2 (gelu's seed 3 diverged): paired on the differences 0.05, 0.04, 0.03
    # -> mean 0.04, sd 0.01, se 0.01/sqrt(3), t = 6.9282, df 2
    t_gelu = 0.04 / (0.01 / math.sqrt(3))
    assert t_gelu == pytest.approx(6.928203, abs=1e-6)
    p_gelu = 2 * st.t.sf(t_gelu, 2)
    # sigmoid - relu: -0.40, -0.41, -0.42 -> mean -0.41, sd 0.01, t = -71.014
    p_sig = 2 * st.t.sf(0.41 / (0.01 / math.sqrt(3)), 2)
    assert list(r.loc[["gelu", "sigmoid"], "test"]) == ["paired", "paired"]
    assert r.loc["gelu", "p_value"] == pytest.approx(p_gelu) and p_gelu == pytest.approx(0.020204, abs=1e-5)
    assert r.loc["sigmoid", "p_value"] == pytest.approx(p_sig)
    # Holm, m = 2: sigmoid's p doubled, gelu's p once (running max)
    assert r.loc["sigmoid", "p_holm"] == pytest.approx(2 * p_sig)
    assert r.loc["gelu", "p_holm"] == pytest.approx(max(p_gelu, 2 * p_sig))
    assert math.isnan(r.loc["relu", "p_value"]) and r.loc["relu", "test"] == ""
    assert r.loc["relu", "verdict"] == "baseline" and r.loc["sigmoid", "verdict"] == "worse"
    assert r.loc["gelu", "verdict"] == "better"
    # power at alpha/m = 0.025, df 2: (t_0.9875 + t_0.8) * se = (6.2053 + 1.0607) * 0.0057735
    assert r.loc["gelu", "min_detectable_drop"] == pytest.approx((6.205347 + 1.060660) * 0.01 / math.sqrt(3), abs=1e-6)
    assert math.isnan(r.loc["relu", "min_detectable_drop"])
    assert list(r["n_at_chance"]) == [0, 0, 0]
    assert set(r["baseline"]) == {"relu"}
    # diverged runs are excluded from every mean, timing included
    assert r.loc["gelu", "train_seconds_mean"] == pytest.approx(11.0)
    assert r.loc["gelu", "seconds_per_epoch_mean"] == pytest.approx(3.0)
    # generic diagnostic means; text columns (engine, timing) are not diagnostics
    assert r.loc["gelu", "dead_fraction/conv1_mean"] == pytest.approx(0.2)
    assert r.loc["gelu", "grad_ratio_min_mean"] == pytest.approx(2.0)
    assert "engine_mean" not in s.columns and "timing_mean" not in s.columns
    assert list(s.columns[: len(FIXED_SUMMARY_COLUMNS)]) == FIXED_SUMMARY_COLUMNS


def test_summary_columns_documented():
    s = summarize(_runs({"relu": [0.9, 0.91]}), None, None)
    for c in s.columns:
        assert c in SUMMARY_COLUMNS or (c.endswith("_mean") and "<diagnostic>_mean" in SUMMARY_COLUMNS), c
    assert all(SUMMARY_COLUMNS[c] for c in SUMMARY_COLUMNS)


def test_summarize_no_baseline_and_absent_baseline():
    for base in (None, "swish"):
        s = summarize(_runs({"relu": [0.9, 0.91], "gelu": [0.92, 0.93]}), None, base)
        assert s["diff_vs_baseline"].isna().all() and s["p_value"].isna().all() and s["p_holm"].isna().all()
        assert set(s["verdict"]) == {""} and set(s["baseline"]) == {""}


def test_summarize_baseline_per_dataset():
    runs = pd.concat(
        [
            _runs({"relu": [0.9, 0.91], "gelu": [0.92, 0.93]}, dataset="a"),
            _runs({"gelu": [0.92, 0.93], "tanh": [0.8, 0.81]}, dataset="b"),
        ]
    )
    s = summarize(runs, None, "relu")
    assert set(s.loc[s["dataset"] == "a", "verdict"]) <= {"baseline", "better", "same", "worse"}
    assert set(s.loc[s["dataset"] == "b", "verdict"]) == {""}
    assert list(s["dataset"]) == ["a", "a", "b", "b"]


def test_summarize_single_seed_and_all_diverged():
    s = summarize(_runs({"relu": [0.90], "gelu": [0.95], "elu": [None, None]}), None, "relu")
    r = s.set_index("activation")
    # n < 2: ranks by the mean alone; all-diverged ranks last
    assert r.loc["gelu", "rank"] == 1 and r.loc["relu", "rank"] == 2 and r.loc["elu", "rank"] == 3
    assert r.loc["elu", "n"] == 0 and r.loc["elu", "n_diverged"] == 2
    assert math.isnan(r.loc["relu", "test_accuracy_std"]) and math.isnan(r.loc["relu", "test_accuracy_ci_low"])
    assert math.isnan(r.loc["gelu", "p_value"]) and r.loc["gelu", "verdict"] == ""
    assert r.loc["gelu", "diff_vs_baseline"] == pytest.approx(0.05)


def _epochs(curves, val=True):
    rows = []
    for (act, seed), accs in curves.items():
        for i, a in enumerate(accs, start=1):
            rows.append(
                {
                    "config_hash": "h",
                    "dataset": "mnist",
                    "model": "cnn",
                    "activation": act,
                    "seed": seed,
                    "epoch": i,
                    "loss": 1 - a,
                    "accuracy": a - 0.1 if val else a,
                    "val_loss": np.nan,
                    "val_accuracy": a if val else np.nan,
                    "seconds": 1.0,
                }
            )
    return pd.DataFrame(rows)


def test_curve_metrics_hand_computed():
    runs = _runs({"relu": [0.9, 0.9], "gelu": [0.9, None]})
    # relu seed 0: best 0.96 -> threshold 0.9504 -> epoch 4 (0.95 is just short); seed 1: best 0.8 -> epoch 2
    curves = {
        ("relu", 0): [0.5, 0.8, 0.95, 0.96],
        ("relu", 1): [0.5, 0.8, 0.8, 0.79],
        ("gelu", 0): [0.9, 0.9, 0.9, 0.9],
        ("gelu", 1): [0.1, float("nan")],
    }  # diverged: ignored
    s = summarize(runs, _epochs(curves), None).set_index("activation")
    assert s.loc["relu", "curve_metric"] == "val_accuracy"
    assert s.loc["relu", "epochs_to_99pct"] == pytest.approx((4 + 2) / 2)
    assert s.loc["relu", "curve_mean"] == pytest.approx(
        ((0.5 + 0.8 + 0.95 + 0.96) / 4 + (0.5 + 0.8 + 0.8 + 0.79) / 4) / 2
    )
    assert s.loc["gelu", "epochs_to_99pct"] == 1 and s.loc["gelu", "curve_mean"] == pytest.approx(0.9)


def test_curve_metrics_fall_back_to_train_accuracy():
    runs = _runs({"relu": [0.9]})
    s = summarize(runs, _epochs({("relu", 0): [0.5, 1.0]}, val=False), None)
    assert s.loc[0, "curve_metric"] == "accuracy"
    assert s.loc[0, "epochs_to_99pct"] == 2 and s.loc[0, "curve_mean"] == pytest.approx(0.75)


def test_summarize_accepts_text_frames():
    # as read with dtype=str (e.g. diverged "true"/"false", empty metrics)
    runs = _runs({"relu": [0.9, 0.92], "gelu": [0.93, None]}).astype(str)
    runs["diverged"] = runs["diverged"].str.lower()
    runs = runs.replace("nan", "")
    s = summarize(runs, None, "relu").set_index("activation")
    assert s.loc["relu", "test_accuracy_mean"] == pytest.approx(0.91)
    assert s.loc["gelu", "n"] == 1 and s.loc["gelu", "n_diverged"] == 1


# ---------------------------------------------------------------- paired tests, power, at chance


def test_paired_test_hand_computed():
    from actbench.analysis.significance import paired_test

    # differences 0.01, 0.03, 0.02, 0.04: mean 0.025, sd sqrt(((-.015)^2 + .005^2 + .005^2 + .015^2) / 3) = 0.0129099
    r = paired_test([0.01, 0.03, 0.02, 0.04])
    sd = math.sqrt((0.015**2 + 0.005**2 + 0.005**2 + 0.015**2) / 3)
    assert sd == pytest.approx(0.0129099, abs=1e-7)
    se = sd / 2
    assert (r.test, r.n, r.df) == ("paired", 4, 3.0)
    assert r.diff == pytest.approx(0.025) and r.se == pytest.approx(se)
    t = 0.025 / se  # 3.873
    assert r.p_value == pytest.approx(2 * st.t.sf(t, 3)) and r.p_value == pytest.approx(0.0305, abs=1e-4)
    assert r.p_value == pytest.approx(st.ttest_rel([0.91, 0.93, 0.92, 0.94], [0.90] * 4).pvalue)
    half = 3.182446 * se  # t_0.975 with 3 degrees of freedom (tables)
    assert (r.ci_low, r.ci_high) == pytest.approx((0.025 - half, 0.025 + half), abs=1e-6)


def test_paired_test_tiny_and_degenerate():
    from actbench.analysis.significance import paired_test

    one = paired_test([0.02])
    assert one.test == "" and one.diff == pytest.approx(0.02) and math.isnan(one.p_value)
    assert paired_test([0.0, 0.0, 0.0]).p_value == 1.0  # an exact rerun
    shift = paired_test([-0.05, -0.05, -0.05])  # a constant shift: certain
    assert shift.p_value == 0.0 and shift.ci_low == shift.ci_high == pytest.approx(-0.05)


def test_compare_by_seed_pairs_on_two_or_more_common_seeds_else_welch():
    from actbench.analysis.significance import compare_by_seed, paired_test, welch_test

    base = {0: 0.90, 1: 0.92, 2: 0.94, 7: 0.99}
    cand = {0: 0.88, 1: 0.89, 2: 0.93, 9: 0.50}
    r = compare_by_seed(cand, base)
    expected = paired_test([-0.02, -0.03, -0.01])  # seeds 7 and 9 left out
    assert (r.test, r.n) == ("paired", 3) and (r.diff, r.p_value) == pytest.approx((expected.diff, expected.p_value))
    r = compare_by_seed({0: 0.88, 5: 0.89, 6: 0.93}, {0: 0.90, 1: 0.92, 2: 0.94})  # one seed in common
    expected = welch_test([0.88, 0.89, 0.93], [0.90, 0.92, 0.94])
    assert r.test == "welch" and (r.diff, r.p_value) == pytest.approx((expected.diff, expected.p_value))


def test_min_detectable_drop_hand_computed():
    from actbench.analysis.significance import min_detectable_drop, paired_test, welch_test

    r = paired_test([0.01, 0.03, 0.02, 0.04])  # se 0.0064550, df 3
    # (t_{0.975,3} + t_{0.8,3}) * se = (3.182446 + 0.978472) * 0.0064550 = 0.026858
    assert min_detectable_drop(r, 0.05) == pytest.approx((3.182446 + 0.978472) * r.se, abs=1e-6)
    assert min_detectable_drop(r, 0.05) == pytest.approx(0.026858, abs=1e-6)
    # alpha/3 (Holm's first step over 3 rows) needs a larger drop
    assert min_detectable_drop(r, 0.05 / 3) > min_detectable_drop(r, 0.05)
    w = welch_test([0.91, 0.92, 0.93], [0.88, 0.90, 0.92])  # se sqrt(5e-4/3), df 50/17
    assert min_detectable_drop(w, 0.05) == pytest.approx(
        (st.t.ppf(0.975, 50 / 17) + st.t.ppf(0.8, 50 / 17)) * math.sqrt(5e-4 / 3)
    )
    assert math.isnan(min_detectable_drop(paired_test([0.01]), 0.05))
    assert min_detectable_drop(paired_test([0.0, 0.0]), 0.05) == 0.0


def test_summary_counts_runs_at_chance():
    runs = _runs({"relu": [0.90, 0.92, 0.94], "sigmoid": [0.101, 0.113, 0.52]})  # mnist: 10 classes
    s = summarize(runs, None, "relu").set_index("activation")  # no at_chance column: computed (old files)
    assert s.loc["sigmoid", "n_at_chance"] == 2 and s.loc["relu", "n_at_chance"] == 0
    assert s.loc["sigmoid", "n"] == 3 and s.loc["sigmoid", "test_accuracy_mean"] == pytest.approx(0.734 / 3)
    runs["at_chance"] = [False, False, False, True, False, False]  # the recorded flag wins
    assert summarize(runs, None, "relu").set_index("activation").loc["sigmoid", "n_at_chance"] == 1
