"""The user's own network (`model: {builder: "module:function"}`): the reference network
written as a builder gives the reference model's numbers bit for bit, packed equals
sequential on a user model, the examples in configs/examples/ train on tiny data, and
every way a builder can go wrong stops with exit 2 naming it."""

import shutil
from pathlib import Path

import numpy as np
import official_formats as of
import pandas as pd
import pytest
import yaml
from tiny import load_tiny, tiny_config, tiny_config_with_model
from typer.testing import CliRunner

from actbench import config
from actbench.cli import app
from actbench.run.runner import RunOptions, run_experiment

EXAMPLES = Path(__file__).resolve().parent.parent / "configs" / "examples"
runner = CliRunner()

REFERENCE_BUILDER = '''
import keras
from keras import layers


def reference(act, input_shape, num_classes):
    """tiny.py's reference model (conv_filters [8], dense_units [16]) written by hand."""
    x = inputs = keras.Input(shape=input_shape)
    x = act()(layers.Conv2D(8, 3)(x))
    x = layers.Flatten()(layers.MaxPooling2D(2)(x))
    x = act()(layers.Dense(16)(x))
    return keras.Model(inputs, layers.Dense(num_classes, activation="softmax")(x))
'''
# The builder's layers, named by Keras, against the reference model's fixed names.
SAME_LAYER = {"conv2d": "conv1", "dense": "dense1", "dense_1": "output"}
TIMING = ["seconds", "train_seconds", "seconds_per_epoch", "test_examples_per_second"]


def builder_config(tmp_path, builder: str, name: str = "tiny", **overrides) -> Path:
    """tiny.py's config with `model` replaced (not merged) by the builder's."""
    return tiny_config_with_model(tmp_path, {"label": "mine", "builder": builder}, name, **overrides)


def results(tmp_path, name, builder=None, **overrides):
    if builder is None:
        exp = load_tiny(tmp_path, name, seeds=[0], **overrides)
    else:
        exp = config.load(builder_config(tmp_path, builder, name, seeds=[0], **overrides))
    out = run_experiment(exp, RunOptions(command_line=["test"])).output_dir
    runs, epochs = pd.read_csv(out / "runs.csv"), pd.read_csv(out / "epochs.csv")
    return [
        frame.drop(columns=[c for c in TIMING + ["config_hash", "model"] if c in frame]) for frame in (runs, epochs)
    ]


def renamed(frame: pd.DataFrame) -> pd.DataFrame:
    def column(name: str) -> str:
        measure, _, layer = name.partition("/")
        return f"{measure}/{SAME_LAYER.get(layer, layer)}" if layer else name

    return frame.rename(columns=column)


@pytest.fixture
def builder_dir(tmp_path, monkeypatch):
    (tmp_path / "refnet.py").write_text(REFERENCE_BUILDER)
    monkeypatch.chdir(tmp_path)  # builders are found beside the config or in the working directory
    return tmp_path


def test_the_reference_network_as_a_builder_gives_the_reference_numbers_bit_for_bit(builder_dir):
    ref_runs, ref_epochs = results(builder_dir, "reference")
    own_runs, own_epochs = results(builder_dir, "builder", "refnet:reference")
    assert len(ref_runs) == 3 and (ref_runs["params"] > 0).all()
    own_runs, own_epochs = renamed(own_runs), renamed(own_epochs)
    assert sorted(own_epochs.columns) == sorted(ref_epochs.columns)  # the same diagnostics, by layer
    pd.testing.assert_frame_equal(own_runs[ref_runs.columns], ref_runs, check_exact=True)
    pd.testing.assert_frame_equal(own_epochs[ref_epochs.columns], ref_epochs, check_exact=True)


def test_packed_equals_sequential_on_a_user_model(builder_dir):
    packed = results(builder_dir, "packed", "refnet:reference")
    sequential = results(builder_dir, "sequential", "refnet:reference", training={"engine": "sequential"})
    for a, b in zip(packed, sequential, strict=True):
        numeric = [c for c in a.columns if c not in ("timing", "engine") and pd.api.types.is_numeric_dtype(a[c])]
        np.testing.assert_allclose(a[numeric].to_numpy(float), b[numeric].to_numpy(float), rtol=1e-5, atol=1e-7)


def example(tmp_path, name: str, **training) -> Path:
    """A configs/examples/ config on tiny data, with its builder module beside it."""
    data = yaml.safe_load((EXAMPLES / name).read_text())
    data["seeds"] = [0]
    data["activations"] = data["activations"][:2]
    data["training"] |= {"epochs": 1, "batch_size": 32, **training}
    data["output"] = {"dir": str(tmp_path / "out")}
    for module in [*EXAMPLES.glob("*.py"), *EXAMPLES.glob("*.json")]:  # builders, saved models
        shutil.copy(module, tmp_path)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


CONVNET_THREE_WAYS = ["keras_convnet_fields.yaml", "keras_convnet_builder.yaml", "keras_convnet_saved.yaml"]


@pytest.mark.parametrize("name", CONVNET_THREE_WAYS)
def test_the_keras_convnet_trains_with_its_34826_parameters(tmp_path, name):
    config_file = example(tmp_path, name, train_limit=200, test_limit=64)
    text = yaml.safe_load(config_file.read_text())
    text["datasets"] = ["mnist_sample"]
    config_file.write_text(yaml.safe_dump(text))
    result = runner.invoke(app, ["run", str(config_file)])
    assert result.exit_code == 0, result.output
    runs = pd.read_csv(tmp_path / "out" / "runs.csv")
    epochs = pd.read_csv(tmp_path / "out" / "epochs.csv")
    assert (runs["params"] == 34_826).all() and not runs["failed"].any()
    grads = [c for c in epochs if c.startswith("grad_norm/")]
    assert len(grads) == 3 and epochs[grads].notna().all().all()  # two convs and the output layer


def test_the_cifar_resnet_example_trains_on_a_tiny_cifar_archive(tmp_path):
    of.write_cifar10_tar(tmp_path / "cifar", n_per_batch=20, n_test=20)
    config_file = example(tmp_path, "cifar_resnet.yaml", train_limit=60, test_limit=20)
    text = yaml.safe_load(config_file.read_text())
    text |= {"data_dir": str(tmp_path / "cifar"), "data_verify": False}
    config_file.write_text(yaml.safe_dump(text))
    result = runner.invoke(app, ["run", str(config_file), "--offline"])
    assert result.exit_code == 0, result.output
    runs = pd.read_csv(tmp_path / "out" / "runs.csv")
    assert len(runs) == 2 and not runs["failed"].any() and (runs["params"] == 78_282).all()


BAD_BUILDERS = """
import keras
from keras import layers


def flat(act, input_shape, num_classes):
    x = keras.Input(input_shape)
    return keras.Model(x, layers.Dense(num_classes, activation="softmax")(layers.Flatten()(x)))


def raises(act, input_shape, num_classes):
    raise RuntimeError("my builder is broken")


def three(act, input_shape, num_classes):
    return 3


def logits(act, input_shape, num_classes):
    x = keras.Input(input_shape)
    return keras.Model(x, layers.Dense(num_classes)(act()(layers.Flatten()(x))))


def narrow(act, input_shape, num_classes):
    x = keras.Input(input_shape)
    return keras.Model(x, layers.Dense(3, activation="softmax")(act()(layers.Flatten()(x))))
"""


@pytest.mark.parametrize(
    "function,expected",
    [
        ("flat", "never placed act()"),
        ("raises", "raised RuntimeError: my builder is broken"),
        ("three", "returned int, not a keras.Model"),
        ("logits", "not probabilities"),
        ("narrow", "output is (None, 3), not (None, 10)"),
        ("absent", "has no function 'absent'"),
    ],
)
def test_a_builder_that_goes_wrong_stops_with_exit_2_naming_it(tmp_path, function, expected):
    (tmp_path / "bad.py").write_text(BAD_BUILDERS)
    path = builder_config(tmp_path, f"bad:{function}")
    for command in ("validate", "run"):
        result = runner.invoke(app, [command, str(path)])
        assert result.exit_code == 2, result.output
        assert f"model builder 'bad:{function}'" in result.output and expected in result.output
        assert "Traceback" not in result.output
    assert not (tmp_path / "tiny").exists()  # nothing written


def test_a_builder_with_reference_fields_or_no_module_is_refused_at_load(tmp_path):
    with pytest.raises(Exception) as refused:
        config.load(builder_config(tmp_path, "nowhere:build"))
    assert "no file nowhere.py" in str(refused.value) and "model.builder" in str(refused.value)
    (tmp_path / "m.py").write_text("def build(act, input_shape, num_classes): ...\n")
    with pytest.raises(Exception) as refused:
        config.load(tiny_config(tmp_path, model={"builder": "m:build", "dropout": 0.5, "conv_filters": [8]}))
    assert "would be ignored" in str(refused.value) and "dropout" in str(refused.value)


@pytest.mark.parametrize("name", ["keras_convnet_builder.yaml", "keras_convnet_saved.yaml"])
def test_validate_prints_each_user_models_parameter_count(tmp_path, name):
    config_file = example(tmp_path, name)
    result = runner.invoke(app, ["validate", str(config_file)])
    assert result.exit_code == 0, result.output
    assert result.output.count("34,826") == 2  # relu and elu
