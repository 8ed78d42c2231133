"""The compiled-epoch JAX loop (whole epochs as on a GPU, and stepwise as on the CPU) against
Keras' own model.fit / model.evaluate on JAX:
per-epoch metrics, validation and test metrics, and final weights, for 1 and 3 towers,
with dropout and batch norm, 3 epochs, and a short last batch (100 = 6 x 16 + 4).
Run by tests/test_jax_backend.py in a process with KERAS_BACKEND=jax."""

import numpy as np
import pytest
from tiny import load_tiny

from actbench import datasets
from actbench.training import engine
from actbench.training.backends import jax_loop
from actbench.training.backends.fit import KerasFitLoop
from actbench.training.backends.jax_loop import CompiledEpochLoop

BATCH, EPOCHS = 16, 3
# Whole epochs are not bit-identical: both run Keras' own step functions, but XLA compiles
# a step inside one program differently from a step on its own (even two steps in one jit
# differ from two jitted steps in the last bit). Metrics agree within RTOL (measured: ~1e-6
# at most). Stepwise (the CPU default) equals fit bit for bit.
RTOL = 1e-5
# Final weights are compared as ||a - b|| / ||b|| <= WEIGHTS_RTOL per tensor: training
# amplifies last-bit differences in some parameters (Adam divides each update by the root
# of that parameter's squared-gradient average, so parameters with ~0 gradients move
# visibly; batch norm divides by a channel's spread, large for a near-constant channel).
# Measured after 3 epochs: most tensors ~1e-7, a few 1e-4 to 1.3e-3, while every metric
# still agrees within RTOL. Dropping the short last batch is caught (test below).
WEIGHTS_RTOL = 1e-2
SGD = {"name": "sgd", "learning_rate": 0.05, "momentum": 0.9}


@pytest.fixture(scope="module")
def data():
    data = datasets.prepare(datasets.load("mnist_sample"), train_limit=125, test_limit=50, validation_split=0.2)
    assert len(data.y_train) == 100 and len(data.y_train) % BATCH  # a short last batch
    return data


def train(tmp_path, data, activations, make_loop, optimizer=None, epochs=EPOCHS):
    exp = load_tiny(
        tmp_path,
        activations=activations,
        seeds=[0],
        backend="jax",
        model={"conv_filters": [8], "dense_units": [16], "dropout": 0.3, "batch_norm": True},
        training={"optimizer": optimizer or {"name": "adam"}},
    )
    model, _ = engine.compile_group(data, exp.models[0], exp.activation_specs, 0, exp.training)
    loop = make_loop(model)
    epochs = [
        loop.train_epoch(
            data.x_train,
            data.y_train,
            BATCH,
            order=engine.epoch_order(len(data.y_train), 0, e),
            validation=(data.x_val, data.y_val),
        )
        for e in range(1, epochs + 1)
    ]
    return epochs, loop.evaluate(data.x_test, data.y_test, BATCH), [np.asarray(w) for w in model.get_weights()]


def assert_same(a, b, exact=False):
    (epochs_a, test_a, weights_a), (epochs_b, test_b, weights_b) = a, b
    if exact:
        assert epochs_a == epochs_b and test_a == test_b
        for wa, wb in zip(weights_a, weights_b, strict=True):
            np.testing.assert_array_equal(wa, wb)
    assert [sorted(e) for e in epochs_a] == [sorted(e) for e in epochs_b] and sorted(test_a) == sorted(test_b)
    for log_a, log_b in [*zip(epochs_a, epochs_b, strict=True), (test_a, test_b)]:
        keys = sorted(log_a)
        np.testing.assert_allclose([log_a[k] for k in keys], [log_b[k] for k in keys], rtol=RTOL, err_msg=str(keys))
    assert len(weights_a) == len(weights_b)
    for i, (wa, wb) in enumerate(zip(weights_a, weights_b, strict=True)):
        assert wa.shape == wb.shape
        assert np.linalg.norm(wa - wb) <= WEIGHTS_RTOL * np.linalg.norm(wb), f"weight {i} {wa.shape}"


@pytest.fixture(scope="module")
def fit_relu(data, tmp_path_factory):
    return train(tmp_path_factory.mktemp("fit"), data, ["relu"], KerasFitLoop, SGD)


def whole_epochs(model):
    return CompiledEpochLoop(model, whole_epoch=True)


def stepwise(model):
    return CompiledEpochLoop(model, whole_epoch=False)


@pytest.mark.parametrize("make_loop", [whole_epochs, stepwise])
def test_compiled_loop_equals_keras_fit_one_tower_sgd(tmp_path, data, fit_relu, make_loop):
    compiled = train(tmp_path, data, ["relu"], make_loop, SGD)
    assert set(compiled[0][0]) >= {"loss", "val_loss", "accuracy", "val_accuracy"} and len(compiled[1]) > 1
    # Stepwise, each step is compiled alone as in fit: bit for bit on this CPU.
    assert_same(compiled, fit_relu, exact=make_loop is stepwise)


def test_compiled_loop_equals_keras_fit_three_towers_adam(tmp_path, data):
    activations = ["relu", "tanh", "elu"]
    compiled = train(tmp_path, data, activations, whole_epochs)  # as on a GPU
    assert "t2_accuracy" in compiled[0][0]
    assert_same(compiled, train(tmp_path, data, activations, KerasFitLoop))


def test_whole_epoch_weights_within_1e5_where_nothing_amplifies(tmp_path, data):
    """One epoch of SGD: the final weights of a whole-epoch program agree with fit's within 1e-5
    (measured 3.9e-7); only later, and with Adam, do last-bit differences grow (see WEIGHTS_RTOL:
    Adam moves a parameter by ~learning_rate whatever the size of its gradient, so the sign of a
    ~0 gradient, decided by the last bit, decides the update)."""
    one = train(tmp_path, data, ["relu"], whole_epochs, SGD, epochs=1)
    fit = train(tmp_path, data, ["relu"], KerasFitLoop, SGD, epochs=1)
    for wa, wb in zip(one[2], fit[2], strict=True):
        assert np.linalg.norm(wa - wb) <= 1e-5 * np.linalg.norm(wb)


def test_dropping_the_short_last_batch_is_caught(tmp_path, data, fit_relu, monkeypatch):
    # The comparison above is tight enough to see 4 of 100 examples missing per epoch.
    fit = fit_relu

    def full_batches_only(index, batch_size):
        full, _ = batches(index, batch_size)
        return full, index[:0].astype(np.int32)

    batches = jax_loop._batches
    monkeypatch.setattr(jax_loop, "_batches", full_batches_only)
    with pytest.raises(AssertionError):
        assert_same(train(tmp_path, data, ["relu"], whole_epochs, SGD), fit)
