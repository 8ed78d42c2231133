"""Plots (matplotlib, imported lazily): the report's learning curves, accuracy with CIs,
time per epoch and per-layer diagnostics, and the activations' f and f' (also for
`actbench activations --plot`). One PNG per call; each returns its path."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

from actbench.analysis.stats import numeric
from actbench.results import writing

from . import axes as axes_util

DPI = 110


def colors(acts: list[str]) -> dict[str, tuple]:
    import matplotlib

    cmap = matplotlib.colormaps["tab10" if len(acts) <= 10 else "tab20"]
    return {a: cmap(i % cmap.N) for i, a in enumerate(acts)}


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    write_png(fig, path, dpi=DPI)
    plt.close(fig)
    return path


def write_png(fig, path: Path, **options) -> None:
    """fig as a PNG at path, atomically (a temp file renamed over it), so that a full disk never
    leaves half an image; a write error names the path (MachineError)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    with writing(path):
        try:
            fig.savefig(tmp, format="png", **options)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


def _band(e: pd.DataFrame, col: str) -> pd.DataFrame:
    d = e[["seed", "epoch"]].copy()
    d["v"] = numeric(e[col])
    g = d.dropna(subset=["v"]).groupby("epoch")["v"]
    return pd.DataFrame({"mean": g.mean(), "min": g.min(), "max": g.max()}).sort_index()


def _draw_bands(ax, e: pd.DataFrame, col: str, acts, colors, alpha: float) -> None:
    """Per activation: the mean of `col` over seeds by epoch, with a min..max band."""
    for a in acts:
        b = _band(e[e["activation"] == a], col)
        if b.empty:
            continue
        ax.plot(b.index, b["mean"], marker="o", ms=3, color=colors[a], label=a)
        ax.fill_between(b.index, b["min"], b["max"], color=colors[a], alpha=alpha, linewidth=0)


def curves_figure(e: pd.DataFrame, acts, colors, title: str):
    """Accuracy and loss by epoch per activation (validation when there is a split), legend below."""
    import matplotlib.pyplot as plt

    has_val = "val_accuracy" in e.columns and numeric(e["val_accuracy"]).notna().any()
    acc_col = "val_accuracy" if has_val else "accuracy"
    loss_col = "val_loss" if has_val and "val_loss" in e.columns and numeric(e["val_loss"]).notna().any() else "loss"
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6), dpi=DPI)
    for ax, col, label in (
        (axes[0], acc_col, "validation accuracy" if has_val else "training accuracy"),
        (axes[1], loss_col, "validation loss" if loss_col == "val_loss" else "training loss"),
    ):
        _draw_bands(ax, e, col, acts, colors, alpha=0.18)
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.set_title(f"{label.capitalize()}: mean, band = min..max over seeds", fontsize=10)
        ax.grid(alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
    outliers = _curve_outliers(e, acc_col, acts)
    if outliers:  # the y range of the others, so one activation that did not learn hides nobody's curve
        for ax, col in ((axes[0], acc_col), (axes[1], loss_col)):
            _zoom_on_learners(ax, e, col, [a for a in acts if a not in outliers], outliers)
    fig.suptitle(f"Learning curves: {title}")
    legend_below(fig, axes[0])
    return fig


def _curve_outliers(e: pd.DataFrame, acc_col: str, acts) -> list[str]:
    """Activations whose last-epoch mean accuracy is far below the others' (axes.below_axis_mask)."""
    last = [_band(e[e["activation"] == a], acc_col) for a in acts]
    final = np.array([100 * b["mean"].iloc[-1] if len(b) else np.nan for b in last])
    mask = axes_util.below_axis_mask(final, np.zeros(len(acts), dtype=bool))
    return [a for a, out in zip(acts, mask) if out]


def _zoom_on_learners(ax, e: pd.DataFrame, col: str, learners: list[str], outliers: list[str]) -> None:
    """y limits from the learners' bands; the outliers' curves (drawn, clipped) named in a note."""
    bands = [_band(e[e["activation"] == a], col) for a in learners]
    values = np.concatenate([b[["min", "max"]].to_numpy(float).ravel() for b in bands if len(b)] or [np.array([])])
    values = values[np.isfinite(values)]
    if not len(values):
        return
    low, high = float(values.min()), float(values.max())
    pad = max(0.08 * (high - low), 1e-3)
    ax.set_ylim(low - pad, high + pad)
    notes = []
    for a in outliers:
        b = _band(e[e["activation"] == a], col)
        if len(b):
            notes.append(f"{a} ({b['mean'].iloc[0]:.3g} → {b['mean'].iloc[-1]:.3g})")
    where = "below" if col.endswith("accuracy") else "above"
    ax.text(0.01, 0.02, f"off the axis ({where}): " + ", ".join(notes), transform=ax.transAxes, fontsize=7, color="0.3")


def plot_curves(e: pd.DataFrame, acts, colors, title: str, path: Path) -> Path:
    return save_figure(curves_figure(e, acts, colors, title), path)


def legend_below(fig, ax) -> None:
    """The activation legend under the axes (outside the data, so it hides no line), then the layout."""
    handles, labels = ax.get_legend_handles_labels()
    ncol = min(len(labels), 6) or 1
    fig.legend(handles, labels, title="activation", loc="lower center", ncol=ncol, fontsize=8, title_fontsize=8)
    legend_lines = 1 + math.ceil(len(labels) / ncol)  # title + rows of entries
    fig.tight_layout(rect=(0, (0.12 + 0.17 * legend_lines) / fig.get_figheight(), 1, 1))


def accuracy_figure(s: pd.DataFrame, acts, colors, baseline, title: str):
    """Test accuracy per activation (mean, 95% CI); the y range is chosen from those that learned,
    the others are marked at the bottom edge with their value."""
    import matplotlib.pyplot as plt

    s = s.set_index("activation").reindex(acts)
    fig, ax = plt.subplots(figsize=(max(5.5, 0.9 * len(acts) + 3.5), 4.4), dpi=DPI)
    x = np.arange(len(acts))
    mean, lo, hi = (100 * s[f"test_accuracy_{k}"].to_numpy(dtype=float) for k in ("mean", "ci_low", "ci_high"))
    below = axes_util.below_axis_mask(mean, axes_util.all_at_chance(s))
    err = np.vstack([np.nan_to_num(mean - lo), np.nan_to_num(hi - mean)])
    for i, a in enumerate(acts):
        n = int(s.loc[a, "n"]) if np.isfinite(s.loc[a, "n"]) else 0
        if below[i]:
            axes_util.mark_below_axis(ax, x[i], f"{a}\n{mean[i]:.2f}%\n(below axis)", colors[a])
            continue
        ax.errorbar(x[i], mean[i], yerr=err[:, i : i + 1], fmt="o", ms=7, capsize=6, color=colors[a])
        ax.annotate(
            f"{mean[i]:.2f}\nn={n}" if np.isfinite(mean[i]) else f"n={n}",
            (x[i], mean[i] if np.isfinite(mean[i]) else 0),
            textcoords="offset points",
            xytext=(12, 0),
            va="center",
            fontsize=8,
        )
    if baseline in acts and np.isfinite(mean[acts.index(baseline)]) and not below[acts.index(baseline)]:
        ax.axhline(mean[acts.index(baseline)], color="grey", ls="--", lw=1, label=f"baseline ({baseline})")
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    ylim = axes_util.accuracy_ylim(lo, hi, mean, ~below)
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.set_xticks(x, acts, rotation=20 if len(acts) > 5 else 0)
    ax.set_xlim(-0.6, len(acts) - 0.2)
    ax.set_xlabel("activation")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"Test accuracy: {title}\n(mean over seeds, 95% CI)", fontsize=11)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def plot_accuracy(s: pd.DataFrame, acts, colors, baseline, title: str, path: Path) -> Path:
    return save_figure(accuracy_figure(s, acts, colors, baseline, title), path)


def plot_time(r: pd.DataFrame, acts, colors, title: str, path: Path) -> Path:
    import matplotlib.pyplot as plt

    ok = r[~r["_diverged"]].copy()
    ok["spe"] = numeric(ok["seconds_per_epoch"])
    g = ok.groupby("activation")["spe"]
    mean, std = g.mean().reindex(acts), g.std(ddof=1).reindex(acts)
    fig, ax = plt.subplots(figsize=(max(5.0, 0.9 * len(acts) + 2.5), 4.2))
    x = np.arange(len(acts))
    ax.bar(
        x,
        mean.to_numpy(dtype=float),
        yerr=np.nan_to_num(std.to_numpy(dtype=float)),
        capsize=5,
        color=[colors[a] for a in acts],
        alpha=0.85,
    )
    ax.set_xticks(x, acts, rotation=20 if len(acts) > 5 else 0)
    ax.set_xlabel("activation")
    ax.set_ylabel("seconds per epoch")
    ax.set_title(f"Time per epoch: {title}\n(mean ± std over seeds)", fontsize=11)
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path)


def layers_figure(e: pd.DataFrame, cols: list[str], acts, colors, log: bool, title: str):
    """One panel per layer column: the measure by epoch per activation; log y with readable labels."""
    import matplotlib.pyplot as plt

    n = len(cols)
    ncols = n if n <= 3 else (2 if n == 4 else 3)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.4 * ncols, 3.4 * nrows + 0.9), squeeze=False, dpi=DPI)
    for k, col in enumerate(cols):
        ax = axes[k // ncols][k % ncols]
        _draw_bands(ax, e, col, acts, colors, alpha=0.15)
        if log and (numeric(e[col]) > 0).any():
            axes_util.readable_log_yaxis(ax)
        elif not log and (numeric(e[col]).dropna() >= 0).all():
            ax.set_ylim(bottom=0)  # fractions: no negative part of the axis
        ax.set_title(col.split("/", 1)[1], fontsize=10)
        ax.set_xlabel("epoch")
        ax.set_ylabel(col.split("/", 1)[0])
        ax.grid(alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
    for k in range(n, nrows * ncols):
        axes[k // ncols][k % ncols].set_visible(False)
    fig.suptitle(f"{title}\n(mean over seeds; band = min..max)", fontsize=11)
    legend_below(fig, axes[0][0])
    return fig


def plot_layers(e: pd.DataFrame, cols: list[str], acts, colors, log: bool, title: str, path: Path) -> Path:
    return save_figure(layers_figure(e, cols, acts, colors, log, title), path)


def save_figure(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    write_png(fig, path, dpi=DPI)
    plt.close(fig)
    return path


def plot_activation_shapes(specs: list[tuple[str, str, dict]], path: str | Path) -> Path:
    """Plot each activation and its derivative on [-5, 5] into a PNG.

    specs: (label, name, params). Closed forms where known, else the Keras function
    evaluated (and differentiated numerically) for custom code: activations.sampled.
    """
    import matplotlib

    from actbench import activations

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = np.linspace(-5, 5, 1001)
    fig, (ax_f, ax_d) = plt.subplots(1, 2, figsize=(11, 4.2), dpi=110)
    for label, name, params in specs:
        y, dy = activations.sampled(name, params, x)
        ax_f.plot(x, y, label=label)
        ax_d.plot(x, dy, label=label)
    ax_f.set_title("f(x)")
    ax_d.set_title("f'(x)")
    for ax in (ax_f, ax_d):
        ax.axhline(0, color="0.6", lw=0.6)
        ax.axvline(0, color="0.6", lw=0.6)
        ax.set_xlabel("x")
        ax.grid(alpha=0.3)
    ax_f.set_ylim(-2, 5)
    ax_d.set_ylim(-0.3, 1.5)
    ax_d.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    path = Path(path)
    with writing(path.parent, "creating the plot's dir"):
        path.parent.mkdir(parents=True, exist_ok=True)
    write_png(fig, path)
    plt.close(fig)
    return path
