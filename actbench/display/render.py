"""The only module that talks to the terminal.

On a terminal: rich progress bars (runs overall, epochs of the current group, with
ETA). Elsewhere (CI logs, pipes): one plain line per event, no spinners.
"""

from __future__ import annotations

import math
import sys
import textwrap
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from . import numbers as fmt

if TYPE_CHECKING:  # annotations only: `validate` should not wait for pandas to import
    import pandas as pd

# Logs are read in wide windows: do not wrap tables at 80 columns there.
console = Console() if Console().is_terminal else Console(width=160)
err_console = Console(stderr=True)


def error(message: str) -> None:
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, markup=True, soft_wrap=True)


def warn(message: str) -> None:
    err_console.print(f"[yellow]warning:[/] {message}", highlight=False, soft_wrap=True)


def info(message: str) -> None:
    console.print(message, highlight=False, soft_wrap=True)


def _group_label(runs) -> str:
    first = runs[0]
    acts = ", ".join(r.activation for r in runs)
    return f"{first.dataset} / {first.model} / seed {first.seed}: {acts}"


class PlainReporter:
    """Line-per-event progress for logs."""

    def __init__(self, out=None):
        self.out = out or sys.stdout
        self.done = 0
        self.total = 0
        self.first_group_started: float | None = None  # for the time estimate after the first group
        self.estimated = False

    def _print(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def stop(self) -> None:
        """Nothing to release: the lines are printed already."""

    def start(self, exp, output_dir, total, done, todo, notes):
        self.total, self.done = total, done
        self._print(f"actbench: {exp.name} -> {output_dir} (config {exp.config_hash()}, engine {exp.training.engine})")
        for note in notes:
            self._print(f"note: {note}")
        if done:
            self._print(f"{done} of {total} runs already done, running {todo}")
        else:
            self._print(f"running {todo} runs")

    def group_start(self, runs, engine):
        self._mark_first_start()
        span = f"{self.done + 1}" if len(runs) == 1 else f"{self.done + 1}-{self.done + len(runs)}"
        self._print(f"[{span}/{self.total}] {_group_label(runs)}")

    def epoch(self, epoch, epochs):
        self._print(f"  epoch {epoch}/{epochs} done")

    def group_end(self, runs, run_results):
        self.done += len(runs)
        for run, res in zip(runs, run_results):
            r = res.run
            if r.get("failed"):
                self._print(f"  {run.activation}: FAILED: {escape(r['failure'])}")
            elif r["diverged"]:
                self._print(f"  {run.activation}: DIVERGED at epoch {r['diverged_epoch']:.0f}")
            else:
                self._print(
                    f"  {run.activation}: test accuracy {r['test_accuracy']:.4f}, "
                    f"loss {r['test_loss']:.4f}, {r['seconds_per_epoch']:.1f} s/epoch ({r['timing']})"
                )

        self._estimate(len(runs))

    def _mark_first_start(self) -> None:
        if self.first_group_started is None:
            self.first_group_started = time.monotonic()

    def _estimate(self, runs_in_group: int) -> None:
        """Once, after the first group: the rest's time at the first group's pace per run (an upper
        estimate: the first group also traced the training functions and ran the timing pass)."""
        left = self.total - self.done
        if self.estimated or self.first_group_started is None or left <= 0:
            return
        self.estimated = True
        per_run = (time.monotonic() - self.first_group_started) / runs_in_group
        self._print(
            f"estimate: about {fmt.duration(per_run * left)} for the {left} runs left "
            f"(at the first group's {per_run:.1f} s per run)"
        )

    def finish(self, outcome, exp):
        render_summary(outcome.summary, outcome.output_dir)


class RichReporter(PlainReporter):
    """Progress bars for a terminal."""

    def __init__(self):
        super().__init__()
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self.runs_task = self.epochs_task = None

    def _print(self, text: str) -> None:
        self.progress.console.print(text, highlight=False)

    def start(self, exp, output_dir, total, done, todo, notes):
        super().start(exp, output_dir, total, done, todo, notes)
        self.progress.start()
        self.runs_task = self.progress.add_task("runs", total=total, completed=done)
        self.epochs_task = self.progress.add_task("epochs", total=exp.training.epochs)

    def group_start(self, runs, engine):
        self._mark_first_start()
        self.progress.update(self.epochs_task, completed=0, description=f"epochs [dim]{_group_label(runs)}[/]")

    def epoch(self, epoch, epochs):
        self.progress.update(self.epochs_task, completed=epoch, total=epochs)

    def group_end(self, runs, run_results):
        super().group_end(runs, run_results)
        self.progress.update(self.runs_task, completed=self.done)

    def finish(self, outcome, exp):
        self.stop()
        super().finish(outcome, exp)

    def stop(self):
        self.progress.stop()


def reporter_for_terminal():
    return RichReporter() if console.is_terminal else PlainReporter()


class DownloadProgress:
    """Dataset downloads: datasets.fetch calls this with (label, bytes done, total or None, finished).
    The bars go to stderr and stop once every file is finished (before a run's own progress starts)."""

    def __init__(self) -> None:
        self.progress: Progress | None = None
        self.tasks: dict[str, TaskID] = {}

    def __call__(self, label: str, done: int, total: int | None, finished: bool) -> None:
        if self.progress is None:
            self.progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                console=err_console,
                transient=False,
            )
            self.progress.start()
            self.tasks = {}
        if label not in self.tasks:
            self.tasks[label] = self.progress.add_task(label, total=total)
        self.progress.update(self.tasks[label], completed=done, total=total)
        if finished:
            task = self.tasks.pop(label)
            if done == 0 or (total is not None and done < total):  # failed: the error message says why
                self.progress.remove_task(task)
            if not self.tasks:
                self.progress.stop()
                self.progress = None


# ---------------------------------------------------------------- tables

_VERDICT_STYLE = {"better": "green", "worse": "red", "identical": "cyan"}


def _styled_verdict(verdict: str, regression: bool = False) -> str:
    label = fmt.verdict_label(verdict, regression)
    if regression:
        return f"[bold red]{label}[/]"
    style = _VERDICT_STYLE.get(verdict)
    return f"[{style}]{label}[/]" if style else label


def render_summary(summary: pd.DataFrame, output_dir=None) -> None:
    """One table per (dataset, model): mean ± 95% CI over seeds, n beside every mean."""
    if summary is None or summary.empty:
        info("no finished runs to summarise")
        return
    for (dataset, model), part in summary.groupby(["dataset", "model"], sort=False):
        baseline = part["baseline"].iloc[0] if "baseline" in part else None
        title = f"{dataset} / {fmt.model_title(model)}" + (
            f"  (baseline: {baseline})" if isinstance(baseline, str) and baseline else ""
        )
        table = Table(title=title, title_justify="left")
        table.add_column("activation", no_wrap=True)
        table.add_column("n", justify="right", no_wrap=True)
        table.add_column("test acc % ± 95% CI", justify="right", no_wrap=True)
        table.add_column("std", justify="right")
        table.add_column("test loss", justify="right")
        table.add_column("vs baseline (points; ≥ detectable)", justify="right", no_wrap=True)
        table.add_column("s/epoch", justify="right")
        extra = _diagnostic_columns(part)
        for label, _ in extra:
            table.add_column(label, justify="right")
        for _, row in part.iterrows():
            table.add_row(*_summary_cells(row), *[cell(row) for _, cell in extra])
        console.print(table)
    if output_dir is not None:
        info(f"results: {output_dir}/ (runs.csv, epochs.csv, summary.csv, metadata.json)")


def _summary_cells(row) -> list[str]:
    mean, lo, hi = row["test_accuracy_mean"], row["test_accuracy_ci_low"], row["test_accuracy_ci_high"]
    acc = fmt.percent(mean)
    if not math.isnan(lo):
        acc += f" ± {100 * (hi - lo) / 2:.2f}"
    name = ("★ " if bool(row.get("best")) else "") + fmt.activation_name(row)
    diverged = int(row.get("n_diverged", 0) or 0)
    at_chance = int(row.get("n_at_chance", 0) or 0)
    n = (
        f"{int(row['n'])}"
        + (f" ({at_chance} at chance)" if at_chance else "")
        + (f" (+{diverged} diverged)" if diverged else "")
    )
    verdict = row.get("verdict", "")
    mark = _styled_verdict(verdict) if verdict else ""
    if verdict in ("better", "worse", "same") and not math.isnan(row.get("diff_vs_baseline", math.nan)):
        mark = f"{fmt.points(row['diff_vs_baseline'])} {mark}"
        mdd = row.get("min_detectable_drop", math.nan)
        mark += f" (≥{fmt.percent(mdd)})" if not math.isnan(mdd) else ""
    loss = fmt.MISSING if math.isnan(row["test_loss_mean"]) else f"{row['test_loss_mean']:.4f}"
    return [
        name,
        n,
        acc,
        fmt.percent(row["test_accuracy_std"]),
        loss,
        mark,
        fmt.MISSING
        if math.isnan(row.get("seconds_per_epoch_mean", math.nan))
        else f"{row['seconds_per_epoch_mean']:.2f}",
    ]


def _percent_of(column: str) -> Callable[[Any], str]:
    return lambda r: fmt.percent(r[column])


def _diagnostic_columns(part: pd.DataFrame) -> list[tuple[str, Callable[[Any], str]]]:
    cols: list[tuple[str, Callable[[Any], str]]] = []
    if "grad_ratio_min_mean" in part and part["grad_ratio_min_mean"].notna().any():
        cols.append(("grad ratio min", lambda r: fmt.significant(r["grad_ratio_min_mean"])))
    for c in sorted(c for c in part.columns if c.startswith("dead_fraction/") and c.endswith("_mean")):
        if part[c].notna().any():
            layer = c.split("/", 1)[1].removesuffix("_mean")
            cols.append((f"dead % {layer}", _percent_of(c)))
    return cols


def render_rows(title: str, rows: list[dict]) -> None:
    """A plain table of dicts (for `activations`, `datasets`, `validate`)."""
    table = Table(title=title, title_justify="left")
    if not rows:
        info(f"{title}: none")
        return
    for key in rows[0]:
        table.add_column(key)
    for row in rows:
        table.add_row(*[str(v) for v in row.values()])
    console.print(table)


_CHECK_STYLE = {"ok": "green", "info": "dim", "warn": "yellow", "fail": "bold red"}


def render_diagnosis(diagnosis) -> None:
    """doctor's checks, one per line: status, name, then the detail (and the fix) wrapped
    under it at the console's width, so a CI log and an 80-column terminal both read whole."""
    width = max(console.width, 40)

    def wrapped(text: str, indent: str = "") -> str:
        lines = textwrap.wrap(text, width - len(indent), break_on_hyphens=False)
        return "\n".join(indent + escape(line) for line in lines)

    info(wrapped(f"actbench doctor ({diagnosis.backend}): {diagnosis.config}"))
    for check in diagnosis.checks:
        info(f"[{_CHECK_STYLE[check.status]}]{check.status:4}[/] [bold]{escape(check.name)}[/]")
        info(wrapped(check.detail, "     "))
        if check.fix:
            info(wrapped(f"fix: {check.fix}", "     "))
    failed = [c.name for c in diagnosis.checks if c.status == "fail"]
    if failed:
        info(wrapped(f"not ready: {len(failed)} check(s) failed ({', '.join(failed)})."))
    else:
        info("ready: this machine can run the config.")


def render_comparison(cmp, max_drop: float, alpha: float) -> None:
    """compare's table: base vs candidate mean accuracy per (dataset, model, activation)."""
    table = Table(title=f"compare: {cmp.base_source} -> {cmp.cand_source}", title_justify="left")
    rows = cmp.rows
    chance = bool(len(rows)) and bool((rows["base_at_chance"] + rows["cand_at_chance"]).any())
    columns = [
        "dataset",
        "model",
        "activation",
        "base % (n)",
        "cand % (n)",
        *(["at chance"] if chance else []),
        "diff (points)",
        "95% CI of diff",
        "test",
        "p (Holm)",
        "detectable",
        "verdict",
    ]
    for col in columns:
        table.add_column(
            col,
            justify="left" if col in ("dataset", "model", "activation", "test", "verdict") else "right",
            no_wrap=True,
        )
    for _, r in rows.iterrows():
        at_chance = [f"{int(r['base_at_chance'])} → {int(r['cand_at_chance'])}"] if chance else []
        table.add_row(
            str(r["dataset"]),
            str(r["model"]),
            str(r["activation"]),
            fmt.mean_with_n(r["base_mean"], r["base_n"]),
            fmt.mean_with_n(r["cand_mean"], r["cand_n"]),
            *at_chance,
            fmt.points(r["diff"]),
            fmt.interval(r["diff_ci_low"], r["diff_ci_high"]),
            r["test"] or fmt.MISSING,
            fmt.pvalue(r["p_holm"]),
            fmt.percent(r["min_detectable_drop"]),
            _styled_verdict(r["verdict"], bool(r["regression"])),
        )
    console.print(table)
    n = int(rows["regression"].sum())
    rule = f"max drop {100 * max_drop:.2f} points, alpha {alpha} Holm-corrected over {cmp.n_tested} tested row(s)"
    if cmp.identical:
        info(f"[green]no regressions[/]: [cyan]identical results, an exact rerun[/] ({rule})")
    else:
        info(f"[bold red]{n} regression(s)[/] ({rule})" if n else f"[green]no regressions[/] ({rule})")
