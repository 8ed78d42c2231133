"""The Python API: actbench.run(config), actbench.load(dir), actbench.compare(a, b)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from fake_results import make_frames, make_result_dir

import actbench
from actbench.analysis.stats import summarize
from actbench.errors import ConfigError, ResultsError


def tiny(tmp_path, **overrides) -> dict:
    """A config as a notebook would write it: two activations, one seed, a small model."""
    return {
        "name": "api",
        "datasets": ["mnist_sample"],
        "activations": ["relu", "tanh"],
        "seeds": [0],
        "baseline": "relu",
        "model": {"conv_filters": [8], "dense_units": [16]},
        "training": {"epochs": 2, "batch_size": 32, "validation_split": 0.2, "train_limit": 400, "test_limit": 100},
        "output": {"dir": str(tmp_path / "api")},
        **overrides,
    }


def test_import_is_light_and_compare_is_the_function():
    code = (
        "import sys, actbench; light = 'pandas' not in sys.modules and 'keras' not in sys.modules; "
        "import actbench.analysis.compare; from actbench.analysis.compare import COMPARE_COLUMNS; "
        "print(light, callable(actbench.compare) and actbench.compare.__module__ == 'actbench.api')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", "True"]


def test_load_gives_runs_epochs_and_summary_frames(tmp_path):
    path = make_result_dir(tmp_path / "r", activations=("relu", "gelu", "tanh"), seeds=(0, 1, 2))
    res = actbench.load(path)
    assert isinstance(res.runs, pd.DataFrame) and isinstance(res.epochs, pd.DataFrame)
    assert len(res.runs) == 9 and len(res.epochs) == 9 * 5 and res.config_hash == "a1b2c3d4e5f6"
    assert res.runs["seed"].dtype == "int64" and res.runs["diverged"].dtype == bool  # typed as read
    expected = summarize(res.runs, res.epochs, baseline="relu")
    pd.testing.assert_frame_equal(res.summary, expected)
    assert set(res.summary["activation"]) == {"relu", "gelu", "tanh"} and "9 runs" in repr(res)


def test_load_of_a_lone_runs_csv_has_no_epochs(tmp_path):
    runs, _ = make_frames(activations=("relu",), seeds=(0, 1))
    runs.to_csv(tmp_path / "runs.csv", index=False)
    res = actbench.load(tmp_path / "runs.csv")
    assert len(res.runs) == 2 and res.epochs.empty and res.summary.loc[0, "n"] == 2


def test_load_refuses_what_is_not_a_result_dir(tmp_path):
    with pytest.raises(ResultsError, match="no runs.csv"):
        actbench.load(tmp_path)


def test_compare_takes_paths_or_results(tmp_path):
    base = make_result_dir(tmp_path / "base", seeds=(0, 1, 2), rng_seed=1)
    cand = make_result_dir(tmp_path / "cand", seeds=(0, 1, 2), rng_seed=2)
    by_path = actbench.compare(base, cand)
    by_results = actbench.compare(actbench.load(base), actbench.load(cand))
    pd.testing.assert_frame_equal(by_path.rows, by_results.rows)
    assert not by_path.regressed and by_path.n_tested == 3
    assert actbench.compare(base, base).identical


def test_a_mapping_is_checked_like_a_file(tmp_path):
    with pytest.raises(ConfigError) as e:
        actbench.run(tiny(tmp_path, trainig={"epochs": 1}))
    assert "unknown key 'trainig'" in str(e.value) and "did you mean 'training'" in str(e.value)
    with pytest.raises(ConfigError, match="expected the path of a YAML file, a mapping"):
        actbench.run(["relu"])  # type: ignore[arg-type]


def test_run_a_mapping_then_load_resume_and_compare(tmp_path):
    res = actbench.run(tiny(tmp_path))
    assert (res.ran, res.already_done, res.failed) == (2, 0, [])
    assert list(res.runs["activation"]) == ["relu", "tanh"] and len(res.epochs) == 4
    on_disk = pd.read_csv(tmp_path / "api" / "summary.csv")
    assert list(res.summary["activation"]) == list(on_disk["activation"])
    assert res.summary["test_accuracy_mean"].tolist() == pytest.approx(on_disk["test_accuracy_mean"].tolist())

    loaded = actbench.load(tmp_path / "api")  # the same numbers read back, summary recomputed
    pd.testing.assert_frame_equal(loaded.runs, res.runs)
    assert loaded.summary["test_accuracy_mean"].tolist() == pytest.approx(res.summary["test_accuracy_mean"].tolist())

    again = actbench.run(tiny(tmp_path))  # everything is done: nothing is trained
    assert (again.ran, again.already_done) == (0, 2)
    assert actbench.compare(res, again).identical


def test_run_takes_a_path_and_the_cli_options(tmp_path):
    import yaml

    path = tmp_path / "api.yaml"
    path.write_text(yaml.safe_dump(tiny(tmp_path, activations=["relu"])))
    res = actbench.run(path, output=tmp_path / "elsewhere", engine="sequential", shard="1/1")
    assert res.path == tmp_path / "elsewhere" and res.ran == 1
    assert res.metadata["engine"] == "sequential" and res.metadata["shard"] == "1/1"


DOC = (Path(__file__).resolve().parents[1] / "docs" / "python-api.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", DOC, re.S)


def test_the_docs_examples_run(monkeypatch):
    """Every example of docs/python-api.md: the ones that read results run as written (from the
    repository root), the ones that train are checked up to the training call."""
    monkeypatch.chdir(Path(__file__).resolve().parents[1])
    assert len(BLOCKS) == 4
    for block in BLOCKS:
        if "actbench.run(" in block:
            setup = block[: block.index("res = actbench.run(")]
            namespace: dict = {"actbench": actbench}
            exec(setup, namespace)
            exp = actbench.api.experiment(namespace.get("config", "configs/quickstart.yaml"))
            assert exp.activations
        else:
            exec(block, {"actbench": actbench})
