"""Learnable activation parameters (`trainable: true`), the Padé Activation Unit, and the
pre-activation statistics: the layers against their closed forms, the gradient reaching the
parameter, `trainable: false` building exactly today's model, and the values in the result files."""

import numpy as np
import pandas as pd
import pytest

keras = pytest.importorskip("keras")
import tensorflow as tf  # noqa: E402
from tiny import load_tiny  # noqa: E402

from actbench import activations  # noqa: E402
from actbench.activations.builtin import PAU_PARAMS  # noqa: E402
from actbench.config import ActivationSpec  # noqa: E402
from actbench.errors import ActbenchError  # noqa: E402
from actbench.training.diagnostics import pre_statistics  # noqa: E402

X = np.linspace(-4, 4, 48).astype("float32").reshape(2, 2, 3, 4)  # NHWC, 4 channels


def learned_layer(name, params, shared="layer"):
    fn, factory = activations.keras_activation(name, {**params, "trainable": True, "shared": shared})
    assert fn is None and factory is not None
    layer = factory("act_conv1", 4)
    layer.build(X.shape)
    return layer


@pytest.mark.parametrize(
    "name, params",
    [
        ("swish", {"beta": 1.5}),
        ("elu", {"alpha": 0.7}),
        ("leaky_relu", {"negative_slope": 0.1}),
        ("pau", {}),
        ("pau", {"b1": -1.0, "b3": 0.5}),  # a denominator sum that changes sign: the |.| matters
    ],
)
def test_learned_layer_starts_at_the_given_value_and_the_gradient_reaches_it(name, params):
    layer = learned_layer(name, params)
    p = {**activations.get(name).params, **params}
    f, _ = activations.closed_form(name, params)
    x = tf.constant(X)
    with tf.GradientTape() as tape:
        y = layer(x)
        total = tf.reduce_sum(y)
    np.testing.assert_allclose(y.numpy(), f(X), rtol=1e-5, atol=1e-5)
    grads = dict(zip(layer.actbench_learned, tape.gradient(total, list(layer.actbench_learned.values())), strict=True))
    assert set(grads) == set(p)
    for key, g in grads.items():
        assert g is not None, f"{name}: no gradient reaches {key}"
        # d sum f / d p by central differences of the closed form
        eps = 1e-4
        hi = activations.closed_form(name, {**p, key: p[key] + eps})[0](X.astype(float)).sum()
        lo = activations.closed_form(name, {**p, key: p[key] - eps})[0](X.astype(float)).sum()
        np.testing.assert_allclose(float(g), (hi - lo) / (2 * eps), rtol=2e-3, atol=1e-3, err_msg=f"{name}: d/d{key}")
    assert any(abs(float(g)) > 1e-3 for g in grads.values())


def test_shared_channel_has_one_value_per_channel():
    layer = learned_layer("swish", {"beta": 2.0}, shared="channel")
    beta = layer.actbench_learned["beta"]
    assert tuple(beta.shape) == (4,) and np.all(beta.numpy() == 2.0)
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(layer(tf.constant(X)) * tf.constant([1.0, 2.0, 3.0, 4.0]))
    g = tape.gradient(total, beta).numpy()
    assert g.shape == (4,) and len(set(np.round(g, 5))) == 4  # each channel its own gradient


@pytest.mark.parametrize("changed", [{}, {"b1": -1.0, "b2": 0.5, "b3": 0.7, "a2": -0.3}])
def test_pau_is_its_published_formula(changed):
    x = np.linspace(-3, 3, 101)
    p = {**PAU_PARAMS, **changed}
    a = [p[f"a{j}"] for j in range(6)]
    b = [p[f"b{k}"] for k in range(1, 5)]

    # F(x) = P(x) / (1 + |b1 x + b2 x^2 + b3 x^3 + b4 x^4|) (Molina et al. 2020, eq. 3, "safe PAU")
    def published(t):
        return np.polyval(a[::-1], t) / (1 + np.abs(np.polyval([*b[::-1], 0.0], t)))

    f, df = activations.closed_form("pau", changed)
    np.testing.assert_allclose(f(x), published(x), rtol=1e-12)
    h = 1e-6
    np.testing.assert_allclose(df(x), (published(x + h) - published(x - h)) / (2 * h), rtol=1e-5, atol=1e-6)


def test_pau_starts_as_leaky_relu():
    x = np.linspace(-3, 3, 101)
    f, _ = activations.closed_form("pau", {})
    # Initialised to the authors' leaky ReLU (slope 0.01) fit: within 0.034 of it on [-3, 3].
    assert np.abs(f(x) - np.where(x > 0, x, 0.01 * x)).max() < 0.034
    assert activations.learned("pau", None) and not activations.learned("pau", False)


def test_trainable_false_is_todays_activation_and_hash(tmp_path):
    spec = ActivationSpec.model_validate({"name": "swish", "beta": 1.5, "trainable": False})
    assert spec.label == "swish-beta=1.5" and spec.build_params == {"beta": 1.5}
    fn, factory = activations.keras_activation("swish", spec.build_params)
    assert factory is None
    entries = {
        "a": {"name": "swish", "beta": 1.5},
        "b": {"name": "swish", "beta": 1.5, "trainable": False, "shared": None},
        "c": {"name": "swish", "beta": 1.5, "trainable": True},
    }
    for key in entries:
        (tmp_path / key).mkdir()
    a, b, c = (load_tiny(tmp_path / key, activations=[entry]) for key, entry in entries.items())
    assert a.config_hash() == b.config_hash() != c.config_hash()
    assert c.activation_specs[0].label == "swish-beta=1.5-learned"


@pytest.mark.parametrize(
    "entry, message",
    [
        ({"name": "relu", "trainable": True}, "has no parameters to learn"),
        ({"name": "swish", "shared": "channel"}, "shared applies to learned parameters"),
        ({"name": "swish", "trainable": True, "shared": "unit"}, "shared"),
    ],
)
def test_learning_what_cannot_be_learned_is_refused(entry, message):
    with pytest.raises((ActbenchError, ValueError), match=message):
        ActivationSpec.model_validate(entry)


def test_pre_statistics():
    row = pre_statistics("conv1", np.arange(101, dtype="float32").reshape(1, 101))
    assert row == {
        "pre_mean/conv1": 50.0,
        "pre_std/conv1": pytest.approx(np.arange(101).std()),
        **{f"pre_p{q}/conv1": float(q) for q in (1, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 99)},
    }


def test_learned_swish_trains_and_its_beta_is_recorded(tmp_path):
    from actbench.run.runner import RunOptions, run_experiment

    acts = ["swish", {"name": "swish", "trainable": True}, {"name": "swish", "trainable": True, "shared": "channel"}]
    exp = load_tiny(tmp_path, "learned", activations=acts, seeds=[0], diagnostics={"preactivations": True})
    run_experiment(exp, RunOptions())
    out = tmp_path / "learned"
    epochs, runs = pd.read_csv(out / "epochs.csv"), pd.read_csv(out / "runs.csv")
    learned = epochs[epochs.activation == "swish-learned"]
    assert len(learned) == 2 and (learned["param/conv1/beta"] != 1.0).all()
    assert learned["param/dense1/beta"].diff().abs().iloc[-1] > 0  # it moves from epoch to epoch
    assert epochs[epochs.activation == "swish"]["param/conv1/beta"].isna().all()
    channel = epochs[epochs.activation == "swish-learned-per-channel"]
    assert (channel["param_std/conv1/beta"] > 0).all()
    last = runs.set_index("activation").loc["swish-learned", "param/conv1/beta"]
    assert last == learned["param/conv1/beta"].iloc[-1]
    assert {"pre_mean/conv1", "pre_std/dense1", "pre_p1/conv1", "pre_p50/conv1", "pre_p99/dense1"} <= set(epochs)
    assert (epochs["pre_p1/conv1"] <= epochs["pre_p50/conv1"]).all()
    assert (epochs["pre_p50/conv1"] <= epochs["pre_p99/conv1"]).all()


def test_learned_towers_packed_equal_sequential_and_keep_their_own_parameters(tmp_path):
    from actbench.run.runner import RunOptions, run_experiment

    # Two towers with the same learned activation: each has its own beta (a shared one would
    # get both towers' gradients and differ from the sequential run).
    acts = [{"name": "swish", "trainable": True}, {"name": "swish", "trainable": True, "label": "twin"}, "pau"]
    frames = {}
    for engine in ("packed", "sequential"):
        (tmp_path / engine).mkdir()
        exp = load_tiny(
            tmp_path / engine,
            activations=acts,
            seeds=[0],
            training={"engine": engine, "epochs": 1},
            diagnostics={"timing": False},
        )
        frames[engine] = pd.read_csv(run_experiment(exp, RunOptions()).output_dir / "epochs.csv")
    cols = ["loss", "val_accuracy", "param/conv1/beta", "param/dense1/beta", "param/dense1/a3", "param/conv1/b2"]
    packed, seq = (frames[k].sort_values("activation")[cols].to_numpy(float) for k in ("packed", "sequential"))
    np.testing.assert_allclose(packed, seq, rtol=1e-5, atol=1e-7)


def test_learned_parameters_in_a_user_builders_network(tmp_path, monkeypatch):
    from test_user_models import REFERENCE_BUILDER, SAME_LAYER, results

    (tmp_path / "refnet.py").write_text(REFERENCE_BUILDER)
    monkeypatch.chdir(tmp_path)
    acts = [{"name": "swish", "trainable": True, "shared": "channel"}]
    small = {"activations": acts, "training": {"epochs": 1}, "diagnostics": {"timing": False}}
    _, ref = results(tmp_path, "reference", **small)
    _, own = results(tmp_path, "builder", "refnet:reference", **small)
    # param/<layer>/<parameter>: the builder's Keras-named layers as the reference model names them
    own = own.rename(columns=lambda c: "/".join(SAME_LAYER.get(part, part) for part in c.split("/")))
    cols = ["loss", "param/conv1/beta", "param_std/conv1/beta", "param/dense1/beta"]
    assert ref[cols].notna().all().all()
    pd.testing.assert_frame_equal(own[cols], ref[cols], check_exact=True)
