"""FirstMaxPooling2D (actbench/training/backends/jax_pooling.py) against Keras' MaxPooling2D on JAX, on
the CPU: the same forward values and gradients bit for bit, ties included, and a whole
training run with the same result files. Run by tests/test_jax_backend.py with KERAS_BACKEND=jax.
(tests/test_xla_programs.py checks that no compiled program contains select-and-scatter.)"""

import jax
import jax.numpy as jnp
import keras
import numpy as np
import pandas as pd
import pytest
from tiny import load_tiny

from actbench.run.runner import RunOptions, run_experiment
from actbench.training.backends.base import Backend
from actbench.training.backends.jax import JaxBackend
from actbench.training.backends.jax_pooling import FirstMaxPooling2D, supported
from actbench.training.model import build_model

SHAPES = [(2, 26, 26, 3), (2, 7, 9, 4), (2, 13, 11, 1)]  # the reference conv's output; odd sizes


def value_and_grad(layer, x, weights):
    """The layer's output and d sum(output * weights) / dx, compiled as training compiles them."""
    return jax.jit(jax.value_and_grad(lambda t: jnp.sum(layer(t) * weights)))(x), layer(x)


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("pool_size", [2, 3, (2, 3)])
def test_forward_and_gradient_equal_keras_bit_for_bit(padding, pool_size):
    rng = np.random.default_rng(7)
    for shape in SHAPES:
        x = rng.normal(size=shape).astype("float32")
        # The first image has few distinct values: most windows hold their maximum more than once.
        x[0] = rng.integers(-2, 3, size=shape[1:])
        stock = keras.layers.MaxPooling2D(pool_size, padding=padding)
        ours = FirstMaxPooling2D(pool_size, padding=padding)
        weights = jnp.asarray(rng.normal(size=stock.compute_output_shape(shape)).astype("float32"))
        ((v1, g1), y1), ((v2, g2), y2) = value_and_grad(stock, x, weights), value_and_grad(ours, x, weights)
        assert np.array_equal(np.asarray(y1), np.asarray(y2)), (shape, "forward")
        assert np.array_equal(np.asarray(g1), np.asarray(g2)), (shape, "gradient")
        assert v1 == v2


def test_ties_send_the_gradient_to_the_first_maximum_only():
    x = jnp.ones((1, 2, 2, 1), "float32")  # one window, four equal maxima
    (_, grad), _ = value_and_grad(FirstMaxPooling2D(2), x, jnp.ones((1, 1, 1, 1)))
    assert np.asarray(grad).ravel().tolist() == [1.0, 0.0, 0.0, 0.0]


@pytest.mark.parametrize(
    "arch",
    [
        {},
        {"conv_filters": [8, 8], "padding": "same", "pool_size": 3},
        {"conv_filters": [8, 8], "residual": True, "norm": "batch"},
    ],
    ids=["reference", "deeper-same", "residual"],
)
def test_models_pool_with_first_max_on_jax(tmp_path, arch):
    exp = load_tiny(tmp_path, model={"conv_filters": [8], "dense_units": [16], **arch})
    model = build_model(exp.models[0], (28, 28, 1), 10, "relu", {})
    pools = [layer for layer in model.layers if isinstance(layer, keras.layers.MaxPooling2D)]
    assert pools and all(type(layer) is FirstMaxPooling2D and supported(layer) for layer in pools)


def run_grid(tmp_path, monkeypatch=None):
    """runs.csv and epochs.csv of a packed grid over both paddings, without the timing columns."""
    if monkeypatch is not None:  # Keras' own layer, as before actbench had its own
        monkeypatch.setattr(JaxBackend, "max_pooling_2d", Backend.max_pooling_2d)
    tmp_path.mkdir()
    exp = load_tiny(
        tmp_path,
        "grid",
        backend="jax",
        seeds=[0],
        activations=["relu", "tanh"],
        training={"train_limit": 300, "test_limit": 100},
        variants=[{"label": "valid"}, {"label": "same", "model": {"padding": "same", "pool_size": 3}}],
    )
    out = run_experiment(exp, RunOptions(command_line=["test"])).output_dir
    runs, epochs = pd.read_csv(out / "runs.csv"), pd.read_csv(out / "epochs.csv")
    return tuple(frame.drop(columns=[c for c in frame if "second" in c]) for frame in (runs, epochs))


def test_training_gives_the_result_files_of_keras_pooling(tmp_path, monkeypatch):
    ours_runs, ours_epochs = run_grid(tmp_path / "ours")
    stock_runs, stock_epochs = run_grid(tmp_path / "stock", monkeypatch)
    assert len(ours_runs) == 4 and not ours_runs["failed"].any() and not ours_runs["diverged"].any()
    assert ours_epochs["grad_norm/conv1"].notna().all() and ours_epochs["dead_fraction/conv1"].notna().all()
    pd.testing.assert_frame_equal(ours_runs, stock_runs, check_exact=True)
    pd.testing.assert_frame_equal(ours_epochs, stock_epochs, check_exact=True)


def test_doctor_finds_no_select_and_scatter_and_would_name_keras_pooling(tmp_path, monkeypatch):
    from actbench.run.doctor import diagnose

    exp = load_tiny(tmp_path, backend="jax", model={"conv_filters": [8, 8], "dense_units": [16], "padding": "same"})
    step = {c.name: c for c in diagnose(exp, "tiny.yaml").checks}["compiled step"]
    assert step.status == "ok" and "no scatter, no select-and-scatter" in step.detail
    monkeypatch.setattr(JaxBackend, "max_pooling_2d", Backend.max_pooling_2d)
    diagnosis = diagnose(exp, "tiny.yaml")
    step = {c.name: c for c in diagnosis.checks}["compiled step"]
    assert not diagnosis.ready and step.status == "fail" and "select-and-scatter" in step.detail and step.fix
