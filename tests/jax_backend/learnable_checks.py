"""Learned activation parameters (trainable: true) and pau on Keras' JAX backend: the values
move, are recorded, and packed == sequential. Run by tests/test_jax_backend.py (KERAS_BACKEND=jax)."""

import numpy as np
import pandas as pd
from tiny import load_tiny

from actbench.run.runner import RunOptions, run_experiment


def test_learned_parameters_on_jax(tmp_path):
    acts = [{"name": "swish", "trainable": True, "shared": "channel"}, {"name": "elu", "trainable": True}, "pau"]
    frames = {}
    for engine in ("packed", "sequential"):
        (tmp_path / engine).mkdir()
        exp = load_tiny(
            tmp_path / engine,
            backend="jax",
            activations=acts,
            seeds=[0],
            training={"engine": engine, "epochs": 1, "train_limit": 300, "test_limit": 100},
            diagnostics={"preactivations": True},
        )
        frames[engine] = pd.read_csv(run_experiment(exp, RunOptions()).output_dir / "epochs.csv")
    e = frames["packed"].set_index("activation")
    assert e.loc["swish-learned-per-channel", "param/conv1/beta"] != 1.0
    assert e.loc["swish-learned-per-channel", "param_std/conv1/beta"] > 0
    assert e.loc["elu-learned", "param/dense1/alpha"] != 1.0
    assert np.isfinite(e.loc["pau", "pre_p99/dense1"]) and np.isfinite(e.loc["pau", "dead_fraction/conv1"])
    cols = ["loss", "param/conv1/beta", "param/dense1/alpha", "param/dense1/a1", "pre_p50/conv1"]
    packed, seq = (frames[k].sort_values("activation")[cols].to_numpy(float) for k in ("packed", "sequential"))
    np.testing.assert_allclose(packed, seq, rtol=1e-5, atol=1e-7)
