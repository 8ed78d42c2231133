"""User models (a builder, a saved model) on JAX: they train, their Keras MaxPooling2D layers
become FirstMaxPooling2D (backends/jax_pooling.py) as actbench's own models pool, and so
`actbench doctor` finds the Keras convnet builder example's compiled step deterministic-safe
on a GPU (with Keras' pooling left in, it names select-and-scatter). Run by
tests/test_jax_backend.py with KERAS_BACKEND=jax."""

import shutil
from pathlib import Path

import keras
import pandas as pd
import pytest
import yaml
from tiny import tiny_config

from actbench import config
from actbench.run.runner import RunOptions, run_experiment
from actbench.training.backends.base import Backend
from actbench.training.backends.jax import JaxBackend
from actbench.training.backends.jax_pooling import FirstMaxPooling2D
from actbench.training.model import build_model

EXAMPLES = Path(__file__).resolve().parents[2] / "configs" / "examples"


@pytest.fixture
def convnet(tmp_path, monkeypatch):
    """tiny.py's config with the Keras convnet example's builder or its saved JSON as the model."""
    for name in ("keras_convnet.py", "keras_convnet.json"):
        shutil.copy(EXAMPLES / name, tmp_path)
    monkeypatch.chdir(tmp_path)

    def load(model: dict, name: str = "tiny"):
        path = tiny_config(tmp_path, name, backend="jax", seeds=[0], activations=["relu", "tanh"])
        data = yaml.safe_load(path.read_text())
        data["model"] = {"label": "convnet", **model}
        data["training"] |= {"epochs": 1, "train_limit": 200, "test_limit": 64}
        path.write_text(yaml.safe_dump(data))
        return config.load(path)

    return load


MODELS = [{"builder": "keras_convnet:build"}, {"keras_model": "keras_convnet.json"}]


@pytest.mark.parametrize("model", MODELS, ids=["builder", "saved"])
def test_a_user_model_trains_on_jax_pooling_with_first_max(convnet, model):
    exp = convnet(model)
    built = build_model(exp.models[0], (28, 28, 1), 10, "relu", {})
    pools = [layer for layer in built.layers if isinstance(layer, keras.layers.MaxPooling2D)]
    assert len(pools) == 2 and all(type(layer) is FirstMaxPooling2D for layer in pools)
    out = run_experiment(exp, RunOptions(command_line=["test"])).output_dir
    runs, epochs = pd.read_csv(out / "runs.csv"), pd.read_csv(out / "epochs.csv")
    assert len(runs) == 2 and not runs["failed"].any() and (runs["params"] == 34_826).all()
    assert (runs["backend"] == "jax").all() and epochs.filter(like="grad_norm/").notna().all().all()


def test_doctor_finds_the_convnet_builder_deterministic_safe_and_would_name_keras_pooling(convnet, monkeypatch):
    from actbench.run.doctor import diagnose

    exp = convnet(MODELS[0])
    step = {c.name: c for c in diagnose(exp, "tiny.yaml").checks}["compiled step"]
    assert step.status == "ok" and "no scatter, no select-and-scatter" in step.detail
    monkeypatch.setattr(JaxBackend, "swap_user_layers", Backend.swap_user_layers)  # the user's pooling as written
    diagnosis = diagnose(exp, "tiny.yaml")
    step = {c.name: c for c in diagnosis.checks}["compiled step"]
    assert not diagnosis.ready and step.status == "fail" and "select-and-scatter" in step.detail
