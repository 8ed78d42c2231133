"""actbench.analysis.compare: verdicts, regressions, warnings, formats, bad input."""

import json
import math
from pathlib import Path

import pandas as pd
import pytest
from scipy import stats as st

from actbench.analysis.compare import compare
from actbench.analysis.significance import welch
from actbench.display.compare_format import format_comparison
from actbench.errors import ResultsError
from actbench.results import ResultSet, read_result_set

GOLDEN = Path(__file__).parent / "golden" / "compare"


def _golden(name):
    rs = read_result_set(GOLDEN / f"{name}.csv")
    rs.source = Path(f"{name}.csv")  # the golden outputs name the inputs without this checkout's path
    return rs


def _rs(spec, config_hash="h1", metadata=None, source="x", first_seed=0):
    """spec: {activation: [acc or None (diverged), ...]} -> ResultSet (seeds first_seed, first_seed + 1, ...)."""
    rows = []
    for act, accs in spec.items():
        for seed, acc in enumerate(accs, start=first_seed):
            rows.append(
                {
                    "config_hash": config_hash,
                    "dataset": "mnist",
                    "model": "cnn",
                    "activation": act,
                    "seed": seed,
                    "test_loss": 0.3,
                    "test_accuracy": float("nan") if acc is None else acc,
                    "diverged": acc is None,
                }
            )
    return ResultSet(source=Path(source), runs=pd.DataFrame(rows), metadata=metadata)


def _row(cmp, act):
    return cmp.rows.set_index("activation").loc[act]


def test_golden_consistent_half_point_drop_on_same_seeds_is_worse_not_regression():
    cmp = compare(_golden("base_same"), _golden("cand_same"))
    r = _row(cmp, "relu")
    # per-seed differences -0.005, -0.003, -0.007, -0.005, -0.005: mean -0.005, sd sqrt(2e-6), t = -7.906, df 4
    assert r["test"] == "paired" and (r["base_n"], r["cand_n"]) == (5, 5)
    assert r["diff"] == pytest.approx(-0.005)
    se = math.sqrt(2e-6) / math.sqrt(5)
    assert r["p_value"] == pytest.approx(2 * st.t.sf(0.005 / se, 4))
    assert r["p_holm"] == pytest.approx(2 * r["p_value"])  # Holm over 2 rows; gelu (identical) has p = 1
    assert r["verdict"] == "worse" and not r["regression"]  # significant, but within the 1-point max drop
    assert _row(cmp, "gelu")["verdict"] == "identical" and _row(cmp, "gelu")["p_value"] == pytest.approx(1.0)
    assert not cmp.regressed and not cmp.identical and cmp.warnings == []
    md = format_comparison(cmp, "markdown")
    assert "**No regressions** (max drop 1.00 points, alpha 0.05)" in md
    assert "| mnist | small_cnn | relu | 91.00 (5) | 90.50 (5) | -0.50 |" in md
    assert md == (GOLDEN / "expected_same_seeds.md").read_text()


def test_golden_same_values_on_other_seeds_use_welch_and_stay_same():
    cand = _golden("cand_same")
    cand.runs["seed"] += 10  # no seed in common: nothing to pair
    cmp = compare(_golden("base_same"), cand)
    r = _row(cmp, "relu")
    assert r["test"] == "welch" and r["diff"] == pytest.approx(-0.005)
    assert r["p_value"] == pytest.approx(
        welch(cand.runs.loc[cand.runs["activation"] == "relu", "test_accuracy"], [0.910, 0.915, 0.905, 0.912, 0.908])[3]
    )
    assert r["p_value"] > 0.05 and r["verdict"] == "same" and not r["regression"]
    assert _row(cmp, "gelu")["verdict"] == "same"  # equal numbers on other seeds are not a rerun
    assert format_comparison(cmp, "markdown") == (GOLDEN / "expected_other_seeds.md").read_text()


def test_golden_two_point_drop_over_five_seeds_is_regression():
    cmp = compare(_golden("base_regression"), _golden("cand_regression"))
    r = _row(cmp, "relu")
    assert (r["base_n"], r["cand_n"]) == (5, 5)
    assert r["diff"] == pytest.approx(-0.02)
    assert r["p_value"] < 0.001 and r["verdict"] == "worse" and r["regression"]
    # significantly worse but within the 1-point max drop: worse, not a regression
    t = _row(cmp, "tanh")
    assert t["verdict"] == "worse" and not t["regression"] and t["diff"] == pytest.approx(-0.003)
    assert cmp.regressed and cmp.n_regressions == 1
    md = format_comparison(cmp, "markdown")
    assert "**1 regression** (max drop 1.00 points, alpha 0.05)" in md
    assert md == (GOLDEN / "expected_regression.md").read_text()
    # a looser max drop forgives it
    assert not compare(_golden("base_regression"), _golden("cand_regression"), max_drop=0.03).regressed


def test_unpaired_rows_match_welch():
    base, cand = [0.90, 0.91, 0.92], [0.93, 0.94, 0.95]
    cmp = compare(_rs({"relu": base}), _rs({"relu": cand}, first_seed=3))
    d, lo, hi, p = welch(cand, base)
    r = _row(cmp, "relu")
    assert r["test"] == "welch"
    assert (r["diff"], r["diff_ci_low"], r["diff_ci_high"], r["p_value"]) == pytest.approx((d, lo, hi, p))
    assert r["verdict"] == "better" and not r["regression"]


def test_paired_hand_computed_with_seeds_left_out():
    # common seeds 0-2; base seed 3 and candidate seed 4 are left out of the pairing
    base = _rs({"relu": [0.90, 0.92, 0.94, 0.99]})
    cand = _rs({"relu": [0.88, 0.89, 0.93]})
    cand.runs = pd.concat([cand.runs, _rs({"relu": [0.5]}, first_seed=4).runs], ignore_index=True)
    cmp = compare(base, cand)
    r = _row(cmp, "relu")
    # differences -0.02, -0.03, -0.01: mean -0.02, sd 0.01, se 0.01/sqrt(3), t = -3.4641, df 2
    assert r["test"] == "paired" and (r["base_n"], r["cand_n"]) == (3, 3)
    assert (r["base_mean"], r["cand_mean"], r["diff"]) == pytest.approx((0.92, 0.90, -0.02))
    se = 0.01 / math.sqrt(3)
    assert r["p_value"] == pytest.approx(2 * st.t.sf(0.02 / se, 2)) and r["p_value"] == pytest.approx(0.0742, abs=1e-4)
    half = 4.302653 * se
    assert (r["diff_ci_low"], r["diff_ci_high"]) == pytest.approx((-0.02 - half, -0.02 + half), abs=1e-6)
    # power: (t_0.975,2 + t_0.8,2) * se = (4.302653 + 1.060660) * 0.0057735 = 3.10 points
    assert r["min_detectable_drop"] == pytest.approx((4.302653 + 1.060660) * se, abs=1e-6)
    text = "\n".join(cmp.warnings)
    assert (
        "mnist/cnn/relu: paired on 3 common seeds; left out (base only: seed(s) 3; candidate only: seed(s) 4)" in text
    )
    assert (
        "3 paired seeds cannot reliably detect drops under 3.10 points (mnist/cnn/relu; 80% power at alpha "
        "0.05/1), above --max-drop 1.00: add seeds."
    ) in text
    assert not any("cannot reliably" in w for w in compare(base, cand, max_drop=0.04).warnings)


def test_holm_across_rows_of_one_comparison():
    # three activations, each paired over seeds 0-2 with its own differences
    base = _rs({"a": [0.90, 0.90, 0.90], "b": [0.90, 0.90, 0.90], "c": [0.90, 0.90, 0.90]})
    cand = _rs({"a": [0.87, 0.869, 0.871], "b": [0.87, 0.88, 0.86], "c": [0.89, 0.91, 0.89]})
    cmp = compare(base, cand)
    # a: d = -.03 -.031 -.029 (mean -.03, sd .001); b: -.03 -.02 -.04 (mean -.03, sd .01); c: -.01 .01 -.01
    p = {
        "a": 2 * st.t.sf(0.03 / (0.001 / math.sqrt(3)), 2),
        "b": 2 * st.t.sf(0.03 / (0.01 / math.sqrt(3)), 2),
        "c": 2 * st.t.sf((0.01 / 3) / (math.sqrt(4e-4 / 3) / math.sqrt(3)), 2),
    }
    for act in "abc":
        assert _row(cmp, act)["p_value"] == pytest.approx(p[act], rel=1e-6)
    # sorted a < b < c: a * 3, max(that, b * 2), max(that, c * 1)
    ha = 3 * p["a"]
    hb = max(ha, 2 * p["b"])
    hc = min(1.0, max(hb, p["c"]))
    assert [_row(cmp, a)["p_holm"] for a in "abc"] == pytest.approx([ha, hb, hc], rel=1e-6)
    assert p["a"] < 0.05 and ha < 0.05  # a stays significant after Holm: a 3-point drop is a regression
    assert _row(cmp, "a")["regression"] and not _row(cmp, "b")["regression"]
    assert p["b"] < 0.05 < hb  # b alone would have been significant; Holm keeps it 'same'
    assert _row(cmp, "b")["verdict"] == "same" and cmp.n_tested == 3
    assert "Holm-corrected across the 3 tested rows" in format_comparison(cmp, "markdown")


def test_identical_rerun_and_when_it_is_not_one():
    meta = {"versions": {"tensorflow": "2.20.0"}, "backend": "tensorflow"}
    spec = {"relu": [0.90, 0.91, 0.92], "tanh": [0.88, 0.89, None]}
    cmp = compare(_rs(spec, metadata=meta), _rs(spec, metadata=meta))
    assert set(cmp.rows["verdict"]) == {"identical"} and cmp.identical and not cmp.regressed
    assert "**No regressions**: identical results, an exact rerun" in format_comparison(cmp, "markdown")
    assert json.loads(format_comparison(cmp, "json"))["identical"] is True
    other = {"versions": {"tensorflow": "2.21.0"}, "backend": "tensorflow"}
    cmp = compare(_rs(spec, metadata=meta), _rs(spec, metadata=other))
    assert set(cmp.rows["verdict"]) == {"same"} and not cmp.identical
    cmp = compare(_rs(spec), _rs(spec, config_hash="h2"))
    assert not cmp.identical
    nudged = {"relu": [0.90, 0.91, 0.9200001], "tanh": [0.88, 0.89, None]}
    assert _row(compare(_rs(spec), _rs(nudged)), "relu")["verdict"] == "same"


def test_at_chance_runs_are_counted_and_named():
    base = _rs({"sigmoid": [0.91, 0.90, 0.92]})
    cand = _rs({"sigmoid": [0.91, 0.101, 0.113]})  # mnist: 10 classes, chance 10 %, margin 2 points
    cmp = compare(base, cand)
    r = _row(cmp, "sigmoid")
    assert (r["base_at_chance"], r["cand_at_chance"]) == (0, 2)
    assert "mnist/cnn/sigmoid: 2 of 3 candidate run(s) stayed at chance (base 0 of 3)." in cmp.warnings
    assert "| 91.00 (3) | 37.47 (3, 2 at chance) |" in format_comparison(cmp, "markdown")


def test_one_seed_uses_max_drop_only():
    cmp = compare(
        _rs({"a": [0.90], "b": [0.90], "c": [0.90], "d": [0.90, 0.91]}),
        _rs({"a": [0.885], "b": [0.895], "c": [0.92], "d": [0.80]}),
    )
    assert (_row(cmp, "a")["verdict"], bool(_row(cmp, "a")["regression"])) == ("worse", True)
    assert (_row(cmp, "b")["verdict"], bool(_row(cmp, "b")["regression"])) == ("same", False)
    assert (_row(cmp, "c")["verdict"], bool(_row(cmp, "c")["regression"])) == ("better", False)
    assert (_row(cmp, "d")["verdict"], bool(_row(cmp, "d")["regression"])) == ("worse", True)  # 2 vs 1 seed
    assert math.isnan(_row(cmp, "a")["p_value"])
    assert "**2 regressions**" in format_comparison(cmp, "markdown")


def test_diverged_runs_excluded_with_warning():
    cmp = compare(_rs({"relu": [0.90, 0.91, 0.92]}), _rs({"relu": [0.90, 0.91, 0.92, None]}))
    r = _row(cmp, "relu")
    assert r["cand_n"] == 3 and r["diff"] == pytest.approx(0.0) and r["verdict"] == "same"
    assert any("diverged" in w and "seed 3" in w for w in cmp.warnings)


def test_all_diverged_candidate_is_regression():
    cmp = compare(_rs({"relu": [0.90, 0.91]}), _rs({"relu": [None, None]}))
    assert _row(cmp, "relu")["verdict"] == "worse" and cmp.regressed


def test_warnings_hash_versions_and_one_sided_rows():
    meta_b = {"versions": {"keras": "3.12.0", "tensorflow": "2.20.0"}, "backend": "tensorflow"}
    meta_c = {"versions": {"keras": "3.12.0", "tensorflow": "2.21.0"}, "backend": "tensorflow"}
    cmp = compare(
        _rs({"relu": [0.9, 0.91], "tanh": [0.8, 0.81]}, "aaa111", meta_b),
        _rs({"relu": [0.9, 0.91], "gelu": [0.92, 0.93]}, "bbb222", meta_c),
    )
    text = "\n".join(cmp.warnings)
    assert "aaa111" in text and "bbb222" in text
    assert "tensorflow 2.21.0 vs 2.20.0" in text and "keras" not in text
    assert "Only in base" in text and "mnist/cnn/tanh" in text
    assert "Only in candidate" in text and "mnist/cnn/gelu" in text
    assert list(cmp.rows["activation"]) == ["relu"]
    md = format_comparison(cmp, "markdown")
    assert "**Warnings**" in md and "- Config hashes differ" in md


def test_no_version_warning_without_metadata_on_both_sides():
    meta = {"versions": {"tensorflow": "2.21.0"}}
    cmp = compare(_rs({"relu": [0.9, 0.91]}, metadata=meta), _rs({"relu": [0.9, 0.91]}))
    assert cmp.warnings == []


def test_nothing_in_common_is_an_error():
    with pytest.raises(ResultsError) as e:
        compare(_rs({"relu": [0.9]}), _rs({"gelu": [0.9]}))
    assert "mnist/cnn/relu" in str(e.value) and "mnist/cnn/gelu" in str(e.value)
    assert e.value.exit_code == 2


def test_csv_and_json_formats():
    cmp = compare(_golden("base_regression"), _golden("cand_regression"))
    csv = format_comparison(cmp, "csv")
    assert csv.splitlines()[0] == (
        "dataset,model,activation,test,base_n,cand_n,base_at_chance,cand_at_chance,"
        "base_mean,cand_mean,diff,diff_ci_low,diff_ci_high,p_value,p_holm,"
        "min_detectable_drop,verdict,regression"
    )
    data = json.loads(format_comparison(cmp, "json"))
    assert data["regressed"] is True and data["warnings"] == []
    assert data["rows"][0]["activation"] == "relu" and data["rows"][0]["regression"] is True
    one = compare(_rs({"a": [0.9]}), _rs({"a": [0.9]}))
    assert json.loads(format_comparison(one, "json"))["rows"][0]["p_value"] is None  # NaN -> null
    with pytest.raises(ResultsError, match="markdown"):
        format_comparison(cmp, "html")


# ---------------------------------------------------------------- bad input files

HEADER = "config_hash,dataset,model,activation,seed,test_loss,test_accuracy,diverged\n"


def test_missing_file(tmp_path):
    with pytest.raises(ResultsError, match="no such file"):
        read_result_set(tmp_path / "nope.csv")
    with pytest.raises(ResultsError, match="no runs.csv"):
        read_result_set(tmp_path)


def test_missing_columns_are_named(tmp_path):
    p = tmp_path / "runs.csv"
    p.write_text("config_hash,dataset,model,activation,seed,test_loss\nh,m,c,relu,0,0.3\n")
    with pytest.raises(ResultsError) as e:
        read_result_set(p)
    assert "test_accuracy" in str(e.value) and "diverged" in str(e.value)


def test_non_numeric_value(tmp_path):
    p = tmp_path / "runs.csv"
    p.write_text(HEADER + "h,m,c,relu,0,0.3,ninety,false\n")
    with pytest.raises(ResultsError, match="line 2.*test_accuracy.*ninety"):
        read_result_set(p)


def test_empty_files(tmp_path):
    p = tmp_path / "runs.csv"
    p.write_text("")
    with pytest.raises(ResultsError, match="empty"):
        read_result_set(p)
    p.write_text(HEADER)
    with pytest.raises(ResultsError, match="no runs"):
        read_result_set(p)
