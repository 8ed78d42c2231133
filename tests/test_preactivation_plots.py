"""The report's pre-activation histograms: equal-mass bins from the percentile columns, and the
figure drawn from epochs.csv-shaped frames (no Keras)."""

import numpy as np
import pandas as pd
import pytest

from actbench.report.preactivations import equal_mass_histogram, percentile_columns, plot_preactivations

QS = [1, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 99]


def test_equal_mass_histogram_is_the_distribution():
    rng = np.random.default_rng(0)
    sample = rng.normal(0.5, 2.0, 200_000)
    edges, density = equal_mass_histogram(QS, np.percentile(sample, QS))
    assert np.isclose((density * np.diff(edges)).sum(), 0.98)  # p1..p99
    centres = (edges[:-1] + edges[1:]) / 2
    normal = np.exp(-0.5 * ((centres - 0.5) / 2.0) ** 2) / (2.0 * np.sqrt(2 * np.pi))
    np.testing.assert_allclose(density, normal, rtol=0.1)


def test_equal_mass_histogram_merges_empty_bins():
    # relu-like inputs: 30 % exactly 0, so p1..p30 coincide: their mass joins the next bin
    values = np.array([0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7], dtype=float)
    edges, density = equal_mass_histogram(QS, values)
    assert edges[0] == 0 and np.all(np.diff(edges) > 0) and np.isfinite(density).all()
    assert np.isclose((density * np.diff(edges)).sum(), 0.98)


def epochs_frame(shift: float) -> pd.DataFrame:
    rows = []
    for act in ("sigmoid", "swish-learned"):
        for epoch in (1, 2):
            row = {"activation": act, "seed": 0, "epoch": epoch, "param/dense1/beta": 1.0 + 0.1 * epoch}
            for layer in ("conv1", "dense1"):
                row.update({f"pre_p{q}/{layer}": shift * epoch + (q - 50) / 10 for q in QS})
            rows.append(row)
    return pd.DataFrame(rows)


def test_histogram_figure(tmp_path):
    e = epochs_frame(1.0)
    assert sorted(percentile_columns(e)) == ["conv1", "dense1"]
    entries = [{"name": "sigmoid", "label": "sigmoid"}, {"name": "swish", "trainable": True, "label": "swish-learned"}]
    path = plot_preactivations(e, ["sigmoid", "swish-learned"], entries, "t", tmp_path / "preact.png")
    assert path is not None and path.stat().st_size > 10_000
    assert (
        plot_preactivations(
            e.drop(columns=[c for c in e if c.startswith("pre_")]), ["sigmoid"], entries, "t", tmp_path / "x.png"
        )
        is None
    )


@pytest.mark.parametrize("bad", [np.nan])
def test_histogram_figure_skips_missing_epochs(tmp_path, bad):
    e = epochs_frame(0.0)
    e.loc[e.epoch == 1, "pre_p50/conv1"] = bad
    assert plot_preactivations(e, ["sigmoid"], [], "t", tmp_path / "p.png") is not None


def test_learned_parameters_figure(tmp_path):
    from actbench.report.learned import learned_columns, plot_learned

    e = epochs_frame(0.0)
    e.loc[e.activation == "sigmoid", "param/dense1/beta"] = np.nan
    e["param/dense1/a1"] = 0.5  # a pau coefficient: drawn after the common parameters
    assert learned_columns(e) == ["param/dense1/beta", "param/dense1/a1"]
    colors = {"sigmoid": "C0", "swish-learned": "C1"}
    assert plot_learned(e, ["sigmoid", "swish-learned"], colors, "t", tmp_path / "p.png").stat().st_size > 10_000
    assert plot_learned(e.drop(columns=learned_columns(e)), ["sigmoid"], colors, "t", tmp_path / "q.png") is None
