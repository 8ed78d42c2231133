"""Calibrate `actbench compare`: false-alarm and detection rates measured on real trainings.

    .venv/bin/python benchmarks/bench_calibration.py [--train] [--trials 100] [--seeds 40]
        [--only NAME] [--out benchmarks/results/calibration]

Two parts:

1. --train (CPU-heavy, run ONCE): trains --seeds seeds x 3 activations (relu, tanh, elu) of
   small configs with `actbench run` into OUT/<config>/ (runs.csv, epochs.csv, ...), resumable
   (noisy1000 gets half the seeds, the nudged configs a quarter):
     sample2000        mnist_sample, 2,000 training examples, 1 epoch (seed std about 1 point)
     noisy1000         the same with 1,000 training examples (seed std about 2 points)
     sample2000-nudged sample2000 with learning rate 0.0010001 instead of 0.001: the same seeds
                       retrained with slightly different numerics (a stand-in for "another
                       TensorFlow / machine / harmless code change")
     noisy1000-nudged  the same for noisy1000
2. analysis (always; seconds to minutes, no training): reads those runs.csv files and runs the
   real `actbench.analysis.compare.compare` on sampled base/candidate pairs, with and without a
   simulated drop of 1, 2 and 5 points subtracted from every seed of one activation (chosen
   at random) on the candidate side, 3 activations compared at once, --max-drop 1 point:
     unpaired      disjoint random seed sets of k seeds per side (Welch)
     same seeds    the same k seeds on both sides, the candidate an exact rerun (paired)
     same, nudged  the same k seeds, the candidate from the nudged retraining (paired)
   and prints, per cell, how often compare exited 1 (false alarms without a drop, detections
   with one). Also the correlation across activations of one seed (why within-run verdicts
   pair by seed). Writes OUT/calibration.json and OUT/calibration.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, actbench_cmd, loadavg, machine, timed, versions  # noqa: E402

from actbench.analysis.compare import compare  # noqa: E402
from actbench.results import ResultSet, read_runs  # noqa: E402

ACTIVATIONS = ["relu", "tanh", "elu"]
CONFIGS = {  # name -> (train_limit, learning_rate, share of --seeds trained)
    "sample2000": (2000, 0.001, 1.0),
    # Fewer seeds where fewer suffice (the cells draw at most 2 x 5 seeds), as 2 shared cores allow.
    "noisy1000": (1000, 0.001, 0.5),
    "sample2000-nudged": (2000, 0.0010001, 0.25),
    "noisy1000-nudged": (1000, 0.0010001, 0.25),
}
DROPS = [0.0, 0.01, 0.02, 0.05]
SEEDS_PER_SIDE = [3, 5]
MAX_DROP = 0.01
ALPHA = 0.05


def train(out: Path, n_seeds: int, only: str | None) -> dict:
    """actbench run for each calibration config (resumes where a previous call stopped)."""
    seconds = {}
    for name, (train_limit, lr, share) in CONFIGS.items():
        if only and name != only:
            continue
        seeds = list(range(max(int(n_seeds * share), 1)))
        config = {
            "name": f"calibration-{name}",
            "datasets": ["mnist_sample"],
            "activations": ACTIVATIONS,
            "seeds": seeds,
            "baseline": "relu",
            "training": {
                "optimizer": {"name": "adam", "learning_rate": lr},
                "epochs": 1,
                "batch_size": 32,
                "validation_split": 0.0,
                "train_limit": train_limit,
                "engine": "packed",
            },
            "diagnostics": {"gradients": False, "dead_units": False, "saturation": False, "timing": False},
        }
        path = out / f"{name}.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        print(f"training {name}: {len(seeds)} seeds x {len(ACTIVATIONS)} activations, load {loadavg()}", flush=True)
        seconds[name], _ = timed([*actbench_cmd(), "run", str(path), "--output", str(out / name)])
        print(f"  {seconds[name]:.0f} s", flush=True)
    return seconds


def _subset(runs: pd.DataFrame, seeds, drop: float = 0.0, dropped: str | None = None, source: str = "") -> ResultSet:
    part = runs[runs["seed"].isin(list(seeds))].copy()
    if drop:
        part.loc[part["activation"] == dropped, "test_accuracy"] -= drop
    return ResultSet(source=Path(source), runs=part.reset_index(drop=True))


def _trial_pairs(kind: str, rng: np.random.Generator, seeds: np.ndarray, k: int):
    if kind == "unpaired":
        picked = rng.choice(seeds, size=2 * k, replace=False)
        return picked[:k], picked[k:]
    picked = rng.choice(seeds, size=k, replace=False)
    return picked, picked


def rate(
    base: pd.DataFrame, cand: pd.DataFrame, kind: str, k: int, drop: float, trials: int, rng: np.random.Generator
) -> dict:
    """Share of trials in which compare exits 1, and in which the dropped row itself is flagged."""
    seeds = np.array(sorted(set(base["seed"]) & set(cand["seed"])))
    exits = flagged = 0
    tests = set()
    for _ in range(trials):
        bseeds, cseeds = _trial_pairs(kind, rng, seeds, k)
        dropped = str(rng.choice(ACTIVATIONS))
        cmp = compare(_subset(base, bseeds), _subset(cand, cseeds, drop, dropped), max_drop=MAX_DROP, alpha=ALPHA)
        exits += cmp.regressed
        flagged += bool(cmp.rows.set_index("activation").loc[dropped, "regression"])
        tests |= set(cmp.rows["test"])
    return {"exit1": exits / trials, "dropped_row_flagged": flagged / trials, "tests": sorted(tests)}


def analyse(out: Path, trials: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    runs = {name: read_runs(out / name / "runs.csv") for name in CONFIGS if (out / name / "runs.csv").exists()}
    report: dict = {"trials": trials, "max_drop": MAX_DROP, "alpha": ALPHA, "configs": {}, "cells": []}
    for name, df in runs.items():
        acc = df.pivot(index="seed", columns="activation", values="test_accuracy")
        report["configs"][name] = {
            "seeds": int(len(acc)),
            "std_points": {a: round(100 * float(acc[a].std(ddof=1)), 3) for a in acc},
            "mean_points": {a: round(100 * float(acc[a].mean()), 3) for a in acc},
            "corr_across_activations": {
                f"{a}~{b}": round(float(acc[a].corr(acc[b])), 3)
                for i, a in enumerate(ACTIVATIONS)
                for b in ACTIVATIONS[i + 1 :]
            },
            "at_chance": int(df["at_chance"].sum()),
        }
    for name in ("sample2000", "noisy1000"):
        if name not in runs:
            continue
        kinds = [("unpaired", runs[name]), ("same seeds", runs[name])]
        if f"{name}-nudged" in runs:
            kinds.append(("same, nudged", runs[f"{name}-nudged"]))
            report["configs"][name]["corr_with_nudged"] = _nudged_correlation(runs[name], runs[f"{name}-nudged"])
        for kind, cand in kinds:
            for k in [k for k in SEEDS_PER_SIDE if (2 if kind == "unpaired" else 1) * k <= len(runs[name]) // 3]:
                for drop in DROPS:
                    start = time.perf_counter()
                    r = rate(runs[name], cand, "unpaired" if kind == "unpaired" else "paired", k, drop, trials, rng)
                    report["cells"].append(
                        {
                            "config": name,
                            "kind": kind,
                            "k": k,
                            "drop_points": 100 * drop,
                            **r,
                            "seconds": round(time.perf_counter() - start, 1),
                        }
                    )
                    print(
                        f"{name:10s} {kind:13s} k={k} drop={100 * drop:.0f}: exit 1 in {100 * r['exit1']:.1f}% "
                        f"(dropped row flagged {100 * r['dropped_row_flagged']:.1f}%) {r['tests']}",
                        flush=True,
                    )
    return report


def _nudged_correlation(a: pd.DataFrame, b: pd.DataFrame) -> dict:
    """Per activation: correlation over seeds between the run and its nudged rerun, and the spread of the
    per-seed differences (what the paired test sees) next to the seed spread (what Welch sees)."""
    out = {}
    for act in ACTIVATIONS:
        x = a[a["activation"] == act].set_index("seed")["test_accuracy"]
        y = b[b["activation"] == act].set_index("seed")["test_accuracy"].reindex(x.index)
        out[act] = {
            "corr": round(float(x.corr(y)), 3),
            "diff_std_points": round(100 * float((y - x).std()), 3),
            "seed_std_points": round(100 * float(x.std()), 3),
        }
    return out


def markdown(report: dict) -> str:
    lines = [
        "# Calibration of actbench compare",
        "",
        f"{report['trials']} trials per cell; 3 activations (relu, tanh, elu) compared at once; max drop "
        f"{100 * report['max_drop']:.0f} point, alpha {report['alpha']} (Holm across the 3 rows). Command: "
        f"`{report.get('command', '')}`.",
        "",
        "| config | seeds | mean % (relu, tanh, elu) | seed std, points | corr. of one seed's runs across "
        "activations (relu~tanh, relu~elu, tanh~elu) | nudged rerun: std of per-seed differences, points | "
        "runs at chance |",
        "|---|---:|---|---|---|---|---:|",
    ]
    for name, info in report["configs"].items():
        nudged = info.get("corr_with_nudged")
        lines.append(
            f"| {name} | {info['seeds']} | "
            + ", ".join(f"{info['mean_points'][a]:.2f}" for a in ACTIVATIONS)
            + " | "
            + ", ".join(f"{info['std_points'][a]:.2f}" for a in ACTIVATIONS)
            + " | "
            + ", ".join(f"{v:.2f}" for v in info["corr_across_activations"].values())
            + " | "
            + (", ".join(f"{nudged[a]['diff_std_points']:.2f}" for a in ACTIVATIONS) if nudged else "–")
            + f" | {info['at_chance']} |"
        )
    lines += [
        "",
        "Share of trials where compare exits 1 (drop 0: false alarms; otherwise detections of a drop of "
        "one activation on every candidate seed):",
        "",
        "| config | kind | seeds per side | drop 0 | drop 1 | drop 2 | drop 5 |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    cells = pd.DataFrame(report["cells"])
    if len(cells):
        for (name, kind, k), g in cells.groupby(["config", "kind", "k"], sort=False):
            vals = {row.drop_points: f"{100 * row.exit1:.0f}%" for row in g.itertuples()}
            lines.append(f"| {name} | {kind} | {k} | " + " | ".join(vals.get(d, "–") for d in (0, 1, 2, 5)) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", action="store_true", help="train the calibration runs first (CPU-heavy, once)")
    ap.add_argument("--seeds", type=int, default=40)
    ap.add_argument("--trials", type=int, default=100)
    ap.add_argument("--only", choices=list(CONFIGS), help="train only this config")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "calibration")
    ap.add_argument("--markdown-only", action="store_true", help="rewrite calibration.md from calibration.json")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.markdown_only:
        (args.out / "calibration.md").write_text(markdown(json.loads((args.out / "calibration.json").read_text())))
        return
    trained = train(args.out, args.seeds, args.only) if args.train else {}
    report = analyse(args.out, args.trials)
    report.update(train_seconds=trained, machine=machine(), versions=versions(), command=" ".join(sys.argv))
    (args.out / "calibration.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "calibration.md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
