"""Every config and custom activation a user can write gets a clear answer before training.

A table of bad configs and bad custom modules, each run through the CLI in-process: exit 2,
no traceback, the expected words, at most one screen, and nothing written.
"""

import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from actbench.cli import app

runner = CliRunner()
HEAD = "name: x\ndatasets: [mnist_sample]\n"
OK = HEAD + "activations: [relu]\n"
MAX_LINES = 25


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


def invoke(*args):
    result = runner.invoke(app, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a crash, not an answer: show its traceback
    return result


def assert_refused(result, expected, before, root):
    out = result.output
    assert result.exit_code == 2, out
    assert "Traceback" not in out, out
    for words in expected:
        assert words in out, f"{words!r} not in:\n{out}"
    assert len(out.strip().splitlines()) <= MAX_LINES, out
    assert files_under(root) == before, "something was written"


# (id, config text or bytes, expected words). The config is written to tmp_path/exp.yaml.
CONFIGS = [
    # -- reading the file
    ("binary", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", ["not a text file", "NUL"]),
    (
        "latin-1",
        "name: caf\xe9\ndatasets: [mnist_sample]\nactivations: [relu]\n".encode("latin-1"),
        ["not UTF-8", "line 1", "0xe9"],
    ),
    ("utf-16", OK.encode("utf-16"), ["UTF-16", "UTF-8"]),
    ("empty", "", ["expected a mapping", "empty file"]),
    ("top-level list", "- relu\n- tanh\n", ["expected a mapping", "a list"]),
    ("top-level text", "just words\n", ["expected a mapping", "'just words'"]),
    ("yaml syntax", HEAD + "activations: [relu\n", ["YAML syntax error", "line"]),
    ("tab indent", HEAD + "activations:\n\t- relu\n", ["YAML syntax error", "line 4"]),
    (
        "duplicate top key",
        OK + "training: {epochs: 1}\ntraining: {epochs: 2}\n",
        ["key 'training' is given twice", "line 4 and line 5"],
    ),
    (
        "duplicate nested key",
        OK + "training:\n  epochs: 1\n  batch_size: 8\n  epochs: 3\n",
        ["key 'epochs' is given twice", "line 5 and line 7"],
    ),
    (
        "duplicate key in activation",
        HEAD + "activations:\n  - {name: elu, alpha: 1, alpha: 2}\n",
        ["key 'alpha' is given twice", "line 4"],
    ),
    # -- strict values: no coercion
    ("bool as int", OK + "training: {epochs: true}\n", ["line 4", "training.epochs", "valid integer", "true"]),
    ("str as int", OK + "training: {epochs: '3'}\n", ["training.epochs", "valid integer", "'3'"]),
    ("float as int", OK + "training: {epochs: 2.5}\n", ["training.epochs", "valid integer", "2.5"]),
    ("str seed", OK + "seeds: [0, '1']\n", ["seeds[1]", "valid integer", "'1'", "remove the quotes"]),
    ("bool seed", OK + "seeds: [0, true]\n", ["seeds[1]", "valid integer", "true"]),
    ("seeds not a list", OK + "seeds: 3\n", ["seeds", "valid list", "3"]),
    (
        "str as float",
        OK + "training: {optimizer: {learning_rate: '0.1'}}\n",
        ["training.optimizer.learning_rate", "valid number", "'0.1'"],
    ),
    ("yaml 1e3 is text", OK + "training: {train_limit: 1e3}\n", ["training.train_limit", "'1e3'", "1.0e+3"]),
    (
        "infinite float",
        OK + "training: {optimizer: {learning_rate: .inf}}\n",
        ["training.optimizer.learning_rate", "finite number", "inf"],
    ),
    ("nan float", OK + "model: {dropout: .nan}\n", ["model.dropout", "finite number", "nan"]),
    ("int as bool", OK + "model: {batch_norm: 1}\n", ["model.batch_norm", "valid boolean", "1"]),
    ("str as bool", OK + "data_verify: 'yes'\n", ["data_verify", "valid boolean", "'yes'"]),
    ("int as name", "name: 123\ndatasets: [mnist_sample]\nactivations: [relu]\n", ["line 1", "name", "valid string"]),
    ("datasets not a list", "name: x\ndatasets: mnist_sample\nactivations: [relu]\n", ["datasets", "valid list"]),
    ("activation as number", HEAD + "activations: [relu, 3]\n", ["activations[1]", "activation name"]),
    ("activation without name", HEAD + "activations: [{alpha: 1}]\n", ["activations[0].name", "missing"]),
    ("param as text", HEAD + "activations: [{name: elu, alpha: big}]\n", ["parameter alpha", "finite number"]),
    ("param as bool", HEAD + "activations: [{name: elu, alpha: true}]\n", ["parameter alpha", "got true"]),
    ("param infinite", HEAD + "activations: [{name: elu, alpha: .inf}]\n", ["parameter alpha", "inf"]),
    # -- out of range
    ("zero epochs", OK + "training: {epochs: 0}\n", ["training.epochs", "greater than 0"]),
    ("negative seed", OK + "seeds: [-1]\n", ["seeds", "from 0 to"]),
    ("huge seed", OK + "seeds: [99999999999]\n", ["seeds", "from 0 to 2147483647"]),
    ("dropout 1", OK + "model: {dropout: 1.0}\n", ["model.dropout", "less than 1"]),
    ("zero filters", OK + "model: {conv_filters: [8, 0]}\n", ["model.conv_filters", "positive integer"]),
    ("momentum with adam", OK + "training: {optimizer: {momentum: 0.9}}\n", ["momentum applies to sgd"]),
    ("probe size 0", OK + "diagnostics: {probe_size: 0}\n", ["diagnostics.probe_size", "greater than 0"]),
    # -- names, keys, labels
    ("unknown key", OK + "epochs: 3\n", ["line 4", "unknown key 'epochs'", "allowed keys"]),
    (
        "unknown nested key",
        OK + "training: {optimiser: {name: sgd}}\n",
        ["training.optimiser", "did you mean 'optimizer'"],
    ),
    ("unknown dataset", "name: x\ndatasets: [mnits]\nactivations: [relu]\n", ["unknown dataset 'mnits'"]),
    ("unknown activation", HEAD + "activations: [rleu]\n", ["unknown activation 'rleu'", "did you mean 'relu'"]),
    ("unknown parameter", HEAD + "activations: [{name: elu, beta: 2}]\n", ["no parameter(s) beta", "alpha"]),
    ("bad label", HEAD + "activations: [{name: elu, label: my elu}]\n", ["label 'my elu'", "letters, digits"]),
    (
        "duplicate labels",
        HEAD + "activations: [elu, {name: relu, label: elu}]\n",
        ["duplicate activation label(s) elu"],
    ),
    ("baseline not a label", OK + "baseline: tanh\n", ["line 4", "baseline 'tanh'"]),
    ("model and models", OK + "model: {}\nmodels: [{label: a}]\n", ["either 'model'", "or 'models'"]),
    ("duplicate model labels", OK + "models: [{label: a}, {label: a}]\n", ["duplicate model label(s) a"]),
    ("unknown backend", OK + "backend: theano\n", ["backend", "'tensorflow'"]),
    ("unknown engine", OK + "training: {engine: fast}\n", ["training.engine", "'packed' or 'sequential'"]),
    ("bad name", "name: a/b\ndatasets: [mnist_sample]\nactivations: [relu]\n", ["name", "letters, digits"]),
    ("markup in a value", "name: '[/x]'\ndatasets: [mnist_sample]\nactivations: [relu]\n", ["[/x]"]),
    # -- custom activations that cannot be imported
    ("installed module", HEAD + "activations: ['os:system']\n", ["no file os.py", "never from installed modules"]),
    ("stdlib function", HEAD + "activations: ['json:loads']\n", ["no file json.py"]),
    ("missing module", HEAD + "activations: ['nowhere:f']\n", ["no file nowhere.py", "activations[0]"]),
    ("malformed custom", HEAD + "activations: ['my acts:f']\n", ["must look like 'module:function'"]),
    ("empty function", HEAD + "activations: ['acts:']\n", ["must look like 'module:function'"]),
]


@pytest.mark.parametrize("text, expected", [c[1:] for c in CONFIGS], ids=[c[0] for c in CONFIGS])
def test_bad_config_is_refused_by_validate(tmp_path, text, expected):
    path = tmp_path / "exp.yaml"
    (path.write_bytes if isinstance(text, bytes) else path.write_text)(text)
    before = files_under(tmp_path)
    assert_refused(invoke("validate", path), [str(path)] + expected, before, tmp_path)


@pytest.mark.parametrize("case", ["binary", "duplicate nested key", "bool as int", "installed module"])
def test_bad_config_is_refused_by_run(tmp_path, case):
    text, expected = next(c[1:] for c in CONFIGS if c[0] == case)
    path = tmp_path / "exp.yaml"
    (path.write_bytes if isinstance(text, bytes) else path.write_text)(text)
    before = files_under(tmp_path)
    assert_refused(invoke("run", path, "--output", tmp_path / "out"), expected, before, tmp_path)


# (id, acts.py source, expected words). The config uses acts:act (custom activation "act").
MODULES = [
    ("no such function", "def other(x):\n    return x\n", ["has no function 'act'"]),
    ("not callable", "act = 3\n", ["'act'", "is not a function but int 3"]),
    ("import fails", "import not_a_real_package_xyz\n", ["importing 'acts'", "ModuleNotFoundError"]),
    ("syntax error", "def act(x)\n    return x\n", ["importing 'acts'", "SyntaxError"]),
    ("raises on import", "1 / 0\n", ["ZeroDivisionError"]),
    ("exits on import", "import sys\nsys.exit(3)\n", ["importing 'acts'", "SystemExit"]),
    (
        "numpy instead of keras.ops",
        "import numpy as np\ndef act(x):\n    return np.tanh(x) * 1.5\n",
        ["'act' (acts:act)", "numpy.ndarray", "not a tensorflow tensor", "keras.ops"],
    ),
    (
        "wrong shape",
        "import keras\ndef act(x):\n    return keras.ops.mean(x, axis=-1)\n",
        ["shape (2, 3, 3)", "not the input's shape"],
    ),
    (
        "wrong dtype",
        "import keras\ndef act(x):\n    return keras.ops.cast(x > 0, 'int32')\n",
        ["dtype int32", "float32"],
    ),
    (
        "nan everywhere",
        "import keras\ndef act(x):\n    return keras.ops.log(x - 1e9)\n",
        ["72 NaN or infinite value(s)", "eagerly"],
    ),
    (
        "raises when called",
        "def act(x):\n    raise ValueError('not today\\nreally not')\n",
        ["raised ValueError: really not", "eagerly"],
    ),
    ("two arguments", "def act(x, y):\n    return x\n", ["raised TypeError", "missing 1 required"]),
    ("python float", "def act(x):\n    return 1.0\n", ["returned a value of type float", "tensor"]),
    ("python math", "import math\ndef act(x):\n    return math.tanh(x)\n", ["raised TypeError"]),
    (
        "eager only",
        "import keras\ndef act(x):\n    return keras.ops.convert_to_tensor(x.numpy() * 2)\n",
        ["inside tf.function", "raised"],
    ),
    (
        "no gradient",
        "import keras\ndef act(x):\n    return keras.ops.stop_gradient(x)\n",
        ["has no gradient", "inside tf.function"],
    ),
    (
        "infinite gradient",
        "import keras\ndef act(x):\n    return keras.ops.sqrt(x + 3.0)\n",  # x = -3 is probed
        ["a gradient", "NaN or infinite"],
    ),
]


@pytest.mark.parametrize("source, expected", [m[1:] for m in MODULES], ids=[m[0] for m in MODULES])
def test_bad_custom_activation_is_refused(tmp_path, source, expected):
    (tmp_path / "acts.py").write_text(source)
    path = tmp_path / "exp.yaml"
    path.write_text(HEAD + "activations: [relu, 'acts:act']\n")
    before = files_under(tmp_path)
    assert_refused(invoke("validate", path), [str(path)] + expected, before, tmp_path)


@pytest.mark.parametrize("case", ["numpy instead of keras.ops", "nan everywhere"])
def test_bad_custom_activation_is_refused_by_run_before_anything_is_written(tmp_path, case):
    source, expected = next(m[1:] for m in MODULES if m[0] == case)
    (tmp_path / "acts.py").write_text(source)
    path = tmp_path / "exp.yaml"
    path.write_text(HEAD + "activations: [relu, 'acts:act']\n")
    before = files_under(tmp_path)
    result = invoke("run", path, "--output", tmp_path / "out")
    assert_refused(result, expected + ["nothing was run or written", "hint"], before, tmp_path)


def test_module_shadowing_a_standard_module_is_refused(tmp_path):
    (tmp_path / "json.py").write_text("def act(x):\n    return x\n")
    path = tmp_path / "exp.yaml"
    path.write_text(HEAD + "activations: ['json:act']\n")
    before = files_under(tmp_path)
    assert_refused(
        invoke("validate", path), ["json.py has the name of a module Python already uses", "rename"], before, tmp_path
    )


def test_good_custom_activation_from_the_config_dir_passes(tmp_path, monkeypatch):
    # The config's directory is searched first, then the working directory; a module of the same
    # name loaded earlier from another directory is replaced, not reused.
    for sub, factor in (("one", 2.0), ("two", 3.0)):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "acts.py").write_text(f"import keras\ndef act(x):\n    return keras.ops.tanh(x) * {factor}\n")
        (tmp_path / sub / "exp.yaml").write_text(HEAD + "activations: [relu, 'acts:act']\n")
    monkeypatch.chdir(tmp_path)
    before = files_under(tmp_path)
    for sub, factor in (("one", 2.0), ("two", 3.0)):
        result = invoke("validate", tmp_path / sub / "exp.yaml")
        assert result.exit_code == 0, result.output
        import numpy as np

        from actbench import activations

        fn = activations.import_custom("acts:act")
        assert float(np.asarray(fn(np.float32(1.0)))) == pytest.approx(np.tanh(1.0) * factor)
    assert files_under(tmp_path) == before  # no __pycache__ next to the user's file


def test_utf8_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "exp.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + OK.encode())
    result = invoke("validate", path)
    assert result.exit_code == 0, result.output
    assert "1 runs" in result.output


def test_yaml_merge_keys_may_be_overridden(tmp_path):
    # `<<:` merges are YAML's way to share settings; an explicit key overriding one is not a duplicate.
    path = tmp_path / "exp.yaml"
    path.write_text(
        textwrap.dedent("""\
        name: x
        datasets: [mnist_sample]
        activations: [relu]
        shared: &shared {epochs: 1, batch_size: 8}
        """)
    )
    assert "unknown key 'shared'" in invoke("validate", path).output
    path.write_text(OK + "training:\n  <<: {epochs: 1, batch_size: 8}\n  epochs: 3\n")
    result = invoke("validate", path)
    assert result.exit_code == 0, result.output


def test_custom_activation_check_on_jax(tmp_path):
    # The check runs on the configured backend, compiled with jax.jit (a fresh process: one backend per process).
    pytest.importorskip("jax")
    import subprocess
    import sys

    (tmp_path / "acts.py").write_text(
        "import keras\nimport numpy as np\n"
        "def good(x):\n    return keras.ops.tanh(x) * 1.5\n"
        "def eager_only(x):\n    return x * float(keras.ops.max(x))\n"
    )
    path = tmp_path / "exp.yaml"
    path.write_text(HEAD + "backend: jax\nactivations: [relu, 'acts:good', 'acts:eager_only']\n")
    before = files_under(tmp_path)
    r = subprocess.run(
        [sys.executable, "-m", "actbench.cli", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**__import__("os").environ, "KERAS_BACKEND": "tensorflow"},
    )
    assert r.returncode == 2, r.stdout + r.stderr
    assert "activation 'eager_only' (acts:eager_only) raised ConcretizationTypeError" in r.stderr, r.stderr
    assert "inside jax.jit" in r.stderr and "'good'" not in r.stderr
    assert "Traceback" not in r.stderr and files_under(tmp_path) == before
