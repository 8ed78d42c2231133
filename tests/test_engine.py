"""Real Keras training on tiny data, in this one process: outputs, reproducibility,
engine equivalence, diagnostics that do not disturb training, divergence."""

import json
import math

import numpy as np
import pandas as pd
import pytest
from tiny import load_tiny

from actbench import results
from actbench.run.runner import RunOptions, run_experiment

pytestmark = pytest.mark.slow  # trains real Keras models (seconds each)

METRICS_EPOCH = ["loss", "accuracy", "val_loss", "val_accuracy"]
METRICS_RUN = ["test_loss", "test_accuracy", "best_val_accuracy", "best_epoch", "epochs_run", "params"]


def run(tmp_path, name, **overrides):
    exp = load_tiny(tmp_path, name, **overrides)
    outcome = run_experiment(exp, RunOptions(command_line=["test"]))
    out = outcome.output_dir
    return (pd.read_csv(out / "runs.csv"), pd.read_csv(out / "epochs.csv"), out)


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    return run(tmp_path_factory.mktemp("a"), "tiny")


@pytest.fixture(scope="module")
def packed_again(tmp_path_factory):
    return run(tmp_path_factory.mktemp("b"), "tiny")


def test_outputs_and_schema(packed):
    runs, epochs, out = packed
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "epochs.csv",
        "metadata.json",
        "runs.csv",
        "summary.csv",
    ]
    assert len(runs) == 6 and len(epochs) == 12
    assert list(runs.columns[: len(results.RUN_COLUMNS)]) == results.RUN_COLUMNS
    assert list(epochs.columns[: len(results.EPOCH_COLUMNS)]) == results.EPOCH_COLUMNS
    for col in [
        "grad_norm/conv1",
        "grad_norm/dense1",
        "grad_norm/output",
        "grad_ratio",
        "dead_fraction/conv1",
        "dead_fraction/dense1",
        "saturation/conv1",
    ]:
        assert col in epochs.columns
    for col in ["grad_ratio_min", "grad_ratio_max", "dead_fraction/conv1", "saturation/dense1"]:
        assert col in runs.columns
    assert not runs["diverged"].any()
    assert (runs["test_accuracy"] > 0.4).all()  # 10 classes: chance is 0.1
    summary = pd.read_csv(out / "summary.csv")
    assert set(summary["activation"]) == {"relu", "tanh", "lrelu"} and (summary["n"] == 2).all()
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["status"] == "complete" and meta["config_hash"] == runs["config_hash"].iloc[0]
    assert meta["versions"]["keras"] and meta["determinism"]["deterministic"] is True
    # saturation is measured for bounded functions only
    assert runs.loc[runs.activation == "tanh", "saturation/conv1"].notna().all()
    assert runs.loc[runs.activation == "relu", "saturation/conv1"].isna().all()


def test_same_config_same_numbers(packed, packed_again):
    for a, b, cols in [(packed[0], packed_again[0], METRICS_RUN), (packed[1], packed_again[1], METRICS_EPOCH)]:
        diag = [c for c in a.columns if "/" in c or c.startswith("grad_ratio")]
        pd.testing.assert_frame_equal(a[cols + diag], b[cols + diag])


def test_packed_equals_sequential(packed, tmp_path):
    runs, epochs, _ = run(tmp_path, "tiny", training={"engine": "sequential"})
    # Each tower runs the same ops on the same batches as its sequential twin; on this
    # CPU build the numbers come out bit-identical. The bound allows 1e-5 relative
    # where a backend's reduction order could legitimately differ.
    for a, b, cols in [(packed[0], runs, METRICS_RUN), (packed[1], epochs, METRICS_EPOCH)]:
        np.testing.assert_allclose(a[cols].to_numpy(float), b[cols].to_numpy(float), rtol=1e-5, atol=1e-7)
    assert set(runs["timing"]) == {"in-run"} and set(packed[0]["timing"]) == {"timing-pass"}


def test_diagnostics_do_not_change_training(packed, tmp_path):
    off = {"gradients": False, "dead_units": False, "saturation": False, "timing": False}
    runs, epochs, _ = run(tmp_path, "tiny", diagnostics=off)
    pd.testing.assert_frame_equal(packed[0][METRICS_RUN], runs[METRICS_RUN])
    pd.testing.assert_frame_equal(packed[1][METRICS_EPOCH], epochs[METRICS_EPOCH])
    assert not any("/" in c for c in epochs.columns)


def test_divergence_recorded_and_grid_goes_on(tmp_path):
    runs, epochs, out = run(
        tmp_path,
        "nan",
        activations=["relu", "tanh"],
        seeds=[0],
        training={"optimizer": {"name": "sgd", "learning_rate": 1e6}},
    )
    assert len(runs) == 2 and runs["diverged"].all()
    assert (runs["diverged_epoch"] == 1).all() and runs["test_accuracy"].isna().all()
    summary = pd.read_csv(out / "summary.csv")
    assert (summary["n_diverged"] == 1).all() and (summary["n"] == 0).all()


def test_diverging_tower_does_not_poison_the_others(tmp_path, monkeypatch):
    # A custom activation that produces NaN from the first step, packed with relu.
    (tmp_path / "badacts.py").write_text("import keras\ndef nan_act(x):\n    return keras.ops.log(x - 1e9)\n")
    monkeypatch.chdir(tmp_path)
    runs, epochs, _ = run(tmp_path, "mixed", activations=["relu", "badacts:nan_act"], seeds=[0])
    bad = runs[runs.activation == "nan_act"].iloc[0]
    good = runs[runs.activation == "relu"].iloc[0]
    assert bad["diverged"] and not good["diverged"]
    alone, _, _ = run(tmp_path, "alone", activations=["relu"], seeds=[0])
    assert good["test_accuracy"] == alone["test_accuracy"].iloc[0]
    assert math.isclose(good["test_loss"], alone["test_loss"].iloc[0], rel_tol=1e-6)


def test_packed_equals_sequential_with_dropout_and_batch_norm(tmp_path):
    # Each tower is the sequential run's own model, so dropout seeds and batch-norm
    # statistics follow the same path in both engines.
    frames = []
    for engine in ("packed", "sequential"):
        _, epochs, _ = run(
            tmp_path,
            engine,
            activations=["relu", "elu"],
            seeds=[0],
            model={"conv_filters": [8], "dense_units": [16], "dropout": 0.3, "batch_norm": True},
            training={"engine": engine},
            diagnostics={"timing": False},
        )
        frames.append(epochs[METRICS_EPOCH].to_numpy(float))
    np.testing.assert_allclose(frames[0], frames[1], rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("activations", [["relu"], ["relu", "tanh", "elu"]])
def test_in_memory_loop_equals_keras_fit(tmp_path, activations):
    # The TensorFlow loop runs Keras' own train_step/test_step outside model.fit; this
    # holds it to fit's numbers bit for bit: 2 epochs with validation, several calls per
    # epoch and a short last batch (100 = 6 x 16 + 4), with dropout and batch norm.
    from actbench import datasets
    from actbench.training import engine
    from actbench.training.backends.fit import KerasFitLoop
    from actbench.training.backends.tensorflow import InMemoryLoop

    exp = load_tiny(
        tmp_path,
        activations=activations,
        seeds=[0],
        model={"conv_filters": [8], "dense_units": [16], "dropout": 0.3, "batch_norm": True},
    )
    data = datasets.prepare(datasets.load("mnist_sample"), train_limit=125, test_limit=50, validation_split=0.2)
    assert len(data.y_train) == 100
    logs = {}
    loops = {
        "fit": KerasFitLoop,
        "sliced": lambda model: InMemoryLoop(model, steps_per_call=4),
        "resident": lambda model: InMemoryLoop(model, steps_per_call=4, resident=True),  # as on a GPU
    }
    orders = [engine.epoch_order(100, 0, e) for e in (1, 2)]
    for kind, make_loop in loops.items():
        model, _ = engine.compile_group(data, exp.models[0], exp.activation_specs, 0, exp.training)
        trainer = make_loop(model)
        val = (data.x_val, data.y_val)
        epochs = [  # fit gets the permuted arrays; the loops take the order, as the engine calls them
            trainer.train_epoch(data.x_train[o], data.y_train[o], 16, validation=val)
            if kind == "fit"
            else trainer.train_epoch(data.x_train, data.y_train, 16, order=o, validation=val)
            for o in orders
        ]
        logs[kind] = (epochs, trainer.evaluate(data.x_test, data.y_test, 16), [w.copy() for w in model.get_weights()])
    epochs_b, test_b, weights_b = logs.pop("fit")
    for epochs_a, test_a, weights_a in logs.values():
        assert epochs_a == epochs_b and test_a == test_b
        assert set(epochs_a[0]) >= {"loss", "val_loss"} and len(test_a) > 1
        for a, b in zip(weights_a, weights_b, strict=True):
            np.testing.assert_array_equal(a, b)


def test_missing_deterministic_kernel_stops_with_a_config_error(tmp_path):
    # What a GPU without a deterministic kernel raises mid-training becomes one clear
    # ConfigError (exit code 2 in the CLI) naming the op and the switch, not a traceback.
    from actbench import datasets
    from actbench.errors import ConfigError
    from actbench.training import backends
    from actbench.training.engine import Group, GroupTrainer

    class NoDeterministicKernel(type(backends.for_name("tensorflow"))):
        def loop(self, model):
            raise RuntimeError("Deterministic GPU implementation of unsorted segment reduction op not available.")

    exp = load_tiny(tmp_path, activations=["relu"], seeds=[0])
    data = datasets.prepare(datasets.load("mnist_sample"), train_limit=50, test_limit=20, validation_split=0.2)
    group = Group(data, exp.models[0], exp.activation_specs, 0, exp.training)
    with pytest.raises(ConfigError, match="unsorted segment reduction.*deterministic: false"):
        GroupTrainer(exp, NoDeterministicKernel()).train_group(group)
