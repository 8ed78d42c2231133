"""actbench.report.markdown on realistic fake result dirs."""

import pandas as pd
from fake_results import make_frames, make_result_dir, metadata, write_dir

from actbench.analysis.stats import summarize
from actbench.display import numbers as fmt
from actbench.report.markdown import write_report
from actbench.results import read_result_set

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _frames(d):
    rs = read_result_set(d)
    return rs.runs, rs.epochs


def test_report_from_realistic_dir(tmp_path):
    d = make_result_dir(tmp_path / "res", seeds=(0, 1, 2, 3), diverged=[("tanh", 2)])
    paths = write_report(d)
    out = d / "report"
    names = [p.name for p in paths]
    assert names[0] == "report.md"
    for kind in ("curves", "accuracy", "time", "gradnorm", "dead"):
        assert f"mnist-small_cnn-{kind}.png" in names
    for p in paths[1:]:
        assert p.parent == out and p.read_bytes()[:8] == PNG_MAGIC and p.stat().st_size > 5000
    md = (out / "report.md").read_text()
    assert md.startswith("# actbench report: fake-mnist")
    assert "tensorflow 2.20.0" in md and "a1b2c3d4e5f6" in md and "CPU:0" in md
    assert "## mnist / small_cnn" in md and "| rank | activation |" in md
    # every activation's row carries its own verdict, test and Holm p from summarize (the oracle)
    summary = summarize(*_frames(d), "relu").set_index("activation")
    rows = {
        line.split(" | ")[1].strip("*"): line
        for line in md.splitlines()
        if line.startswith("| ") and line.split(" | ")[1].strip("*") in summary.index
    }
    assert sorted(rows) == sorted(summary.index)
    for act, line in rows.items():
        cells = [c.strip() for c in line.strip("|").split("|")]
        s = summary.loc[act]
        assert cells[10] == fmt.verdict_label(s["verdict"]) and cells[7] == (s["test"] or fmt.MISSING), line
        assert cells[8] == fmt.pvalue(s["p_holm"]) and cells[9] == fmt.percent(s["min_detectable_drop"]), line
    assert set(summary["verdict"]) == {"baseline", "better", "worse"}  # rows that differ, so a mix-up shows
    assert "### Diagnostics" in md and "dead_fraction/conv1" in md
    assert "![Learning curves](mnist-small_cnn-curves.png)" in md
    # tanh: 3 of 4 seeds finished without diverging
    assert "| tanh |" in md and "| 3 | 1 |" in md


def test_report_custom_out_dir_without_epochs_or_diagnostics(tmp_path):
    runs, _ = make_frames(activations=("relu", "gelu"), seeds=(0, 1))
    runs = runs[[c for c in runs.columns if "/" not in c and not c.startswith("grad_ratio")]]
    d = write_dir(tmp_path / "res", runs)
    paths = write_report(d, tmp_path / "rep")
    assert [p.name for p in paths] == ["report.md", "mnist-small_cnn-accuracy.png", "mnist-small_cnn-time.png"]
    md = paths[0].read_text()
    assert "Diagnostics" not in md and "Baseline: none" in md


def test_report_two_models_and_no_val_split(tmp_path):
    r1, e1 = make_frames(model="cnn_a", val=False)
    r2, e2 = make_frames(model="cnn/b", activations=("relu", "sigmoid"))
    d = write_dir(tmp_path / "res", pd.concat([r1, r2]), pd.concat([e1, e2]), metadata())
    names = [p.name for p in write_report(d)]
    assert "mnist-cnn_a-curves.png" in names and "mnist-cnn_b-curves.png" in names


def test_report_models_compared_section_and_description(tmp_path):
    frames = [make_frames(model=m, rng_seed=i) for i, m in enumerate(("depth1", "depth3", "depth5"))]
    meta = metadata()
    meta["config"].update(description="Does the gradient vanish with depth?", tune=True)
    meta["config"]["models"] = [{"label": m} for m in ("depth5", "depth1", "depth3")]  # config order, not by name
    d = write_dir(tmp_path / "res", pd.concat(r for r, _ in frames), pd.concat(e for _, e in frames), meta)
    paths = write_report(d)
    assert "mnist-models.png" in [p.name for p in paths]
    md = paths[0].read_text()
    lines = md.splitlines()
    assert lines[0] == "# actbench report: fake-mnist" and lines[2] == "Does the gradient vanish with depth?"
    overview = md.index("## mnist: models compared")
    assert overview < md.index("## mnist / depth1") and "The 3 models (depth5, depth1, depth3)" in md
    assert "![mnist: models compared](mnist-models.png)" in md
    # the tuned comparison keeps its own section but is no model of the overview
    assert "## mnist / tuned (each activation" in md


def test_report_one_model_has_no_overview_nor_description(tmp_path):
    d = make_result_dir(tmp_path / "res")
    paths = write_report(d)
    md = paths[0].read_text()
    assert "models compared" not in md and "mnist-models.png" not in [p.name for p in paths]
    assert md.splitlines()[2].startswith("- Config hash")
