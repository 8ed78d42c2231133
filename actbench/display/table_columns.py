"""What each terminal table shows, column by column: its cells as text (format.py's numbers,
rich markup for colour) and how important it is when the console is narrow (table_fit).

render.py prints these; nothing here prints. No pandas import at module level.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rich.markup import escape

from . import numbers as fmt
from .table_fit import Column, columns

if TYPE_CHECKING:
    import pandas as pd

_VERDICT_STYLE = {"better": "green", "worse": "red", "identical": "cyan"}


def _styled_verdict(verdict: str, regression: bool = False) -> str:
    label = fmt.verdict_label(verdict, regression)
    if regression:
        return f"[bold red]{label}[/]"
    style = _VERDICT_STYLE.get(verdict)
    return f"[{style}]{label}[/]" if style else label


# The summary's columns: (header, justify, priority, flags). Priority says what an
# 80-column terminal shows in the first table: the accuracy and its verdict before the rest.
_SUMMARY_COLUMNS = [
    ("activation", "left", 0, ""),
    ("n", "right", 2, "wrap"),
    ("test acc % ± 95% CI", "right", 1, ""),
    ("std", "right", 3, ""),
    ("test loss", "right", 2, ""),
    ("vs baseline (points; ≥ detectable)", "right", 1, "wrap"),
    ("s/epoch", "right", 3, ""),
]


def summary_columns(part: pd.DataFrame) -> list[Column]:
    """One (dataset, model)'s summary columns; the diagnostics last, least important."""
    out = columns(_SUMMARY_COLUMNS, [_summary_cells(row) for _, row in part.iterrows()])
    for label, cell in _diagnostic_columns(part):
        out.append(Column(label, [cell(row) for _, row in part.iterrows()], "right", priority=4))
    return out


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


def comparison_columns(cmp) -> list[Column]:
    """compare's columns; a dataset or model shared by every row may move into the title."""
    rows = cmp.rows
    chance = bool(len(rows)) and bool((rows["base_at_chance"] + rows["cand_at_chance"]).any())
    spec = [c for c in _COMPARISON_COLUMNS if chance or c[0] != "at chance"]
    return columns(spec, [_comparison_cells(r, chance) for _, r in rows.iterrows()])


# (header, justify, priority: 0 for a key, flags): at 80 columns the second table holds the test's details.
_COMPARISON_COLUMNS = [
    ("dataset", "left", 0, "hoist"),
    ("model", "left", 0, "hoist"),
    ("activation", "left", 0, ""),
    ("base % (n)", "right", 1, ""),
    ("cand % (n)", "right", 1, ""),
    ("at chance", "right", 2, ""),
    ("diff (points)", "right", 1, ""),
    ("95% CI of diff", "right", 3, ""),
    ("test", "left", 3, ""),
    ("p (Holm)", "right", 2, ""),
    ("detectable", "right", 3, ""),
    ("verdict", "left", 1, ""),
]


def _comparison_cells(r, chance: bool) -> list[str]:
    at_chance = [f"{int(r['base_at_chance'])} → {int(r['cand_at_chance'])}"] if chance else []
    return [
        escape(str(r["dataset"])),
        escape(str(r["model"])),
        escape(str(r["activation"])),
        fmt.mean_with_n(r["base_mean"], r["base_n"]),
        fmt.mean_with_n(r["cand_mean"], r["cand_n"]),
        *at_chance,
        fmt.points(r["diff"]),
        fmt.interval(r["diff_ci_low"], r["diff_ci_high"]),
        r["test"] or fmt.MISSING,
        fmt.pvalue(r["p_holm"]),
        fmt.percent(r["min_detectable_drop"]),
        _styled_verdict(r["verdict"], bool(r["regression"])),
    ]
