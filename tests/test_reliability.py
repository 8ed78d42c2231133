"""Reliability of `actbench run` as a real process on tiny data.

What is proven here, each by running the installed `actbench` command:

1. resume by default (and says so), --overwrite starts over, --no-resume refuses;
2. SIGINT/SIGTERM stop after writing what is complete and say how to resume (exit
   130/143); SIGKILL at seeded random moments, several times in a row, then a resume,
   gives exactly the files of an uninterrupted run;
3. a diverging (NaN) run is recorded and the grid goes on;
4. shards 1/3, 2/3, 3/3 merged equal the unsharded run;
5. a second writer on the same dir is refused while the first holds the lock; a lock
   left by a dead process (even one killed while taking the lock) is taken over;
6. damaged result files are reported with file and line and are not resumed into.

(The CI workflow's steps are executed by tests/test_ci_workflow.py.)

Metric columns are compared exactly; timing columns (which vary run to run) are not.
Select with `pytest -m reliability`.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from actbench import results

sys.path.insert(0, os.path.dirname(__file__))
from official_formats import write_mnist_npz  # noqa: E402

pytestmark = pytest.mark.reliability

REPO = Path(__file__).resolve().parents[1]

# Columns that legitimately differ between two runs of the same config.
TIMING_COLUMNS = {
    "train_seconds",
    "seconds_per_epoch",
    "test_examples_per_second",
    "seconds",
    "timing",
    "seconds_per_epoch_mean",
    "train_seconds_mean",
}
# Which engine trained a run is not part of the result either (engines are tested equivalent).
NOT_COMPARED = TIMING_COLUMNS | {"engine"}

ACTIVATIONS = ["relu", "tanh", "elu"]
SEEDS = [0, 1]
EPOCHS = 2
TOTAL_RUNS = len(ACTIVATIONS) * len(SEEDS)


def _actbench_exe() -> list[str]:
    beside = Path(sys.executable).parent / "actbench"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("actbench")
    if found:
        return [found]
    return [sys.executable, "-c", "from actbench.cli import entry; entry()"]


ACTBENCH = _actbench_exe()
ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "", "COLUMNS": "160"}


# ---------------------------------------------------------------- helpers


def cli(*args, cwd=None, timeout=180) -> subprocess.CompletedProcess:
    """Run `actbench ARGS` to completion; stdout and stderr kept apart."""
    return subprocess.run(
        [*ACTBENCH, *map(str, args)], capture_output=True, text=True, env=ENV, cwd=cwd, timeout=timeout
    )


class Proc:
    """`actbench ARGS` in the background, its output (stdout+stderr) collected line by line."""

    def __init__(self, *args, cwd=None):
        self.p = subprocess.Popen(
            [*ACTBENCH, *map(str, args)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=ENV,
            cwd=cwd,
            bufsize=1,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.p.stdout:
            self.lines.append(line)

    @property
    def pid(self) -> int:
        return self.p.pid

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, pattern: str, timeout: float = 90, count: int = 1) -> bool:
        """Until `count` lines match `pattern` (True) or the process ends before (False)."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        seen = found = 0
        while time.monotonic() < deadline:
            lines = self.lines[:]
            found += sum(1 for line in lines[seen:] if rx.search(line))
            seen = len(lines)
            if found >= count:
                return True
            if self.p.poll() is not None:
                self._reader.join(5)
                return sum(1 for line in self.lines if rx.search(line)) >= count
            time.sleep(0.01)
        raise AssertionError(f"no line matching {pattern!r} after {timeout}s; output so far:\n{self.output}")

    def finish(self, timeout: float = 120) -> int:
        rc = self.p.wait(timeout)
        self._reader.join(5)
        return rc

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait(30)
        self._reader.join(5)


def write_config(path: Path, data_dir: Path, name: str = "rel", **training) -> Path:
    cfg = {
        "name": name,
        "datasets": ["mnist"],
        "data_dir": str(data_dir),
        "data_verify": False,  # the fake mnist.npz cannot match the official checksum
        "activations": training.pop("activations", ACTIVATIONS),
        "seeds": SEEDS,
        "baseline": "relu",
        "model": {"conv_filters": [4], "dense_units": [8]},
        "training": {
            "epochs": EPOCHS,
            "batch_size": 32,
            "validation_split": 0.1,
            "train_limit": 200,
            "test_limit": 60,
            **training,
        },
        "diagnostics": {"timing": False, "probe_size": 64},
        "output": {"dir": str(path.parent / f"{name}-default-out")},
    }
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def comparable(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    df = df[[c for c in df.columns if c not in NOT_COMPARED]]
    return df.sort_values(keys, kind="mergesort").reset_index(drop=True)


def result_frames(directory: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """runs.csv and epochs.csv of a dir, read with actbench's own validation."""
    runs = results.read_runs(directory / results.RUNS_FILE)
    epochs = results.read_epochs(directory / results.EPOCHS_FILE)
    return runs, epochs


def assert_same_results(actual: Path, expected: Path, summary: bool = False) -> None:
    a_runs, a_epochs = result_frames(actual)
    e_runs, e_epochs = result_frames(expected)
    assert len(a_runs) == len(e_runs) == TOTAL_RUNS
    assert len(a_epochs) == len(e_epochs)
    pd.testing.assert_frame_equal(
        comparable(a_runs, results.RUN_KEYS), comparable(e_runs, results.RUN_KEYS), check_exact=True, check_dtype=False
    )
    keys = [*results.RUN_KEYS, "epoch"]
    pd.testing.assert_frame_equal(
        comparable(a_epochs, keys), comparable(e_epochs, keys), check_exact=True, check_dtype=False
    )
    # Byte-level too: the writers order rows canonically, so the metric text is identical.
    assert _metric_text(actual / results.RUNS_FILE) == _metric_text(expected / results.RUNS_FILE)
    assert _metric_text(actual / results.EPOCHS_FILE) == _metric_text(expected / results.EPOCHS_FILE)
    if summary:
        a = pd.read_csv(actual / results.SUMMARY_FILE, dtype=str, keep_default_na=False)
        e = pd.read_csv(expected / results.SUMMARY_FILE, dtype=str, keep_default_na=False)
        pd.testing.assert_frame_equal(
            comparable(a, ["dataset", "model", "activation"]), comparable(e, ["dataset", "model", "activation"])
        )


def _metric_text(path: Path) -> list[str]:
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    keep = [i for i, c in enumerate(header) if c not in NOT_COMPARED]
    return [",".join(line.split(",")[i] for i in keep) for line in lines]


def check_consistent(directory: Path) -> tuple[int, int]:
    """What a kill may leave: every file readable; every run in runs.csv complete in
    epochs.csv. Returns (finished runs, orphan epoch rows of unfinished runs)."""
    runs_path, epochs_path = directory / results.RUNS_FILE, directory / results.EPOCHS_FILE
    meta_path = directory / results.METADATA_FILE
    if meta_path.exists():
        results.read_metadata(meta_path)
    if (directory / results.SUMMARY_FILE).exists():
        assert (directory / results.SUMMARY_FILE).read_text().endswith("\n")
    runs = results.read_runs(runs_path) if runs_path.exists() else None
    epochs = results.read_epochs(epochs_path) if epochs_path.exists() else None
    if runs is None:
        return 0, 0 if epochs is None else len(epochs)
    assert epochs is not None, f"{runs_path} exists without {epochs_path}"
    done = set()
    for _, run in runs.iterrows():
        rid = results.run_key(run)
        done.add(rid)
        mine = epochs[epochs.apply(lambda r, rid=rid: results.run_key(r) == rid, axis=1)]
        assert sorted(mine["epoch"]) == list(range(1, int(run["epochs_run"]) + 1)), (
            f"run {rid} is in runs.csv but its epochs are incomplete: {sorted(mine['epoch'])}"
        )
    orphans = int((~epochs.apply(lambda r: results.run_key(r) in done, axis=1)).sum()) if len(epochs) else 0
    return len(runs), orphans


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """A tiny fake mnist.npz, a config over it, and the uninterrupted (packed) run of it."""
    root = tmp_path_factory.mktemp("reliability")
    data = root / "data"
    write_mnist_npz(data, n_train=200, n_test=60)
    config = write_config(root / "rel.yaml", data)
    baseline = root / "baseline"
    r = cli("run", config, "--output", baseline)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"running {TOTAL_RUNS} runs" in r.stdout
    # No start-up chatter from TensorFlow's C++ logging, no retracing warnings.
    assert "absl::InitializeLog" not in r.stderr and "I0000" not in r.stderr, r.stderr
    assert "WARNING:tensorflow" not in r.stderr, r.stderr
    assert not (baseline / results.LOCK_FILE).exists()
    return {"root": root, "data": data, "config": config, "baseline": baseline, "_cache": {}}


def baseline_for(env, engine: str) -> Path:
    if engine == "packed":
        return env["baseline"]
    cache = env["_cache"]
    if engine not in cache:
        out = env["root"] / f"baseline-{engine}"
        r = cli("run", env["config"], "--output", out, "--engine", engine)
        assert r.returncode == 0, r.stdout + r.stderr
        cache[engine] = out
    return cache[engine]


def copy_of_baseline(env, tmp_path: Path, name="out") -> Path:
    out = tmp_path / name
    shutil.copytree(env["baseline"], out)
    return out


# ---------------------------------------------------------------- 1. resume


def test_resume_runs_only_what_is_missing(env, tmp_path):
    out = copy_of_baseline(env, tmp_path)
    # Forget the seed-1 runs: their epoch rows stay, as after a kill between the two writes.
    runs = (out / results.RUNS_FILE).read_text().splitlines(keepends=True)
    kept = [runs[0]] + [line for line in runs[1:] if line.split(",")[4] != "1"]
    (out / results.RUNS_FILE).write_text("".join(kept))
    assert len(kept) - 1 == TOTAL_RUNS // 2

    r = cli("run", env["config"], "--output", out)
    assert r.returncode == 0, r.stdout + r.stderr
    done = TOTAL_RUNS // 2
    assert f"{done} of {TOTAL_RUNS} runs already done, running {TOTAL_RUNS - done}" in r.stdout
    assert f"dropped {done * EPOCHS} epoch row(s) of run(s) that did not finish" in r.stdout
    assert_same_results(out, env["baseline"], summary=True)
    meta = json.loads((out / results.METADATA_FILE).read_text())
    assert meta["status"] == "complete"
    assert not (out / results.LOCK_FILE).exists()


def test_no_resume_refuses_and_overwrite_is_needed(env, tmp_path):
    out = copy_of_baseline(env, tmp_path)
    before = {f: (out / f).read_bytes() for f in (results.RUNS_FILE, results.EPOCHS_FILE)}
    r = cli("run", env["config"], "--output", out, "--no-resume")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "--no-resume" in r.stderr and "--overwrite" in r.stderr
    assert "Traceback" not in r.stderr
    assert {f: (out / f).read_bytes() for f in before} == before


def test_other_config_in_dir_is_refused(env, tmp_path):
    out = copy_of_baseline(env, tmp_path)
    other = write_config(tmp_path / "other.yaml", env["data"], epochs=EPOCHS + 1)
    r = cli("run", other, "--output", out)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "different config" in r.stderr and "--overwrite" in r.stderr


# ---------------------------------------------------------------- 2. interruption

FULL = os.environ.get("ACTBENCH_RELIABILITY_FULL") == "1"


@pytest.mark.parametrize(
    "engine,kills",
    [
        ("packed", 4),
        # One write per run instead of per group: more moments between writes to hit, but
        # twice the time (its own baseline); opt in with ACTBENCH_RELIABILITY_FULL=1.
        pytest.param(
            "sequential", 4, marks=pytest.mark.skipif(not FULL, reason="long variant: set ACTBENCH_RELIABILITY_FULL=1")
        ),
    ],
)
def test_sigkill_at_random_moments_then_resume_equals_uninterrupted(env, tmp_path, engine, kills):
    """kill -9 at seeded random moments, `kills` times in a row, then resume to the end.

    The first kill lands at a random time after the start (importing, reading the config
    and data, taking the lock); the others at a random delay after a random "epoch k
    done" line of the first group still to do, so they hit training, evaluation, the
    atomic writes between groups and the final summary, and the runs make progress.
    """
    expected = baseline_for(env, engine)
    rng = random.Random(f"actbench-{engine}-{kills}")
    per_group = len(ACTIVATIONS) if engine == "packed" else 1
    out = tmp_path / "out"
    history = []
    for attempt in range(kills):
        finished, _ = check_consistent(out)
        groups_left = (TOTAL_RUNS - finished) // per_group
        if attempt and not groups_left:
            break  # an earlier kill came too late to interrupt anything
        p = Proc("run", env["config"], "--output", out, "--engine", engine)
        try:
            if attempt == 0:
                when = f"{rng.uniform(0.5, 4.0):.2f}s after start"
                time.sleep(float(when.split("s")[0]))
            else:
                # Within the first group still to do: its training, evaluation and writes,
                # or the start of the next one (or the summary after the last).
                k = rng.randint(1, EPOCHS)
                delay = rng.uniform(0.0, 1.0)
                when = f"{delay:.2f}s after epoch line {k} of {EPOCHS * groups_left}"
                p.wait_for(r"epoch \d+/\d+ done", count=k)
                time.sleep(delay)
        finally:
            p.kill()
        finished, orphans = check_consistent(out)  # readable, and no run half in the files
        history.append((when, p.p.returncode, finished, orphans))
    print(f"kills (when, rc, finished runs, orphan epoch rows): {history}")
    # The next run reads what the kills left without error and completes it.
    finished, orphans = check_consistent(out)
    r = cli("run", env["config"], "--output", out, "--engine", engine)
    assert r.returncode == 0, f"{history}\n{r.stdout}{r.stderr}"
    if finished:
        assert f"{finished} of {TOTAL_RUNS} runs already done, running {TOTAL_RUNS - finished}" in r.stdout
    else:
        assert f"running {TOTAL_RUNS} runs" in r.stdout
    if orphans:
        assert f"dropped {orphans} epoch row(s)" in r.stdout
    assert_same_results(out, expected, summary=True)
    assert not (out / results.LOCK_FILE).exists()
    meta = json.loads((out / results.METADATA_FILE).read_text())
    assert meta["status"] == "complete"


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_stops_after_complete_group_and_says_how_to_resume(env, tmp_path, sig, code):
    out = tmp_path / "out"
    p = Proc("run", env["config"], "--output", out)
    try:
        assert p.wait_for(rf"running {TOTAL_RUNS} runs"), p.output
        # A second writer while the first holds the dir: refused, nothing touched.
        second = cli("run", env["config"], "--output", out)
        assert second.returncode == 2, second.stdout + second.stderr
        assert "another actbench process is writing here" in second.stderr
        assert f"pid {p.pid}" in second.stderr
        assert "Traceback" not in second.stderr
        # Interrupt once the first group (seed 0) is written and the second is training.
        assert p.wait_for(rf"\[{TOTAL_RUNS // 2 + 1}-{TOTAL_RUNS}/{TOTAL_RUNS}\]"), p.output
        p.p.send_signal(sig)
        rc = p.finish()
    finally:
        p.kill()
    assert rc == code, p.output
    name = signal.Signals(sig).name
    assert f"interrupted by {name}" in p.output
    assert "Resume with:" in p.output and f"actbench run {env['config']} --output {out}" in p.output
    assert "Traceback" not in p.output
    finished, orphans = check_consistent(out)
    assert (finished, orphans) == (TOTAL_RUNS // 2, 0)
    meta = json.loads((out / results.METADATA_FILE).read_text())
    assert meta["status"] == "interrupted"
    assert not (out / results.LOCK_FILE).exists()
    assert (out / results.SUMMARY_FILE).exists()
    if sig == signal.SIGINT:
        return  # resuming is the same after either signal; do it once (time)
    r = cli("run", env["config"], "--output", out)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"{TOTAL_RUNS // 2} of {TOTAL_RUNS} runs already done, running {TOTAL_RUNS // 2}" in r.stdout
    assert_same_results(out, env["baseline"], summary=True)


# ---------------------------------------------------------------- 3. divergence


def test_diverging_run_is_recorded_and_grid_goes_on(env, tmp_path):
    # A custom activation that turns the loss NaN in the first step, packed with relu; the
    # relu tower must train on, and so must the next group (seed 1).
    # Finite on small inputs (it passes the check before training), infinite on a layer's sums.
    (tmp_path / "badacts.py").write_text("import keras\ndef nan_act(x):\n    return x * 1e30\n")
    config = write_config(
        tmp_path / "div.yaml",
        env["data"],
        name="div",
        activations=["relu", {"name": "badacts:nan_act", "label": "nanact"}],
    )
    out = tmp_path / "out"
    r = cli("run", config, "--output", out, cwd=tmp_path)  # custom activations import from the cwd
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("nanact: DIVERGED at epoch 1") == len(SEEDS)
    runs, epochs = result_frames(out)
    assert len(runs) == 2 * len(SEEDS) and sorted(runs["seed"].unique()) == SEEDS  # the later group ran too
    bad, good = runs[runs["activation"] == "nanact"], runs[runs["activation"] == "relu"]
    assert bad["diverged"].all() and (bad["diverged_epoch"] == 1).all()
    assert bad["test_accuracy"].isna().all() and (bad["epochs_run"] == 1).all()
    assert not good["diverged"].any() and good["test_accuracy"].notna().all()
    assert (good["epochs_run"] == EPOCHS).all()
    assert len(epochs[epochs["activation"] == "relu"]) == EPOCHS * len(SEEDS)
    # relu trained exactly as in the grid without the diverging neighbour.
    expected, _ = result_frames(env["baseline"])
    cols = ["seed", "test_loss", "test_accuracy", "best_val_accuracy", "epochs_run"]
    pd.testing.assert_frame_equal(
        good[cols].reset_index(drop=True),
        expected[expected["activation"] == "relu"][cols].reset_index(drop=True),
        check_dtype=False,
    )
    summary = pd.read_csv(out / results.SUMMARY_FILE)
    assert int(summary.loc[summary["activation"] == "nanact", "n_diverged"].iloc[0]) == len(SEEDS)
    # Diverged runs count as finished: the files read back whole and a rerun has nothing to do.
    assert check_consistent(out) == (2 * len(SEEDS), 0)


# ---------------------------------------------------------------- 4. sharding


def test_shards_merged_equal_unsharded(env, tmp_path):
    dirs = [tmp_path / f"shard-{k}" for k in (1, 2, 3)]
    procs = [Proc("run", env["config"], "--shard", f"{k}/3", "--output", d) for k, d in zip((1, 2, 3), dirs)]
    try:
        codes = [p.finish(timeout=240) for p in procs]
    finally:
        for p in procs:
            p.kill()
    assert codes == [0, 0, 0], "\n\n".join(p.output for p in procs)
    seen = []
    for p, d in zip(procs, dirs):
        assert f"running {TOTAL_RUNS // 3} runs" in p.output
        runs, _ = result_frames(d)
        seen += [results.run_key(r) for _, r in runs.iterrows()]
        assert json.loads((d / results.METADATA_FILE).read_text())["shard"].endswith("/3")
    assert len(seen) == len(set(seen)) == TOTAL_RUNS  # a partition of the plan

    merged = tmp_path / "merged"
    r = cli("merge", *dirs, "-o", merged)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"{TOTAL_RUNS} runs" in r.stdout
    assert_same_results(merged, env["baseline"], summary=True)


# ---------------------------------------------------------------- 5. concurrency


def test_live_lock_refuses_other_host_lock_refuses(env, tmp_path):
    out = copy_of_baseline(env, tmp_path)
    before = {f: (out / f).read_bytes() for f in os.listdir(out)}
    with results.OutputLock(out):  # this (live) test process holds the dir
        r = cli("run", env["config"], "--output", out)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "another actbench process is writing here" in r.stderr and f"pid {os.getpid()}" in r.stderr
    assert {f: (out / f).read_bytes() for f in os.listdir(out)} == before

    # A lock from another machine (shared file system) cannot be checked: refused, with the way out.
    (out / results.LOCK_FILE).write_text(json.dumps({"pid": 1, "host": "some-other-node", "since": "x"}))
    r = cli("run", env["config"], "--output", out)
    assert r.returncode == 2
    assert "some-other-node" in r.stderr and str(out / results.LOCK_FILE) in r.stderr


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_stale_lock_of_dead_process_is_taken_over(env, tmp_path):
    out = copy_of_baseline(env, tmp_path)
    (out / results.LOCK_FILE).write_text(
        json.dumps({"pid": _dead_pid(), "host": socket.gethostname(), "since": "2020-01-01T00:00:00"})
    )
    r = cli("run", env["config"], "--output", out)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"{TOTAL_RUNS} of {TOTAL_RUNS} runs already done, running 0" in r.stdout
    assert not (out / results.LOCK_FILE).exists()
    assert_same_results(out, env["baseline"])


KILL_WHILE_LOCKING = r"""
import json, os, signal, sys
from actbench import results
def die(*a, **k):
    os.kill(os.getpid(), signal.SIGKILL)
name = sys.argv[2]
mod, attr = (json, name[5:]) if name.startswith("json.") else (os, name[3:])
setattr(mod, attr, die)
results.OutputLock(sys.argv[1]).acquire()
"""


@pytest.mark.parametrize(
    "where", ["json.dump", "json.dumps", "os.write", "os.link", "os.fsync", "os.close", "os.replace"]
)
def test_kill_while_taking_the_lock_leaves_no_unusable_lock(tmp_path, where):
    """Whatever step of taking the lock a SIGKILL hits, the next process gets the dir."""
    r = subprocess.run(
        [sys.executable, "-c", KILL_WHILE_LOCKING, str(tmp_path), where], capture_output=True, text=True, timeout=60
    )
    assert r.returncode in (0, -signal.SIGKILL), r.stderr
    lock = results.OutputLock(tmp_path)
    lock.acquire()  # raises if a dead process's lock cannot be told apart from a live one
    lock.release()


# ---------------------------------------------------------------- 6. damaged files


def _truncate_last_row(out):
    p = out / results.RUNS_FILE
    text = p.read_text()
    p.write_text(text[: len(text) - 20])


def _short_epoch_row(out):
    p = out / results.EPOCHS_FILE
    lines = p.read_text().splitlines(keepends=True)
    lines[4] = ",".join(lines[4].split(",")[:5]) + "\n"
    p.write_text("".join(lines))


def _text_in_number(out):
    p = out / results.RUNS_FILE
    lines = p.read_text().splitlines(keepends=True)
    header = lines[0].rstrip("\n").split(",")
    row = lines[2].rstrip("\n").split(",")
    row[header.index("test_accuracy")] = "0.9x"
    lines[2] = ",".join(row) + "\n"
    p.write_text("".join(lines))


def _duplicate_run(out):
    p = out / results.RUNS_FILE
    lines = p.read_text().splitlines(keepends=True)
    p.write_text("".join(lines + [lines[3]]))


def _bad_metadata(out):
    p = out / results.METADATA_FILE
    p.write_text(p.read_text()[:40])


DAMAGE = {
    "truncated-last-row": (_truncate_last_row, results.RUNS_FILE, f"line {TOTAL_RUNS + 1}"),
    "short-row": (_short_epoch_row, results.EPOCHS_FILE, "line 5"),
    "text-in-number": (_text_in_number, results.RUNS_FILE, "line 3"),
    "duplicate-run": (_duplicate_run, results.RUNS_FILE, f"line {TOTAL_RUNS + 2}"),
    "bad-metadata": (_bad_metadata, results.METADATA_FILE, "line "),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_results_are_reported_with_file_and_line_and_not_resumed(env, tmp_path, damage):
    out = copy_of_baseline(env, tmp_path)
    corrupt, fname, where = DAMAGE[damage]
    corrupt(out)
    before = {f: (out / f).read_bytes() for f in os.listdir(out)}
    r = cli("run", env["config"], "--output", out)
    assert r.returncode == 2, r.stdout + r.stderr
    message = " ".join(r.stderr.split())  # undo terminal wrapping
    assert f"{out / fname}, {where}" in message, r.stderr
    assert "Traceback" not in r.stderr
    assert {f: (out / f).read_bytes() for f in os.listdir(out)} == before  # nothing written
    assert not (out / results.LOCK_FILE).exists()


def test_overwrite_starts_over_even_on_damaged_results(env, tmp_path):
    out = copy_of_baseline(env, tmp_path)
    _truncate_last_row(out)
    _short_epoch_row(out)
    (out / "report").mkdir()
    (out / "report" / "old.md").write_text("stale")  # no manifest lists it: the user's, never deleted (issue 28)
    r = cli("run", env["config"], "--output", out, "--overwrite")
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"running {TOTAL_RUNS} runs" in r.stdout and "already done" not in r.stdout
    assert (out / "report" / "old.md").read_text() == "stale"
    assert_same_results(out, env["baseline"], summary=True)
