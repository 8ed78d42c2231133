"""The report's models-compared figure for one dataset: (a) test accuracy per model and activation
with 95% CIs, (b) the smallest first-layer/output-layer gradient-norm ratio per model and
activation on a log axis. Models on the x axis in summary order, one colour per activation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from . import axes as axes_util
from . import plots

GRAD_RATIO_COLUMN = "grad_ratio_min_mean"
GRAD_RATIO_LABEL = "smallest gradient-norm ratio over epochs\n(first layer / output layer, mean over seeds)"


def _offsets(n_acts: int) -> np.ndarray:
    """x offsets of the activations inside one model's slot, so their points do not overlap."""
    step = min(0.8 / max(n_acts, 1), 0.15)
    return (np.arange(n_acts) - (n_acts - 1) / 2) * step


def _table(s: pd.DataFrame, models: list[str], acts: list[str], col: str, scale: float = 1.0) -> np.ndarray:
    """models x activations array of a summary column (NaN where a pair is missing)."""
    if col not in s.columns:
        return np.full((len(models), len(acts)), np.nan)
    wide = s.pivot_table(index="model", columns="activation", values=col, aggfunc="first", dropna=False)
    return scale * wide.reindex(index=models, columns=acts).to_numpy(dtype=float)


def has_grad_ratio(s: pd.DataFrame) -> bool:
    return GRAD_RATIO_COLUMN in s.columns and (pd.to_numeric(s[GRAD_RATIO_COLUMN], errors="coerce") > 0).any()


def _accuracy_panel(ax, s: pd.DataFrame, models: list[str], acts: list[str], colors: dict) -> None:
    mean, lo, hi = (_table(s, models, acts, f"test_accuracy_{k}", 100.0) for k in ("mean", "ci_low", "ci_high"))
    chance = s.assign(_c=axes_util.all_at_chance(s))
    at_chance = np.nan_to_num(_table(chance, models, acts, "_c")).astype(bool)
    below = axes_util.below_axis_mask(mean.ravel(), at_chance.ravel()).reshape(mean.shape)
    x, dx = np.arange(len(models)), _offsets(len(acts))
    for j, a in enumerate(acts):
        shown = np.isfinite(mean[:, j]) & ~below[:, j]
        err = np.vstack([np.nan_to_num(mean[:, j] - lo[:, j]), np.nan_to_num(hi[:, j] - mean[:, j])])
        ax.errorbar(
            x[shown] + dx[j], mean[shown, j], yerr=err[:, shown], fmt="o", ms=5, capsize=3, color=colors[a], label=a
        )
        for i in np.flatnonzero(below[:, j]):
            axes_util.mark_below_axis(ax, x[i] + dx[j], f"{mean[i, j]:.1f}%", colors[a], font=6.5, rotation=90)
    ylim = axes_util.accuracy_ylim(lo.ravel(), hi.ravel(), mean.ravel(), ~below.ravel())
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.set_ylabel("test accuracy (%)")
    note = "\n▼ = below the axis (value printed)" if below.any() else ""
    ax.set_title(f"(a) Test accuracy: mean over seeds, 95% CI{note}", fontsize=10)


def _grad_ratio_panel(ax, s: pd.DataFrame, models: list[str], acts: list[str], colors: dict) -> None:
    ratio = _table(s, models, acts, GRAD_RATIO_COLUMN)
    x, dx = np.arange(len(models)), _offsets(len(acts))
    for j, a in enumerate(acts):
        ok = np.isfinite(ratio[:, j]) & (ratio[:, j] > 0)
        ax.plot(x[ok] + dx[j], ratio[ok, j], "o", ms=6, color=colors[a], label=a)
    axes_util.readable_log_yaxis(ax)
    ax.set_ylabel(GRAD_RATIO_LABEL, fontsize=9)
    ax.set_title("(b) Vanishing gradients: smaller = the first layer learns less", fontsize=10)


def models_figure(s: pd.DataFrame, models: list[str], acts: list[str], colors: dict, dataset: str):
    """The models-compared figure of one dataset's summary rows (tuned rows left out by the caller)."""
    import matplotlib.pyplot as plt

    panels = [_accuracy_panel] + ([_grad_ratio_panel] if has_grad_ratio(s) else [])
    width = max(4.8, 0.75 * len(models) + 2.2)
    fig, axes = plt.subplots(1, len(panels), figsize=(width * len(panels), 4.9), dpi=plots.DPI, squeeze=False)
    rotate = len(models) > 3 or max(len(m) for m in models) > 12
    for ax, panel in zip(axes[0], panels, strict=True):
        panel(ax, s, models, acts, colors)
        ax.set_xticks(np.arange(len(models)), models, rotation=30 if rotate else 0, ha="right" if rotate else "center")
        ax.set_xlim(-0.6, len(models) - 0.4)
        ax.set_xlabel("model")
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(f"{dataset}: models compared", fontsize=11)
    plots.legend_below(fig, axes[0][0])
    return fig


def plot_models(s: pd.DataFrame, models: list[str], acts: list[str], colors: dict, dataset: str, path: Path) -> Path:
    return plots.save_figure(models_figure(s, models, acts, colors, dataset), path)
