"""Readability of the report's figures, checked on the rendered Agg canvas: log-axis tick labels
that never overlap, legends outside the data, and an accuracy outlier that does not squash the axis."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from fake_results import make_frames  # noqa: E402

from actbench.analysis.stats import summarize  # noqa: E402
from actbench.report import axes as plot_axes  # noqa: E402
from actbench.report import overview as plots_overview
from actbench.report import plots

ACTS = ["relu", "sigmoid"]


def _layer_frame(lo: float, hi: float) -> pd.DataFrame:
    """Two activations whose first-layer gradient norm runs from lo to hi (log-linear and linear)."""
    rows = []
    for act in ACTS:
        for seed in (0, 1):
            for ep in range(1, 6):
                t = (ep - 1) / 4
                norm = lo ** (1 - t) * hi**t if act == "relu" else lo + (hi - lo) * t
                rows.append({"activation": act, "seed": seed, "epoch": ep, "grad_norm/conv1": norm})
                rows[-1]["grad_norm/output"] = hi * (1 - 0.1 * t)
    return pd.DataFrame(rows)


def _visible_y_labels(fig, ax):
    renderer = fig.canvas.get_renderer()
    labels = [t for t in ax.yaxis.get_ticklabels(which="both") if t.get_visible() and t.get_text()]
    lo, hi = ax.get_ylim()
    inside = [t for t in labels if min(lo, hi) <= t.get_position()[1] <= max(lo, hi)]
    return [(t.get_text(), t.get_window_extent(renderer)) for t in inside]


@pytest.mark.parametrize("lo,hi", [(0.003, 1.2), (0.2, 0.9), (1e-5, 3.0), (0.9, 1.3), (0.05, 0.3)])
def test_log_axis_tick_labels_never_overlap(lo, hi):
    fig = plots.layers_figure(
        _layer_frame(lo, hi), ["grad_norm/conv1", "grad_norm/output"], ACTS, plots.colors(ACTS), True, "t"
    )
    fig.canvas.draw()
    for ax in fig.axes:
        assert ax.get_yscale() == "log"
        boxes = _visible_y_labels(fig, ax)
        assert len(boxes) >= 2, [t for t, _ in boxes]  # still readable: at least two values named
        for i, (ti, bi) in enumerate(boxes):
            for tj, bj in boxes[i + 1 :]:
                assert not bi.overlaps(bj), f"{lo}..{hi}: '{ti}' overlaps '{tj}'"
    plt.close(fig)


def _legend_boxes_clear_of_axes(fig):
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    assert legends
    for leg in legends:
        box = leg.get_window_extent(renderer)
        for ax in fig.axes:
            if ax.get_visible():
                assert not box.overlaps(ax.get_window_extent(renderer)), "a legend covers the data area"


def test_legends_outside_the_data_area():
    runs, epochs = make_frames(activations=("relu", "gelu", "tanh", "sigmoid"))
    acts = ["relu", "gelu", "tanh", "sigmoid"]
    colors = plots.colors(acts)
    summary = summarize(runs, epochs, "relu")
    for fig in (
        plots.curves_figure(epochs, acts, colors, "t"),
        plots.layers_figure(
            epochs, ["grad_norm/conv1", "grad_norm/conv2", "grad_norm/output"], acts, colors, True, "t"
        ),
        plots.accuracy_figure(summary, acts, colors, "relu", "t"),
    ):
        _legend_boxes_clear_of_axes(fig)
        plt.close(fig)


def _summary(means: dict[str, float], model: str = "m", at_chance: tuple = ()) -> pd.DataFrame:
    rows = []
    for act, m in means.items():
        rows.append(
            {
                "dataset": "d",
                "model": model,
                "activation": act,
                "n": 3,
                "n_at_chance": 3 if act in at_chance else 0,
                "test_accuracy_mean": m,
                "test_accuracy_ci_low": m - 0.004,
                "test_accuracy_ci_high": m + 0.004,
                "grad_ratio_min_mean": 0.5 if act != "sigmoid" else 0.002,
            }
        )
    return pd.DataFrame(rows)


def test_accuracy_outlier_drawn_below_the_axis_with_its_value():
    means = {"relu": 0.95, "gelu": 0.98, "tanh": 0.90, "sigmoid": 0.1077}
    acts = list(means)
    fig = plots.accuracy_figure(_summary(means), acts, plots.colors(acts), "relu", "t")
    ax = fig.axes[0]
    assert ax.get_ylim()[0] > 50
    texts = [t.get_text() for t in ax.texts]
    assert any("sigmoid" in t and "10.77%" in t and "below axis" in t for t in texts), texts
    plt.close(fig)


def test_accuracy_axis_keeps_all_when_none_is_far_below():
    means = {"relu": 0.95, "gelu": 0.92, "sigmoid": 0.85}
    acts = list(means)
    fig = plots.accuracy_figure(_summary(means), acts, plots.colors(acts), None, "t")
    ax = fig.axes[0]
    assert ax.get_ylim()[0] < 84.6 and not any("below axis" in t.get_text() for t in ax.texts)
    plt.close(fig)


def test_models_figure_panels():
    s = pd.concat(
        [
            _summary({"relu": 0.95, "sigmoid": 0.93}, model="depth1"),
            _summary({"relu": 0.94, "sigmoid": 0.1077}, model="depth5", at_chance=("sigmoid",)),
        ]
    )
    fig = plots_overview.models_figure(s, ["depth1", "depth5"], ACTS, plots.colors(ACTS), "d")
    fig.canvas.draw()
    acc, ratio = fig.axes
    assert [t.get_text() for t in acc.get_xticklabels()] == ["depth1", "depth5"]
    assert acc.get_ylim()[0] > 50 and any("10.8%" in t.get_text() for t in acc.texts)
    assert ratio.get_yscale() == "log" and "gradient-norm ratio" in ratio.get_ylabel()
    points = np.concatenate([line.get_ydata() for line in ratio.get_lines()])
    assert sorted(points) == [0.002, 0.002, 0.5, 0.5]
    _legend_boxes_clear_of_axes(fig)
    plt.close(fig)


def test_models_figure_without_gradient_ratio_has_the_accuracy_panel_only():
    s = pd.concat([_summary({"relu": 0.95, "sigmoid": 0.9}, model=m) for m in ("a", "b", "c")])
    fig = plots_overview.models_figure(
        s.drop(columns="grad_ratio_min_mean"), ["c", "a", "b"], ACTS, plots.colors(ACTS), "d"
    )
    assert len(fig.axes) == 1 and [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["c", "a", "b"]
    plt.close(fig)


@pytest.mark.parametrize(
    "decades,points_per_decade,expected",
    [(0.8, 300, (1, 2, 3, 5)), (0.8, 60, (1, 2, 5)), (1.5, 300, (1, 3)), (2.6, 300, (1,)), (0.8, 20, (1,))],
)
def test_log_label_mantissas_thin_out_with_range_and_axis_size(decades, points_per_decade, expected):
    assert plot_axes.log_label_mantissas(decades, points_per_decade, font_points=10) == expected


def test_learning_curves_zoom_on_the_activations_that_learned():
    _, epochs = make_frames(activations=("relu", "gelu", "sigmoid"))
    stuck = epochs["activation"] == "sigmoid"
    epochs.loc[stuck, "val_accuracy"], epochs.loc[stuck, "val_loss"] = 0.11, 2.30  # at chance throughout
    acts = ["relu", "gelu", "sigmoid"]
    fig = plots.curves_figure(epochs, acts, plots.colors(acts), "t")
    acc, loss = fig.axes[:2]
    learned = epochs[~stuck]
    assert acc.get_ylim()[0] > 0.5 and acc.get_ylim()[0] <= learned["val_accuracy"].min()
    assert loss.get_ylim()[1] < 2.0 and loss.get_ylim()[1] >= learned["val_loss"].max()
    assert "sigmoid (0.11 → 0.11)" in acc.texts[0].get_text() and "above" in loss.texts[0].get_text()
    plt.close(fig)
    fig = plots.curves_figure(epochs[~stuck], acts[:2], plots.colors(acts), "t")
    assert not fig.axes[0].texts  # nobody far below: nothing zoomed, nothing noted
    plt.close(fig)
