"""Markdown report with PNG plots for one result dir.

Matplotlib (Agg backend) is imported only when a report is drawn, so importing this module
is cheap and never touches Keras/TensorFlow.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from actbench.analysis.stats import at_chance_mask, diverged_mask, numeric, summarize
from actbench.display import numbers as fmt
from actbench.errors import ResultsError
from actbench.results import (
    AT_CHANCE_MARGIN,
    FIXED_SUMMARY_COLUMNS,
    GROUP_KEYS,
    REPORT_DIR,
    RUN_KEYS,
    TUNED_MODEL,
    ResultSet,
    install_report,
    read_result_set,
    writing,
)

from . import overview as plots_overview
from . import plots as draw
from .learned import plot_learned
from .preactivations import NOT_PARAMS, plot_preactivations

LAYER_PLOTS = (  # (measure, title, log scale, file stem)
    ("grad_norm", "Gradient norm per layer", True, "gradnorm"),
    ("dead_fraction", "Dead-unit fraction per layer", False, "dead"),
    ("saturation", "Saturated-unit fraction per layer", False, "saturation"),
    ("pre_mean", "Mean pre-activation per layer", False, "premean"),
)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(text)).strip("_") or "x"


@dataclass
class WrittenReport:
    paths: list[Path]  # report.md first, then the PNGs
    replaced: list[Path]  # files actbench had not written that --overwrite replaced


def write_report(result_dir: Path, out_dir: Path | None = None, overwrite: bool = False) -> list[Path]:
    """Write report.md and PNG plots for result_dir; return the written paths (report.md first)."""
    return write_report_files(result_dir, out_dir, overwrite).paths


def write_report_files(result_dir: Path, out_dir: Path | None = None, overwrite: bool = False) -> WrittenReport:
    """Write the report into out_dir (default RESULT_DIR/report) beside whatever else is there.

    The files are drawn into a temp folder first, so that their names are known before anything in
    out_dir is touched: actbench's earlier report files (its manifest lists them) are replaced, a
    file of another name is left alone, and one of the same name that actbench did not write is
    refused (ResultsError naming it) unless overwrite."""
    result_dir = Path(result_dir)
    rs = read_result_set(result_dir)
    default = (result_dir if result_dir.is_dir() else result_dir.parent) / REPORT_DIR
    out_dir = Path(out_dir) if out_dir is not None else default
    if out_dir.exists() and not out_dir.is_dir():
        raise ResultsError(f"report: {out_dir} exists and is not a folder; move it, or choose another with -o.")
    with writing(out_dir, "writing the report"):  # a PNG's own write names the PNG (plots.write_png)
        out_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".actbench-report-", suffix=".tmp", dir=out_dir))
        try:
            drawn = _draw_report(result_dir, rs, staging)
            replaced = install_report(staging, out_dir, overwrite)
        finally:
            shutil.rmtree(staging, ignore_errors=True)  # actbench's own temp folder, empty unless refused
    return WrittenReport([out_dir / p.name for p in drawn], replaced)


def _draw_report(result_dir: Path, rs: ResultSet, out_dir: Path) -> list[Path]:
    """report.md and the PNGs, drawn into out_dir (report.md first)."""
    import matplotlib

    matplotlib.use("Agg")
    meta = rs.metadata or {}
    config = meta.get("config") or {}
    baseline = config.get("baseline")
    runs, epochs = _good_frames(rs)
    summary = summarize(rs.runs, rs.epochs, baseline, tune=bool(config.get("tune")))
    entries = [a if isinstance(a, dict) else {"name": a, "label": a} for a in (config.get("activations") or [])]
    order = [str(a.get("label") or a.get("name")) for a in entries]
    acts_all = list(dict.fromkeys([a for a in order if a in set(runs["activation"])] + sorted(set(runs["activation"]))))
    colors = draw.colors(acts_all)

    pngs: list[Path] = []
    md = [f"# actbench report: {config.get('name') or result_dir.name}", ""]
    description = str(config.get("description") or "").strip()
    if description:  # the config's free text: what this result set is for
        md += [description, ""]
    md += _meta_section(meta, rs)
    shapes = _plot_activation_shapes(entries, out_dir / "activations.png")
    if shapes is not None:
        md += [
            "## Activation shapes",
            "",
            "Each activation f and its derivative f' on [-5, 5] (closed forms).",
            "",
            f"![Activation shapes]({shapes.name})",
            "",
        ]
        pngs.append(shapes)
    overview_done: set[str] = set()
    for (dataset, model), sgrp in summary.groupby(["dataset", "model"], sort=False):
        if dataset not in overview_done:
            overview_done.add(dataset)
            in_dataset = summary[summary["dataset"] == dataset]
            section, png = _models_compared(in_dataset, _config_model_order(config), acts_all, colors, out_dir)
            md += section
            pngs += [png] if png is not None else []
        acts = [a for a in acts_all if a in set(sgrp["activation"])]
        r = runs[(runs["dataset"] == dataset) & (runs["model"] == model)]
        e = None if epochs is None else epochs[(epochs["dataset"] == dataset) & (epochs["model"] == model)]
        plots = _plots(sgrp, r, e, acts, colors, baseline, out_dir)
        if e is not None and len(e):
            stem, where = out_dir / f"{_slug(dataset)}-{_slug(model)}", f"{dataset} / {model}"
            png = plot_learned(e, acts, colors, where, Path(f"{stem}-params.png"))
            plots += [("Learned activation parameters by epoch", png)] if png is not None else []
            png = plot_preactivations(e, acts, entries, where, Path(f"{stem}-preact.png"))
            plots += [("Pre-activation histograms, first and last epoch", png)] if png is not None else []
        md += _group_section(sgrp, plots)
        if model == TUNED_MODEL:
            md += _tuning_table(summary[summary["dataset"] == dataset], _config_model_order(config))
        pngs += [p for _, p in plots]

    report_md = out_dir / "report.md"
    report_md.write_text("\n".join(md).rstrip() + "\n", encoding="utf-8")
    return [report_md, *pngs]


def _tuning_table(in_dataset: pd.DataFrame, model_order: list[str]) -> list[str]:
    """Tuned next to untuned: each activation's mean validation / test accuracy under every model
    or variant, the chosen one (highest validation accuracy) in bold."""
    tuned = in_dataset[in_dataset["model"] == TUNED_MODEL].set_index("activation")["tuned_choice"]
    others = in_dataset[in_dataset["model"] != TUNED_MODEL]
    models = [m for m in model_order if m in set(others["model"])]
    models += [m for m in dict.fromkeys(others["model"]) if m not in models]
    cells = others.set_index(["activation", "model"])
    md = [
        "### Tuned vs untuned",
        "",
        "Mean validation accuracy / mean test accuracy (%) of each activation under each model or variant; "
        "**bold**: the one tuning chose (highest validation accuracy; test accuracy is not looked at to choose).",
        "",
        "| activation | " + " | ".join(models) + " |",
        "|---|" + "---:|" * len(models),
    ]
    for act, choice in tuned.items():
        row = []
        for m in models:
            if (act, m) not in cells.index:
                row.append(fmt.MISSING)
                continue
            c = cells.loc[(act, m)]
            text = f"{fmt.percent(c['val_accuracy_mean'])} / {fmt.percent(c['test_accuracy_mean'])}"
            row.append(f"**{text}**" if m == choice else text)
        md.append(f"| {act} | " + " | ".join(row) + " |")
    return md + [""]


def _good_frames(rs: ResultSet) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """runs with keys as text and a _diverged flag; the epochs of non-diverged runs only."""
    runs = rs.runs.copy()
    for k in GROUP_KEYS:
        runs[k] = runs[k].astype(str)
    runs["_diverged"] = diverged_mask(runs).to_numpy()
    epochs = rs.epochs
    if epochs is not None:
        epochs = epochs.copy()
        for k in GROUP_KEYS:
            epochs[k] = epochs[k].astype(str)
        epochs = epochs.merge(runs.loc[~runs["_diverged"], RUN_KEYS], on=RUN_KEYS, how="inner")
    return runs, epochs


def _plots(
    sgrp: pd.DataFrame, r: pd.DataFrame, e: pd.DataFrame | None, acts: list[str], colors: dict, baseline, out_dir: Path
) -> list[tuple[str, Path]]:
    """The PNG plots of one (dataset, model): (title, path) pairs."""
    dataset, model = sgrp["dataset"].iloc[0], sgrp["model"].iloc[0]
    stem, where = f"{_slug(dataset)}-{_slug(model)}", f"{dataset} / {model}"
    plots = []
    if e is not None and len(e):
        plots.append(("Learning curves", draw.plot_curves(e, acts, colors, where, out_dir / f"{stem}-curves.png")))
    plots.append(
        ("Test accuracy", draw.plot_accuracy(sgrp, acts, colors, baseline, where, out_dir / f"{stem}-accuracy.png"))
    )
    if numeric(r.get("seconds_per_epoch", pd.Series(dtype=float))).notna().any():
        plots.append(("Time per epoch", draw.plot_time(r, acts, colors, where, out_dir / f"{stem}-time.png")))
    if e is not None and len(e):
        for measure, title, log, fname in LAYER_PLOTS:
            cols = sorted(c for c in e.columns if c.startswith(measure + "/") and numeric(e[c]).notna().any())
            if cols:
                plots.append(
                    (
                        title,
                        draw.plot_layers(
                            e, cols, acts, colors, log, f"{title}: {where}", out_dir / f"{stem}-{fname}.png"
                        ),
                    )
                )
    return plots


def _config_model_order(config: dict) -> list[str]:
    """The labels of the config's models (or variants) in the order written: summary.csv sorts by name."""
    entries = config.get("models") or config.get("variants") or []
    return [str(m["label"]) for m in entries if isinstance(m, dict) and m.get("label")]


def _models_compared(
    s: pd.DataFrame, config_order: list[str], acts_all: list[str], colors: dict, out_dir: Path
) -> tuple[list[str], Path | None]:
    """The "models compared" section and figure of one dataset's summary rows; nothing for one model.
    Models in the config's order, then any others in summary order. The tuned comparison is left
    out: it mixes variants, so it is no model of its own."""
    s = s[s["model"].astype(str) != TUNED_MODEL]
    in_summary = list(dict.fromkeys(s["model"].astype(str)))
    models = [m for m in config_order if m in in_summary] + [m for m in in_summary if m not in config_order]
    if len(models) < 2:
        return [], None
    dataset = str(s["dataset"].iloc[0])
    acts = [a for a in acts_all if a in set(s["activation"])]
    png = plots_overview.plot_models(s, models, acts, colors, dataset, out_dir / f"{_slug(dataset)}-models.png")
    ratio = (
        " and (b) the smallest ratio of the first layer's gradient norm to the output layer's over the epochs, "
        "on a log scale: the lower it is, the more the gradients vanish on their way back"
        if plots_overview.has_grad_ratio(s)
        else ""
    )
    text = (
        f"The {len(models)} models ({', '.join(models)}) side by side, one colour per activation: "
        f"(a) the test accuracy (mean over seeds with its 95% CI){ratio}."
    )
    return [f"## {dataset}: models compared", "", text, "", f"![{dataset}: models compared]({png.name})", ""], png


def _group_section(sgrp: pd.DataFrame, plots: list[tuple[str, Path]]) -> list[str]:
    """The markdown of one (dataset, model): summary table, diagnostics, plots."""
    md = [f"## {sgrp['dataset'].iloc[0]} / {fmt.model_title(sgrp['model'].iloc[0])}", ""]
    md += _summary_table(sgrp)
    diag_cols = [c for c in sgrp.columns if c not in FIXED_SUMMARY_COLUMNS]
    if diag_cols:
        md += ["### Diagnostics", "", "Run-level diagnostic values from runs.csv, mean over non-diverged seeds.", ""]
        md += _diag_table(sgrp, diag_cols)
    md += ["### Plots", ""]
    for title, path in plots:
        md += [f"**{title}** ([{path.name}]({path.name}))", "", f"![{title}]({path.name})", ""]
    return md


# ---------------------------------------------------------------- markdown


def _plot_activation_shapes(entries: list[dict], path: Path) -> Path | None:
    """f and f' of the config's built-in activations (custom code would need Keras: left out)."""
    from actbench import activations

    specs = []
    for a in entries:
        name = str(a.get("name", ""))
        if not activations.is_custom(name) and (name in activations.REGISTRY or name in activations.ALIASES):
            params = {k: v for k, v in a.items() if k not in NOT_PARAMS}
            specs.append((str(a.get("label") or name), name, params))
    return draw.plot_activation_shapes(specs, path) if specs else None


def _meta_section(meta: dict, rs) -> list[str]:
    lines = []
    h = meta.get("config_hash") or ", ".join(rs.config_hashes)
    lines.append(f"- Config hash: `{h}`")
    if meta.get("backend"):
        lines.append(f"- Backend: {meta['backend']}")
    versions = meta.get("versions") or {}
    if versions:
        lines.append("- Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    devices = meta.get("devices")
    if devices:
        lines.append("- Devices: " + ", ".join(str(d) for d in devices))
    base = (meta.get("config") or {}).get("baseline")
    lines.append(f"- Baseline: {base}" if base else "- Baseline: none")
    if meta.get("merged_from"):
        lines.append("- Merged from: " + ", ".join(f"`{d}`" for d in meta["merged_from"]))
    n_runs = len(rs.runs)
    n_div = int(diverged_mask(rs.runs).sum())
    n_chance = int(at_chance_mask(rs.runs).sum())
    lines.append(
        f"- Runs: {n_runs} finished, {n_div} diverged, {n_chance} at chance "
        f"(test accuracy at most {100 * AT_CHANCE_MARGIN:.0f} points above 1/classes)"
    )
    return lines + [""]


def _summary_table(s: pd.DataFrame) -> list[str]:
    lines = [
        "Test accuracy in percentage points: mean ± half-width of the 95% t-interval over non-diverged seeds "
        "(runs at chance included; n says how many). Rank 1 = not clearly beaten (CIs overlap with the best). "
        "Tests vs the baseline: paired over common seeds, else Welch; p Holm-corrected; detectable = the smallest "
        "difference the test detects with 80% power.",
        "",
        "| rank | activation | test accuracy | 95% CI | n | diverged | Δ vs baseline | test | p (Holm) | detectable "
        "| verdict | epochs to 99% | s/epoch |",
        "|---:|---|---:|---:|---:|---:|---:|---|---:|---:|---|---:|---:|",
    ]
    for r in s.itertuples(index=False):
        if np.isfinite(r.test_accuracy_ci_low):
            half = (r.test_accuracy_ci_high - r.test_accuracy_ci_low) / 2
            acc = f"{fmt.percent(r.test_accuracy_mean)} ± {100 * half:.2f}"
        else:
            acc = fmt.percent(r.test_accuracy_mean)
        ci = (
            f"[{fmt.percent(r.test_accuracy_ci_low)}, {fmt.percent(r.test_accuracy_ci_high)}]"
            if np.isfinite(r.test_accuracy_ci_low)
            else fmt.MISSING
        )
        diff = fmt.MISSING if r.verdict == "baseline" else fmt.points(r.diff_vs_baseline)
        n = f"{r.n} ({r.n_at_chance} at chance)" if r.n_at_chance else f"{r.n}"
        name = f"**{fmt.activation_name(r._asdict())}**" if r.best else fmt.activation_name(r._asdict())
        lines.append(
            f"| {r.rank} | {name} | {acc} | {ci} | {n} | {r.n_diverged} | {diff} | {r.test or fmt.MISSING} | "
            f"{fmt.pvalue(r.p_holm)} | {fmt.percent(r.min_detectable_drop)} | "
            f"{fmt.verdict_label(r.verdict)} | "
            f"{fmt.compact(r.epochs_to_99pct)} | {fmt.compact(r.seconds_per_epoch_mean)} |"
        )
    return lines + [""]


def _diag_table(s: pd.DataFrame, cols: list[str]) -> list[str]:
    names = [c[: -len("_mean")] for c in cols]
    lines = ["| activation | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for _, r in s.iterrows():
        lines.append(f"| {r['activation']} | " + " | ".join(fmt.compact(r[c]) for c in cols) + " |")
    return lines + [""]
