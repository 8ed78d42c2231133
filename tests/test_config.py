"""Config loading and every user mistake it must catch: exit code 2, file/line/field named."""

import textwrap

import pytest
from typer.testing import CliRunner

from actbench import config
from actbench.cli import app
from actbench.errors import ConfigError

runner = CliRunner()

GOOD = """\
name: tiny
datasets: [mnist_sample]
activations:
  - relu
  - {name: leaky_relu, negative_slope: 0.1, label: lrelu-0.1}
seeds: [0, 1]
"""


def write(tmp_path, text, name="exp.yaml"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


def validate(path):
    return runner.invoke(app, ["validate", str(path)])


def test_good_config_defaults(tmp_path):
    exp = config.load(write(tmp_path, GOOD))
    assert exp.labels == ["relu", "lrelu-0.1"]
    assert exp.baseline == "relu"  # default when relu is present
    assert exp.models[0].conv_filters == [32] and exp.models[0].dense_units == [128]
    assert exp.training.optimizer.name == "adam" and exp.training.optimizer.learning_rate == 0.001
    assert str(exp.output_dir) == "results/tiny"
    assert exp.activation_specs[1].params == {"negative_slope": 0.1}


def test_hash_ignores_output_and_engine_but_not_science(tmp_path):
    a = config.load(write(tmp_path, GOOD))
    b = config.load(write(tmp_path, GOOD + "output: {dir: /tmp/elsewhere}\ntraining: {engine: sequential}\n", "b.yaml"))
    c = config.load(write(tmp_path, GOOD + "training: {epochs: 3}\n", "c.yaml"))
    assert a.config_hash() == b.config_hash() != c.config_hash()


def test_validate_prints_plan(tmp_path):
    result = validate(write(tmp_path, GOOD))
    assert result.exit_code == 0, result.output
    assert "4 runs" in result.output and "lrelu-0.1" in result.output


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "name: x\ndatasets: [mnist_sample]\nactivations: [relu]\nfoo: 1\n",
            ["line 4", "unknown key 'foo'", "allowed keys: name, datasets"],
        ),
        (
            "name: x\ndatasets: [mnist_sample]\nactivations: [relu]\ntraining:\n  epoks: 3\n",
            ["line 5", "training.epoks", "did you mean 'epochs'", "allowed keys: optimizer, epochs"],
        ),
        (
            "name: x\ndatasets: [mnist_sample]\nactivations: [relu]\ntraining: {epochs: many}\n",
            ["training.epochs", "valid integer"],
        ),
        (
            "name: x\ndatasets: [mnist_sample]\nactivations: [relu]\ntraining: {epochs: 0}\n",
            ["training.epochs", "greater than 0"],
        ),
        (
            "name: x\ndatasets: [mnist_sample]\nactivations: [relu]\ntraining: {batch_size: -1}\n",
            ["training.batch_size", "greater than 0"],
        ),
        (
            "name: x\ndatasets: [mnist_sample]\nactivations: [relu]\ntraining: {validation_split: 1.0}\n",
            ["training.validation_split", "less than 1"],
        ),
        (
            "name: x\ndatasets: [mnist_sample]\nactivations: [relu]\ntraining: {validation_split: -0.1}\n",
            ["training.validation_split", "greater than or equal to 0"],
        ),
        (
            "name: x\ndatasets: [mnsit]\nactivations: [relu]\n",
            ["line 2", "unknown dataset 'mnsit'", "did you mean 'mnist'", "valid: mnist_sample, mnist"],
        ),
        (
            "name: x\ndatasets: [mnist_sample]\nactivations: [relu, tanhh]\n",
            ["line 3", "activations[1]", "unknown activation 'tanhh'", "did you mean 'tanh'"],
        ),
        ("name: x\ndatasets: []\nactivations: [relu]\n", ["datasets", "at least 1"]),
        ("name: x\ndatasets: [mnist_sample]\nactivations: []\n", ["activations", "at least 1"]),
        ("name: x\ndatasets: [mnist_sample]\nactivations: [relu]\nseeds: []\n", ["seeds", "at least 1"]),
        (
            "name: x\ndatasets: [mnist_sample]\nactivations: [relu, relu]\n",
            ["line 3", "duplicate activation label(s) relu"],
        ),
        (
            "name: x\ndatasets: [mnist_sample]\nactivations:\n  - relu\n  - {name: leaky_relu, slope: 2}\n",
            ["line 5", "no parameter(s) slope", "negative_slope"],
        ),
        (
            "name: x\ndatasets: [mnist_sample]\nactivations: [relu]\nbaseline: gelu\n",
            ["line 4", "baseline 'gelu' is not one of the activation labels"],
        ),
        (
            "name: x\ndatasets: [mnist_sample]\nactivations: ['nosuchmodule_xyz:f']\n",
            ["no file nosuchmodule_xyz.py", "never from installed modules"],
        ),
        (
            "name: x\ndatasets: [mnist_sample]\nactivations: [relu]\nbackend: theano\n",
            ["backend", "'tensorflow' or 'jax'"],
        ),
        (
            "name: x\ndatasets: [mnist_sample]\nactivations: [relu]\ntraining: {optimizer: {name: adagrad}}\n",
            ["training.optimizer.name", "'adam', 'sgd' or 'rmsprop'"],
        ),
        ("name: x\ndatasets: [mnist_sample]\nactivations: [relu]\nseeds: [1, 1]\n", ["seeds must be unique"]),
        ("- just\n- a list\n", ["expected a mapping"]),
        ("name: x\ndatasets: [mnist_sample\nactivations: [relu]\n", ["YAML syntax error", "line 3, column"]),
    ],
)
def test_config_errors(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        config.load(path)
    message = str(info.value)
    assert str(path) in message
    for part in expected:
        assert part in message, message
    result = validate(path)
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_missing_file_exit_2(tmp_path):
    result = validate(tmp_path / "nope.yaml")
    assert result.exit_code == 2
    assert "config file not found" in result.output


def test_custom_activation_imported_from_working_dir(tmp_path, monkeypatch):
    (tmp_path / "myacts.py").write_text("import keras\ndef cube(x):\n    return x * x * x\n")
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path, "name: x\ndatasets: [mnist_sample]\nactivations: [relu, 'myacts:cube']\n")
    assert config.load(path).labels == ["relu", "cube"]
    bad = write(tmp_path, "name: x\ndatasets: [mnist_sample]\nactivations: ['myacts:square']\n", "bad.yaml")
    result = validate(bad)
    assert result.exit_code == 2 and "has no function 'square'" in result.output, result.output


def test_run_refuses_unwritable_output_dir(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    path = write(tmp_path, GOOD + f"output: {{dir: {blocker}/out}}\n")
    result = runner.invoke(app, ["run", str(path)])
    assert result.exit_code == 2 and "cannot write" in result.output, result.output
    assert "Traceback" not in result.output


def test_run_refuses_dir_of_other_config(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "metadata.json").write_text('{"config_hash": "0123456789ab"}')
    path = write(tmp_path, GOOD + f"output: {{dir: {out}}}\n")
    result = runner.invoke(app, ["run", str(path)])
    assert result.exit_code == 2
    assert "different config" in result.output and "--overwrite" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["metadata.json"]  # nothing written


def test_run_fails_fast_when_dataset_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.delenv("ACTBENCH_DATA_DIR", raising=False)
    path = write(
        tmp_path,
        f"name: x\ndatasets: [cifar10, mnist_sample]\nactivations: [relu]\noutput: {{dir: {tmp_path / 'out'}}}\n",
    )
    result = runner.invoke(app, ["run", str(path)])
    assert result.exit_code == 2
    assert "cifar10" in result.output and "data_dir" in result.output
    assert not (tmp_path / "out").exists()


def test_experiment_is_complete_without_yaml():
    exp = config.Experiment(
        name="py",
        datasets=["mnist_sample"],
        activations=["tanh", {"name": "leaky_relu", "negative_slope": 0.1}, "relu"],
    )
    assert exp.labels == ["tanh", "leaky_relu-negative_slope=0.1", "relu"]
    assert exp.baseline == "relu"
    assert [m.label for m in exp.models] == ["reference"] and exp.model is None
    assert config.Experiment(name="py", datasets=["mnist_sample"], activations=["tanh"]).baseline is None


def test_experiment_from_python_equals_experiment_from_yaml(tmp_path):
    from_yaml = config.load(write(tmp_path, GOOD))
    from_python = config.Experiment(
        name="tiny",
        datasets=["mnist_sample"],
        seeds=[0, 1],
        activations=["relu", {"name": "leaky_relu", "negative_slope": 0.1, "label": "lrelu-0.1"}],
    )
    assert from_python == from_yaml and from_python.config_hash() == from_yaml.config_hash()


def test_config_is_immutable_and_overrides_make_a_validated_copy(tmp_path):
    exp = config.load(write(tmp_path, GOOD))
    with pytest.raises(ValueError, match="frozen"):
        exp.training.engine = "sequential"
    with pytest.raises(ValueError, match="frozen"):
        exp.activations[0].label = "other"
    changed = exp.with_overrides({"training.engine": "sequential", "seeds": [5]})
    assert (changed.training.engine, changed.seeds) == ("sequential", [5])
    assert (exp.training.engine, exp.seeds) == ("packed", [0, 1])
    assert changed.labels == exp.labels and changed.baseline == exp.baseline
    with pytest.raises(ValueError, match="packed"):
        exp.with_overrides({"training.engine": "fast"})
    with pytest.raises(KeyError):
        exp.with_overrides({"training.engines": "packed"})


def test_validate_prints_a_compact_plan_for_100000_runs(tmp_path):
    seeds = "".join(f"  - {i}\n" for i in range(50_000))
    path = write(tmp_path, "name: big\ndatasets: [mnist_sample]\nactivations: [relu, tanh]\nseeds:\n" + seeds)
    result = validate(path)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "100000 runs" in out and "runs per activation: relu 50000, tanh 50000" in out
    assert "│ 100000 " in out and "49999" in out  # the last run is shown...
    assert len(out.splitlines()) < 30  # ...but not every run


@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (2, 1, 3, 2), (1, 2, 7, 3), (3, 2, 4, 1)])
def test_outline_by_index_arithmetic_equals_outline_of_the_expanded_plan(shape):
    from actbench.run import plan

    n_datasets, n_models, n_seeds, n_acts = shape
    exp = config.Experiment(
        name="o",
        datasets=["mnist_sample", "mnist", "fashion_mnist"][:n_datasets],
        models=[{"label": f"m{i}"} for i in range(n_models)],
        seeds=list(range(10, 10 + n_seeds)),
        activations=["relu", "tanh", "elu", "gelu"][:n_acts],
    )
    for show in (0, 5, 20):
        assert plan.outline_grid(exp, show) == plan.outline(plan.expand(exp), show)
