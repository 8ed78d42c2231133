"""Run identity without pandas: the key names, RunKey, and the tuned comparison's model label.

Config validation and the run plan use these; importing them loads no pandas.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

# A run is identified by these keys under one config hash.
GROUP_KEYS = ["dataset", "model", "activation"]
RUN_KEYS = GROUP_KEYS + ["seed"]

# summary.csv's model for the tuned comparison (config tune: true); no model may have this label.
TUNED_MODEL = "tuned"


class RunKey(NamedTuple):
    """The identity of a run within one config hash (also a plain tuple)."""

    dataset: str
    model: str
    activation: str
    seed: int


def run_key(row: Mapping[str, Any] | Any) -> RunKey:
    """The RunKey of a result row (a dict or a DataFrame row)."""
    return RunKey(str(row["dataset"]), str(row["model"]), str(row["activation"]), int(row["seed"]))


def key_columns(config_hash: str, key: RunKey) -> dict[str, Any]:
    """The identifying columns every row of one run carries."""
    return {"config_hash": config_hash, **key._asdict()}


def describe_key(key: RunKey) -> str:
    return f"{key.dataset}/{key.model}/{key.activation} seed {key.seed}"
