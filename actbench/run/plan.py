"""The run plan: expand the grid, select a shard, and leave out runs already done.

Runs are ordered dataset -> model -> seed -> activation, so that the activations of one
(dataset, model, seed) are adjacent: the packed engine trains each such group together.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from itertools import groupby

from actbench.errors import ConfigError
from actbench.results.keys import RunKey


@dataclass(frozen=True)
class Run:
    dataset: str
    model: str
    activation: str
    seed: int

    @property
    def key(self) -> RunKey:
        return RunKey(self.dataset, self.model, self.activation, self.seed)


def expand(exp) -> list[Run]:
    return [
        Run(d, m.label, a.label, s)
        for d in exp.datasets
        for m in exp.architectures
        for s in exp.seeds
        for a in exp.activation_specs
    ]


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """'K/N' (1-based) -> (K, N)."""
    if text is None:
        return None
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not m or not (1 <= int(m.group(1)) <= int(m.group(2))):
        raise ConfigError(f"--shard: expected K/N with 1 <= K <= N (e.g. 2/4), got '{text}'.")
    return int(m.group(1)), int(m.group(2))


def shard(runs: list[Run], k: int, n: int) -> list[Run]:
    """A deterministic 1/n of the runs, dealt round-robin over the runs ordered seed ->
    dataset -> model -> activation, so each shard gets a balanced mix of datasets and
    activations. The shards partition the plan: together they hold every run once."""
    position = {r: i for i, r in enumerate(runs)}
    dealt = sorted(runs, key=lambda r: (r.seed, r.dataset, r.model, position[r]))
    mine = {r for i, r in enumerate(dealt) if i % n == k - 1}
    return [r for r in runs if r in mine]


def groups(runs: list[Run]) -> list[list[Run]]:
    """Adjacent runs of the same (dataset, model, seed): what the packed engine trains at once."""
    return [list(g) for _, g in groupby(runs, key=lambda r: (r.dataset, r.model, r.seed))]


@dataclass(frozen=True)
class Outline:
    """A plan in a few lines: how many runs per dataset, model and activation, and the
    first and last runs (the whole list when it is short)."""

    total: int
    per_field: dict[str, dict[str, int]]
    head: list[tuple[int, Run]]
    tail: list[tuple[int, Run]]


def outline(runs: list[Run], show: int = 20) -> Outline:
    """Counts in plan order; all runs when there are at most `show`, else the first and last three."""
    per_field = {name: dict(Counter(getattr(r, name) for r in runs)) for name in ("dataset", "model", "activation")}
    return Outline(len(runs), per_field, *_head_and_tail(runs, len(runs), show))


def outline_grid(exp, show: int = 20) -> Outline:
    """outline(expand(exp)) without building the runs: a 100,000-run grid in microseconds."""
    axes = (exp.datasets, [m.label for m in exp.architectures], exp.seeds, exp.labels)
    total = len(axes[0]) * len(axes[1]) * len(axes[2]) * len(axes[3])
    per_field = {
        "dataset": dict.fromkeys(axes[0], total // len(axes[0])),
        "model": dict.fromkeys(axes[1], total // len(axes[1])),
        "activation": dict.fromkeys(axes[3], total // len(axes[3])),
    }
    return Outline(total, per_field, *_head_and_tail(_GridRuns(axes), total, show))


class _GridRuns:
    """The i-th run of expand(exp) by index arithmetic (same order: dataset, model, seed, activation)."""

    def __init__(self, axes):
        self.axes = axes

    def __getitem__(self, i: int) -> Run:
        d, m, s, a = self.axes
        i, ai = divmod(i, len(a))
        i, si = divmod(i, len(s))
        di, mi = divmod(i, len(m))
        return Run(d[di], m[mi], a[ai], s[si])


def _head_and_tail(runs, total: int, show: int) -> tuple[list[tuple[int, Run]], list[tuple[int, Run]]]:
    if total <= max(show, 6):  # the first three and the last three would be all of them
        return [(i + 1, runs[i]) for i in range(total)], []
    return [(i + 1, runs[i]) for i in range(3)], [(i + 1, runs[i]) for i in range(total - 3, total)]
