"""actbench.compare: verdicts, regressions, warnings, formats, bad input."""

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from actbench.compare import compare, format_comparison
from actbench.errors import ResultsError
from actbench.results import ResultSet, read_result_set
from actbench.stats import welch

GOLDEN = Path(__file__).parent / "golden" / "compare"


def _golden(name):
    return read_result_set(GOLDEN / f"{name}.csv")


def _rs(spec, config_hash="h1", metadata=None, source="x"):
    """spec: {activation: [acc or None (diverged), ...]} -> ResultSet."""
    rows = []
    for act, accs in spec.items():
        for seed, acc in enumerate(accs):
            rows.append({"config_hash": config_hash, "dataset": "mnist", "model": "cnn", "activation": act,
                         "seed": seed, "test_loss": 0.3, "test_accuracy": float("nan") if acc is None else acc,
                         "diverged": acc is None})
    return ResultSet(source=Path(source), runs=pd.DataFrame(rows), metadata=metadata)


def _row(cmp, act):
    return cmp.rows.set_index("activation").loc[act]


def test_golden_half_point_drop_with_overlapping_seeds_is_same():
    cmp = compare(_golden("base_same"), _golden("cand_same"))
    r = _row(cmp, "relu")
    assert r["diff"] == pytest.approx(-0.005)
    assert r["p_value"] > 0.05 and r["verdict"] == "same" and not r["regression"]
    assert r["diff_ci_low"] < 0 < r["diff_ci_high"]
    assert _row(cmp, "gelu")["verdict"] == "same" and _row(cmp, "gelu")["p_value"] == pytest.approx(1.0)
    assert not cmp.regressed and cmp.warnings == []
    md = format_comparison(cmp, "markdown")
    assert "**No regressions** (max drop 1.00 points, alpha 0.05)" in md
    assert "| mnist | small_cnn | relu | 91.00 (5) | 90.50 (5) | -0.50 |" in md


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
    assert md.startswith("### ")
    # a looser max drop forgives it
    assert not compare(_golden("base_regression"), _golden("cand_regression"), max_drop=0.03).regressed


def test_rows_match_welch():
    base, cand = [0.90, 0.91, 0.92], [0.93, 0.94, 0.95]
    cmp = compare(_rs({"relu": base}), _rs({"relu": cand}))
    d, lo, hi, p = welch(cand, base)
    r = _row(cmp, "relu")
    assert (r["diff"], r["diff_ci_low"], r["diff_ci_high"], r["p_value"]) == pytest.approx((d, lo, hi, p))
    assert r["verdict"] == "better" and not r["regression"]


def test_one_seed_uses_max_drop_only():
    cmp = compare(_rs({"a": [0.90], "b": [0.90], "c": [0.90], "d": [0.90, 0.91]}),
                  _rs({"a": [0.885], "b": [0.895], "c": [0.92], "d": [0.80]}))
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
    cmp = compare(_rs({"relu": [0.9, 0.91], "tanh": [0.8, 0.81]}, "aaa111", meta_b),
                  _rs({"relu": [0.9, 0.91], "gelu": [0.92, 0.93]}, "bbb222", meta_c))
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
    assert csv.splitlines()[0] == ("dataset,model,activation,base_n,cand_n,base_mean,cand_mean,diff,"
                                   "diff_ci_low,diff_ci_high,p_value,verdict,regression")
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
