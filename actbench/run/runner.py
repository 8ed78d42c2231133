"""run_experiment(): config -> plan -> data -> engine -> result files, with resume.

Everything that can be checked is checked before anything is written (datasets present,
architecture fits the images, output dir usable and not holding another config's
results). Each finished group of runs is written atomically before the next starts, so
an interruption loses at most the group in progress; the next run resumes from there.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

import pandas as pd
from pydantic import ValidationError

from actbench import datasets, results
from actbench._version import __version__
from actbench.analysis.stats import summarize_written
from actbench.config import Experiment, resolved_config
from actbench.errors import (
    ActbenchError,
    ConfigError,
    MachineError,
    ResultsError,
    as_machine_error,
    is_machine_error,
)
from actbench.results import ResultDir
from actbench.training.model import check_shape

from . import plan
from .options import Resolved, RunOptions, resolve
from .plan import Run


class Interrupted(Exception):
    """SIGINT or SIGTERM arrived; what was complete is written."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.exit_code = 128 + signum


@dataclass
class Outcome:
    output_dir: Path
    total: int
    already_done: int
    ran: int
    summary: pd.DataFrame
    failed: list[str] = field(default_factory=list)  # "<run>: <reason>" of each run that failed with an error


class Reporter(Protocol):
    """Progress events of a run; display/render.py has the terminal versions. Library code never prints."""

    def start(self, exp, output_dir, total, done, todo, notes) -> None: ...
    def group_start(self, runs, engine) -> None: ...
    def epoch(self, epoch, epochs) -> None: ...
    def group_end(self, runs, run_results) -> None: ...
    def finish(self, outcome, exp) -> None: ...
    def stop(self) -> None:
        """Release the terminal (progress bars) when the run ends early."""


class NullReporter:
    """A Reporter that reports nothing."""

    def start(self, exp, output_dir, total, done, todo, notes) -> None: ...
    def group_start(self, runs, engine) -> None: ...
    def epoch(self, epoch, epochs) -> None: ...
    def group_end(self, runs, run_results) -> None: ...
    def finish(self, outcome, exp) -> None: ...
    def stop(self) -> None: ...


@dataclass
class RunContext:
    """What one `run` carries from the checks to the last write (the caller's config is
    never changed: `exp` is a copy with the engine override applied)."""

    exp: Experiment
    opts: RunOptions
    reporter: Reporter
    out: ResultDir
    notes: list[str]
    planned: list[Run]  # this shard's runs, done or not
    todo: list[Run]  # the planned runs not finished yet
    data_dir: str | None
    verify: bool
    resolved: Resolved  # every run option, flag > environment > config > default

    signals: list[int] = field(default_factory=list)  # SIGINT/SIGTERM received, in order

    @property
    def engine(self) -> str:
        return self.exp.training.engine

    def stop_if_signalled(self) -> None:
        """Raise Interrupted when a signal arrived. The handler raises at once, but an exception
        raised inside library code can be swallowed there (TensorFlow's autograph falls back
        and goes on when conversion fails), so every epoch also checks."""
        if self.signals:
            raise Interrupted(self.signals[0])


def prepare_output(exp: Experiment, opts: RunOptions, output_dir: str) -> tuple[ResultDir, list[str]]:
    """Check the output dir without writing: returns (the dir with its finished rows loaded, notes)."""
    out = ResultDir(output_dir)
    check_writable(out.path)
    if not out.has_results() or opts.overwrite:
        return out, []
    if not opts.resume:
        raise ConfigError(
            f"output.dir: '{out.path}' already holds results and --no-resume was given; "
            "use --overwrite to start over, or choose another dir."
        )
    meta = out.read_metadata()
    if meta is not None and not (isinstance(meta, dict) and "config_hash" in meta):
        raise _unclaimed(out, [out.file(results.METADATA_FILE)])  # some other program's metadata.json
    if meta is not None and meta.get("config_hash") != exp.config_hash():
        old_hash = meta.get("config_hash")
        raise ConfigError(
            f"output.dir: '{out.path}' holds results of a different config (hash {old_hash}, this one is "
            f"{exp.config_hash()}). Results are never mixed: use --overwrite to replace them, or "
            "choose another dir (output.dir or --output)."
        )
    from actbench.training import model_check

    model_check.refuse_changed_saved_files(exp, meta or {}, out.path)
    try:
        dropped = out.load_rows()
    except ResultsError as e:
        raise ResultsError(
            f"{e}\nThe output dir holds damaged results; actbench will not resume into it. "
            "Fix or remove the file, or use --overwrite to start over."
        ) from None
    other = [h for h in out.config_hashes() if h != exp.config_hash()]
    if other:
        raise ConfigError(
            f"{out.file(results.RUNS_FILE)}: holds runs of config hash {other[0]}, this config is "
            f"{exp.config_hash()}; use --overwrite or another dir."
        )
    unclaimed = out.unclaimed_files(meta)
    if unclaimed:
        raise _unclaimed(out, unclaimed)
    notes = [f"dropped {dropped} epoch row(s) of run(s) that did not finish; they are run again"] if dropped else []
    return out, notes


def _unclaimed(out: ResultDir, files: list[Path]) -> ConfigError:
    """A run would replace these files, and they are not this config's results: refused, even if
    actbench wrote them once, so that no file of the user's is lost without --overwrite."""
    listing = "\n  ".join(str(f) for f in files)
    return ConfigError(
        f"output.dir: '{out.path}' holds files under the names of actbench's result files that are not "
        f"results of this config:\n  {listing}\nA run would replace them. Move or rename them, choose another "
        "dir (output.dir or --output), or use --overwrite to replace them."
    )


def check_writable(out: Path) -> None:
    """ConfigError unless `out` is, or can be created as, a directory this process may write in."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"output.dir: '{out}' exists and is not a directory.")
    probe = out
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise ConfigError(
            f"output.dir: cannot write to '{out}': {probe} is a file, not a directory; "
            "move it, or choose another dir with output.dir or --output."
        )
    if not os.access(probe, os.W_OK):
        readonly = bool(os.statvfs(probe).f_flag & os.ST_RDONLY)
        what = "is on a read-only file system" if readonly else "is not writable (permission denied)"
        raise MachineError(
            f"output.dir: cannot write to '{out}': {probe} {what}; "
            "choose another dir with output.dir or --output" + ("." if readonly else ", or fix its permissions.")
        )


def run_experiment(exp: Experiment, opts: RunOptions, reporter: Reporter | None = None) -> Outcome:
    """Check everything, take the output dir, train what is missing, write the results."""
    ctx = _prepare(exp, opts, reporter or NullReporter())
    with results.writing(ctx.out.path, "creating the output dir"):
        ctx.out.path.mkdir(parents=True, exist_ok=True)
    lock = ctx.out.lock()
    lock.acquire()
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

    def interrupt(signum, frame):
        ctx.signals.append(signum)
        raise Interrupted(signum)

    for s in previous:
        signal.signal(s, interrupt)
    try:
        if opts.overwrite:
            removed = ctx.out.clear()
            if removed:  # named, since one of them may have been the user's own file
                ctx.notes.append(f"--overwrite removed {results.describe_removed(removed)}")
        return _run(ctx)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        lock.release()


def _prepare(exp: Experiment, opts: RunOptions, reporter: Reporter) -> RunContext:
    """Every check that can fail before anything is written; the plan of what to train."""
    resolved = resolve(exp, opts)
    if resolved.engine != exp.training.engine:
        try:
            exp = exp.with_overrides({"training.engine": resolved.engine})  # the config is immutable: a changed copy
        except ValidationError as e:  # e.g. global_clipnorm, which the packed engine cannot honour
            raise ConfigError(f"--engine {resolved.engine}: {e.errors()[0]['msg']}") from None
    for name in exp.datasets:
        for arch in exp.architectures:
            try:
                check_shape(arch, datasets.NAMES[name].input_shape)
            except ValueError as e:
                raise ConfigError(f"models[{arch.label}] on {name}: {e}") from None
    out, notes = prepare_output(exp, opts, resolved.output_dir)
    # Last: the one check that may take long (downloads what is missing, or raises).
    policy = datasets.FetchPolicy.resolve(resolved.offline, resolved.data_mirror, opts.download_progress)
    datasets.ensure_available(exp.datasets, resolved.data_dir, policy)
    planned = plan.shard(plan.expand(exp), *opts.shard) if opts.shard else plan.expand(exp)
    done = out.done_keys()
    return RunContext(
        exp=exp,
        opts=opts,
        reporter=reporter,
        out=out,
        notes=notes,
        planned=planned,
        todo=[r for r in planned if r.key not in done],
        data_dir=resolved.data_dir,
        verify=resolved.verify_data,
        resolved=resolved,
    )


def _run(ctx: RunContext) -> Outcome:
    from actbench.training import backends

    adapter = backends.for_name(ctx.exp.backend)
    settings = adapter.configure(ctx.exp.training.deterministic)
    metadata = _metadata(ctx, settings, adapter)
    n_done = len(ctx.planned) - len(ctx.todo)
    notes = ctx.notes + adapter.device_notes(metadata["devices"])
    ctx.reporter.start(ctx.exp, ctx.out.path, len(ctx.planned), n_done, len(ctx.todo), notes)
    prepared = _load_data(ctx, metadata)
    ctx.out.write_metadata(metadata)
    try:
        _train(ctx, prepared, adapter)
    except BaseException as e:
        _finish_after_error(ctx, metadata, "interrupted" if isinstance(e, Interrupted) else "stopped")
        raise
    summary = summarize_written(ctx.out, ctx.exp.baseline, ctx.exp.tune)
    ctx.out.write_summary(summary)
    ctx.out.write_metadata({**metadata, "finished": _now(), "status": "complete"})
    outcome = Outcome(ctx.out.path, len(ctx.planned), n_done, len(ctx.todo), summary, ctx.out.failures())
    ctx.reporter.finish(outcome, ctx.exp)
    return outcome


def _finish_after_error(ctx: RunContext, metadata: dict, status: str) -> None:
    """The summary of what finished and the metadata's status, written when the run stops early.
    When these writes fail too (a full disk stays full), the error that stopped the run is the
    one to report: the next run rewrites both."""
    try:
        ctx.out.write_summary(summarize_written(ctx.out, ctx.exp.baseline, ctx.exp.tune))
        ctx.out.write_metadata({**metadata, "finished": _now(), "status": status})
    except (ActbenchError, OSError, MemoryError):
        pass


def _metadata(ctx: RunContext, settings: dict, adapter) -> dict:
    exp, opts = ctx.exp, ctx.opts
    previous = ctx.out.read_metadata() or {}  # resuming: keep the first start time
    from actbench.training import model_check

    saved = model_check.saved_models(exp)  # each keras_model's file, hash and replaced layers
    return {
        "config": resolved_config(exp),
        "config_hash": exp.config_hash(),
        "actbench_version": __version__,
        "versions": adapter.versions(),
        "backend": exp.backend,
        "devices": adapter.devices(),
        "determinism": settings,
        "engine": ctx.engine,
        "data_verify": ctx.verify,
        "data": {},
        "shard": f"{opts.shard[0]}/{opts.shard[1]}" if opts.shard else None,
        "options": ctx.resolved.as_metadata(),
        "command_line": opts.command_line,
        "host": socket.gethostname(),
        "started": previous.get("started", _now()),
        "finished": None,
        "status": "running",
        **({"saved_models": saved} if saved else {}),
    }


def _load_data(ctx: RunContext, metadata: dict) -> dict:
    """Each dataset with runs still to do, loaded and prepared once."""
    prepared = {}
    training = ctx.exp.training
    for name in ctx.exp.datasets:
        if any(r.dataset == name for r in ctx.todo):
            try:
                raw = datasets.load(name, ctx.data_dir, verify=ctx.verify)
                split = datasets.prepare(raw, training.train_limit, training.test_limit, training.validation_split)
            except (OSError, MemoryError) as e:
                raise as_machine_error(e, f"loading dataset {name}") from None
            metadata["data"][name] = {"source": raw.source, "verified": raw.verified}
            prepared[name] = split
    return prepared


def _train(ctx: RunContext, prepared: dict, adapter) -> None:
    """Train the runs still to do, group by group; each finished group is written at once."""
    from actbench.training.engine import Group, GroupTrainer

    exp = ctx.exp
    specs = {a.label: a for a in exp.activation_specs}
    archs = {m.label: m for m in exp.architectures}
    trainer = GroupTrainer(exp, adapter)
    config_hash = exp.config_hash()

    def on_epoch(epoch: int, epochs: int) -> None:
        ctx.reporter.epoch(epoch, epochs)
        ctx.stop_if_signalled()  # before the group's rows are written: it is redone on resume

    for group in plan.groups(ctx.todo):
        batches = [group] if ctx.engine == "packed" else [[r] for r in group]
        for runs in batches:
            ctx.reporter.group_start(runs, ctx.engine)
            first = runs[0]
            arch = archs[first.model]
            job = Group(
                prepared[first.dataset], arch, [specs[r.activation] for r in runs], first.seed, exp.training_for(arch)
            )
            run_results = _train_isolating_failures(trainer, job, on_epoch, adapter.name)
            ctx.stop_if_signalled()  # a signal swallowed after the last epoch: not written either
            n_classes = prepared[first.dataset].num_classes
            done = list(zip(runs, run_results))
            ctx.out.add(
                [results.run_row(config_hash, r.key, res.run.values(), n_classes) for r, res in done],
                [row for r, res in done for row in results.epoch_rows(config_hash, r.key, res.epochs)],
            )
            ctx.reporter.group_end(runs, run_results)


def _train_isolating_failures(trainer, job, on_epoch, backend: str) -> list:
    """trainer.train_group(job), except that one activation raising during training (e.g. a custom
    function that fails only on some inputs) does not take its group down: the group's activations
    are then trained one by one (the same numbers as packed: each tower is its sequential run's model),
    and the one that raises alone is recorded as failed, with its reason."""
    from actbench.training.engine import failed_run

    try:
        return trainer.train_group(job, on_epoch=on_epoch)
    except (Interrupted, ActbenchError):
        raise
    except Exception as e:  # the user's activation code, or Keras refusing it: recorded, not fatal
        if is_machine_error(e):  # memory or the file system: no run's fault, so the run stops here
            raise as_machine_error(e, f"training {_describe_job(job)}") from None
        if len(job.specs) == 1:
            return [failed_run(job.specs[0], e, trainer.exp.training.engine, backend)]
        return [
            res
            for spec in job.specs
            for res in _train_isolating_failures(trainer, replace(job, specs=[spec]), on_epoch, backend)
        ]


def _describe_job(job) -> str:
    labels = ", ".join(s.label for s in job.specs)
    return f"{job.data.name} / {job.arch.label} / seed {job.seed}: {labels}"


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def resume_hint(exp_path: str, opts: RunOptions) -> str:
    extra = f" --shard {opts.shard[0]}/{opts.shard[1]}" if opts.shard else ""
    extra += f" --output {opts.output_dir}" if opts.output_dir else ""
    return f"actbench run {exp_path}{extra}"
