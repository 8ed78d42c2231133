"""The run plan: expand the grid, select a shard, and leave out runs already done.

Runs are ordered dataset -> model -> seed -> activation, so that the activations of one
(dataset, model, seed) are adjacent: the packed engine trains each such group together.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import groupby

from .errors import ConfigError
from .results import RunKey


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
    return [Run(d, m.label, a.label, s)
            for d in exp.datasets for m in exp.models for s in exp.seeds for a in exp.activation_specs]


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
    """Counts in plan order; all runs when there are at most `show`, else the first and last few."""
    per_field: dict[str, dict[str, int]] = {"dataset": {}, "model": {}, "activation": {}}
    for field_name, counts in per_field.items():
        for value in (getattr(r, field_name) for r in runs):
            counts[value] = counts.get(value, 0) + 1
    numbered = list(enumerate(runs[:show] if len(runs) <= show else runs[:3], start=1))
    tail = [] if len(runs) <= show else list(enumerate(runs[-3:], start=len(runs) - 2))
    return Outline(len(runs), per_field, numbered, tail)
