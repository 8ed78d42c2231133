"""Realistic fake result dirs (runs.csv, epochs.csv, metadata.json) for stats/report/merge tests.

No Keras: the numbers are synthetic but shaped like real runs (learning curves that
saturate, gradient norms that shrink, dead-unit fractions that differ by activation).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from actbench.results import EPOCH_COLUMNS, RUN_COLUMNS, order_columns

CONFIG_HASH = "a1b2c3d4e5f6"
LAYERS = ["conv1", "conv2", "dense1", "output"]

# activation -> (final accuracy, learning speed, dead fraction level, saturation level)
PROFILES = {
    "relu": (0.915, 0.9, 0.22, 0.0),
    "gelu": (0.925, 1.1, 0.02, 0.01),
    "tanh": (0.885, 0.6, 0.0, 0.18),
    "sigmoid": (0.80, 0.35, 0.0, 0.40),
}


def make_frames(
    activations=("relu", "gelu", "tanh"),
    seeds=(0, 1, 2),
    epochs=5,
    dataset="mnist",
    model="small_cnn",
    diverged=(),
    val=True,
    config_hash=CONFIG_HASH,
    rng_seed=0,
):
    """(runs, epochs) DataFrames in file form. diverged: iterable of (activation, seed)."""
    rng = np.random.default_rng(rng_seed)
    run_rows, ep_rows = [], []
    for act in activations:
        final, speed, dead, sat = PROFILES.get(act, (0.9, 1.0, 0.05, 0.05))
        for seed in seeds:
            div = (act, seed) in set(diverged)
            spe = 2.0 + 0.3 * list(PROFILES).index(act) if act in PROFILES else 2.0
            acc_curve = []
            for ep in range(1, epochs + 1):
                prog = 1 - np.exp(-speed * ep)
                acc = final * prog + rng.normal(0, 0.004)
                vacc = acc - 0.01 + rng.normal(0, 0.004)
                row = {
                    "config_hash": config_hash,
                    "dataset": dataset,
                    "model": model,
                    "activation": act,
                    "seed": seed,
                    "epoch": ep,
                    "loss": 2.3 * (1 - prog) + 0.2 + rng.normal(0, 0.01),
                    "accuracy": acc,
                    "val_loss": (2.3 * (1 - prog) + 0.25) if val else np.nan,
                    "val_accuracy": vacc if val else np.nan,
                    "seconds": spe + rng.normal(0, 0.05),
                    "grad_ratio": 10 ** (1 + 0.3 * ep + rng.normal(0, 0.1)),
                }
                for i, layer in enumerate(LAYERS):
                    row[f"grad_norm/{layer}"] = (0.5 + i) * np.exp(-0.3 * ep) * (1 + rng.normal(0, 0.05))
                for layer in LAYERS[:3]:
                    row[f"dead_fraction/{layer}"] = max(0.0, dead * (1 + 0.1 * ep) + rng.normal(0, 0.01))
                    row[f"saturation/{layer}"] = max(0.0, sat + rng.normal(0, 0.01))
                if div and ep >= 3:
                    row.update(loss=np.nan, accuracy=np.nan, val_loss=np.nan, val_accuracy=np.nan)
                ep_rows.append(row)
                acc_curve.append(vacc if val else acc)
                if div and ep >= 3:
                    break
            test_acc = final + rng.normal(0, 0.004)
            run = {
                "config_hash": config_hash,
                "dataset": dataset,
                "model": model,
                "activation": act,
                "seed": seed,
                "activation_name": act,
                "params": 93322,
                "epochs_run": 3 if div else epochs,
                "test_loss": np.nan if div else 0.3 - 0.1 * (final - 0.9) + rng.normal(0, 0.01),
                "test_accuracy": np.nan if div else test_acc,
                "best_val_accuracy": np.nan if div or not val else float(np.max(acc_curve)),
                "best_epoch": np.nan if div or not val else int(np.argmax(acc_curve)) + 1,
                "train_seconds": spe * epochs,
                "seconds_per_epoch": spe,
                "timing": "excluding_first_epoch",
                "test_examples_per_second": 5000.0,
                "diverged": "true" if div else "false",
                "diverged_epoch": 3 if div else np.nan,
                "engine": "keras",
                "backend": "tensorflow",
                "grad_ratio_min": 5.0 + rng.normal(0, 0.5),
                "grad_ratio_max": 80.0 + rng.normal(0, 5),
            }
            for layer in LAYERS[:3]:
                run[f"dead_fraction/{layer}"] = max(0.0, dead * 1.5 + rng.normal(0, 0.01))
                run[f"saturation/{layer}"] = max(0.0, sat + rng.normal(0, 0.01))
            run_rows.append(run)
    runs = order_columns(pd.DataFrame(run_rows), RUN_COLUMNS)
    eps = order_columns(pd.DataFrame(ep_rows), EPOCH_COLUMNS)
    return runs, eps


def metadata(activations=("relu", "gelu", "tanh"), baseline="relu", config_hash=CONFIG_HASH, **versions):
    v = {"python": "3.11.9", "keras": "3.12.0", "tensorflow": "2.20.0", "numpy": "2.4.0", "actbench": "0.1.0"}
    v.update(versions)
    return {
        "config": {"name": "fake-mnist", "baseline": baseline, "activations": list(activations)},
        "config_hash": config_hash,
        "versions": v,
        "backend": "tensorflow",
        "devices": ["CPU:0"],
    }


def write_dir(path: Path, runs: pd.DataFrame, epochs: pd.DataFrame | None = None, meta: dict | None = None) -> Path:
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    runs.to_csv(path / "runs.csv", index=False, float_format="%.10g", lineterminator="\n")
    if epochs is not None:
        epochs.to_csv(path / "epochs.csv", index=False, float_format="%.10g", lineterminator="\n")
    if meta is not None:
        (path / "metadata.json").write_text(json.dumps(meta, indent=2) + "\n")
    return path


def make_result_dir(
    path: Path, activations=("relu", "gelu", "tanh"), seeds=(0, 1, 2), epochs=5, baseline="relu", **kw
) -> Path:
    runs, eps = make_frames(activations, seeds, epochs, **kw)
    return write_dir(path, runs, eps, metadata(activations, baseline))
