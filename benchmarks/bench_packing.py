"""How fast one packed epoch is, by number of towers and TensorFlow thread settings.

    .venv/bin/python benchmarks/bench_packing.py [--repeats 2] [--towers 1 2 4 5]
        [--threads actbench single tf-default] [--fit] [--backend tensorflow|jax]
        [--train-limit N] [--out PATH]

Where the time of a packed run goes on a small CPU machine: each measurement is a fresh
process (TensorFlow's threads can only be set before it runs an op) that loads
Fashion-MNIST with actbench's loader, builds and compiles N towers exactly as the packed
engine does (actbench.training.engine.compile_group; activations cycle through sigmoid, tanh,
relu, leaky_relu, elu), traces on one batch (training and validation), then times ONE
epoch with the 10 % validation set, driven as the engine drives it
(the backend adapter's loop; with --fit, Keras' model.fit instead). It also reads the
machine's idle CPU time over that epoch (Linux /proc/stat; every core that waits
counts), which shows how well the cores are used.

Thread settings: actbench = what backend.configure sets (1 intra-op thread, one inter-op
thread per core: towers run side by side); single = 1 and 1 (one core); tf-default = 0
and 0 (TensorFlow picks, as a plain Keras script gets). Default grid: 5 towers with each
setting, plus 1, 2 and 4 towers with the actbench setting; every combination --repeats
times, the order rotating. On another backend (--backend jax: the GPU check in
benchmarks/README.md) thread settings do not apply: only the tower counts are timed.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, loadavg, machine, median, publish, python_exe, timed, versions  # noqa: E402

ACTIVATIONS = ["sigmoid", "tanh", "relu", "leaky_relu", "elu"]
THREADS = {"actbench": None, "single": (1, 1), "tf-default": (0, 0)}  # None: backend.configure's


def idle_seconds() -> float:
    """Idle CPU seconds of the whole machine since boot (all cores), or NaN off Linux."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
        return int(fields[4]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def worker(args) -> None:
    """One measurement; prints one JSON line."""
    from actbench import config, datasets
    from actbench.training import backends, engine
    from actbench.training.backends.fit import KerasFitLoop

    adapter = backends.for_name(args.backend)
    adapter.configure(deterministic=True)
    if args.backend == "tensorflow" and THREADS[args.threads] is not None:
        import tensorflow as tf

        intra, inter = THREADS[args.threads]
        tf.config.threading.set_intra_op_parallelism_threads(intra)
        tf.config.threading.set_inter_op_parallelism_threads(inter)
    acts = [ACTIVATIONS[i % len(ACTIVATIONS)] for i in range(args.towers)]
    exp = config.Experiment.model_validate(
        {
            "name": "packing",
            "datasets": ["fashion_mnist"],
            "activations": acts,
            "seeds": [0],
            "training": {"epochs": 1, "batch_size": 32, "validation_split": 0.1},
        }
    )
    raw = datasets.load("fashion_mnist", args.data_dir)
    data = datasets.prepare(raw, train_limit=args.train_limit, validation_split=0.1)
    specs = exp.activation_specs
    model, _ = engine.compile_group(data, exp.models[0], specs, 0, exp.training)
    trainer = KerasFitLoop(model) if args.fit else adapter.loop(model)
    n, bs = len(specs), exp.training.batch_size
    start = time.perf_counter()
    # Trace (TensorFlow, fit: one batch) or compile (JAX's compiled loop: a whole epoch and
    # validation pass, whose shapes are part of its programs) before the timed epoch.
    trainer.warm_up(data.x_train, data.y_train, bs, training=True)
    trainer.warm_up(data.x_val, data.y_val, bs, training=False)
    trace = time.perf_counter() - start
    idle0, start = idle_seconds(), time.perf_counter()
    trainer.train_epoch(data.x_train, data.y_train, bs, validation=(data.x_val, data.y_val))
    epoch = time.perf_counter() - start
    print(
        json.dumps(
            {
                "towers": n,
                "threads": args.threads,
                "trace_s": trace,
                "epoch_s": epoch,
                "idle_core_s": idle_seconds() - idle0,
                "cores": os.cpu_count(),
            }
        )
    )


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument(
        "--towers",
        type=int,
        nargs="+",
        default=None,
        help="tower counts to time with the actbench threads (default 1 2 4 5)",
    )
    p.add_argument(
        "--threads",
        nargs="+",
        choices=list(THREADS),
        default=None,
        help="thread settings to time with 5 towers (default: all three)",
    )
    p.add_argument("--fit", action="store_true", help="drive the epoch with model.fit instead of the engine's loop")
    p.add_argument(
        "--backend",
        choices=["tensorflow", "jax"],
        default="tensorflow",
        help="Keras backend (thread settings are TensorFlow's: other backends time tower counts only)",
    )
    p.add_argument("--train-limit", type=int, default=None, help="train on a stratified subset (development)")
    p.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--one-towers", type=int, default=5, help=argparse.SUPPRESS)
    p.add_argument("--one-threads", default="actbench", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        args.towers, args.threads = args.one_towers, args.one_threads
        worker(args)
        return 0

    combos = [(5, t) for t in (args.threads or list(THREADS))] if args.backend == "tensorflow" else []
    combos += [(k, "actbench") for k in (args.towers or [1, 2, 4, 5]) if (k, "actbench") not in combos]
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = args.out or ROOT / "benchmarks" / "results" / f"packing-{stamp}.json"
    rows = []
    for r in range(args.repeats):
        shift = r % len(combos)
        for towers, threads in combos[shift:] + combos[:shift]:
            cmd = [
                python_exe(),
                __file__,
                "--worker",
                "--one-towers",
                str(towers),
                "--one-threads",
                threads,
                "--data-dir",
                args.data_dir,
                "--backend",
                args.backend,
            ]
            if args.train_limit:
                cmd += ["--train-limit", str(args.train_limit)]
            if args.fit:
                cmd.append("--fit")
            load = loadavg()
            _, proc = timed(cmd, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
            row = json.loads(proc.stdout.strip().splitlines()[-1]) | {"round": r + 1, "load": load}
            rows.append(row)
            print(
                f"round {r + 1}: {towers} tower(s), threads {threads}: epoch {row['epoch_s']:.2f} s, "
                f"idle {row['idle_core_s']:.1f} core-s",
                flush=True,
            )

    table = []
    for towers, threads in combos:
        mine = [x for x in rows if x["towers"] == towers and x["threads"] == threads]
        epoch = median([x["epoch_s"] for x in mine])
        table.append(
            {
                "towers": towers,
                "threads": threads,
                "epoch_s": epoch,
                "per_tower_s": epoch / towers,
                "idle_core_s": median([x["idle_core_s"] for x in mine]),
                "trace_s": median([x["trace_s"] for x in mine]),
                "epochs_s": [x["epoch_s"] for x in mine],
            }
        )
    info = {
        "machine": machine(),
        "versions": versions(),
        "command": " ".join([Path(python_exe()).name] + sys.argv),
        "train_limit": args.train_limit,
        "backend": args.backend,
        "driver": "model.fit" if args.fit else "engine loop",
        "rows": rows,
        "table": table,
    }
    header = [
        f"# One packed epoch by towers and threads ({datetime.datetime.now().isoformat(timespec='seconds')})",
        "",
        f"- machine: {info['machine']['cpu_model']}, {info['machine']['cpu_count']} CPUs",
        f"- versions: {', '.join(f'{k} {v}' for k, v in info['versions'].items())}",
        f"- data: Fashion-MNIST, train_limit {args.train_limit}, 10 % validation, batch 32, Adam",
        f"- backend: {args.backend}; epoch driven by: {info['driver']}",
        f"- command: `{info['command']}`",
        "",
    ]
    body = [
        "| towers | threads | epoch (median) | per tower | idle core-s in the epoch | trace | all epochs |",
        "|---|---|---|---|---|---|---|",
    ]
    for t in table:
        body.append(
            f"| {t['towers']} | {t['threads']} | {t['epoch_s']:.2f} s | {t['per_tower_s']:.2f} s | "
            f"{t['idle_core_s']:.1f} | {t['trace_s']:.2f} s | "
            f"{', '.join(f'{e:.1f}' for e in t['epochs_s'])} |"
        )
    publish(out, info, header, body + [""])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
