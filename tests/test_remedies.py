"""The remedies as config options: model.norm, model.residual, model.kernel_initializer and the
optimizer's gradient clipping. Each is validated strictly, changes the built model or optimizer
as docs/config.md says, and leaves the default build and every older config's hash unchanged."""

import json
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
from refusals import assert_refused
from tiny import load_tiny
from typer.testing import CliRunner

from actbench import config
from actbench.activations import AUTO_INITIALIZERS
from actbench.cli import app
from actbench.config import Experiment, ModelSpec, OptimizerSpec
from actbench.config.specs import KERNEL_INITIALIZERS
from actbench.run.runner import RunOptions, run_experiment
from actbench.training.engine import make_optimizer
from actbench.training.model import build_model

REPO = Path(__file__).resolve().parent.parent
QUICKSTART_HASH = "7139003fe182"  # results/reference/quickstart/metadata.json
HEAD = "name: x\ndatasets: [mnist_sample]\nactivations: [relu]\n"
SHAPE = (28, 28, 1)


def build(act: str = "relu", seed: int = 0, **arch):
    keras.utils.set_random_seed(seed)
    return build_model(ModelSpec(**arch), SHAPE, 10, act, {})


def layer_types(model) -> set[str]:
    return {type(layer).__name__ for layer in model.layers}


def experiment(**model) -> Experiment:
    return Experiment(name="x", datasets=["mnist_sample"], activations=["relu"], model=model or None)


# ---------------------------------------------------------------- defaults change nothing


def test_existing_configs_keep_their_hash_and_resolved_config():
    exp = config.load(REPO / "configs/quickstart.yaml")
    assert exp.config_hash() == QUICKSTART_HASH
    meta = json.loads((REPO / "results/reference/quickstart/metadata.json").read_text())
    assert config.resolved_config(exp) == meta["config"]
    resolved = config.resolved_config(exp)
    assert not {"norm", "residual", "kernel_initializer"} & set(resolved["models"][0])
    assert not {"clipnorm", "clipvalue", "global_clipnorm"} & set(resolved["training"]["optimizer"])


def test_defaults_written_out_keep_the_hash():
    plain = experiment()
    explicit = experiment(norm="none", residual=False, kernel_initializer="glorot_uniform", batch_norm=False)
    assert explicit.config_hash() == plain.config_hash()
    clip_off = {"clipnorm": None, "clipvalue": None, "global_clipnorm": None}
    with_clip_off = Experiment(**{**plain.model_dump(), "training": {"optimizer": clip_off}})
    assert with_clip_off.config_hash() == plain.config_hash()


def test_batch_norm_config_keeps_its_hash_and_norm_batch_has_it_too(tmp_path):
    old = "name: bn\ndatasets: [mnist_sample]\nactivations: [relu]\ntraining: {optimizer: {name: sgd, momentum: 0.9}}\n"
    path = tmp_path / "bn.yaml"
    for model in ("{batch_norm: true, dropout: 0.1}", "{norm: batch, dropout: 0.1}"):
        path.write_text(old + f"model: {model}\n")
        assert config.load(path).config_hash() == "ebc44c1a1ff2"  # as computed before norm existed


def test_batch_norm_and_norm_batch_are_one_config():
    old, new = experiment(batch_norm=True), experiment(norm="batch")
    assert old.config_hash() == new.config_hash()
    assert old.architectures[0].norm == new.architectures[0].norm == "batch"
    assert new.architectures[0].batch_norm is True
    assert experiment(norm="layer", batch_norm=False).architectures[0].norm == "layer"


@pytest.mark.parametrize(
    "model, optimizer",
    [
        ({"norm": "layer"}, {}),
        ({"norm": "batch"}, {}),
        ({"residual": True}, {}),
        ({"kernel_initializer": "auto"}, {}),
        ({"kernel_initializer": "he_normal"}, {}),
        ({}, {"clipnorm": 1.0}),
        ({}, {"clipvalue": 0.5}),
    ],
)
def test_non_default_values_change_the_hash(model, optimizer):
    base = experiment()
    changed = Experiment(**{**base.model_dump(), "models": None, "model": model, "training": {"optimizer": optimizer}})
    assert changed.config_hash() != base.config_hash()
    assert Experiment(**changed.model_dump()) == changed  # the dump round-trips


def test_global_clipnorm_changes_the_hash():
    base = Experiment(name="x", datasets=["mnist_sample"], activations=["relu"], training={"engine": "sequential"})
    clipped = base.with_overrides({"training.optimizer": {"global_clipnorm": 1.0}})
    assert clipped.config_hash() != base.config_hash()


def test_default_build_is_the_reference_model_with_the_same_initial_weights():
    ours = build(seed=7)
    assert ours.count_params() == 693_962
    assert layer_types(ours) == {"InputLayer", "Conv2D", "Activation", "MaxPooling2D", "Flatten", "Dense"}
    keras.utils.set_random_seed(7)  # the plain Keras reference network, built layer by layer in the same order
    x = inputs = keras.Input(SHAPE)
    x = keras.layers.Activation("relu")(keras.layers.Conv2D(32, 3)(x))
    x = keras.layers.Flatten()(keras.layers.MaxPooling2D(2)(x))
    x = keras.layers.Activation("relu")(keras.layers.Dense(128)(x))
    plain = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(x))
    for a, b in zip(ours.get_weights(), plain.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------- each option changes the build


def test_norm_puts_the_normalization_before_each_activation():
    batch, layer = build(norm="batch"), build(norm="layer")
    assert isinstance(batch.get_layer("bn_conv1"), keras.layers.BatchNormalization)
    assert isinstance(layer.get_layer("ln_conv1"), keras.layers.LayerNormalization)
    assert isinstance(layer.get_layer("ln_dense1"), keras.layers.LayerNormalization)
    assert "BatchNormalization" not in layer_types(layer) and "LayerNormalization" not in layer_types(batch)
    assert layer.get_layer("conv1").use_bias is False  # the normalization's beta is the bias
    act = layer.get_layer("act_conv1")
    assert act.input is layer.get_layer("ln_conv1").output
    assert build(batch_norm=True).count_params() == batch.count_params()


def test_residual_identity_where_shapes_match_projection_otherwise():
    same = build(residual=True, padding="same", conv_filters=[32, 32, 64])
    names = {layer.name for layer in same.layers}
    assert {"add1", "add2", "add3", "proj1", "proj3"} <= names and "proj2" not in names  # 1 -> 32 and 32 -> 64
    assert "Cropping2D" not in layer_types(same)
    add2 = same.get_layer("add2")
    assert same.get_layer("pool1").output in add2.input  # the identity: block 2's input itself
    assert same.get_layer("act_conv2").input is add2.output  # added before the activation, pooled after
    valid = build(residual=True, conv_filters=[32, 32])
    assert valid.get_layer("crop2").output.shape[1:3] == valid.get_layer("conv2").output.shape[1:3]
    assert "proj2" not in {layer.name for layer in valid.layers}
    assert valid.get_layer("proj1").kernel.shape == (1, 1, 1, 32)


@pytest.mark.parametrize(
    "name, act, expected",
    [
        ("glorot_uniform", "relu", "GlorotUniform"),
        ("he_uniform", "sigmoid", "HeUniform"),
        ("orthogonal", "tanh", "Orthogonal"),
        ("auto", "relu", "HeNormal"),
        ("auto", "prelu", "HeNormal"),
        ("auto", "elu", "HeNormal"),
        ("auto", "selu", "LecunNormal"),
        ("auto", "sigmoid", "GlorotUniform"),
        ("auto", "gelu", "GlorotUniform"),
    ],
)
def test_kernel_initializer_reaches_conv_and_dense_kernels(name, act, expected):
    model = build(act, kernel_initializer=name, residual=True)
    for layer in ("conv1", "dense1", "proj1"):
        assert type(model.get_layer(layer).kernel_initializer).__name__ == expected
    assert type(model.get_layer("output").kernel_initializer).__name__ == "GlorotUniform"


def test_every_listed_initializer_is_a_keras_initializer():
    for name in set(KERNEL_INITIALIZERS) - {"auto"} | set(AUTO_INITIALIZERS.values()):
        assert isinstance(keras.initializers.get(name), keras.initializers.Initializer)


def test_kernel_initializer_changes_the_initial_weights():
    default, he = build(seed=1), build(seed=1, kernel_initializer="he_normal")
    assert not np.array_equal(default.get_layer("conv1").kernel, he.get_layer("conv1").kernel)


@pytest.mark.parametrize("name", ["adam", "sgd", "rmsprop"])
@pytest.mark.parametrize("clip", ["clipnorm", "clipvalue", "global_clipnorm"])
def test_clipping_reaches_the_keras_optimizer(name, clip):
    opt = make_optimizer(OptimizerSpec(name=name, **{clip: 0.5}))
    assert getattr(opt, clip) == 0.5
    assert [getattr(opt, c) for c in ("clipnorm", "clipvalue", "global_clipnorm") if c != clip] == [None, None]
    default = make_optimizer(OptimizerSpec(name=name))
    assert (default.clipnorm, default.clipvalue, default.global_clipnorm) == (None, None, None)


def test_clipnorm_bounds_the_update():
    """One SGD step at learning rate 1 moves each weight by its clipped gradient."""
    var = keras.Variable(np.zeros(4, dtype="float32"))
    opt = make_optimizer(OptimizerSpec(name="sgd", learning_rate=1, clipnorm=1.0))
    opt.apply([keras.ops.convert_to_tensor(np.full(4, 10.0, dtype="float32"))], [var])
    np.testing.assert_allclose(np.linalg.norm(var.numpy()), 1.0, rtol=1e-5)


# ---------------------------------------------------------------- refused with a clear message

runner = CliRunner()


@pytest.mark.parametrize(
    "text, expected",
    [
        ("model: {norm: group}\n", ["model.norm", "'none', 'batch' or 'layer'", "group"]),
        ("model: {norm: true}\n", ["model.norm", "true"]),
        ("model: {batch_norm: true, norm: layer}\n", ["batch_norm: true contradicts norm: layer"]),
        ("model: {batch_norm: false, norm: batch}\n", ["batch_norm: false contradicts norm: batch"]),
        ("model: {residual: 1}\n", ["model.residual", "valid boolean"]),
        ("model: {kernel_initializer: he}\n", ["unknown kernel_initializer 'he'", "he_normal", "auto"]),
        ("model: {kernel_initializer: He_Normal}\n", ["unknown kernel_initializer", "did you mean 'he_normal'"]),
        ("training: {optimizer: {clipnorm: 0}}\n", ["training.optimizer.clipnorm", "greater than 0"]),
        ("training: {optimizer: {clipvalue: -1.0}}\n", ["training.optimizer.clipvalue", "greater than 0"]),
        ("training: {optimizer: {clipnorm: .inf}}\n", ["training.optimizer.clipnorm", "finite"]),
        ("training: {optimizer: {clipvalue: '1'}}\n", ["training.optimizer.clipvalue", "'1'"]),
        ("training: {optimizer: {clipnorm: 1, clipvalue: 1}}\n", ["at most one of", "clipnorm and clipvalue"]),
        (
            "training: {optimizer: {clipnorm: 1, global_clipnorm: 1}, engine: sequential}\n",
            ["at most one of", "clipnorm and global_clipnorm"],
        ),
        ("training: {optimizer: {global_clipnorm: 1.0}}\n", ["global_clipnorm needs engine: sequential"]),
    ],
)
def test_bad_remedy_values_are_refused(tmp_path, text, expected):
    assert_refused(tmp_path, HEAD + text, expected)


def test_engine_packed_on_the_command_line_cannot_pack_global_clipnorm(tmp_path):
    path = tmp_path / "exp.yaml"
    path.write_text(HEAD + "training: {optimizer: {global_clipnorm: 1.0}, engine: sequential}\n")
    result = runner.invoke(app, ["run", str(path), "--engine", "packed", "--output", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert "--engine packed" in result.output and "global_clipnorm" in result.output
    assert not (tmp_path / "out").exists()


def test_each_remedy_trains_a_few_steps():
    x = np.random.default_rng(0).random((16, *SHAPE), dtype="float32")
    y = np.arange(16) % 10
    for arch in ({"norm": "layer", "residual": True, "kernel_initializer": "auto"}, {"norm": "batch"}):
        model = build("relu", padding="same", conv_filters=[8, 8], dense_units=[16], **arch)
        model.compile(make_optimizer(OptimizerSpec(clipvalue=0.1)), "sparse_categorical_crossentropy")
        history = model.fit(x, y, batch_size=8, epochs=1, verbose=0)
        assert np.isfinite(history.history["loss"][0])


@pytest.mark.slow  # two tiny runs end to end
def test_packed_equals_sequential_with_the_remedies(tmp_path):
    """The remedies go through the whole pipeline (diagnostics included), and per-weight clipping
    keeps packed towers independent: the same numbers as training each activation alone."""
    frames = []
    remedies = {"norm": "layer", "residual": True, "kernel_initializer": "auto"}
    for engine in ("packed", "sequential"):
        exp = load_tiny(
            tmp_path,
            engine,
            activations=["relu", "tanh"],
            seeds=[0],
            model={"conv_filters": [8, 8], "padding": "same", **remedies},
            training={"engine": engine, "epochs": 1, "train_limit": 200, "optimizer": {"clipnorm": 0.5}},
            diagnostics={"timing": False},
        )
        out = run_experiment(exp, RunOptions(command_line=["test"])).output_dir
        epochs = pd.read_csv(out / "epochs.csv")
        assert epochs["grad_norm/conv2"].notna().all()
        frames.append(epochs[["loss", "accuracy", "val_loss", "val_accuracy"]].to_numpy(float))
    np.testing.assert_allclose(frames[0], frames[1], rtol=1e-5, atol=1e-7)


def test_dropout_without_hidden_dense_layers_goes_after_flatten():
    # Keras' "Simple MNIST convnet" written as fields: Conv32 -> pool -> Conv64 -> pool ->
    # Flatten -> Dropout(0.5) -> Dense(10). Before, the dropout was silently left out.
    convnet = build(conv_filters=[32, 64], dense_units=[], dropout=0.5)
    assert convnet.count_params() == 34_826
    dropout = convnet.get_layer("dropout0")
    assert dropout.rate == 0.5 and dropout.input is convnet.get_layer("flatten").output
    x = np.random.default_rng(0).random((4, *SHAPE), dtype="float32")
    assert not np.allclose(convnet(x, training=True), convnet(x, training=False))  # it changes training
    assert "Dropout" not in layer_types(build(conv_filters=[32, 64], dense_units=[]))
    with_dense = build(dropout=0.5)  # after each hidden dense layer, as before: no dropout0
    assert [layer.name for layer in with_dense.layers if isinstance(layer, keras.layers.Dropout)] == ["dropout1"]
