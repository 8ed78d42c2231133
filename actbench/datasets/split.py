"""Preprocessing shared by every run: scaling, stratified fixed-seed limits, validation split.

Pure NumPy and independent of the registry: `stratified_indices` works on any label vector.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from actbench.errors import DataError

SUBSET_SEED = 0  # train_limit / test_limit subsets
VALIDATION_SEED = 1  # validation hold-out


@dataclass(frozen=True)
class Prepared:
    name: str
    x_train: np.ndarray  # float32 NHWC in [0, 1]
    y_train: np.ndarray  # int32
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    input_shape: tuple
    num_classes: int


def allocate(counts: np.ndarray, k: int, caps: np.ndarray | None = None) -> np.ndarray:
    """Per-class sizes summing to k, proportional to counts, >=1 per class when possible."""
    counts = np.asarray(counts, dtype=np.int64)
    caps = counts.copy() if caps is None else np.minimum(np.asarray(caps, dtype=np.int64), counts)
    k = int(min(max(k, 0), caps.sum()))
    total = counts.sum()
    quotas = k * counts / total if total else np.zeros(len(counts))
    alloc = np.minimum(np.floor(quotas).astype(np.int64), caps)
    eligible = caps > 0
    if k >= int(eligible.sum()):
        alloc[eligible & (alloc == 0)] = 1
    order = range(len(alloc))
    while alloc.sum() > k:  # only after the >=1 bump: take from the most over-quota class
        c = max((c for c in order if alloc[c] > 1), key=lambda c: (alloc[c] - quotas[c], -c))
        alloc[c] -= 1
    while alloc.sum() < k:  # largest remainder, ties to the lower class
        c = max((c for c in order if alloc[c] < caps[c]), key=lambda c: (quotas[c] - alloc[c], -c))
        alloc[c] += 1
    return alloc


def stratified_indices(y: np.ndarray, k: int, seed: int, caps_fn=None) -> np.ndarray:
    """Sorted indices of a per-class proportional subset of size k (deterministic)."""
    y = np.asarray(y).reshape(-1)
    classes, counts = np.unique(y, return_counts=True)
    caps = caps_fn(counts) if caps_fn else None
    alloc = allocate(counts, k, caps)
    rng = np.random.default_rng(seed)
    picks = []
    for c, a in zip(classes, alloc):
        idx = np.flatnonzero(y == c)
        perm = rng.permutation(len(idx))
        picks.append(idx[perm[:a]])
    return np.sort(np.concatenate(picks)) if picks else np.zeros(0, dtype=np.int64)


def _limit_arg(value, label: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise DataError(f"{label} must be a positive integer or null (all examples), got {value!r}.")
    return int(value)


def _split_arg(validation_split) -> float:
    try:
        split = float(validation_split)
    except (TypeError, ValueError):
        split = -1.0
    if not 0.0 <= split < 1.0:
        raise DataError(f"validation_split must be a number in [0, 1), got {validation_split!r}.")
    return split


def _to_float(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float32) / np.float32(255.0)
    return x[..., np.newaxis] if x.ndim == 3 else x


def split_indices(
    y_train: np.ndarray, y_test: np.ndarray, train_limit: int | None, test_limit: int | None, validation_split: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train, validation, test) indices: stratified limits (seed 0), then a stratified hold-out (seed 1)
    that keeps at least one training example of every class."""
    tr_idx = np.arange(len(y_train))
    if train_limit is not None and train_limit < len(y_train):
        tr_idx = stratified_indices(y_train, train_limit, SUBSET_SEED)
    te_idx = np.arange(len(y_test))
    if test_limit is not None and test_limit < len(y_test):
        te_idx = stratified_indices(y_test, test_limit, SUBSET_SEED)
    val_idx = np.zeros(0, dtype=np.int64)
    if validation_split > 0 and len(tr_idx) > 1:
        n_val = min(max(1, int(round(validation_split * len(tr_idx)))), len(tr_idx) - 1)
        rel = stratified_indices(
            y_train[tr_idx], n_val, VALIDATION_SEED, caps_fn=lambda counts: np.maximum(counts - 1, 0)
        )
        val_idx = tr_idx[rel]
        tr_idx = np.setdiff1d(tr_idx, val_idx, assume_unique=True)
    return tr_idx, val_idx, te_idx


def prepare(
    raw: Any, train_limit: int | None = None, test_limit: int | None = None, validation_split: float = 0.0
) -> Prepared:
    """Scale to float32 [0,1] NHWC, int32 labels, stratified fixed-seed limits and validation split.

    `raw` is a RawData (name, x_train, y_train, x_test, y_test, num_classes)."""
    train_limit = _limit_arg(train_limit, "train_limit")
    test_limit = _limit_arg(test_limit, "test_limit")
    split = _split_arg(validation_split)
    y_tr = np.asarray(raw.y_train).reshape(-1)
    y_te = np.asarray(raw.y_test).reshape(-1)
    tr_idx, val_idx, te_idx = split_indices(y_tr, y_te, train_limit, test_limit, split)
    x_train = _to_float(raw.x_train[tr_idx])
    return Prepared(
        name=raw.name,
        x_train=x_train,
        y_train=y_tr[tr_idx].astype(np.int32),
        x_val=_to_float(raw.x_train[val_idx]),
        y_val=y_tr[val_idx].astype(np.int32),
        x_test=_to_float(raw.x_test[te_idx]),
        y_test=y_te[te_idx].astype(np.int32),
        input_shape=tuple(int(d) for d in x_train.shape[1:]),
        num_classes=raw.num_classes,
    )
