"""Time the whole grid: actbench vs. plain Keras, side by side, alternating over rounds.

    .venv/bin/python benchmarks/bench_grid.py [--rounds 3] [--quick] [--engine packed|sequential]
        [--backend tensorflow] [--no-diagnostics] [--out PATH] [--data-dir DIR]

Each round runs both sides (the order alternates between rounds so that drift in the
machine's load hits both alike):
  plain:    one `python benchmarks/plain_keras.py ACTIVATION` process per activation,
            one after the other (what a user does) - wall time of all of them;
  actbench: one `actbench run CONFIG --output TMPDIR --overwrite` process on the same grid
            - wall time including process start-up, data loading and result writing.
Prints the median wall time of each side, the ratio actbench/plain (issue target <= 0.5),
and each side's test accuracy per activation (issue target: within 0.5 points).
Writes JSON and markdown (same name, .md) to --out.
"""

from __future__ import annotations

import argparse
import datetime
import json
import shlex
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    ROOT,
    actbench_cmd,
    loadavg,
    machine,
    median,
    publish,
    python_exe,
    read_runs_csv,
    rounds_table,
    timed,
    versions,
)

DEFAULT_ACTIVATIONS = ["sigmoid", "tanh", "relu", "leaky_relu", "elu"]
DATA_DIR = "/usr/share/datasets/fashion-mnist"
QUICK = {"train_limit": 6000, "test_limit": 1000, "epochs": 1, "rounds": 1}


def make_config(args, path: Path) -> dict:
    training = {
        "optimizer": {"name": "adam", "learning_rate": 0.001},
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "validation_split": args.validation_split,
        "engine": args.engine,
    }
    if args.train_limit:
        training["train_limit"] = args.train_limit
    if args.test_limit:
        training["test_limit"] = args.test_limit
    cfg = {
        "name": "bench-grid",
        "datasets": ["fashion_mnist"],
        "data_dir": args.data_dir,
        "activations": args.activations,
        "seeds": [args.seed],
        "training": training,
        "backend": args.backend,
    }
    if args.no_diagnostics:
        cfg["diagnostics"] = {"gradients": False, "dead_units": False, "saturation": False, "timing": False}
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return cfg


def run_plain(args, log) -> tuple[float, dict]:
    total, accs = 0.0, {}
    for act in args.activations:
        cmd = [
            python_exe(),
            str(ROOT / "benchmarks" / "plain_keras.py"),
            act,
            "--data-dir",
            args.data_dir,
            "--epochs",
            str(args.epochs),
            "--batch-size",
            str(args.batch_size),
            "--validation-split",
            str(args.validation_split),
            "--seed",
            str(args.seed),
        ]
        if args.train_limit:
            cmd += ["--train-limit", str(args.train_limit)]
        if args.test_limit:
            cmd += ["--test-limit", str(args.test_limit)]
        env = None
        if args.backend != "tensorflow":
            import os

            env = dict(os.environ, KERAS_BACKEND=args.backend)
        seconds, proc = timed(cmd, env=env, log=log)
        total += seconds
        line = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")][-1]
        rec = json.loads(line)
        rec["wall_seconds"] = round(seconds, 3)
        accs[act] = rec
    return total, accs


def run_actbench(args, cfg_path: Path, workdir: Path, round_no: int, log, side: str = "actbench") -> tuple[float, dict]:
    out = workdir / f"{side}-round{round_no}"
    exe = shlex.split(args.alt_cmd) if side == "alt" else actbench_cmd()
    cmd = exe + ["run", str(cfg_path), "--output", str(out), "--overwrite"]
    seconds, _ = timed(cmd, log=log)
    runs = {
        r["activation"]: {
            "test_accuracy": float(r["test_accuracy"]),
            "test_loss": float(r["test_loss"]),
            "train_seconds": float(r["train_seconds"]),
            "timing": r.get("timing"),
        }
        for r in read_runs_csv(out / "runs.csv")
    }
    return seconds, runs


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=None, help="alternating rounds (default 3; 1 with --quick)")
    p.add_argument(
        "--quick", action="store_true", help="development subset: train_limit 6000, test_limit 1000, 1 epoch, 1 round"
    )
    p.add_argument("--engine", choices=["packed", "sequential"], default="packed")
    p.add_argument("--backend", choices=["tensorflow", "jax"], default="tensorflow")
    p.add_argument(
        "--no-diagnostics",
        action="store_true",
        help="actbench side with gradients/dead_units/saturation/timing all off",
    )
    p.add_argument("--activations", nargs="+", default=DEFAULT_ACTIVATIONS)
    p.add_argument("--epochs", type=int, default=None, help="default 3 (1 with --quick)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--validation-split", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--train-limit", type=int, default=None)
    p.add_argument("--test-limit", type=int, default=None)
    p.add_argument("--data-dir", default=DATA_DIR)
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="JSON result path (default benchmarks/results/grid-<date>.json); markdown next to it",
    )
    p.add_argument("--keep", action="store_true", help="keep the temp dir with actbench outputs and logs")
    p.add_argument(
        "--alt-cmd",
        default=None,
        metavar="CMD",
        help="a third side 'alt': CMD replaces the `actbench` executable (e.g. a script that "
        "patches the engine, then runs actbench.cli.app) to A/B an engine change",
    )
    args = p.parse_args(argv)
    if args.quick:
        args.train_limit = args.train_limit or QUICK["train_limit"]
        args.test_limit = args.test_limit or QUICK["test_limit"]
    args.epochs = args.epochs or (QUICK["epochs"] if args.quick else 3)
    args.rounds = args.rounds or (QUICK["rounds"] if args.quick else 3)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    args.out = args.out or ROOT / "benchmarks" / "results" / f"grid-{stamp}{'-quick' if args.quick else ''}.json"

    workdir = Path(tempfile.mkdtemp(prefix="actbench-grid-"))
    cfg_path = workdir / "grid.yaml"
    cfg = make_config(args, cfg_path)
    log = open(workdir / "log.txt", "w")
    rounds = []
    print(
        f"grid: {len(args.activations)} activations x 1 seed, {args.epochs} epoch(s), "
        f"train_limit={args.train_limit}, test_limit={args.test_limit}, engine={args.engine}, "
        f"diagnostics={'off' if args.no_diagnostics else 'on'}; {args.rounds} round(s); work dir {workdir}",
        flush=True,
    )
    for r in range(args.rounds):
        sides = ["plain", "actbench"] + (["alt"] if args.alt_cmd else [])
        order = (
            sides[r % len(sides) :] + sides[: r % len(sides)]
            if len(sides) > 2
            else (sides if r % 2 == 0 else sides[::-1])
        )
        rec = {"round": r + 1, "order": order}
        for side in order:
            rec[f"{side}_load_before"] = loadavg()
            t0 = time.time()
            if side == "plain":
                rec["plain_seconds"], rec["plain"] = run_plain(args, log)
            else:
                rec[f"{side}_seconds"], rec[side] = run_actbench(args, cfg_path, workdir, r + 1, log, side)
            print(
                f"  round {r + 1} {side:8s}: {rec[f'{side}_seconds']:7.1f} s  "
                f"(load before {rec[f'{side}_load_before']}, "
                f"started {datetime.datetime.fromtimestamp(t0):%H:%M:%S})",
                flush=True,
            )
        rounds.append(rec)
    log.close()

    plain_med = median([r["plain_seconds"] for r in rounds])
    ab_med = median([r["actbench_seconds"] for r in rounds])
    ratio = ab_med / plain_med
    alt_med = median([r["alt_seconds"] for r in rounds]) if args.alt_cmd else None
    acc = []
    for a in args.activations:
        pa = median([r["plain"][a]["test_accuracy"] for r in rounds])
        aa = median([r["actbench"][a]["test_accuracy"] for r in rounds])
        acc.append({"activation": a, "plain": pa, "actbench": aa, "diff_points": round(100 * (aa - pa), 2)})
        if args.alt_cmd:
            xa = median([r["alt"][a]["test_accuracy"] for r in rounds])
            acc[-1].update({"alt": xa, "alt_diff_points": round(100 * (xa - pa), 2)})
    # Seconds per model-epoch (one activation, one epoch): all-in from each side's wall time,
    # and the plain side's model.fit alone (fit_seconds, compile and validation included).
    model_epochs = len(args.activations) * args.epochs
    per_model_epoch = {
        "plain_all_in": round(plain_med / model_epochs, 3),
        "actbench_all_in": round(ab_med / model_epochs, 3),
        "plain_fit_only": round(
            median([r["plain"][a]["fit_seconds"] for r in rounds for a in args.activations]) / args.epochs, 3
        ),
    }
    result = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "command": " ".join([sys.executable] + sys.argv),
        "machine": machine(),
        "versions": versions(),
        "load_after": loadavg(),
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "actbench_config": cfg,
        "median_seconds": {"plain": round(plain_med, 2), "actbench": round(ab_med, 2)},
        "ratio_actbench_over_plain": round(ratio, 3),
        "seconds_per_model_epoch": per_model_epoch,
        **(
            {
                "alt_cmd": args.alt_cmd,
                "alt_median_seconds": round(alt_med, 2),
                "ratio_alt_over_plain": round(alt_med / plain_med, 3),
            }
            if args.alt_cmd
            else {}
        ),
        "target_ratio": 0.5,
        "meets_speed_target": ratio <= 0.5,
        "accuracy": acc,
        "max_abs_diff_points": max(abs(x["diff_points"]) for x in acc),
        "rounds": rounds,
    }
    m = result["machine"]
    header = [
        f"# actbench vs plain Keras — grid benchmark ({result['date']})",
        "",
        f"- machine: {m['cpu_model']}, {m['cpu_count']} CPUs (affinity {m['cpu_affinity']}), "
        f"load after {result['load_after']}",
        f"- versions: {', '.join(f'{k} {v}' for k, v in result['versions'].items())}",
        f"- grid: fashion_mnist, {', '.join(args.activations)}; seed {args.seed}; {args.epochs} epoch(s), "
        f"batch {args.batch_size}, validation_split {args.validation_split}; train_limit {args.train_limit}, "
        f"test_limit {args.test_limit}; engine {args.engine}; backend {args.backend}; "
        f"diagnostics {'off' if args.no_diagnostics else 'on'}",
        f"- command: `{result['command']}`",
        "",
    ]
    md = rounds_table("side", ["plain", "actbench"] + (["alt"] if args.alt_cmd else []), rounds)
    md += ["", f"**ratio actbench/plain: {ratio:.3f}** (target <= 0.5: {'met' if ratio <= 0.5 else 'NOT met'})"]
    if args.alt_cmd:
        md += [f"**ratio alt/plain: {alt_med / plain_med:.3f}** (alt = `{args.alt_cmd}`)"]
    md += [
        "",
        f"seconds per model-epoch: all-in (median wall time / {model_epochs} model-epochs) plain "
        f"{per_model_epoch['plain_all_in']:.2f}, actbench {per_model_epoch['actbench_all_in']:.2f}; "
        f"plain `model.fit` alone (median fit_seconds / epochs) {per_model_epoch['plain_fit_only']:.2f}",
    ]
    md += [
        "",
        "| activation | plain test acc | actbench test acc | diff (points) |"
        + (" alt test acc | alt diff |" if args.alt_cmd else ""),
        "|---|---|---|---|" + ("---|---|" if args.alt_cmd else ""),
    ]
    for x in acc:
        md.append(
            f"| {x['activation']} | {100 * x['plain']:.2f} | {100 * x['actbench']:.2f} | {x['diff_points']:+.2f} |"
            + (f" {100 * x['alt']:.2f} | {x['alt_diff_points']:+.2f} |" if args.alt_cmd else "")
        )
    md.append("")
    print(f"machine: {m['cpu_model']}, {m['cpu_count']} CPUs; versions: {result['versions']}")
    publish(args.out, result, header, md)
    if not args.keep:
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
