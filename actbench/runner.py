"""run_experiment(): config -> plan -> data -> engine -> result files, with resume.

Everything that can be checked is checked before anything is written (datasets present,
architecture fits the images, output dir usable and not holding another config's
results). Each finished group of runs is written atomically before the next starts, so
an interruption loses at most the group in progress; the next run resumes from there.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from . import __version__, datasets, plan, results
from .config import Experiment, data_dir_of, resolved_config
from .errors import ConfigError, ResultsError
from .model import check_shape

OWN_FILES = [results.RUNS_FILE, results.EPOCHS_FILE, results.SUMMARY_FILE, results.METADATA_FILE]


class Interrupted(Exception):
    """SIGINT or SIGTERM arrived; what was complete is written."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.exit_code = 128 + signum


@dataclass
class RunOptions:
    overwrite: bool = False
    resume: bool = True
    shard: tuple[int, int] | None = None
    data_dir: str | None = None
    verify_data: bool | None = None   # None: the config's data_verify
    engine: str | None = None          # None: the config's training.engine
    output_dir: str | None = None      # None: the config's output.dir
    command_line: list[str] = field(default_factory=lambda: list(sys.argv))


@dataclass
class Outcome:
    output_dir: Path
    total: int
    already_done: int
    ran: int
    summary: pd.DataFrame


class NullReporter:
    """Progress events; render.py has the terminal versions. Library code never prints."""

    def start(self, exp, output_dir, total, done, todo, notes): ...
    def group_start(self, runs, engine): ...
    def epoch(self, epoch, epochs): ...
    def group_end(self, runs, run_results): ...
    def finish(self, outcome, exp): ...


def prepare_output(exp: Experiment, opts: RunOptions) -> tuple[Path, pd.DataFrame | None, pd.DataFrame | None, list[str]]:
    """Check the output dir without writing: returns (dir, existing runs, existing epochs, notes)."""
    out = Path(opts.output_dir or exp.output_dir)
    notes: list[str] = []
    if out.exists() and not out.is_dir():
        raise ConfigError(f"output.dir: '{out}' exists and is not a directory.")
    probe = out
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK):
        raise ConfigError(f"output.dir: cannot write to '{out}' ({probe} is not a writable directory); "
                          "choose another dir with output.dir or --output.")
    has_results = out.is_dir() and any((out / f).exists() for f in OWN_FILES)
    if not has_results or opts.overwrite:
        return out, None, None, notes
    if not opts.resume:
        raise ConfigError(f"output.dir: '{out}' already holds results and --no-resume was given; "
                          "use --overwrite to start over, or choose another dir.")
    meta_path = out / results.METADATA_FILE
    if meta_path.exists():
        old_hash = results.read_metadata(meta_path).get("config_hash")
        if old_hash != exp.config_hash():
            raise ConfigError(
                f"output.dir: '{out}' holds results of a different config (hash {old_hash}, this one is "
                f"{exp.config_hash()}). Results are never mixed: use --overwrite to replace them, or "
                "choose another dir (output.dir or --output).")
    runs = epochs = None
    try:
        if (out / results.RUNS_FILE).exists():
            runs = results.read_runs(out / results.RUNS_FILE)
        if (out / results.EPOCHS_FILE).exists():
            epochs = results.read_epochs(out / results.EPOCHS_FILE)
    except ResultsError as e:
        raise ResultsError(f"{e}\nThe output dir holds damaged results; actbench will not resume into it. "
                           "Fix or remove the file, or use --overwrite to start over.") from None
    if runs is not None:
        other = runs[runs["config_hash"] != exp.config_hash()]
        if len(other):
            raise ConfigError(f"{out / results.RUNS_FILE}: holds runs of config hash "
                              f"{other['config_hash'].iloc[0]}, this config is {exp.config_hash()}; "
                              "use --overwrite or another dir.")
    if epochs is not None:
        done = set() if runs is None else {results.run_id(r) for _, r in runs.iterrows()}
        orphan = ~epochs.apply(lambda r: results.run_id(r) in done, axis=1) if len(epochs) else []
        if len(epochs) and orphan.any():
            n = int(orphan.sum())
            notes.append(f"dropped {n} epoch row(s) of run(s) that did not finish; they are run again")
            epochs = epochs[~orphan].reset_index(drop=True)
    return out, runs, epochs, notes


def run_experiment(exp: Experiment, opts: RunOptions, reporter=None) -> Outcome:
    reporter = reporter or NullReporter()
    engine_name = opts.engine or exp.training.engine
    exp.training.engine = engine_name
    data_dir = data_dir_of(exp, opts.data_dir)
    verify = exp.data_verify if opts.verify_data is None else opts.verify_data

    # 1. Checks, before anything is written.
    datasets.check_available(exp.datasets, data_dir)
    for name in exp.datasets:
        for arch in exp.models:
            try:
                check_shape(arch, datasets.NAMES[name].input_shape)
            except ValueError as e:
                raise ConfigError(f"models[{arch.label}] on {name}: {e}") from None
    out, old_runs, old_epochs, notes = prepare_output(exp, opts)
    all_runs = plan.expand(exp)
    mine = plan.shard(all_runs, *opts.shard) if opts.shard else all_runs
    done = set() if old_runs is None else {results.run_id(r) for _, r in old_runs.iterrows()}
    todo = [r for r in mine if r.key not in done]

    # 2. Take the dir.
    out.mkdir(parents=True, exist_ok=True)
    lock = results.OutputLock(out)
    lock.acquire()
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

    def interrupt(signum, frame):
        raise Interrupted(signum)

    for s in previous:
        signal.signal(s, interrupt)
    try:
        if opts.overwrite:
            for f in OWN_FILES:
                (out / f).unlink(missing_ok=True)
            shutil.rmtree(out / "report", ignore_errors=True)
        return _run(exp, opts, reporter, out, old_runs, old_epochs, notes, mine, todo,
                    data_dir, verify, engine_name)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        lock.release()


def _run(exp, opts, reporter, out, old_runs, old_epochs, notes, mine, todo, data_dir, verify, engine_name):
    from . import backends
    from .engine import Group, GroupTrainer

    adapter = backends.for_name(exp.backend)
    settings = adapter.configure(exp.training.deterministic)
    metadata = {
        "config": resolved_config(exp),
        "config_hash": exp.config_hash(),
        "actbench_version": __version__,
        "versions": adapter.versions(),
        "backend": exp.backend,
        "devices": adapter.devices(),
        "determinism": settings,
        "engine": engine_name,
        "data_verify": verify,
        "data": {},
        "shard": f"{opts.shard[0]}/{opts.shard[1]}" if opts.shard else None,
        "command_line": opts.command_line,
        "host": socket.gethostname(),
        "started": _now(),
        "finished": None,
        "status": "running",
    }
    meta_path = out / results.METADATA_FILE
    if meta_path.exists():  # resuming: keep the first start time
        metadata["started"] = results.read_metadata(meta_path).get("started", metadata["started"])
    writer = ResultWriter(out, exp.config_hash(), old_runs, old_epochs)
    notes = notes + adapter.device_notes(metadata["devices"])
    reporter.start(exp, out, len(mine), len(mine) - len(todo), len(todo), notes)

    prepared = {}
    for name in exp.datasets:
        if any(r.dataset == name for r in todo):
            raw = datasets.load(name, data_dir, verify=verify)
            metadata["data"][name] = {"source": raw.source, "verified": raw.verified}
            prepared[name] = datasets.prepare(raw, exp.training.train_limit, exp.training.test_limit,
                                              exp.training.validation_split)
    results.write_json(meta_path, metadata)

    specs = {a.label: a for a in exp.activation_specs}
    archs = {m.label: m for m in exp.models}
    trainer = GroupTrainer(exp, adapter)
    status = "complete"
    try:
        for group in plan.groups(todo):
            batches = [group] if engine_name == "packed" else [[r] for r in group]
            for runs in batches:
                reporter.group_start(runs, engine_name)
                first = runs[0]
                group = Group(prepared[first.dataset], archs[first.model], [specs[r.activation] for r in runs],
                              first.seed)
                run_results = trainer.train_group(group, on_epoch=reporter.epoch)
                writer.add(runs, run_results)
                reporter.group_end(runs, run_results)
    except Interrupted:
        status = "interrupted"
        raise
    finally:
        summary = writer.write_summary(exp.baseline)
        metadata["finished"] = _now()
        metadata["status"] = status
        results.write_json(meta_path, metadata)
    outcome = Outcome(out, len(mine), len(mine) - len(todo), len(todo), summary)
    reporter.finish(outcome, exp)
    return outcome


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


class ResultWriter:
    """Holds the rows of an output dir and rewrites its files atomically after each group."""

    def __init__(self, out: Path, config_hash: str, runs: pd.DataFrame | None, epochs: pd.DataFrame | None):
        self.out = out
        self.config_hash = config_hash
        self.runs = runs if runs is not None else pd.DataFrame(columns=results.RUN_COLUMNS)
        self.epochs = epochs if epochs is not None else pd.DataFrame(columns=results.EPOCH_COLUMNS)

    def add(self, runs: list, run_results: list) -> None:
        from .merge import canonical_order

        new_runs, new_epochs = [], []
        for run, res in zip(runs, run_results):
            keys = {"config_hash": self.config_hash, "dataset": run.dataset, "model": run.model,
                    "activation": run.activation, "seed": run.seed}
            new_runs.append({**keys, **res.run})
            new_epochs.extend({**keys, **row} for row in res.epochs)
        runs_df = _concat(self.runs, pd.DataFrame(new_runs))
        epochs_df = _concat(self.epochs, pd.DataFrame(new_epochs))
        runs_df, epochs_df = canonical_order(runs_df, epochs_df)
        self.runs = results.order_columns(runs_df, results.RUN_COLUMNS)
        self.epochs = results.order_columns(epochs_df, results.EPOCH_COLUMNS)
        # epochs first: a run is done only once its runs.csv row exists.
        results.write_csv(self.out / results.EPOCHS_FILE, self.epochs)
        results.write_csv(self.out / results.RUNS_FILE, self.runs)

    def write_summary(self, baseline: str | None) -> pd.DataFrame:
        from .stats import summarize

        if self.runs.empty:
            return pd.DataFrame()
        # From the rows as written (10 significant digits), not the in-memory floats: summary.csv
        # is then a function of runs.csv and epochs.csv alone, identical for an uninterrupted,
        # a resumed and a merged run.
        summary = summarize(results.read_runs(self.out / results.RUNS_FILE),
                            results.read_epochs(self.out / results.EPOCHS_FILE), baseline)
        results.write_csv(self.out / results.SUMMARY_FILE, summary)
        return summary


def _concat(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    if old.empty:
        return new
    if new.empty:
        return old
    return pd.concat([old, new], ignore_index=True)


def resume_hint(exp_path: str, opts: RunOptions) -> str:
    extra = f" --shard {opts.shard[0]}/{opts.shard[1]}" if opts.shard else ""
    extra += f" --output {opts.output_dir}" if opts.output_dir else ""
    return f"actbench run {exp_path}{extra}"
