"""actbench.analysis.merge on realistic fake result dirs: shards, duplicates, conflicts, orphans."""

import json
import shutil

import pandas as pd
import pytest
from fake_results import make_frames, metadata, write_dir

from actbench.analysis.merge import merge_dirs
from actbench.errors import ResultsError
from actbench.results import EPOCH_COLUMNS, RUN_COLUMNS, canonical_order, order_columns, read_result_set


def _shards(tmp_path, n_shards=2):
    runs, eps = make_frames(activations=("relu", "gelu", "tanh"), seeds=(0, 1, 2), diverged=[("tanh", 1)])
    meta = metadata()
    full = write_dir(tmp_path / "full", *canonical_order(runs, eps), meta)
    dirs = []
    acts = ["relu", "gelu", "tanh"]
    for i in range(n_shards):
        mine = [a for j, a in enumerate(acts) if j % n_shards == i]
        # shards hold runs in another order than canonical
        r = runs[runs["activation"].isin(mine)].iloc[::-1]
        e = eps[eps["activation"].isin(mine)].iloc[::-1]
        dirs.append(write_dir(tmp_path / f"shard{i}", r, e, meta))
    return full, dirs


def test_merged_shards_equal_unsharded_run(tmp_path):
    full, dirs = _shards(tmp_path)
    rep = merge_dirs(dirs, tmp_path / "merged")
    assert (rep.runs_in, rep.runs_out, rep.exact_duplicates_dropped, rep.orphan_epoch_rows_dropped) == (9, 9, 0, 0)
    assert [p.name for p in rep.written] == ["epochs.csv", "runs.csv", "summary.csv", "metadata.json"]
    merged = read_result_set(tmp_path / "merged", need_epochs=True)
    ref = read_result_set(full, need_epochs=True)
    pd.testing.assert_frame_equal(merged.runs, order_columns(ref.runs, RUN_COLUMNS))
    pd.testing.assert_frame_equal(merged.epochs, order_columns(ref.epochs, EPOCH_COLUMNS))
    text = (tmp_path / "merged" / "runs.csv").read_text()
    assert ",true," in text and ",false," in text  # same booleans as the run writer
    meta = json.loads((tmp_path / "merged" / "metadata.json").read_text())
    assert meta["merged_from"] == [str(d) for d in dirs] and meta["config_hash"] == "a1b2c3d4e5f6"
    summary = pd.read_csv(tmp_path / "merged" / "summary.csv", keep_default_na=False)
    assert len(summary) == 3 and set(summary["baseline"]) == {"relu"}  # baseline from metadata
    assert summary.set_index("activation").loc["tanh", "n_diverged"] == 1
    assert not (tmp_path / "merged" / ".actbench.lock").exists()


def test_merge_baseline_argument_overrides_metadata(tmp_path):
    _, dirs = _shards(tmp_path)
    merge_dirs(dirs, tmp_path / "merged", baseline="gelu")
    summary = pd.read_csv(tmp_path / "merged" / "summary.csv", keep_default_na=False)
    assert set(summary["baseline"]) == {"gelu"}


def test_exact_duplicates_with_other_timings_are_dropped(tmp_path):
    full, dirs = _shards(tmp_path)
    dup = tmp_path / "dup"
    shutil.copytree(dirs[0], dup)
    runs = pd.read_csv(dup / "runs.csv", dtype=str, keep_default_na=False)
    runs["train_seconds"] = "99.5"
    runs["seconds_per_epoch"] = "19.9"
    runs.to_csv(dup / "runs.csv", index=False)
    eps = pd.read_csv(dup / "epochs.csv", dtype=str, keep_default_na=False)
    eps["seconds"] = "19.9"
    eps.to_csv(dup / "epochs.csv", index=False)
    rep = merge_dirs([*dirs, dup], tmp_path / "merged")
    assert rep.runs_in == 9 + 6 and rep.runs_out == 9 and rep.exact_duplicates_dropped == 6
    merged = read_result_set(tmp_path / "merged")
    assert (merged.runs["train_seconds"] != 99.5).all()  # the first copy is kept


def test_conflicting_duplicates_are_listed(tmp_path):
    _, dirs = _shards(tmp_path)
    bad = tmp_path / "bad"
    shutil.copytree(dirs[0], bad)
    runs = pd.read_csv(bad / "runs.csv", dtype=str, keep_default_na=False)
    runs.loc[runs["seed"] == "0", "test_accuracy"] = "0.5"
    runs.to_csv(bad / "runs.csv", index=False)
    eps = pd.read_csv(bad / "epochs.csv", dtype=str, keep_default_na=False)
    eps.loc[(eps["activation"] == "relu") & (eps["seed"] == "1") & (eps["epoch"] == "2"), "val_loss"] = "9"
    eps.to_csv(bad / "epochs.csv", index=False)
    with pytest.raises(ResultsError) as e:
        merge_dirs([*dirs, bad], tmp_path / "merged")
    msg = str(e.value)
    assert "mnist/small_cnn/relu seed 0" in msg and "test_accuracy" in msg
    assert "mnist/small_cnn/relu seed 1" in msg and "epochs.csv val_loss" in msg
    assert not (tmp_path / "merged" / "runs.csv").exists()


def test_mixed_config_hashes_refused(tmp_path):
    a = write_dir(tmp_path / "a", *make_frames(activations=("relu",)), metadata())
    b = write_dir(tmp_path / "b", *make_frames(activations=("gelu",), config_hash="ffff0000"), metadata())
    with pytest.raises(ResultsError) as e:
        merge_dirs([a, b], tmp_path / "m")
    assert f"{a}: a1b2c3d4e5f6" in str(e.value) and f"{b}: ffff0000" in str(e.value)


def test_merge_needs_epochs_and_a_new_out_dir(tmp_path):
    runs, _ = make_frames(activations=("relu",))
    d = write_dir(tmp_path / "a", runs)
    with pytest.raises(ResultsError, match="epochs.csv"):
        merge_dirs([d], tmp_path / "m")
    full, dirs = _shards(tmp_path)
    with pytest.raises(ResultsError, match="also an input"):
        merge_dirs(dirs, dirs[0])


def test_orphan_epoch_rows_dropped(tmp_path):
    runs, eps = make_frames(activations=("relu", "gelu"))
    d = write_dir(tmp_path / "a", runs[runs["activation"] == "relu"], eps, metadata())  # gelu unfinished
    rep = merge_dirs([d], tmp_path / "m")
    assert rep.orphan_epoch_rows_dropped == 15 and rep.runs_out == 3
    assert set(read_result_set(tmp_path / "m", need_epochs=True).epochs["activation"]) == {"relu"}


def test_canonical_order_is_stable_and_resets_index():
    runs = pd.DataFrame(
        {
            "dataset": ["b", "a", "a", "a"],
            "model": ["m"] * 4,
            "activation": ["x", "y", "x", "x"],
            "seed": [0, 0, 1, 0],
            "tag": [1, 2, 3, 4],
        }
    )
    eps = pd.DataFrame(
        {"dataset": ["a", "a"], "model": ["m", "m"], "activation": ["x", "x"], "seed": [0, 0], "epoch": [2, 1]}
    )
    r, e = canonical_order(runs, eps)
    assert list(r["tag"]) == [4, 3, 2, 1] and list(r.index) == [0, 1, 2, 3]
    assert list(e["epoch"]) == [1, 2]
    assert canonical_order(runs)[1] is None


def test_written_files_round_trip_through_writer(tmp_path):
    # the lead's writer and merge use write_csv; merged output must read back cleanly
    full, dirs = _shards(tmp_path)
    merge_dirs(dirs, tmp_path / "m1")
    merge_dirs([tmp_path / "m1"], tmp_path / "m2")
    for f in ("runs.csv", "epochs.csv", "summary.csv"):
        assert (tmp_path / "m1" / f).read_text() == (tmp_path / "m2" / f).read_text()
