"""A saved model (`model: {keras_model: FILE}`): the reference network saved as .keras or as
its JSON config gives the reference model's numbers bit for bit (fresh seeded weights, never
the file's; its activations replaced by the run's), `validate` and metadata.json list the layers
replaced, every file actbench cannot use stops with exit 2 naming it, and user models mix with
built-in ones in `models:` and `variants:`, resume and compare like any other."""

import json
import re
from pathlib import Path

import keras
import pandas as pd
import pytest
import yaml
from keras import layers
from test_user_models import REFERENCE_BUILDER, TIMING, renamed
from tiny import load_tiny, tiny_config, tiny_config_with_model
from typer.testing import CliRunner

from actbench import config
from actbench.cli import app
from actbench.run.runner import RunOptions, run_experiment
from actbench.training.model import build_model

runner = CliRunner()
# The hand-written network's layer names against the reference model's fixed names.
HAND_LAYERS = {"c": "conv1", "d": "dense1", "out": "output"}


def reference_network(tmp_path: Path):
    """actbench's own tiny reference network (relu), under another seed and trained one step, so
    its weights are not what a run starts from: a run that used them would differ."""
    exp = load_tiny(tmp_path, "maker")
    keras.utils.set_random_seed(12345)
    model = build_model(exp.models[0], (28, 28, 1), 10, "relu", {})
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.train_on_batch(keras.random.uniform((4, 28, 28, 1)), keras.ops.array([1, 2, 3, 4]))
    return model


def hand_network():
    """The same network as Keras users write it: activation= on the Conv/Dense layers."""
    x = inputs = keras.Input((28, 28, 1))
    x = layers.Conv2D(8, 3, activation="relu", name="c")(x)
    x = layers.Flatten()(layers.MaxPooling2D(2)(x))
    x = layers.Dense(16, activation="relu", name="d")(x)
    return keras.Model(inputs, layers.Dense(10, activation="softmax", name="out")(x))


@pytest.fixture
def saved(tmp_path, monkeypatch):
    model = reference_network(tmp_path)
    model.save(tmp_path / "ref.keras")
    (tmp_path / "ref.json").write_text(model.to_json())
    (tmp_path / "hand.json").write_text(hand_network().to_json())
    (tmp_path / "refnet.py").write_text(REFERENCE_BUILDER)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def saved_config(tmp_path, file: str, name: str = "tiny", **overrides) -> Path:
    """tiny.py's config with `model` replaced (not merged) by a saved model's."""
    return tiny_config_with_model(tmp_path, {"label": "mine", "keras_model": file}, name, **overrides)


def files_of(out: Path):
    runs, epochs = pd.read_csv(out / "runs.csv"), pd.read_csv(out / "epochs.csv")
    drop = TIMING + ["config_hash", "model"]
    return [frame.drop(columns=[c for c in drop if c in frame]) for frame in (runs, epochs)]


def run(exp) -> Path:
    return run_experiment(exp, RunOptions(command_line=["test"])).output_dir


@pytest.mark.parametrize("file", ["ref.keras", "ref.json", "hand.json"])
def test_the_reference_network_saved_gives_the_reference_numbers_bit_for_bit(saved, file):
    ref_runs, ref_epochs = files_of(run(load_tiny(saved, "reference", seeds=[0])))
    own_runs, own_epochs = files_of(run(config.load(saved_config(saved, file, "saved", seeds=[0]))))
    assert len(ref_runs) == 3 and (ref_runs["params"] > 0).all()
    own_runs, own_epochs = (renamed(frame.rename(columns=_hand)) for frame in (own_runs, own_epochs))
    assert sorted(own_epochs.columns) == sorted(ref_epochs.columns)  # the same diagnostics, by layer
    pd.testing.assert_frame_equal(own_runs[ref_runs.columns], ref_runs, check_exact=True)
    pd.testing.assert_frame_equal(own_epochs[ref_epochs.columns], ref_epochs, check_exact=True)


def _hand(column: str) -> str:
    measure, _, layer = column.partition("/")
    return f"{measure}/{HAND_LAYERS.get(layer, layer)}" if layer else column


def test_validate_and_metadata_list_the_layers_replaced(saved):
    path = saved_config(saved, "hand.json", "listed", seeds=[0])
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "replaces c (activation=relu), d (activation=relu)" in said and "layer out" in said
    meta = json.loads((run(config.load(path)) / "metadata.json").read_text())
    info = meta["saved_models"]["mine"]
    assert info["replaced"] == {"c": "activation=relu", "d": "activation=relu"} and info["kept_output"] == "out"
    assert info["as"] == ["act_c", "act_d"] and len(info["sha256"]) == 64 and info["file"].endswith("hand.json")


def test_a_fixed_seed_in_the_file_is_cleared_so_seeds_differ(saved):
    data = json.loads(hand_network().to_json())
    for entry in data["config"]["layers"][1:]:
        if "kernel_initializer" in entry["config"]:
            entry["config"]["kernel_initializer"]["config"]["seed"] = 7
    (saved / "seeded.json").write_text(json.dumps(data))
    exp = config.load(saved_config(saved, "seeded.json", "seeded", activations=["relu"]))
    starts = []
    for seed in (0, 1):
        keras.utils.set_random_seed(seed)
        model = build_model(exp.models[0], (28, 28, 1), 10, "relu", {})
        starts.append(keras.ops.convert_to_numpy(model.get_layer("c").kernel))
    assert not (starts[0] == starts[1]).all()  # a seed fixed in the file would give both seeds one start
    result = runner.invoke(app, ["validate", str(saved / "seeded.yaml")])
    assert "fixed seeds cleared in c, d, out" in " ".join(result.output.split())


def nested():
    inner = keras.Sequential([keras.Input((26, 26, 8)), layers.ReLU()], name="block")
    x = inputs = keras.Input((28, 28, 1))
    x = layers.Flatten()(inner(layers.Conv2D(8, 3)(x)))
    return keras.Model(inputs, layers.Dense(10, activation="softmax")(x))


def flat_softmax():
    return keras.Sequential([keras.Input((28, 28, 1)), layers.Flatten(), layers.Dense(10, activation="softmax")])


def logits():
    return keras.Sequential([keras.Input((28, 28, 1)), layers.Flatten(), layers.Dense(16, "relu"), layers.Dense(10)])


def wrong_input():
    return keras.Sequential([keras.Input((32, 32, 3)), layers.Flatten(), layers.Dense(16, "relu"), layers.Dense(10)])


def recurrent():
    x = inputs = keras.Input((28, 28, 1))
    x = layers.SimpleRNN(8)(layers.Reshape((28, 28))(x))
    return keras.Model(inputs, layers.Dense(10, activation="softmax")(layers.Dense(8, "relu")(x)))


@pytest.mark.parametrize(
    "make,expected",
    [
        (flat_softmax, "has no hidden activation to replace"),
        (logits, "outputs are not probabilities"),
        (wrong_input, "takes inputs of shape (32, 32, 3), not the dataset's (28, 28, 1)"),
        (nested, "has a nested model, layer 'block'"),
        (recurrent, "with activation=tanh inside it, which actbench cannot replace"),
        ("not a zip", "is not a .keras archive"),
        ("{", "cannot be read as a model's JSON config"),
    ],
    ids=["nothing-to-replace", "logits", "wrong-input", "nested", "recurrent", "not-a-zip", "bad-json"],
)
def test_a_saved_model_actbench_cannot_use_stops_with_exit_2_naming_it(tmp_path, make, expected):
    file = "bad.keras" if make == "not a zip" else "bad.json"
    text = make if isinstance(make, str) else make().to_json()
    (tmp_path / file).write_text(text)
    path = saved_config(tmp_path, file)
    for command in ("validate", "run"):
        result = runner.invoke(app, [command, str(path)])
        assert result.exit_code == 2, result.output
        said = " ".join(result.output.split())
        assert f"saved model '{file}'" in said and expected in said, said
        assert "Traceback" not in result.output
    assert not (tmp_path / "tiny").exists()  # nothing written


def test_a_keras_model_beside_a_builder_or_reference_fields_or_missing_is_refused_at_load(tmp_path):
    with pytest.raises(Exception) as refused:
        config.load(saved_config(tmp_path, "nowhere.keras"))
    assert "keras_model 'nowhere.keras': no such file" in str(refused.value) and "model.keras_model" in str(
        refused.value
    )
    (tmp_path / "m.keras").write_bytes(b"")
    (tmp_path / "m.py").write_text("def build(act, input_shape, num_classes): ...\n")
    for model, said in [
        ({"keras_model": "m.keras", "builder": "m:build"}, "not both"),
        ({"keras_model": "m.keras", "dense_units": [8]}, "would be ignored"),
        ({"keras_model": "m.h5"}, "must be a .keras file"),
    ]:
        with pytest.raises(Exception) as refused:
            config.load(tiny_config(tmp_path, model=model))
        assert said in str(refused.value)


def test_models_and_variants_mix_built_in_and_user_models_with_the_same_numbers(saved):
    models = [
        {"label": "ref", "conv_filters": [8], "dense_units": [16]},
        {"label": "built", "builder": "refnet:reference"},
        {"label": "saved", "keras_model": "ref.keras"},
    ]
    mixed = pd.read_csv(run(load_tiny(saved, "mixed", seeds=[0], model=None, models=models)) / "runs.csv")
    variants = [{"label": "ref"}, {"label": "saved", "model": {"keras_model": "hand.json"}}]
    by_variant = pd.read_csv(run(load_tiny(saved, "variants", seeds=[0], variants=variants)) / "runs.csv")
    for frame, labels in [(mixed, ["ref", "built", "saved"]), (by_variant, ["ref", "saved"])]:
        assert sorted(frame["model"].unique()) == sorted(labels) and not frame["failed"].any()
        losses = frame.pivot(index="activation", columns="model", values="test_loss")
        assert (losses.nunique(axis=1) == 1).all()  # one network, three ways: the same numbers


def test_resume_and_compare_on_a_user_model(saved):
    path = saved_config(saved, "ref.json", "resumed", seeds=[0, 1], activations=["relu"])
    first = runner.invoke(app, ["run", str(path), "--shard", "1/2"])
    assert first.exit_code == 0, first.output
    second = runner.invoke(app, ["run", str(path)])
    assert second.exit_code == 0, second.output
    assert "1 of 2 runs already done, running 1" in " ".join(second.output.split())
    runs = pd.read_csv(saved / "resumed" / "runs.csv")
    assert sorted(runs["seed"]) == [0, 1] and (runs["model"] == "mine").all()
    other = saved_config(saved, "hand.json", "other", seeds=[0, 1], activations=["relu"])
    assert runner.invoke(app, ["run", str(other)]).exit_code == 0
    compared = runner.invoke(app, ["compare", str(saved / "resumed"), str(saved / "other")])
    assert compared.exit_code == 0, compared.output
    assert "mine" in compared.output and "relu" in compared.output
    (saved / "ref.json").write_text((saved / "hand.json").read_text())  # another network, the same name
    refused = runner.invoke(app, ["run", str(path), "--shard", "2/2"])
    assert refused.exit_code == 2 and "keras_model 'ref.json' changed since the runs" in " ".join(
        refused.output.split()
    )


def test_the_builder_in_docs_own_models_works_as_written(tmp_path, monkeypatch):
    doc = (Path(__file__).resolve().parents[1] / "docs" / "own-models.md").read_text()
    (block,) = re.findall(r"```python\n(.*?)```", doc, re.S)
    (tmp_path / "mynet.py").write_text(block)
    path = tiny_config(tmp_path, activations=["relu", "elu"])
    data = yaml.safe_load(path.read_text())
    data["model"] = {"builder": "mynet:build"}
    path.write_text(yaml.safe_dump(data))
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output.count("54,410") == 2  # 320 + 54,090 (13 x 13 x 32 -> 10), for relu and elu


def every_kind():
    """Each kind of activation actbench replaces, named and unnamed, and a softmax output layer."""
    x = inputs = keras.Input((28, 28, 1))
    x = layers.ReLU()(layers.Conv2D(4, 3, name="c1")(x))
    x = layers.BatchNormalization(name="bn")(layers.Conv2D(4, 3, activation="elu", name="c2")(x))
    x = layers.LeakyReLU(name="block_relu")(x)
    x = layers.Activation("tanh", name="act_c3")(layers.Conv2D(4, 3, name="c3")(x))
    x = layers.PReLU()(layers.Dense(8, name="d1")(layers.Flatten()(layers.MaxPooling2D(2)(x))))
    x = layers.Softmax(name="inner_softmax")(layers.Dense(8, name="d2")(x))
    return keras.Model(inputs, layers.Softmax(name="probs")(layers.Dense(10, name="out")(x)))


@pytest.mark.parametrize("activation", ["relu", "prelu", "tanh"])
def test_every_kind_of_hidden_activation_is_replaced_and_the_output_kept(tmp_path, monkeypatch, activation):
    monkeypatch.chdir(tmp_path)
    every_kind().save(tmp_path / "kinds.keras")
    exp = config.load(saved_config(tmp_path, "kinds.keras", activations=[activation]))
    keras.utils.set_random_seed(0)
    model = build_model(exp.models[0], (28, 28, 1), 10, activation, {})
    tower = model.actbench_tower
    assert [base for base, _, _ in tower.activated] == ["c1", "c2", "block_relu", "c3", "d1", "inner_softmax"]
    assert tower.kernel_layers == ["c1", "c2", "c3", "d1", "d2", "out"]
    kept = [layer.name for layer in model.layers if isinstance(layer, (layers.ReLU, layers.LeakyReLU, layers.Softmax))]
    assert kept == ["probs"]  # the file's own activation layers are gone, but the output's
    assert model.get_layer("c2").activation is keras.activations.linear  # its elu now follows it as act_c2
    assert model.get_layer("probs") is not None  # the output's softmax is kept
    out = keras.ops.convert_to_numpy(model(keras.random.uniform((3, 28, 28, 1))))
    assert abs(out.sum(axis=1) - 1).max() < 1e-5


def test_a_sequential_model_saved_without_an_input_is_built_on_the_datasets_images(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    unbuilt = keras.Sequential([layers.Conv2D(4, 3, activation="relu"), layers.Flatten(), layers.Dense(10, "softmax")])
    (tmp_path / "unbuilt.json").write_text(unbuilt.to_json())
    exp = config.load(saved_config(tmp_path, "unbuilt.json"))
    model = build_model(exp.models[0], (28, 28, 1), 10, "tanh", {})
    assert model.count_params() == 40 + 26 * 26 * 4 * 10 + 10 and len(model.actbench_tower.activated) == 1
