"""What feeding batches costs the TensorFlow loop per epoch, the old way and the new (issue 13, item 5).

    .venv/bin/python benchmarks/bench_tf_feed.py [--repeats 5] [--out benchmarks/results/tf-feed-cpu.json]

The packed TensorFlow loop used to permute the training set on the host every epoch
(x[order]) and hand each call (32 batches) its slices, which TensorFlow copies into a
tensor: on a GPU, a host-to-device transfer per call. It now places the arrays on the device
once and gathers each batch there by index (actbench/training/backends/tensorflow.py). This times,
for one Fashion-MNIST-sized epoch (54,000 x 28 x 28 x 1 float32, batch 32, 32 batches per
call), (a) the host permutation, (b) the per-call host-to-tensor copies, (c) the on-device
gathers of every batch inside one tf.function, with no model: the feeding alone. The device
here is the CPU; on a GPU, (a) and (b) are host work the GPU waits for between calls, which
is the point of the change (no GPU with TensorFlow was available to measure it there).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np


def measure() -> dict:
    import tensorflow as tf

    rng = np.random.default_rng(0)
    x = rng.random((54000, 28, 28, 1), dtype=np.float32)
    order = rng.permutation(len(x))
    batch, per_call = 32, 32
    full = len(x) // batch

    start = time.perf_counter()
    permuted = x[order]
    host_permutation = time.perf_counter() - start

    calls = permuted[: full * batch].reshape(full, batch, *x.shape[1:])
    start = time.perf_counter()
    for i in range(0, full, per_call):
        tf.constant(calls[i : i + per_call])
    host_copies = time.perf_counter() - start

    on_device = tf.constant(x)
    index = tf.constant(order[: full * batch].astype(np.int32).reshape(full, batch))

    @tf.function
    def gather_all(data, batches):
        total = tf.constant(0.0)
        for j in tf.range(tf.shape(batches)[0]):
            total += tf.reduce_sum(tf.gather(data, batches[j]))
        return total

    gather_all(on_device, index[:2])  # trace
    start = time.perf_counter()
    gather_all(on_device, index).numpy()
    device_gathers = time.perf_counter() - start
    return {"host_permutation_s": host_permutation, "host_copies_s": host_copies, "device_gathers_s": device_gathers}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default="benchmarks/results/tf-feed-cpu.json")
    args = parser.parse_args()
    rounds = [measure() for _ in range(args.repeats)]
    medians = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
    Path(args.out).write_text(json.dumps({"rounds": rounds, "medians": medians}, indent=2) + "\n")
    old = medians["host_permutation_s"] + medians["host_copies_s"]
    print(
        f"per epoch (medians of {args.repeats}): host permutation {1000 * medians['host_permutation_s']:.0f} ms + "
        f"host-to-tensor copies {1000 * medians['host_copies_s']:.0f} ms = {1000 * old:.0f} ms before; "
        f"on-device gathers {1000 * medians['device_gathers_s']:.0f} ms now -> {args.out}"
    )


if __name__ == "__main__":
    main()
