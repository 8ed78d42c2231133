"""Tiny experiments for in-process engine tests: seconds each on a CPU."""

from pathlib import Path

import yaml

from actbench import config


def tiny_config(tmp_path: Path, name="tiny", **overrides) -> Path:
    data = {
        "name": name,
        "datasets": ["mnist_sample"],
        "activations": ["relu", "tanh", {"name": "leaky_relu", "negative_slope": 0.1, "label": "lrelu"}],
        "seeds": [0, 1],
        "model": {"conv_filters": [8], "dense_units": [16]},
        "training": {"epochs": 2, "batch_size": 16, "validation_split": 0.2, "train_limit": 600, "test_limit": 100},
        "diagnostics": {"probe_size": 64},
        "output": {"dir": str(tmp_path / name)},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def tiny_config_with_model(tmp_path: Path, model: dict, name="tiny", **overrides) -> Path:
    """tiny_config with `model` replaced (not merged): a user's own network (builder, keras_model)."""
    path = tiny_config(tmp_path, name, **overrides)
    data = yaml.safe_load(path.read_text())
    data["model"] = model
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def load_tiny(tmp_path: Path, name="tiny", **overrides):
    return config.load(tiny_config(tmp_path, name, **overrides))
