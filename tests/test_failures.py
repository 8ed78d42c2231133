"""A group is never lost to one tower: an activation that raises during training (and only
there) is recorded as failed with its reason, the other activations of its packed group
finish with the numbers they have without it, the exit code says a run failed, and the
next run into the same dir retries only the failed run."""

from __future__ import annotations

import json
import os
import signal
import textwrap
import time

import pytest
from typer.testing import CliRunner

from actbench import config
from actbench.cli import app
from actbench.results import read_runs
from actbench.run.runner import Interrupted, RunOptions, run_experiment

pytestmark = pytest.mark.slow

# Passes the pre-training check (it is called on a batch of 2) and raises on every training
# batch (32 examples): a function that fails "only on some inputs".
BAD_MODULE = """
import keras
import tensorflow as tf


def fails_on_big_batches(x):
    tf.debugging.assert_less(tf.shape(x)[0], 17, message="this activation refuses batches over 16")
    return keras.ops.tanh(x)
"""

CONFIG = """
name: failures
datasets: [mnist_sample]
activations: [{activations}]
seeds: [0]
training: {{epochs: 1, batch_size: 32, train_limit: 320, test_limit: 96, validation_split: 0.0, engine: packed}}
diagnostics: {{timing: false, gradients: false, dead_units: false, saturation: false}}
"""


def _config(tmp_path, name: str, activations: str):
    (tmp_path / "badact.py").write_text(textwrap.dedent(BAD_MODULE))
    path = tmp_path / f"{name}.yaml"
    path.write_text(CONFIG.format(activations=activations))
    return path


def test_failing_tower_is_recorded_and_its_group_finishes(tmp_path):
    cfg = _config(tmp_path, "with-bad", "relu, 'badact:fails_on_big_batches', tanh")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(cfg), "--output", str(out)])
    assert result.exit_code == 1, result.output
    assert "1 run(s) failed" in result.output and "Traceback" not in result.output

    runs = read_runs(out / "runs.csv").set_index("activation")
    bad = runs.loc["fails_on_big_batches"]
    assert bool(bad["failed"]) and "refuses batches over 16" in bad["failure"]
    assert not runs.loc[["relu", "tanh"], "failed"].any()

    # The others' numbers equal those of the same group trained without the failing activation.
    clean_out = tmp_path / "clean"
    run_experiment(config.load(_config(tmp_path, "clean", "relu, tanh")), RunOptions(output_dir=str(clean_out)))
    clean = read_runs(clean_out / "runs.csv").set_index("activation")
    for act in ("relu", "tanh"):
        assert runs.loc[act, "test_accuracy"] == clean.loc[act, "test_accuracy"]
        assert runs.loc[act, "test_loss"] == clean.loc[act, "test_loss"]

    # The summary leaves the failed run out and counts it.
    summary = __import__("pandas").read_csv(out / "summary.csv").set_index("activation")
    assert summary.loc["fails_on_big_batches", "n_failed"] == 1
    assert summary.loc["fails_on_big_batches", "n"] == 0

    # Resuming retries the failed run only; its row is replaced, not duplicated.
    again = run_experiment(config.load(cfg), RunOptions(output_dir=str(out)))
    assert (again.already_done, again.ran) == (2, 1)
    assert len(again.failed) == 1
    assert len(read_runs(out / "runs.csv")) == 3


class SwallowingReporter:
    """Sends itself SIGINT during the first epoch and swallows the exception the handler
    raises, as library code sometimes does (TensorFlow's autograph falls back on errors)."""

    def __init__(self):
        self.sent = False

    def start(self, *args): ...
    def group_start(self, runs, engine): ...
    def group_end(self, runs, run_results): ...
    def finish(self, outcome, exp): ...

    def epoch(self, epoch, epochs):
        if not self.sent:
            self.sent = True
            try:
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.5)  # the handler runs here and raises
            except Interrupted:
                pass


def test_a_swallowed_signal_still_stops_the_run_before_the_group_is_written(tmp_path):
    cfg = _config(tmp_path, "clean", "relu, tanh")
    out = tmp_path / "out"
    with pytest.raises(Interrupted):
        run_experiment(config.load(cfg), RunOptions(output_dir=str(out)), SwallowingReporter())
    assert not (out / "runs.csv").exists()  # the group in progress is not written
    assert json.loads((out / "metadata.json").read_text())["status"] == "interrupted"
