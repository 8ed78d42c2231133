"""Real data, the real reference model, one epoch: the embedded MNIST sample and Debian's
Fashion-MNIST (installed by .ci/run). Accuracy must be far above chance (10%)."""

from pathlib import Path

import pandas as pd
import pytest

from actbench.runner import RunOptions, run_experiment
from tiny import load_tiny

pytestmark = pytest.mark.slow  # trains real Keras models (seconds each)

FASHION = Path("/usr/share/datasets/fashion-mnist")


def one_epoch(tmp_path, dataset, **extra):
    exp = load_tiny(tmp_path, f"smoke-{dataset}", datasets=[dataset], activations=["relu"], seeds=[0],
                    model={"conv_filters": [32], "dense_units": [128]},
                    training={"epochs": 1, "batch_size": 32, "validation_split": 0.1,
                              "train_limit": 3000, "test_limit": 1000}, **extra)
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
