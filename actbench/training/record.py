"""RunRecord: what the engine measured for one run, typed; its fields are runs.csv's columns."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any


@dataclass(frozen=True)
class RunRecord:
    """One run's values for runs.csv, as the engine measured them. The run keys, the config
    hash and at_chance are added by results.run_row; every field name is a runs.csv column
    (tests/test_results_files.py holds them to the column table)."""

    activation_name: str
    params: float  # an int; NaN for a run that failed before its model was built
    epochs_run: int
    test_loss: float  # NaN when diverged
    test_accuracy: float  # NaN when diverged
    best_val_accuracy: float  # NaN without a validation split
    best_epoch: float  # the 1-based epoch of best_val_accuracy; NaN without one
    train_seconds: float
    seconds_per_epoch: float
    timing: str  # one of engine.TIMING_*
    test_examples_per_second: float
    diverged: bool
    diverged_epoch: float  # NaN unless diverged
    engine: str
    backend: str
    failed: bool = False
    failure: str = ""  # the error in one line when failed
    diagnostics: dict[str, float] = field(default_factory=dict)  # "<measure>/<layer>" -> value

    def values(self) -> dict[str, Any]:
        """The runs.csv values: every field, the diagnostics as columns of their own."""
        named = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "diagnostics"}
        return {**named, **self.diagnostics}

    @classmethod
    def failure_of(cls, activation_name: str, failure: str, engine: str, backend: str) -> RunRecord:
        """The record of a run whose training raised: no numbers, the reason in one line."""
        nan = math.nan
        return cls(
            activation_name=activation_name,
            params=nan,
            epochs_run=0,
            test_loss=nan,
            test_accuracy=nan,
            best_val_accuracy=nan,
            best_epoch=nan,
            train_seconds=nan,
            seconds_per_epoch=nan,
            timing="",
            test_examples_per_second=nan,
            diverged=False,
            diverged_epoch=nan,
            engine=engine,
            backend=backend,
            failed=True,
            failure=failure,
        )
