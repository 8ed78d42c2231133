"""Write tiny but learnable datasets in the official on-disk formats.

Every class gets its own fixed random binary template (seeded by the class id),
and each image is that template plus a little noise, so a small CNN can learn
the classes in a few epochs. Labels are balanced (i % num_classes, shuffled).

Formats:
- MNIST ``mnist.npz`` (keys x_train, y_train, x_test, y_test; as Keras' file)
- IDX ``.gz`` (train-images-idx3-ubyte.gz, ... : big-endian magic + dims, uint8)
- CIFAR-10 / CIFAR-100 "python version": pickled dicts with b'data' (N, 3072)
  uint8 rows in channel-first order and b'labels' / b'fine_labels' (+ b'coarse_labels'),
  as tar.gz (``cifar-10-python.tar.gz`` / ``cifar-100-python.tar.gz``) or extracted
  (``cifar-10-batches-py/`` / ``cifar-100-python/``).
- ``write_keras_cache(keras_home, name)`` places them under the exact names Keras 3 uses.
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
import struct
import tarfile

import numpy as np

IDX_NAMES = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}


def make_images(n: int, shape: tuple[int, ...], num_classes: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n uint8 images of `shape` with balanced labels; each class has a distinct pattern."""
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n) % num_classes).astype(np.uint8)
    templates = np.stack(
        [(np.random.default_rng(1000 + c).random(shape) > 0.5).astype(np.float64) * 200.0 for c in range(num_classes)]
    )
    x = templates[y] + rng.integers(0, 56, size=(n,) + tuple(shape))
    return np.clip(x, 0, 255).astype(np.uint8), y


def _split(n_train, n_test, shape, num_classes, seed):
    x_tr, y_tr = make_images(n_train, shape, num_classes, seed)
    x_te, y_te = make_images(n_test, shape, num_classes, seed + 1)
    return x_tr, y_tr, x_te, y_te


# ----------------------------------------------------------------------------- MNIST npz
def write_mnist_npz(
    directory, n_train: int = 60, n_test: int = 20, seed: int = 0, fname: str = "mnist.npz", arrays: dict | None = None
) -> str:
    """Keras-style mnist.npz. `arrays` overrides any of x_train/y_train/x_test/y_test."""
    x_tr, y_tr, x_te, y_te = _split(n_train, n_test, (28, 28), 10, seed)
    data = {"x_train": x_tr, "y_train": y_tr, "x_test": x_te, "y_test": y_te}
    data.update(arrays or {})
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(str(directory), fname)
    np.savez_compressed(path, **data)
    return path


# ----------------------------------------------------------------------------- IDX
def idx_bytes(array: np.ndarray) -> bytes:
    """Uncompressed IDX encoding of a uint8 array (magic 0x0000 08 <ndim>, big-endian dims)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(">" + "I" * array.ndim, *array.shape)
    return header + array.tobytes()


def write_idx_file(path, array: np.ndarray) -> str:
    with open(path, "wb") as f:
        f.write(gzip.compress(idx_bytes(array), mtime=0))
    return str(path)


def write_idx_gz(
    directory, n_train: int = 60, n_test: int = 20, seed: int = 0, arrays: dict | None = None
) -> list[str]:
    """The four IDX .gz files, written directly into `directory`. Returns their paths
    in the order train-images, train-labels, t10k-images, t10k-labels."""
    x_tr, y_tr, x_te, y_te = _split(n_train, n_test, (28, 28), 10, seed)
    data = {"x_train": x_tr, "y_train": y_tr, "x_test": x_te, "y_test": y_te}
    data.update(arrays or {})
    os.makedirs(directory, exist_ok=True)
    return [
        write_idx_file(os.path.join(str(directory), IDX_NAMES[k]), data[k])
        for k in ("x_train", "y_train", "x_test", "y_test")
    ]


# ----------------------------------------------------------------------------- CIFAR
def cifar_batch_bytes(x: np.ndarray, labels, label_key: str = "labels", extra: dict | None = None) -> bytes:
    """Pickle one CIFAR batch: x is (N, 32, 32, 3) uint8, stored as (N, 3072) channel-first rows."""
    data = np.ascontiguousarray(np.asarray(x).transpose(0, 3, 1, 2)).reshape(len(x), 3072)
    d = {
        b"batch_label": b"fake batch",
        label_key.encode(): [int(v) for v in labels],
        b"data": data,
        b"filenames": [b"img_%d.png" % i for i in range(len(x))],
    }
    d.update(extra or {})
    return pickle.dumps(d, protocol=3)


def _cifar10_members(n_per_batch, n_test, seed, labels_override=None):
    members = {}
    for i in range(1, 6):
        x, y = make_images(n_per_batch, (32, 32, 3), 10, seed + i)
        members[f"cifar-10-batches-py/data_batch_{i}"] = cifar_batch_bytes(x, y)
    x, y = make_images(n_test, (32, 32, 3), 10, seed + 100)
    members["cifar-10-batches-py/test_batch"] = cifar_batch_bytes(
        x, labels_override if labels_override is not None else y
    )
    members["cifar-10-batches-py/batches.meta"] = pickle.dumps(
        {b"label_names": [b"c%d" % i for i in range(10)]}, protocol=3
    )
    return members


def _cifar100_members(n_train, n_test, seed, labels_override=None):
    members = {}
    for part, n, s in (("train", n_train, seed), ("test", n_test, seed + 100)):
        x, y = make_images(n, (32, 32, 3), 100, s)
        if part == "test" and labels_override is not None:
            y = labels_override
        members[f"cifar-100-python/{part}"] = cifar_batch_bytes(
            x, y, "fine_labels", extra={b"coarse_labels": [int(v) // 5 for v in y]}
        )
    members["cifar-100-python/meta"] = pickle.dumps({b"fine_label_names": [b"f%d" % i for i in range(100)]}, protocol=3)
    return members


def _write_tar(path, members: dict[str, bytes]) -> str:
    with tarfile.open(path, "w:gz") as tar:
        for name, payload in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(payload))
    return str(path)


def _write_dir(directory, members: dict[str, bytes]) -> str:
    top = None
    for name, payload in members.items():
        path = os.path.join(str(directory), name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(payload)
        top = os.path.join(str(directory), name.split("/")[0])
    return top


def write_cifar10_tar(
    directory,
    n_per_batch: int = 20,
    n_test: int = 20,
    seed: int = 0,
    fname: str = "cifar-10-python.tar.gz",
    labels_override=None,
) -> str:
    os.makedirs(directory, exist_ok=True)
    return _write_tar(os.path.join(str(directory), fname), _cifar10_members(n_per_batch, n_test, seed, labels_override))


def write_cifar10_dir(directory, n_per_batch: int = 20, n_test: int = 20, seed: int = 0) -> str:
    """Extracted layout; returns the path of `cifar-10-batches-py/`."""
    return _write_dir(directory, _cifar10_members(n_per_batch, n_test, seed))


def write_cifar100_tar(
    directory,
    n_train: int = 200,
    n_test: int = 100,
    seed: int = 0,
    fname: str = "cifar-100-python.tar.gz",
    labels_override=None,
) -> str:
    os.makedirs(directory, exist_ok=True)
    return _write_tar(os.path.join(str(directory), fname), _cifar100_members(n_train, n_test, seed, labels_override))


def write_cifar100_dir(directory, n_train: int = 200, n_test: int = 100, seed: int = 0) -> str:
    """Extracted layout; returns the path of `cifar-100-python/`."""
    return _write_dir(directory, _cifar100_members(n_train, n_test, seed))


# ----------------------------------------------------------------------------- Keras cache
KERAS_CACHE_NAMES = {
    "mnist": "mnist.npz",
    "fashion_mnist": "fashion-mnist/",
    "cifar10": "cifar-10-batches-py-target_archive",
    "cifar100": "cifar-100-python-target_archive",
}


def write_keras_cache(keras_home, name: str, **kwargs) -> str:
    """Write a fake dataset under $KERAS_HOME/datasets with the exact Keras 3 names.

    Note: Keras checks mnist.npz and the CIFAR archives against its sha256 and
    re-downloads on mismatch; a fake never matches (actbench then reads it itself
    when verify=False). Fashion-MNIST has no Keras hash.
    """
    cache = os.path.join(str(keras_home), "datasets")
    os.makedirs(cache, exist_ok=True)
    if name == "mnist":
        return write_mnist_npz(cache, **kwargs)
    if name == "fashion_mnist":
        write_idx_gz(os.path.join(cache, "fashion-mnist"), **kwargs)
        return os.path.join(cache, "fashion-mnist")
    if name == "cifar10":
        return write_cifar10_tar(cache, fname=KERAS_CACHE_NAMES["cifar10"], **kwargs)
    if name == "cifar100":
        return write_cifar100_tar(cache, fname=KERAS_CACHE_NAMES["cifar100"], **kwargs)
    raise ValueError(name)
