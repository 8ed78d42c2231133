"""Property: whatever a config file holds, `validate` answers with a plan (exit 0) or one
screen of explanation (exit 2): never a traceback, never a write.

Valid configs are mutated at random (seeded, so a failure reproduces): values replaced by
wrong types, out-of-range numbers, odd text; keys removed, added, renamed or given twice;
random bytes spliced into the text, or the text cut short.
"""

import copy
import random

import pytest
import yaml
from typer.testing import CliRunner

from actbench.cli import app

runner = CliRunner()
MAX_LINES = 25
CASES = 400

VALID = {
    "name": "fuzz",
    "datasets": ["mnist_sample"],
    "activations": ["relu", {"name": "leaky_relu", "negative_slope": 0.1, "label": "lrelu"}, "tanh"],
    "seeds": [0, 1, 2],
    "baseline": "relu",
    "model": {"conv_filters": [8], "dense_units": [16], "kernel_size": 3, "dropout": 0.1, "batch_norm": False},
    "training": {
        "optimizer": {"name": "sgd", "learning_rate": 0.01, "momentum": 0.9},
        "epochs": 2,
        "batch_size": 16,
        "validation_split": 0.2,
        "train_limit": 600,
        "engine": "packed",
    },
    "diagnostics": {"probe_size": 64, "dead_threshold": 0.001, "gradients": True},
    "backend": "tensorflow",
    "data_verify": True,
}

ODD_VALUES = [
    True,
    False,
    None,
    0,
    -1,
    1,
    2**31,
    10**30,
    0.5,
    -0.5,
    1.0,
    1e308,
    float("inf"),
    float("-inf"),
    float("nan"),
    "",
    "1",
    "0.1",
    "true",
    "relu",
    "mnist",
    "os:system",
    "x:y",
    "[/red]",
    "é漢字",
    "a" * 300,
    "\x00",
    [],
    [1],
    ["relu"],
    [None],
    {},
    {"name": "relu"},
    {"x": 1},
]
KEYS = ["name", "datasets", "activations", "seeds", "epochs", "model", "label", "extra", "momentum", "<<", "1"]


def paths(node, prefix=()):
    """Every (path to a value) in a nested dict/list."""
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from paths(v, prefix + (i,))


def parent_of(data, path):
    node = data
    for part in path[:-1]:
        node = node[part]
    return node


def mutate_data(rng: random.Random, data: dict) -> dict:
    data = copy.deepcopy(data)
    for _ in range(rng.randint(1, 3)):
        path = rng.choice([p for p in paths(data) if p])
        parent, last = parent_of(data, path), path[-1]
        action = rng.choice(["replace", "replace", "delete", "add", "nest"])
        if action == "replace":
            parent[last] = rng.choice(ODD_VALUES)
        elif action == "delete":
            del parent[last]
        elif action == "add" and isinstance(parent, dict):
            parent[rng.choice(KEYS)] = rng.choice(ODD_VALUES)
        elif action == "nest":
            parent[last] = {rng.choice(KEYS): parent[last]}
    return data


def mutate_text(rng: random.Random, text: str) -> bytes:
    raw = text.encode()
    action = rng.choice(["bytes", "cut", "duplicate line", "swap lines", "indent"])
    if action == "bytes":
        at = rng.randrange(len(raw))
        return raw[:at] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 8))) + raw[at:]
    if action == "cut":
        return raw[: rng.randrange(len(raw))]
    lines = text.splitlines(keepends=True)
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    if action == "duplicate line":
        lines.insert(j, lines[i])
    elif action == "swap lines":
        lines[i], lines[j] = lines[j], lines[i]
    else:
        lines[i] = " " * rng.randint(1, 3) + lines[i]
    return "".join(lines).encode()


def config_bytes(rng: random.Random) -> bytes:
    data = mutate_data(rng, VALID) if rng.random() < 0.7 else VALID
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=rng.random() < 0.3)
    return mutate_text(rng, text) if data is VALID or rng.random() < 0.2 else text.encode()


@pytest.mark.parametrize("block", range(4))
def test_any_config_gets_a_plan_or_one_screen_of_explanation(tmp_path, block):
    rng = random.Random(1000 + block)
    outcomes = {0: 0, 2: 0}
    for case in range(CASES // 4):
        path = tmp_path / "exp.yaml"
        raw = config_bytes(rng)
        path.write_bytes(raw)
        result = runner.invoke(app, ["validate", str(path)])
        where = f"case {block}/{case}, config:\n{raw!r}\noutput:\n{result.output}"
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise AssertionError(where) from result.exception
        assert result.exit_code in (0, 2), where
        assert "Traceback" not in result.output, where
        if result.exit_code == 2:
            assert "error:" in result.output and len(result.output.strip().splitlines()) <= MAX_LINES, where
        else:
            assert "runs" in result.output, where
        assert [p.name for p in tmp_path.iterdir()] == ["exp.yaml"], where  # nothing written
        outcomes[result.exit_code] += 1
    assert outcomes[0] and outcomes[2], outcomes  # the mutations reach both answers
