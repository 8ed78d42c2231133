"""Every table and progress line reads whole at 80 and 120 columns, and in a log (160).

Each test renders into a recording console of that width and looks for every number of the
frame as a whole word: not cut (`94…`), not squeezed away (`┃┃`), not split over two lines.
"""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from fake_results import make_frames
from rich.console import Console

from actbench import activations
from actbench.analysis.compare import compare
from actbench.analysis.stats import summarize
from actbench.display import numbers as fmt
from actbench.display import render, table_fit

WIDTHS = [80, 120, render.LOG_WIDTH]


def rendered(monkeypatch, width: int, draw) -> str:
    """What `draw` prints on a terminal of `width` columns, or in a log at LOG_WIDTH."""
    out = Console(width=width, record=True, force_terminal=width != render.LOG_WIDTH, color_system=None)
    monkeypatch.setattr(render, "console", out)
    draw()
    return out.export_text()


def assert_whole(text: str, width: int, values) -> None:
    """Each value appears as a word of its own on one line; nothing is cut or squeezed; no line
    is wider than the console (in a log, lines of text stay whole and only tables must fit)."""
    assert "…" not in text
    assert "┃┃" not in text and "││" not in text
    lines = text.splitlines() if width != render.LOG_WIDTH else [s for s in text.splitlines() if s[:1] in "┏┃┡│└"]
    assert max(len(line) for line in lines) <= width
    missing = [v for v in values if not re.search(rf"(?<![\w.]){re.escape(v)}(?![\w]|\.\d)", text)]
    assert not missing, f"not whole at {width} columns: {missing}\n{text}"


def summary_frame():
    runs, epochs = make_frames(activations=("relu", "gelu", "tanh", "sigmoid", "leaky_relu"), seeds=(0, 1, 2))
    return summarize(runs, epochs, baseline="relu")


def summary_numbers(summary) -> list[str]:
    values = []
    for _, r in summary.iterrows():
        values += [str(r["activation"]), fmt.percent(r["test_accuracy_mean"]), fmt.percent(r["test_accuracy_std"])]
        values += [f"{100 * (r['test_accuracy_ci_high'] - r['test_accuracy_ci_low']) / 2:.2f}"]
        values += [f"{r['test_loss_mean']:.4f}", f"{r['seconds_per_epoch_mean']:.2f}"]
        values += [fmt.significant(r["grad_ratio_min_mean"])]
        values += [fmt.percent(r[c]) for c in summary.columns if c.startswith("dead_fraction/") and c.endswith("_mean")]
        if r["activation"] != "relu":
            values += [fmt.points(r["diff_vs_baseline"]), f"(≥{fmt.percent(r['min_detectable_drop'])})"]
    return values


@pytest.mark.parametrize("width", WIDTHS)
def test_run_summary_shows_every_number_whole(monkeypatch, width):
    summary = summary_frame()
    text = rendered(monkeypatch, width, lambda: render.render_summary(summary, "results/x"))
    assert_whole(text, width, summary_numbers(summary))
    assert "results: results/x/ (runs.csv, epochs.csv, summary.csv, metadata.json)" in " ".join(text.split())


def test_a_wide_terminal_keeps_one_summary_table(monkeypatch):
    summary = summary_frame()
    text = rendered(monkeypatch, 220, lambda: render.render_summary(summary))
    assert text.count("┏") == 1 and "(continued)" not in text
    assert "vs baseline (points; ≥ detectable)" in text  # headers unwrapped, as before


def test_at_80_columns_the_rest_of_the_summary_follows_in_a_second_table(monkeypatch):
    text = rendered(monkeypatch, 80, lambda: render.render_summary(summary_frame()))
    first, second = text.split("(continued)")
    assert "test acc %" in first and "vs baseline" in first
    assert "dead % conv1" in second and "activation" in second  # the key column is repeated


def comparison():
    base_runs, _ = make_frames(activations=("relu", "gelu", "tanh", "sigmoid"), seeds=(0, 1, 2), rng_seed=1)
    cand_runs, _ = make_frames(activations=("relu", "gelu", "tanh", "sigmoid"), seeds=(0, 1, 2), rng_seed=2)
    cand_runs.loc[cand_runs["activation"] == "tanh", "test_accuracy"] -= 0.05  # a regression
    from actbench.results import ResultSet

    def rs(runs, name):
        runs = runs.copy()
        runs["diverged"] = runs["diverged"] == "true"
        return ResultSet(source=name, runs=runs)

    return compare(rs(base_runs, "results/reference/quickstart"), rs(cand_runs, "results/quickstart"))


def comparison_numbers(cmp) -> list[str]:
    values = []
    for _, r in cmp.rows.iterrows():
        values += [str(r["activation"]), fmt.mean_with_n(r["base_mean"], r["base_n"])]
        values += [fmt.mean_with_n(r["cand_mean"], r["cand_n"]), fmt.points(r["diff"])]
        values += [fmt.interval(r["diff_ci_low"], r["diff_ci_high"]), fmt.pvalue(r["p_holm"])]
        values += [fmt.percent(r["min_detectable_drop"]), fmt.verdict_label(r["verdict"], r["regression"])]
    return values


@pytest.mark.parametrize("width", WIDTHS)
def test_compare_shows_every_number_whole(monkeypatch, width):
    cmp = comparison()
    assert cmp.regressed
    text = rendered(monkeypatch, width, lambda: render.render_comparison(cmp, 0.01, 0.05))
    assert_whole(text, width, [*comparison_numbers(cmp), "mnist", "small_cnn"])
    assert "1 regression(s)" in text


def test_compare_at_80_columns_names_the_shared_dataset_and_model_once(monkeypatch):
    text = rendered(monkeypatch, 80, lambda: render.render_comparison(comparison(), 0.01, 0.05))
    assert "dataset: mnist  model: small_cnn" in text
    assert text.count("small_cnn") == 1


@pytest.mark.parametrize("width", WIDTHS)
def test_activations_table_shows_every_word_whole(monkeypatch, width):
    rows = activations.describe()
    text = rendered(monkeypatch, width, lambda: render.render_rows("activations", rows))
    assert_whole(text, width, sorted({word for row in rows for v in row.values() for word in str(v).split()}))


@pytest.mark.parametrize("width", [80, 120])
def test_plain_rows_tables_keep_paths_whole(monkeypatch, width):
    rows = [
        {"name": n, "available": "no", "source": "missing", "where": f"/home/user/.keras/datasets/{n}-archive.npz"}
        for n in ("mnist", "fashion_mnist", "cifar10", "cifar100")
    ]
    text = rendered(monkeypatch, width, lambda: render.render_rows("datasets", rows))
    assert_whole(text, width, [r["where"] for r in rows])


def test_lines_of_text_wrap_between_words_on_a_terminal(monkeypatch):
    rule = "no regressions: identical results, an exact rerun (max drop 1.00 points, alpha 0.05 Holm-corrected)"
    text = rendered(monkeypatch, 80, lambda: render.info(rule))
    assert_whole(text, 80, ["0.05", "1.00", "Holm-corrected"])


def test_the_table_width_rich_draws_is_the_one_fit_counts(monkeypatch):
    columns = [table_fit.Column("a", ["1", "22"]), table_fit.Column("bb", ["333", "4"], justify="right")]
    layout = table_fit.fit(columns, 80)
    text = rendered(monkeypatch, 80, lambda: render.console.print(*table_fit.build(layout, "t", 2)))
    assert max(len(line.rstrip()) for line in text.splitlines()[1:]) == table_fit.table_width([2, 3])


def progress_frame(monkeypatch, width: int, acts) -> str:
    # Not a terminal, so that the record holds the last frame only, not every refresh.
    out = Console(width=width, record=True, force_terminal=False, color_system=None)
    monkeypatch.setattr(render, "console", out)
    reporter = render.RichReporter()
    exp = SimpleNamespace(name="q", config_hash=lambda: "abc", training=SimpleNamespace(engine="packed", epochs=12))
    reporter.start(exp, "results/q", total=10, done=0, todo=10, notes=[])
    runs = [SimpleNamespace(dataset="mnist_sample", model="reference", seed=0, activation=a) for a in acts]
    reporter.group_start(runs, "packed")
    reporter.epoch(3, 12)
    reporter.stop()
    return out.export_text()


def test_progress_at_80_columns_puts_the_group_above_the_bars(monkeypatch):
    acts = ["sigmoid", "tanh", "relu", "leaky_relu", "elu"]
    text = progress_frame(monkeypatch, 80, acts)
    assert_whole(text, 80, ["[1-5/10]", "0/10", "3/12", "eta", "seed", *acts])
    bars = [line for line in text.splitlines() if line.startswith(("runs ", "epochs "))]
    assert len(bars) == 2 and all(re.search(r"\d+:\d\d:\d\d", line) for line in bars)


def test_progress_on_a_wide_terminal_keeps_the_group_in_the_bar(monkeypatch):
    text = progress_frame(monkeypatch, 160, ["relu"])
    assert "epochs mnist_sample / reference / seed 0: relu" in text and "[1/10]" not in text


@pytest.mark.parametrize("width", [80, 120])
def test_download_bars_keep_names_sizes_and_speed_whole(monkeypatch, width):
    out = Console(width=width, record=True, force_terminal=False, color_system=None)
    monkeypatch.setattr(render, "err_console", out)
    bars = render.DownloadProgress()
    label = "fashion_mnist: train-images-idx3-ubyte.gz"
    bars(label, 13_000_000, 26_421_880, False)
    bars.progress.stop()  # type: ignore[union-attr]
    text = out.export_text()
    assert_whole(text, width, [label.split()[1], "13.0/26.4", "MB"])


def test_a_log_honours_columns(tmp_path):
    """Not a terminal (a pipe, a CI log): 160 columns, or $COLUMNS when it is set."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    ref = Path(__file__).resolve().parents[1] / "results" / "reference" / "quickstart"
    code = "from actbench.cli import entry; entry()"
    argv = [sys.executable, "-c", code, "compare", str(ref), str(ref)]
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    wide = subprocess.run(argv, capture_output=True, text=True, env=env, check=True).stdout
    narrow = subprocess.run(argv, capture_output=True, text=True, env={**env, "COLUMNS": "80"}, check=True).stdout
    assert "(continued)" not in wide and wide.count("┏") == 1
    assert (
        "(continued)" in narrow and max(len(line.rstrip()) for line in narrow.splitlines() if line[:1] in "┏┃│└") <= 80
    )
