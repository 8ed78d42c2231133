"""What each activation receives: histograms of the pre-activation values on the probe batch,
per activation (rows) and activated layer (columns), at the first and the last epoch, on one
x axis per layer (shared by every activation), with the activation's curve drawn over them (right-hand axis).

The histograms come from epochs.csv's percentile columns (pre_p<q>/<layer>, written with
diagnostics.preactivations: true): between the p-th and q-th percentiles lie (q - p) % of the
values, so each bar is an equal-mass bin whose height is that mass over its width (a density).
The 1 % in each tail beyond p1 and p99 is not drawn. Percentiles are averaged over seeds.
The curve is the activation at its configured parameters and, for learned parameters shared
per layer, dashed at the values learned by the last epoch (mean over seeds).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from actbench import activations
from actbench.analysis.stats import numeric

PERCENTILE = re.compile(r"pre_p(\d+)/(.+)")
NOT_PARAMS = ("name", "label", "trainable", "shared")


def percentile_columns(e: pd.DataFrame) -> dict[str, list[tuple[int, str]]]:
    """layer -> [(q, column)] sorted by q, for the layers with pre-activation percentiles."""
    found: dict[str, list[tuple[int, str]]] = {}
    for col in e.columns:
        m = PERCENTILE.fullmatch(str(col))
        if m and numeric(e[col]).notna().any():
            found.setdefault(m.group(2), []).append((int(m.group(1)), col))
    return {layer: sorted(cols) for layer, cols in found.items() if len(cols) >= 2}


def equal_mass_histogram(qs: list[int], values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(edges, densities) of the bins between consecutive percentiles; a bin of zero width
    (many equal values) is merged into its neighbour rather than drawn infinitely tall."""
    edges, masses = [float(values[0])], []
    pending = 0.0
    for k in range(1, len(qs)):
        pending += (qs[k] - qs[k - 1]) / 100.0
        if values[k] > edges[-1]:
            edges.append(float(values[k]))
            masses.append(pending)
            pending = 0.0
    edges_a, masses_a = np.asarray(edges), np.asarray(masses)
    return edges_a, masses_a / np.diff(edges_a) if len(masses_a) else masses_a


def _entry_specs(entries: list[dict]) -> dict[str, tuple[str, dict]]:
    """label -> (registry name, parameters) of the config's built-in activations."""
    specs = {}
    for a in entries:
        name = str(a.get("name", ""))
        if not activations.is_custom(name) and (name in activations.REGISTRY or name in activations.ALIASES):
            specs[str(a.get("label") or name)] = (name, {k: v for k, v in a.items() if k not in NOT_PARAMS})
    return specs


def _learned(rows: pd.DataFrame, layer: str, params: dict) -> dict:
    """The parameters as learned by these rows' epoch (mean over seeds), where recorded per layer."""
    out = {}
    for key in params:
        col = f"param/{layer}/{key}"
        if col in rows and f"param_std/{layer}/{key}" not in rows and numeric(rows[col]).notna().any():
            out[key] = float(numeric(rows[col]).mean())
    return out


def _panel(ax, sub: pd.DataFrame, cols: list[tuple[int, str]], spec, layer: str, x: np.ndarray) -> None:
    """One activation and layer: first- and last-epoch histograms, the curve over them."""
    qs = [q for q, _ in cols]
    first, last = sub["epoch"].min(), sub["epoch"].max()
    for epoch, style in ((first, {"color": "0.55", "fill": True, "alpha": 0.45}), (last, {"color": "C0", "lw": 1.4})):
        rows = sub[sub["epoch"] == epoch]
        values = np.array([numeric(rows[c]).mean() for _, c in cols])
        if np.isfinite(values).all():
            edges, density = equal_mass_histogram(qs, np.maximum.accumulate(values))
            if len(density):
                ax.stairs(density, edges, label=f"epoch {int(epoch)}", **style)
    ax.set_yticks([])
    if spec is None:
        return
    name, params = spec
    curve = ax.twinx()
    f, _ = activations.closed_form(name, params)
    if f is not None:
        curve.plot(x, f(x), color="C3", lw=1.2, label="f (configured)")
        learned = _learned(sub[sub["epoch"] == last], layer, {**activations.get(name).params, **params})
        if learned:
            g, _ = activations.closed_form(name, {**params, **learned})
            curve.plot(x, g(x), color="C3", lw=1.2, ls="--", label="f (learned, last epoch)")
    curve.tick_params(labelsize=7, colors="C3")


def _axis(e: pd.DataFrame, cols: list[tuple[int, str]]) -> np.ndarray:
    """The x points of one layer's column of panels: every activation's p1..p99, both epochs."""
    lo, hi = numeric(e[cols[0][1]]).min(), numeric(e[cols[-1][1]]).max()
    pad = 0.05 * (hi - lo or 1.0)
    return np.linspace(lo - pad, hi + pad, 400)


def plot_preactivations(e: pd.DataFrame, acts: list[str], entries: list[dict], title: str, path: Path) -> Path | None:
    """The histograms figure of one (dataset, model), or None without percentile columns."""
    import matplotlib.pyplot as plt

    layers = percentile_columns(e)
    acts = [a for a in acts if a in set(e["activation"])]
    if not layers or not acts:
        return None
    specs = _entry_specs(entries)
    nrows, ncols = len(acts), len(layers)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 1.9 * nrows + 1.2), squeeze=False, sharex="col")
    for i, act in enumerate(acts):
        for j, (layer, cols) in enumerate(layers.items()):
            x = _axis(e, cols)
            ax = axes[i][j]
            _panel(ax, e[e["activation"] == act], cols, specs.get(act), layer, x)
            ax.set_xlim(x[0], x[-1])
            ax.axvline(0, color="0.7", lw=0.6)
            if i == 0:
                ax.set_title(layer, fontsize=10)
            if j == 0:
                ax.set_ylabel(act, fontsize=8)
    for ax in axes[-1]:
        ax.set_xlabel("pre-activation value")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=8)
    fig.suptitle(
        f"{title}: what each activation receives (probe batch, p1..p99, mean over seeds)\n"
        "grey: first epoch, blue: last epoch; red: the activation (right axis; dashed: as learned)",
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
