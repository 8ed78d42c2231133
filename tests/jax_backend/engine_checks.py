"""The engine on Keras' JAX backend, on the CPU: outputs, diagnostics, packed == sequential,
divergence. Run by tests/test_jax_backend.py in a process with KERAS_BACKEND=jax."""

import json
import math

import keras
import numpy as np
import pandas as pd
import pytest
from tiny import load_tiny

from actbench.run.runner import RunOptions, run_experiment

METRICS_EPOCH = ["loss", "accuracy", "val_loss", "val_accuracy"]
METRICS_RUN = ["test_loss", "test_accuracy", "best_val_accuracy", "best_epoch", "epochs_run", "params"]


def run(tmp_path, name, **overrides):
    exp = load_tiny(tmp_path, name, backend="jax", **overrides)
    out = run_experiment(exp, RunOptions(command_line=["test"])).output_dir
    return pd.read_csv(out / "runs.csv"), pd.read_csv(out / "epochs.csv"), out


def small(**training):
    return {
        "seeds": [0],
        "activations": ["relu", "tanh"],
        "training": {"train_limit": 300, "test_limit": 100, **training},
    }


def test_this_process_runs_jax():
    assert keras.backend.backend() == "jax"


@pytest.fixture(scope="module")
def packed_run(tmp_path_factory):
    return run(tmp_path_factory.mktemp("packed"), "packed", **small())


def test_packed_run_on_jax_equals_sequential(tmp_path, packed_run):
    packed, packed_epochs, out = packed_run
    assert (packed["backend"] == "jax").all() and not packed["diverged"].any()
    assert (packed["test_accuracy"] > 0.2).all()  # 10 classes: chance is 0.1
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["backend"] == "jax" and meta["versions"]["jax"]
    assert any("cpu" in d.lower() for d in meta["devices"][:-1])
    for col in ["grad_norm/conv1", "grad_ratio", "dead_fraction/conv1", "dead_fraction/dense1"]:
        assert packed_epochs[col].notna().all(), col
    seq, seq_epochs, _ = run(tmp_path, "sequential", **small(engine="sequential"))
    assert set(seq["timing"]) == {"in-run"}
    for a, b, cols in [(packed, seq, METRICS_RUN), (packed_epochs, seq_epochs, METRICS_EPOCH)]:
        np.testing.assert_allclose(a[cols].to_numpy(float), b[cols].to_numpy(float), rtol=1e-5, atol=1e-7)


def test_diverging_tower_does_not_poison_the_others_on_jax(tmp_path, monkeypatch, packed_run):
    (tmp_path / "badacts.py").write_text("import keras\ndef nan_act(x):\n    return keras.ops.log(x - 1e9)\n")
    monkeypatch.chdir(tmp_path)
    runs, _, _ = run(
        tmp_path, "mixed", **{**small(), "activations": ["relu", "badacts:nan_act"]}, diagnostics={"timing": False}
    )
    bad = runs[runs.activation == "nan_act"].iloc[0]
    good = runs[runs.activation == "relu"].iloc[0]
    assert bad["diverged"] and bad["diverged_epoch"] == 1 and math.isnan(bad["test_accuracy"])
    assert not good["diverged"] and good["test_accuracy"] > 0.2
    # The same relu tower trained next to tanh instead of the NaN tower: the same numbers.
    alone = packed_run[0][packed_run[0].activation == "relu"].iloc[0]
    np.testing.assert_allclose(good[METRICS_RUN].to_numpy(float), alone[METRICS_RUN].to_numpy(float), rtol=1e-5)
