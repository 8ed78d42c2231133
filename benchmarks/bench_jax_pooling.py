"""What the deterministic max pooling costs on JAX: Keras' MaxPooling2D against
FirstMaxPooling2D (actbench/training/backends/jax_pooling.py), one training epoch each, in turns.

    .venv/bin/python benchmarks/bench_jax_pooling.py [--towers 1 5] [--repeats 5]
        [--train-limit 6000] [--whole-epoch] [--out PATH]

One process (KERAS_BACKEND=jax) builds the packed model of N towers exactly as the engine
does (engine.compile_group, activations cycling sigmoid, tanh, relu, leaky_relu, elu) twice:
once with Keras' pooling, once with actbench's. Both are compiled first, then their epochs
alternate (stock, ours, stock, ...), so a load that comes and goes on the machine falls on
both alike; the medians and their ratio are printed and written as JSON. It also checks
that both give the same metrics, bit for bit, which they must on the CPU.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import time
from pathlib import Path

os.environ["KERAS_BACKEND"] = "jax"
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, loadavg, machine, median, publish, versions  # noqa: E402

ACTIVATIONS = ["sigmoid", "tanh", "relu", "leaky_relu", "elu"]


def build(data, towers: int, stock: bool, whole_epoch: bool):
    """A compiled packed model of `towers` towers and its loop; Keras' pooling when stock."""
    from actbench import config
    from actbench.training import engine
    from actbench.training.backends.base import Backend
    from actbench.training.backends.jax import JaxBackend
    from actbench.training.backends.jax_loop import CompiledEpochLoop

    exp = config.Experiment.model_validate(
        {
            "name": "pooling",
            "datasets": ["fashion_mnist"],
            "activations": [ACTIVATIONS[i % len(ACTIVATIONS)] for i in range(towers)],
            "seeds": [0],
            "backend": "jax",
            "training": {"epochs": 1, "batch_size": 32, "validation_split": 0.1},
        }
    )
    ours = JaxBackend.max_pooling_2d
    if stock:
        JaxBackend.max_pooling_2d = Backend.max_pooling_2d  # type: ignore[method-assign]
    try:
        model, _ = engine.compile_group(data, exp.models[0], exp.activation_specs, 0, exp.training)
    finally:
        JaxBackend.max_pooling_2d = ours  # type: ignore[method-assign]
    loop = CompiledEpochLoop(model, whole_epoch=whole_epoch)
    loop.warm_up(data.x_train, data.y_train, 32, training=True)
    loop.warm_up(data.x_val, data.y_val, 32, training=False)
    return loop


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--towers", type=int, nargs="+", default=[1, 5])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--train-limit", type=int, default=6000)
    p.add_argument("--whole-epoch", action="store_true", help="time the whole-epoch scan (the GPU default)")
    p.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)

    from actbench import datasets
    from actbench.training import backends

    backends.for_name("jax").configure(deterministic=True)
    data = datasets.prepare(
        datasets.load("fashion_mnist", args.data_dir), train_limit=args.train_limit, validation_split=0.1
    )
    table = []
    for towers in args.towers:
        loops = {
            "stock": build(data, towers, True, args.whole_epoch),
            "ours": build(data, towers, False, args.whole_epoch),
        }
        times: dict[str, list[float]] = {"stock": [], "ours": []}
        logs = {}
        for r in range(args.repeats):
            for name in ("stock", "ours") if r % 2 == 0 else ("ours", "stock"):
                start = time.perf_counter()
                logs[name] = loops[name].train_epoch(
                    data.x_train, data.y_train, 32, validation=(data.x_val, data.y_val)
                )
                times[name].append(time.perf_counter() - start)
        row = {
            "towers": towers,
            "stock_epoch_s": median(times["stock"]),
            "ours_epoch_s": median(times["ours"]),
            "ratio": median(times["ours"]) / median(times["stock"]),
            "times": times,
            "same_metrics": logs["stock"] == logs["ours"],
        }
        table.append(row)
        print(
            f"{towers} tower(s): Keras pooling {row['stock_epoch_s']:.2f} s, actbench's {row['ours_epoch_s']:.2f} s "
            f"per epoch (x{row['ratio']:.3f}); same metrics: {row['same_metrics']}",
            flush=True,
        )
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = args.out or ROOT / "benchmarks" / "results" / f"jax-pooling-{stamp}.json"
    info = {
        "machine": machine(),
        "versions": versions(),
        "command": " ".join(["python"] + sys.argv),
        "train_limit": args.train_limit,
        "loop": "whole epoch" if args.whole_epoch else "stepwise",
        "load": loadavg(),
        "table": table,
    }
    header = [
        f"# JAX epoch with Keras' pooling vs actbench's ({info['loop']} loop, {args.train_limit} examples, batch 32)",
        "",
        f"Machine: {info['machine']['cpu_model']}, {info['machine']['cpu_count']} cores. "
        f"Load average at the end: {info['load']}.",
        "",
    ]
    body = [
        "| towers | Keras MaxPooling2D s/epoch | FirstMaxPooling2D s/epoch | ratio | same metrics |",
        "|---|---|---|---|---|",
    ]
    body += [
        f"| {r['towers']} | {r['stock_epoch_s']:.3f} | {r['ours_epoch_s']:.3f} | {r['ratio']:.3f} "
        f"| {r['same_metrics']} |"
        for r in table
    ]
    publish(out, info, header, body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
