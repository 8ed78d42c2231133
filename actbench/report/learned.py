"""Learned activation parameters by epoch: one panel per (layer, parameter) of epochs.csv's
param/<layer>/<parameter> columns, every activation that learns it in its colour (mean over
seeds, band = min..max), the values after each epoch."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from actbench import activations
from actbench.analysis.stats import numeric

from .plots import DPI, _draw_bands


def learned_columns(e: pd.DataFrame) -> list[str]:
    """param/<layer>/<parameter> columns with values: the common parameters first, pau's coefficients after."""
    cols = [c for c in e.columns if str(c).startswith("param/") and numeric(e[c]).notna().any()]
    pau = set(activations.get("pau").params)
    return sorted(cols, key=lambda c: (c.rsplit("/", 1)[1] in pau, c))


def plot_learned(e: pd.DataFrame, acts: list[str], colors: dict, title: str, path: Path) -> Path | None:
    """The figure, or None when nothing was learned."""
    import matplotlib.pyplot as plt

    cols = learned_columns(e)
    if not cols:
        return None
    ncols = min(len(cols), 4)
    nrows = math.ceil(len(cols) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.6 * ncols, 2.6 * nrows + 1.4), squeeze=False, dpi=DPI)
    shown: dict = {}
    for k, col in enumerate(cols):
        ax = axes[k // ncols][k % ncols]
        learners = [a for a in acts if numeric(e.loc[e["activation"] == a, col]).notna().any()]
        _draw_bands(ax, e, col, learners, colors, alpha=0.2)
        ax.set_title(col.split("/", 1)[1], fontsize=9)
        ax.grid(alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            shown.setdefault(label, handle)
    for k in range(len(cols), nrows * ncols):
        axes[k // ncols][k % ncols].set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("epoch")
    fig.suptitle(f"Learned activation parameters: {title} (mean over seeds; band = min..max)", fontsize=10)
    fig.legend(list(shown.values()), list(shown), loc="lower center", ncol=min(len(shown), 6), fontsize=8)
    fig.tight_layout(rect=(0, 0.9 / fig.get_figheight(), 1, 1 - 0.5 / fig.get_figheight()))
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path
