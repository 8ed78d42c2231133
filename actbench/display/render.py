"""The only module that talks to the terminal.

On a terminal: rich progress bars (runs overall, epochs of the current group, with
ETA). Elsewhere (CI logs, pipes): one plain line per event, no spinners.
"""

from __future__ import annotations

import os
import sys
import textwrap
import time
from typing import TYPE_CHECKING

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
from rich.text import Text

from . import numbers as fmt
from . import table_columns, table_fit

if TYPE_CHECKING:  # annotations only: `validate` should not wait for pandas to import
    import pandas as pd

# Logs (CI, pipes) are read in wide windows: tables are laid out for 160 columns there, or for
# $COLUMNS when it is set; a terminal's own width otherwise (table_fit keeps every cell whole).
LOG_WIDTH = 160
console = Console() if Console().is_terminal or os.environ.get("COLUMNS") else Console(width=LOG_WIDTH)
err_console = Console(stderr=True)


def error(message: str) -> None:
    err_console.print(
        f"[bold red]error:[/] {escape(message)}", highlight=False, markup=True, soft_wrap=_soft(err_console)
    )


def warn(message: str) -> None:
    err_console.print(f"[yellow]warning:[/] {message}", highlight=False, soft_wrap=_soft(err_console))


def info(message: str, soft_wrap: bool | None = None) -> None:
    """A line of text. On a terminal it wraps at spaces (a number is never split over two lines);
    in a log it stays one line. soft_wrap=True keeps it one line everywhere (paths to copy)."""
    console.print(message, highlight=False, soft_wrap=_soft(console) if soft_wrap is None else soft_wrap)


def _soft(out: Console) -> bool:
    return not out.is_terminal


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
            r = res.run  # training.record.RunRecord
            if r.failed:
                self._print(f"  {run.activation}: FAILED: {escape(r.failure)}")
            elif r.diverged:
                self._print(f"  {run.activation}: DIVERGED at epoch {r.diverged_epoch:.0f}")
            else:
                self._print(
                    f"  {run.activation}: test accuracy {r.test_accuracy:.4f}, "
                    f"loss {r.test_loss:.4f}, {r.seconds_per_epoch:.1f} s/epoch ({r.timing})"
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


_BAR_WIDTH = 40  # rich's default


class RichReporter(PlainReporter):
    """Progress bars for a terminal."""

    def __init__(self):
        super().__init__()
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(bar_width=_BAR_WIDTH),
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
        label = escape(_group_label(runs))
        description = f"epochs [dim]{label}[/]"
        if not self._fits_beside_bars(description):  # a narrow terminal: the label goes above the bars
            span = f"{self.done + 1}" if len(runs) == 1 else f"{self.done + 1}-{self.done + len(runs)}"
            self._print(f"[dim]\\[{span}/{self.total}] {label}[/]")
            description = "epochs"
        self.progress.update(self.epochs_task, completed=0, description=description)

    def _fits_beside_bars(self, description: str) -> bool:
        """Whether the bars' row holds this description with every count and time whole: the bar
        (40), 'done/total', elapsed and remaining time (7 each), 'eta', one space between each."""
        counts = max(len(f"{t.total:.0f}/{t.total:.0f}") for t in self.progress.tasks if t.total is not None)
        return _BAR_WIDTH + counts + 7 + 3 + 7 + 5 + Text.from_markup(description).cell_len <= console.width

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


def render_summary(summary: pd.DataFrame, output_dir=None) -> None:
    """One table per (dataset, model): mean ± 95% CI over seeds, n beside every mean. On a narrow
    console the columns that do not fit follow in a second table (table_fit), never squeezed."""
    if summary is None or summary.empty:
        info("no finished runs to summarise")
        return
    for (dataset, model), part in summary.groupby(["dataset", "model"], sort=False):
        baseline = part["baseline"].iloc[0] if "baseline" in part else None
        title = f"{dataset} / {fmt.model_title(model)}" + (
            f"  (baseline: {baseline})" if isinstance(baseline, str) and baseline else ""
        )
        _print_fitted(table_columns.summary_columns(part), title, len(part))
    if output_dir is not None:
        info(f"results: {output_dir}/ (runs.csv, epochs.csv, summary.csv, metadata.json)")


def _print_fitted(columns: list[table_fit.Column], title: str, rows: int) -> None:
    """Print columns as one table when they fit the console, else as several (see table_fit)."""
    for table in table_fit.build(table_fit.fit(columns, console.width), title, rows):
        console.print(table)


def render_rows(title: str, rows: list[dict]) -> None:
    """A plain table of dicts (for `activations`, `datasets`, `validate`): the first column names
    the row (repeated in any second table), the others in their order of importance; text wraps
    at spaces, so a value such as alpha=1.6732632423543772 is never cut."""
    if not rows:
        info(f"{title}: none")
        return
    spec = [(str(key), "left", i, "wrap" if i else "") for i, key in enumerate(rows[0])]
    _print_fitted(table_fit.columns(spec, [[str(v) for v in row.values()] for row in rows]), title, len(rows))


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
    """compare's table: base vs candidate mean accuracy per (dataset, model, activation). On a narrow
    console a dataset or model shared by every row moves into the title, and the test's details
    (CI, test, detectable drop) follow in a second table."""
    rows = cmp.rows
    _print_fitted(table_columns.comparison_columns(cmp), f"compare: {cmp.base_source} -> {cmp.cand_source}", len(rows))
    n = int(rows["regression"].sum())
    rule = f"max drop {100 * max_drop:.2f} points, alpha {alpha} Holm-corrected over {cmp.n_tested} tested row(s)"
    if cmp.identical:
        info(f"[green]no regressions[/]: [cyan]identical results, an exact rerun[/] ({rule})")
    else:
        info(f"[bold red]{n} regression(s)[/] ({rule})" if n else f"[green]no regressions[/] ({rule})")
