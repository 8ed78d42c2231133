"""Result-file plumbing that needs no training: atomic writes, lock housekeeping."""

import pandas as pd

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
