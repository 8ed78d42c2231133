"""Fault injection over every stage of `run` (and the writes of merge, report, compare).

Each case injects one failure, in process (monkeypatch), at one stage: the config and custom
modules, the dataset load, the build, training (first batch, mid-epoch), evaluation,
diagnostics, the timing pass, each result write and the lock. For each it asserts the exit
code, a short message (at most 25 lines) without a traceback, and the files on disk: every file
readable, no run half in the files, and a resume without the fault completing them to the same
result files as an uninterrupted run. Disk-full also runs on a real 12 KB tmpfs where this
process may mount one (root), else it is skipped (the injected ENOSPC cases still run).

Exit codes: 1 a run failed with an error (recorded as a failed row, the grid went on);
2 a problem with the input (config, data); 3 a problem of the machine (disk full, permission,
read-only file system, a path component that is a file, memory); the run stops there.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from actbench import config, results
from actbench.cli import app
from actbench.results import io as results_io
from actbench.run.runner import RunOptions, run_experiment
from actbench.training import engine

pytestmark = pytest.mark.slow

# A tanh that, while $ACTBENCH_FAULT is set, refuses batches over 4; both pass the pre-training
# check (a batch of 2). "batch": a graph assertion, so it raises when the first real batch runs
# (TensorFlow's InvalidArgumentError). "shape": the Python check on the static shape, so it
# raises where a batch has a known size, the diagnostics' eager probe, inside a Keras layer
# (whose wrapper rewrites the message).
FLAKY_MODULE = """
import os

import keras
import tensorflow as tf

MESSAGE = "flaky: this activation refuses batches over 4"


def act(x):
    fault = os.environ.get("ACTBENCH_FAULT")
    if fault == "batch":
        tf.debugging.assert_less(tf.shape(x)[0], 5, message=MESSAGE)
    if fault == "shape" and x.shape[0] is not None and x.shape[0] > 4:
        raise ValueError(MESSAGE)
    return keras.ops.tanh(x)
"""

CONFIG = {
    "name": "faults",
    "datasets": ["mnist_sample"],
    "activations": ["relu", {"name": "flaky:act", "label": "flaky"}],
    "seeds": [0],
    "model": {"conv_filters": [4], "dense_units": [8]},
    "training": {"epochs": 2, "batch_size": 32, "validation_split": 0.25, "train_limit": 256, "test_limit": 64},
    # Off but where a case injects into them (they trace more functions: ~40% of a run's time).
    "diagnostics": {"probe_size": 32, "timing": False, "gradients": False, "dead_units": False, "saturation": False},
}
WITH_DIAGNOSTICS = {"probe_size": 32, "timing": True, "gradients": True, "dead_units": True, "saturation": True}
# Columns that differ between two runs of one config (times), or name how a run was trained.
TIMING = {
    "train_seconds",
    "seconds_per_epoch",
    "test_examples_per_second",
    "seconds",
    "timing",
    "engine",
    "seconds_per_epoch_mean",
    "train_seconds_mean",
}


def write_config(directory: Path, name: str = "faults", **changes) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "flaky.py").write_text(textwrap.dedent(FLAKY_MODULE))
    data = {**CONFIG, "name": name, "output": {"dir": str(directory / f"{name}-out")}, **changes}
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


class Grids:
    """The uninterrupted run of the fault config, made once per module when first asked for:
    1 seed (one packed group) or 2 (two groups: a run finished before a failure is kept), with
    or without the diagnostics and the timing pass."""

    def __init__(self, root: Path):
        self.root = root
        self._made: dict[tuple[int, bool], dict] = {}

    def __call__(self, n_seeds: int = 1, diagnostics: bool = False) -> dict:
        key = (n_seeds, diagnostics)
        if key not in self._made:
            directory = self.root / f"seeds-{n_seeds}{'-diagnostics' if diagnostics else ''}"
            changes: dict = {"seeds": list(range(n_seeds))}
            if diagnostics:
                changes["diagnostics"] = WITH_DIAGNOSTICS
            cfg = write_config(directory, **changes)
            baseline = directory / "baseline"
            outcome = run_experiment(config.load(cfg), RunOptions(output_dir=str(baseline)))
            assert outcome.ran == 2 * n_seeds and not outcome.failed
            self._made[key] = {"config": cfg, "baseline": baseline, "runs": 2 * n_seeds}
        return self._made[key]


@pytest.fixture(scope="module")
def grids(tmp_path_factory):
    return Grids(tmp_path_factory.mktemp("faults"))


@pytest.fixture
def env(grids):
    return grids()


def cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def assert_clean_message(result, code: int, *expected: str) -> None:
    """Exit code, the expected words, no traceback, at most 25 lines of error output."""
    text = result.output + (result.stderr or "")
    assert result.exit_code == code, text
    assert result.exception is None or isinstance(result.exception, SystemExit), text
    assert "Traceback" not in text, text
    flat = " ".join(text.split()).lower()
    for word in expected:
        assert word.lower() in flat, text
    assert len(result.stderr.splitlines()) <= 25, result.stderr


def check_consistent(out: Path) -> pd.DataFrame | None:
    """Every file that exists reads back; every finished run has all its epochs. The runs."""
    if (out / results.METADATA_FILE).exists():
        results.read_metadata(out / results.METADATA_FILE)
    if (out / results.SUMMARY_FILE).exists():
        assert (out / results.SUMMARY_FILE).read_text().endswith("\n")
    assert not list(out.glob(".*.tmp")) if out.exists() else True, "a temp file was left behind"
    if not (out / results.RUNS_FILE).exists():
        return None
    runs = results.read_runs(out / results.RUNS_FILE)
    epochs = results.read_epochs(out / results.EPOCHS_FILE)
    for _, run in runs.iterrows():
        mine = epochs[results.unfinished_epochs(pd.DataFrame([run]), epochs).eq(False)]
        n = 0 if run["failed"] else int(run["epochs_run"])
        assert sorted(mine["epoch"]) == list(range(1, n + 1)), f"{results.run_key(run)}: epochs {list(mine['epoch'])}"
    return runs


def comparable(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    df = df[[c for c in df.columns if c not in TIMING]]
    return df.sort_values(keys, kind="mergesort").reset_index(drop=True)


def assert_same_results(actual: Path, expected: Path, n_runs: int) -> None:
    a_runs, e_runs = results.read_runs(actual / results.RUNS_FILE), results.read_runs(expected / results.RUNS_FILE)
    assert len(a_runs) == len(e_runs) == n_runs and not a_runs["failed"].any()
    pd.testing.assert_frame_equal(comparable(a_runs, results.RUN_KEYS), comparable(e_runs, results.RUN_KEYS))
    keys = [*results.RUN_KEYS, "epoch"]
    a_ep, e_ep = results.read_epochs(actual / results.EPOCHS_FILE), results.read_epochs(expected / results.EPOCHS_FILE)
    pd.testing.assert_frame_equal(comparable(a_ep, keys), comparable(e_ep, keys))
    a_sum = pd.read_csv(actual / results.SUMMARY_FILE, dtype=str, keep_default_na=False)
    e_sum = pd.read_csv(expected / results.SUMMARY_FILE, dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(
        comparable(a_sum, ["dataset", "model", "activation"]), comparable(e_sum, ["dataset", "model", "activation"])
    )


def resume_and_compare(env, out: Path) -> None:
    r = cli("run", env["config"], "--output", out)
    assert r.exit_code == 0, r.output + r.stderr
    assert_same_results(out, env["baseline"], env["runs"])
    assert not (out / results.LOCK_FILE).exists()


# ---------------------------------------------------------------- injections: a run's own error


def _labels(group) -> list[str]:
    return [s.label for s in group.specs]


def _at_build(m):
    real = engine.build_model

    def build(arch, input_shape, n_classes, name, params):
        if name == "flaky:act":
            raise ValueError("injected: build refused")
        return real(arch, input_shape, n_classes, name, params)

    m.setattr(engine, "build_model", build)


def _at_first_batch(m):
    m.setenv("ACTBENCH_FAULT", "batch")


def _in_a_keras_layer(m):
    m.setenv("ACTBENCH_FAULT", "shape")


def _mid_epoch(m):
    real = engine.GroupTrainer._train

    def train(self, loop, group, towers, on_epoch):
        if "flaky" in _labels(group):
            epoch_of_loop = loop.train_epoch
            calls = []

            def train_epoch(*args, **kwargs):
                calls.append(1)
                if len(calls) == 2:
                    raise RuntimeError("injected: mid-epoch failure")
                return epoch_of_loop(*args, **kwargs)

            loop.train_epoch = train_epoch
        return real(self, loop, group, towers, on_epoch)

    m.setattr(engine.GroupTrainer, "_train", train)


def _at_evaluation(m):
    real = engine.GroupTrainer._test

    def test(self, loop, group, towers):
        if "flaky" in _labels(group):
            raise RuntimeError("injected: evaluation failure")
        return real(self, loop, group, towers)

    m.setattr(engine.GroupTrainer, "_test", test)


def _at_diagnostics(m):
    from actbench.training import diagnostics

    real = diagnostics.measure

    def measure(model, spec, probe, cfg, adapter):
        if spec.label == "flaky":
            raise FloatingPointError("injected: diagnostics failure")
        return real(model, spec, probe, cfg, adapter)

    m.setattr(diagnostics, "measure", measure)


def _at_timing_pass(m):
    real = engine.GroupTrainer._timing_pass

    def timing_pass(self, group, spec):
        if spec.label == "flaky":
            raise RuntimeError("injected: timing pass failure")
        return real(self, group, spec)

    m.setattr(engine.GroupTrainer, "_timing_pass", timing_pass)


RUN_ERRORS = {
    "build": (_at_build, "ValueError: injected: build refused"),
    "first-batch": (
        _at_first_batch,
        "InvalidArgumentError: assertion failed: [flaky: this activation refuses batches over 4]",
    ),
    "keras-layer-on-the-probe": (_in_a_keras_layer, "ValueError: flaky: this activation refuses batches over 4"),
    "mid-epoch": (_mid_epoch, "RuntimeError: injected: mid-epoch failure"),
    "evaluation": (_at_evaluation, "RuntimeError: injected: evaluation failure"),
    "diagnostics": (_at_diagnostics, "FloatingPointError: injected: diagnostics failure"),
    "timing-pass": (_at_timing_pass, "RuntimeError: injected: timing pass failure"),
}


@pytest.mark.parametrize("stage", list(RUN_ERRORS))
def test_a_run_error_at_any_stage_is_recorded_and_the_grid_goes_on(grids, tmp_path, monkeypatch, stage):
    inject, reason = RUN_ERRORS[stage]
    env = grids(diagnostics=stage in ("diagnostics", "timing-pass", "keras-layer-on-the-probe"))
    out = tmp_path / "out"
    with monkeypatch.context() as m:
        inject(m)
        r = cli("run", env["config"], "--output", out)
    assert_clean_message(r, 1, "1 run(s) failed", reason)
    runs = check_consistent(out)
    assert runs is not None and len(runs) == env["runs"]
    bad, good = runs[runs["activation"] == "flaky"], runs[runs["activation"] == "relu"]
    # TensorFlow's message carries the op's details after the user's text.
    assert bad["failed"].all() and bad["failure"].str.startswith(reason).all(), list(bad["failure"])
    assert not good["failed"].any() and good["test_accuracy"].notna().all()
    resume_and_compare(env, out)


@pytest.mark.parametrize("engine_name", ["packed", "sequential"])
def test_a_sole_failing_activation_is_recorded(tmp_path, monkeypatch, engine_name):
    """The issue's case: the only activation of its config passes the check and then raises."""
    cfg = write_config(tmp_path, "sole", activations=["flaky:act"], seeds=[0], diagnostics=WITH_DIAGNOSTICS)
    monkeypatch.setenv("ACTBENCH_FAULT", "shape")
    out = tmp_path / "out"
    r = cli("run", cfg, "--output", out, "--engine", engine_name)
    reason = "ValueError: flaky: this activation refuses batches over 4"
    assert_clean_message(r, 1, "1 run(s) failed", reason)
    runs = check_consistent(out)
    assert runs is not None and len(runs) == 1
    assert bool(runs["failed"].iloc[0]) and runs["failure"].iloc[0] == reason
    summary = pd.read_csv(out / results.SUMMARY_FILE)
    assert int(summary["n_failed"].iloc[0]) == 1 and int(summary["n"].iloc[0]) == 0


# ---------------------------------------------------------------- injections: the machine


def _write_fails(name: str, from_call: int, err: int):
    """From the from_call-th write of result file `name` on, every result write fails with err
    (a full disk stays full; a read-only mount stays read-only)."""

    def inject(m):
        real = results_io.atomic_write_text
        state = {"calls": 0, "broken": False}

        def write(path, text):
            path = Path(path)
            if path.name == name:
                state["calls"] += 1
                state["broken"] = state["broken"] or state["calls"] >= from_call
            if state["broken"]:
                raise OSError(err, os.strerror(err), str(path))
            return real(path, text)

        m.setattr(results_io, "atomic_write_text", write)

    return inject


def _memory_in_second_group(m):
    real = engine.GroupTrainer._train

    def train(self, loop, group, towers, on_epoch):
        if group.seed == 1:
            raise MemoryError()
        return real(self, loop, group, towers, on_epoch)

    m.setattr(engine.GroupTrainer, "_train", train)


def _dataset_load(error: BaseException):
    def inject(m):
        from actbench import datasets

        def load(*args, **kwargs):
            raise error

        m.setattr(datasets, "load", load)

    return inject


def _lock_fails(err: int):
    def inject(m):
        def create(self, text):
            raise OSError(err, os.strerror(err), str(self.path))

        m.setattr(results.OutputLock, "_create", create)

    return inject


FULL = "no space left"
MACHINE_ERRORS = {
    # case: (inject, words the message must hold, seeds in the grid, runs finished and kept)
    "disk-full:metadata-at-start": (_write_fails("metadata.json", 1, errno.ENOSPC), [FULL, "metadata.json"], 1, 0),
    "disk-full:first-epochs-write": (_write_fails("epochs.csv", 1, errno.ENOSPC), [FULL, "epochs.csv"], 1, 0),
    "disk-full:first-runs-write": (_write_fails("runs.csv", 1, errno.ENOSPC), [FULL, "runs.csv"], 1, 0),
    "disk-full:second-group": (_write_fails("epochs.csv", 2, errno.ENOSPC), [FULL, "epochs.csv"], 2, 2),
    "disk-full:summary": (_write_fails("summary.csv", 1, errno.ENOSPC), [FULL, "summary.csv"], 1, 2),
    "disk-full:metadata-at-end": (_write_fails("metadata.json", 2, errno.ENOSPC), [FULL, "metadata.json"], 1, 2),
    # The other errors of a write, where a write fails first (the message is what differs).
    "permission-denied:metadata": (
        _write_fails("metadata.json", 1, errno.EACCES),
        ["permission denied", "metadata.json"],
        1,
        0,
    ),
    "read-only:metadata": (_write_fails("metadata.json", 1, errno.EROFS), ["read-only file system"], 1, 0),
    "not-a-directory:metadata": (_write_fails("metadata.json", 1, errno.ENOTDIR), ["not a directory"], 1, 0),
    "memory:training": (_memory_in_second_group, ["out of memory", "seed 1"], 2, 2),
    "memory:dataset-load": (_dataset_load(MemoryError()), ["out of memory", "mnist_sample"], 1, 0),
    "permission-denied:dataset-load": (
        _dataset_load(PermissionError(errno.EACCES, "Permission denied", "/data/mnist_sample.npz")),
        ["permission denied", "/data/mnist_sample.npz"],
        1,
        0,
    ),
    "disk-full:lock": (_lock_fails(errno.ENOSPC), [FULL, results.LOCK_FILE], 1, 0),
    "permission-denied:lock": (_lock_fails(errno.EACCES), ["permission denied", results.LOCK_FILE], 1, 0),
}


@pytest.mark.parametrize("case", list(MACHINE_ERRORS))
def test_a_machine_error_is_named_and_a_resume_completes(grids, tmp_path, monkeypatch, case):
    inject, words, n_seeds, kept = MACHINE_ERRORS[case]
    env = grids(n_seeds)
    out = tmp_path / "out"
    with monkeypatch.context() as m:
        inject(m)
        r = cli("run", env["config"], "--output", out)
    assert_clean_message(r, 3, *words, "resume")
    runs = check_consistent(out)
    assert (0 if runs is None else len(runs)) == kept
    assert runs is None or not runs["failed"].any()
    assert not (out / results.LOCK_FILE).exists()
    resume_and_compare(env, out)


# ---------------------------------------------------------------- the config and custom modules


def test_an_unreadable_config_is_named(env, tmp_path, monkeypatch):
    real = Path.read_bytes

    def read_bytes(self):
        if self == env["config"]:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    r = cli("run", env["config"], "--output", tmp_path / "out")
    assert_clean_message(r, 2, str(env["config"]), "permission denied")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "body,code,words",
    [
        ("raise RuntimeError('the module refuses')", 2, ["importing", "RuntimeError: the module refuses"]),
        ("raise MemoryError()", 3, ["out of memory", "importing"]),
    ],
)
def test_a_custom_module_failing_at_import(tmp_path, body, code, words):
    cfg = write_config(tmp_path, "badmod", activations=["relu", "badmod:act"])
    (tmp_path / "badmod.py").write_text(body + "\n")
    r = cli("run", cfg, "--output", tmp_path / "out")
    assert_clean_message(r, code, *words)
    assert not (tmp_path / "out").exists()


def test_an_output_dir_under_a_file_is_named(env, tmp_path):
    (tmp_path / "a-file").write_text("x")
    r = cli("run", env["config"], "--output", tmp_path / "a-file" / "out")
    assert_clean_message(r, 2, str(tmp_path / "a-file"), "is a file")


# ---------------------------------------------------------------- a real full disk


def _mount_tmpfs(directory: Path, size: str) -> bool:
    directory.mkdir(parents=True, exist_ok=True)
    if shutil.which("mount") is None:
        return False
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(directory)], capture_output=True)
    return r.returncode == 0


@pytest.fixture
def small_disk(tmp_path):
    disk = tmp_path / "disk"
    if not _mount_tmpfs(disk, "12k"):
        pytest.skip("cannot mount a tmpfs here (needs root); the injected ENOSPC cases cover disk-full")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def test_a_real_full_disk_is_named_and_after_space_is_freed_the_grid_completes(env, small_disk):
    """The issue's case on a 12 KB tmpfs (the grid's first runs.csv write does not fit), then
    1 MB and a resume; then read-only. (The issue's 3 x 4 grid is measured in the branch's
    notes; this one is smaller to keep the suite fast, the path is the same.)"""
    out = small_disk / "out"
    r = cli("run", env["config"], "--output", out)
    assert_clean_message(r, 3, FULL, str(out), "resume")
    check_consistent(out)
    subprocess.run(["mount", "-o", "remount,size=1m", str(small_disk)], check=True)
    resume_and_compare(env, out)

    # Read-only: named as such, nothing changed; writable again: the same files.
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    r = cli("run", env["config"], "--output", out, "--overwrite")
    assert_clean_message(r, 3, "read-only file system", str(out))
    subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)
    assert_same_results(out, env["baseline"], env["runs"])


# ---------------------------------------------------------------- merge, report, compare


@pytest.mark.parametrize(
    "case,words",
    [
        ("disk-full:runs", [FULL, "runs.csv"]),
        ("disk-full:summary", [FULL, "summary.csv"]),
        ("output-under-a-file", ["not a directory", "a-file"]),
    ],
)
def test_merge_write_failures_are_named(env, tmp_path, monkeypatch, case, words):
    out = tmp_path / "merged"
    with monkeypatch.context() as m:
        if case == "output-under-a-file":
            (tmp_path / "a-file").write_text("x")
            out = tmp_path / "a-file" / "merged"
        else:
            _write_fails(case.split(":")[1] + ".csv", 1, errno.ENOSPC)(m)
        r = cli("merge", env["baseline"], "-o", out)
    assert_clean_message(r, 3, *words)
    if case != "output-under-a-file":
        # The merge wrote epochs.csv before the failure: merge refuses to replace files without --overwrite.
        r = cli("merge", env["baseline"], "-o", out, "--overwrite")
        assert r.exit_code == 0, r.output + r.stderr
        assert_same_results(out, env["baseline"], env["runs"])


@pytest.mark.parametrize("where", ["png", "markdown", "output-under-a-file"])
def test_report_write_failures_are_named(env, tmp_path, monkeypatch, where):
    out = tmp_path / "report"
    with monkeypatch.context() as m:
        if where == "png":
            import matplotlib.figure

            def savefig(self, fname, *args, **kwargs):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(fname))

            m.setattr(matplotlib.figure.Figure, "savefig", savefig)
        elif where == "markdown":
            real = Path.write_text

            def write_text(self, *args, **kwargs):
                if self.name == "report.md":
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))
                return real(self, *args, **kwargs)

            m.setattr(Path, "write_text", write_text)
        else:
            (tmp_path / "a-file").write_text("x")
            out = tmp_path / "a-file" / "report"
        r = cli("report", env["baseline"], "-o", out)
    assert_clean_message(r, 3, FULL if where != "output-under-a-file" else "not a directory")
    if out.exists():
        assert not [p for p in out.iterdir() if p.name.startswith(".")], "a temp file was left behind"
        assert not (out / "report.md").exists() or (out / "report.md").read_text().endswith("\n")


def test_compare_into_a_full_file_is_named(env):
    """`compare ... > file` on a full disk (/dev/full): a message and exit 3, not a silent exit 0."""
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    script = "from actbench.cli import entry; entry()"
    with open("/dev/full", "w") as full:
        r = subprocess.run(
            [sys.executable, "-c", script, "compare", str(env["baseline"]), str(env["baseline"]), "--format", "csv"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    assert r.returncode == 3, r.stderr
    assert FULL in r.stderr.lower() and "Traceback" not in r.stderr, r.stderr
    assert len(r.stderr.splitlines()) <= 25
