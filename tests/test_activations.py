"""The activation registry against closed forms, the model's size, and the dead-unit and
saturation measures on hand-built cases."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")
import tensorflow as tf  # noqa: E402

from actbench import activations  # noqa: E402
from actbench.config import DiagnosticsSpec, ModelSpec  # noqa: E402
from actbench.report.plots import plot_activation_shapes  # noqa: E402
from actbench.training import backends, diagnostics
from actbench.training.model import build_model  # noqa: E402

GRID = np.linspace(-5, 5, 41).astype("float32")
GRID = GRID[np.abs(GRID) > 1e-3]  # derivatives of kinked functions are undefined at 0


def keras_value_and_grad(fn, x):
    t = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(t)
        y = fn(t)
        total = tf.reduce_sum(y)
    return y.numpy(), tape.gradient(total, t).numpy()


@pytest.mark.parametrize("name", [n for n in activations.names() if not activations.REGISTRY[n].learnable])
def test_keras_implementation_matches_closed_form(name):
    entry = activations.get(name)
    # trainable: false: an adaptive family (pau) as the fixed function of its initial parameters
    fn, _ = activations.keras_activation(name, {"trainable": False})
    f, df = activations.closed_form(name, {})
    y, dy = keras_value_and_grad(fn, GRID)
    np.testing.assert_allclose(y, f(GRID), rtol=1e-5, atol=1e-5, err_msg=f"{name}: f")
    # Skip the points where piecewise functions have kinks (relu6 at 6, hard_* at +-3).
    kinks = {"relu6": [6.0], "hard_sigmoid": [-3.0, 3.0], "hard_silu": [-3.0, 3.0]}.get(name, [])
    ok = np.all([np.abs(GRID - k) > 1e-3 for k in kinks], axis=0) if kinks else slice(None)
    np.testing.assert_allclose(dy[ok], df(GRID)[ok], rtol=1e-4, atol=1e-5, err_msg=f"{name}: f'")
    assert entry.formula


def test_textbook_derivatives_hold():
    x = GRID.astype(float)
    s = activations.closed_form("sigmoid", {})[0](x)
    np.testing.assert_allclose(activations.closed_form("sigmoid", {})[1](x), s * (1 - s))
    np.testing.assert_allclose(activations.closed_form("tanh", {})[1](x), 1 - np.tanh(x) ** 2)
    np.testing.assert_allclose(activations.closed_form("relu", {})[1](x), (x > 0).astype(float))


@pytest.mark.parametrize(
    "name, params", [("leaky_relu", {"negative_slope": 0.05}), ("elu", {"alpha": 0.5}), ("swish", {"beta": 2.0})]
)
def test_parametric_forms(name, params):
    fn, _ = activations.keras_activation(name, params)
    f, df = activations.closed_form(name, params)
    y, dy = keras_value_and_grad(fn, GRID)
    np.testing.assert_allclose(y, f(GRID), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dy, df(GRID), rtol=1e-4, atol=1e-6)


def test_prelu_is_a_learnable_layer():
    model = build_model(ModelSpec(), (28, 28, 1), 10, "prelu", {})
    layer = model.get_layer("act_conv1")
    assert isinstance(layer, keras.layers.PReLU) and layer.trainable_weights
    assert layer.alpha.shape == (1, 1, 32)  # one slope per channel


def test_reference_model_parameter_count():
    keras.utils.set_random_seed(0)
    model = build_model(ModelSpec(), (28, 28, 1), 10, "relu", {})
    assert model.count_params() == 693_962  # 320 + 692,352 + 1,290


def test_same_seed_same_initial_weights_across_activations():
    keras.utils.set_random_seed(3)
    a = build_model(ModelSpec(), (28, 28, 1), 10, "relu", {})
    keras.utils.set_random_seed(3)
    b = build_model(ModelSpec(), (28, 28, 1), 10, "sigmoid", {})
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)


def test_depth_and_padding_options():
    deep = build_model(
        ModelSpec(conv_filters=[8, 8, 8, 8, 8], padding="same", dense_units=[16]), (28, 28, 1), 10, "relu", {}
    )
    assert [layer.name for layer in deep.layers if layer.name.startswith("conv")] == [f"conv{i}" for i in range(1, 6)]
    from actbench.training.model import check_shape

    with pytest.raises(ValueError, match="padding: same"):
        check_shape(ModelSpec(conv_filters=[8] * 5), (28, 28, 1))


def forced_model(act, bias):
    """A model whose conv and dense pre-activations all equal `bias` (zero kernels)."""
    model = build_model(ModelSpec(conv_filters=[4], dense_units=[6]), (8, 8, 1), 10, act, {})
    for name in ("conv1", "dense1"):
        layer = model.get_layer(name)
        layer.kernel.assign(np.zeros(layer.kernel.shape, "float32"))
        layer.bias.assign(np.full(layer.bias.shape, bias, "float32"))
    return model


def measure(act, bias):
    x = np.random.default_rng(0).random((16, 8, 8, 1)).astype("float32")
    y = np.arange(16) % 10
    spec = type("Spec", (), {"name": act})()
    return diagnostics.measure(
        forced_model(act, bias), spec, diagnostics.Probe(x, y), DiagnosticsSpec(), backends.for_name("tensorflow")
    )


def test_dead_units_hand_built():
    # All pre-activations at -3: relu outputs exactly 0 everywhere -> all units dead.
    assert measure("relu", -3.0)["dead_fraction/conv1"] == 1.0
    assert measure("relu", -3.0)["dead_fraction/dense1"] == 1.0
    # elu'(-3) = e^-3 = 0.05 >= 1e-3: alive. leaky relu' = slope: alive.
    assert measure("elu", -3.0)["dead_fraction/conv1"] == 0.0
    assert measure("leaky_relu", -3.0)["dead_fraction/conv1"] == 0.0
    # Positive pre-activations: nothing dead.
    assert measure("relu", 2.0)["dead_fraction/conv1"] == 0.0
    # Far into the tails the smooth functions' derivatives vanish: sigmoid'(-12) ~ 6e-6.
    assert measure("sigmoid", -12.0)["dead_fraction/dense1"] == 1.0
    assert measure("elu", -12.0)["dead_fraction/dense1"] == 1.0  # elu'(-12) = 6e-6


def test_saturation_hand_built():
    assert measure("tanh", 6.0)["saturation/conv1"] == 1.0  # tanh(6) = 0.99998: within 1e-2 of 1
    assert measure("tanh", 0.5)["saturation/conv1"] == 0.0
    assert measure("sigmoid", -8.0)["saturation/dense1"] == 1.0
    assert np.isnan(measure("relu", 6.0)["saturation/conv1"])  # unbounded: not measured


def test_gradient_norms_and_ratio():
    row = measure("relu", 0.5)
    assert set(k for k in row if k.startswith("grad_norm/")) == {
        "grad_norm/conv1",
        "grad_norm/dense1",
        "grad_norm/output",
    }
    assert row["grad_ratio"] == pytest.approx(row["grad_norm/conv1"] / row["grad_norm/output"])


def test_activation_plot(tmp_path):
    path = plot_activation_shapes([("relu", "relu", {}), ("elu", "elu", {"alpha": 1.0})], tmp_path / "a.png")
    assert path.stat().st_size > 10_000
