"""Result-file plumbing: schema, atomic writes, ResultDir, lock housekeeping (one slow test trains a tiny run)."""

import json

import pandas as pd
import pytest

from actbench import results


def test_atomic_csv_roundtrip_keeps_text(tmp_path):
    df = pd.DataFrame({"a": [0.1234567891234, 2.0], "diverged": [True, False]})
    results.write_csv(tmp_path / "x.csv", df)
    text = (tmp_path / "x.csv").read_text()
    assert text == "a,diverged\n0.1234567891,true\n2,false\n"
    again = pd.read_csv(tmp_path / "x.csv", keep_default_na=False, dtype=str)
    assert again["a"].tolist() == ["0.1234567891", "2"]
    assert not list(tmp_path.glob(".*.tmp"))


def test_lock_removes_temp_files_of_killed_writers(tmp_path):
    leftover = tmp_path / ".runs.csv.abc123.tmp"
    leftover.write_text("half a file")
    keep = tmp_path / "notes.tmp"
    keep.write_text("not ours")
    with results.OutputLock(tmp_path):
        assert not leftover.exists() and keep.exists()
        assert (tmp_path / results.LOCK_FILE).exists()
    assert not (tmp_path / results.LOCK_FILE).exists()


# ---------------------------------------------------------------- schema, ResultDir, at_chance


def test_is_at_chance_margin():
    assert results.AT_CHANCE_MARGIN == 0.02
    assert results.is_at_chance(0.1135, 10)  # collapsed onto MNIST's most frequent class
    assert results.is_at_chance(0.12, 10) and not results.is_at_chance(0.1201, 10)
    assert results.is_at_chance(0.03, 100) and not results.is_at_chance(0.031, 100)
    assert not results.is_at_chance(float("nan"), 10) and not results.is_at_chance(0.05, None)


def test_run_row_and_epoch_rows_carry_the_run_key():
    key = results.RunKey("mnist", "cnn", "relu", 3)
    row = results.run_row("h", key, {"test_accuracy": 0.105, "diverged": False}, 10)
    assert row == {
        "config_hash": "h",
        "dataset": "mnist",
        "model": "cnn",
        "activation": "relu",
        "seed": 3,
        "failed": False,
        "failure": "",
        "test_accuracy": 0.105,
        "diverged": False,
        "at_chance": True,
    }
    assert not results.run_row("h", key, {"test_accuracy": float("nan"), "diverged": True}, 10)["at_chance"]
    assert results.epoch_rows("h", key, [{"epoch": 1}, {"epoch": 2}])[1] == {
        **results.key_columns("h", key),
        "epoch": 2,
    }
    assert results.run_key(row) == key == ("mnist", "cnn", "relu", 3)


def _row(act, seed, acc=0.9):
    return results.run_row(
        "h", results.RunKey("mnist", "cnn", act, seed), {"test_loss": 0.3, "test_accuracy": acc, "diverged": False}, 10
    )


def test_result_dir_writes_epochs_before_runs_in_canonical_order(tmp_path, monkeypatch):
    from actbench.results import resultdir

    written = []
    real = resultdir.write_csv
    monkeypatch.setattr(resultdir, "write_csv", lambda path, df: (written.append(path.name), real(path, df)))
    rd = results.ResultDir(tmp_path)
    rd.add(
        [_row("tanh", 1), _row("relu", 0, 0.11)],
        [
            *results.epoch_rows("h", results.RunKey("mnist", "cnn", "tanh", 1), [{"epoch": 2}, {"epoch": 1}]),
            *results.epoch_rows("h", results.RunKey("mnist", "cnn", "relu", 0), [{"epoch": 1}]),
        ],
    )
    assert written == ["epochs.csv", "runs.csv"]
    runs = results.read_runs(tmp_path / "runs.csv")
    assert list(runs["activation"]) == ["relu", "tanh"] and list(runs["at_chance"]) == [True, False]
    epochs = pd.read_csv(tmp_path / "epochs.csv")
    assert list(zip(epochs["activation"], epochs["epoch"])) == [("relu", 1), ("tanh", 1), ("tanh", 2)]
    assert list(runs.columns[:5]) == ["config_hash", "dataset", "model", "activation", "seed"]


def test_result_dir_load_rows_drops_unfinished_runs_epochs(tmp_path):
    rd = results.ResultDir(tmp_path)
    epoch = [{"epoch": 1, "loss": 0.5, "accuracy": 0.8}]
    rd.add(
        [_row("relu", 0)],
        [
            *results.epoch_rows("h", results.RunKey("mnist", "cnn", "relu", 0), epoch),
            *results.epoch_rows("h", results.RunKey("mnist", "cnn", "tanh", 0), epoch),
        ],
    )
    again = results.ResultDir(tmp_path)
    assert again.has_results() and again.load_rows() == 1
    assert again.done_keys() == {results.RunKey("mnist", "cnn", "relu", 0)}
    assert list(again.epochs["activation"]) == ["relu"]


def test_old_runs_csv_without_at_chance_reads_with_it_computed(tmp_path):
    p = tmp_path / "runs.csv"
    p.write_text(
        "config_hash,dataset,model,activation,seed,test_loss,test_accuracy,diverged\n"
        "h,mnist_sample,cnn,sigmoid,0,2.3,0.1077,false\nh,mnist_sample,cnn,relu,0,0.1,0.95,false\n"
        "h,mnist_sample,cnn,elu,0,,,true\nh,unknown_data,cnn,relu,0,2.3,0.1,false\n"
    )
    runs = results.read_runs(p)
    assert list(runs["at_chance"]) == [True, False, False, False]  # diverged and unknown datasets: not flagged
    assert runs["at_chance"].dtype == bool and runs["seed"].dtype == "int64"


@pytest.mark.slow
def test_run_experiment_leaves_the_callers_config_unchanged(tmp_path):
    from tiny import load_tiny

    from actbench.run.runner import RunOptions, run_experiment

    exp = load_tiny(tmp_path, activations=["relu"], seeds=[0], training={"epochs": 1})
    before = exp.model_dump()
    assert exp.training.engine == "packed"
    outcome = run_experiment(exp, RunOptions(engine="sequential", command_line=["test"]))
    assert exp.model_dump() == before  # the --engine override lives in the run's own copy
    meta = json.loads((outcome.output_dir / "metadata.json").read_text())
    assert meta["engine"] == "sequential" and meta["config"]["training"]["engine"] == "sequential"
    runs = results.read_runs(outcome.output_dir / "runs.csv")
    assert runs["engine"].tolist() == ["sequential"] and "at_chance" in runs.columns
