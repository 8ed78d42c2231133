"""Readers for the official on-disk formats (pure NumPy) and the checks on what they return.

- npz: Keras' ``mnist.npz`` (x_train, y_train, x_test, y_test)
- IDX: LeCun's format (big-endian magic + dims, uint8), gzipped or not (told by content, not name)
- CIFAR "python version": pickled batch dicts, as the .tar.gz or extracted

Every reader names the file and the fix in its DataError. `spec` is the registry entry
(name, origin, num_classes, image_shape, cifar): only used for those messages and checks.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import pickle
import struct
import tarfile
import zipfile
import zlib

import numpy as np

from actbench.errors import DataError

from .registry import CifarArchive, DatasetSpec

NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


def corrupt(path: str, what: str, exc: BaseException | str, spec: DatasetSpec) -> DataError:
    return DataError(
        f"Cannot read dataset '{spec.name}' from {path}: {what} ({exc}).\n"
        f"Fix: delete it and get a fresh copy ({spec.origin})."
    )


# --------------------------------------------------------------------------- npz
def read_npz(path: str, spec: DatasetSpec) -> tuple[np.ndarray, ...]:
    try:
        with np.load(path, allow_pickle=False) as f:
            absent = [k for k in NPZ_KEYS if k not in f.files]
            if absent:
                raise corrupt(
                    path,
                    f"npz lacks arrays {absent} (has {sorted(f.files)})",
                    "expected keys x_train, y_train, x_test, y_test",
                    spec,
                )
            return tuple(np.asarray(f[k]) for k in NPZ_KEYS)
    except DataError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError, zlib.error) as e:
        raise corrupt(path, "corrupt or truncated .npz archive", e, spec) from None


# --------------------------------------------------------------------------- IDX
GZIP_MAGIC = b"\x1f\x8b"


def read_maybe_gzip(path: str, spec: DatasetSpec) -> bytes:
    """The file's bytes, decompressed when it is gzipped (by its magic number, whatever its name)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
        return gzip.decompress(data) if data[:2] == GZIP_MAGIC else data
    except (OSError, EOFError, zlib.error) as e:
        raise corrupt(path, "corrupt or truncated gzip file", e, spec) from None


def read_idx(path: str, ndim: int, spec: DatasetSpec) -> tuple[np.ndarray, str]:
    """Return (array, sha256 of the decompressed bytes) of an IDX file, gzipped or not."""
    data = read_maybe_gzip(path, spec)
    digest = hashlib.sha256(data).hexdigest()
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise corrupt(path, "not an IDX file", f"bad magic number {data[:4].hex()}", spec)
    if data[2] != 0x08:
        raise corrupt(path, "not an unsigned-byte IDX file", f"type code 0x{data[2]:02x}, expected 0x08", spec)
    if data[3] != ndim:
        raise corrupt(
            path,
            f"wrong IDX rank: {data[3]} dimensions, expected {ndim}",
            "images need 3 (N, rows, cols), labels 1 (N)",
            spec,
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise corrupt(path, "truncated IDX header", f"{len(data)} bytes", spec)
    dims = struct.unpack(">" + "I" * ndim, data[4:header])
    need = header + int(np.prod(dims, dtype=np.int64))
    if len(data) != need:
        raise corrupt(
            path,
            "truncated or oversized IDX data",
            f"header says shape {dims} = {need} bytes, file has {len(data)}",
            spec,
        )
    return np.frombuffer(data, np.uint8, offset=header).reshape(dims), digest


# --------------------------------------------------------------------------- CIFAR
_ALLOWED_PICKLE_GLOBALS = frozenset(
    {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
    }
)


class _SafeUnpickler(pickle.Unpickler):
    """Only numpy array reconstruction is allowed (CIFAR batches are pickles)."""

    def find_class(self, module, name):
        if (module, name) in _ALLOWED_PICKLE_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name}")


def _unpickle_batch(fh, where: str, key: str, spec: DatasetSpec) -> dict:
    try:
        d = _SafeUnpickler(fh, encoding="bytes").load()
    except DataError:
        raise
    except Exception as e:  # truncated gzip, bad pickle, ...
        raise corrupt(where, "corrupt or truncated CIFAR batch", e, spec) from None
    if not isinstance(d, dict):
        raise corrupt(where, "not a CIFAR batch", f"pickle holds {type(d).__name__}, expected dict", spec)
    d = {(k.decode("utf8") if isinstance(k, bytes) else k): v for k, v in d.items()}
    if "data" not in d or key not in d:
        raise corrupt(where, f"CIFAR batch lacks 'data' or '{key}'", f"keys {sorted(map(str, d))}", spec)
    return d


def cifar_archive(spec: DatasetSpec) -> CifarArchive:
    if spec.cifar is None:  # a registry entry with a cifar-* layout must describe its archive
        raise DataError(f"Dataset '{spec.name}' has a CIFAR layout but no CifarArchive in the registry.")
    return spec.cifar


def parse_cifar_batch(fh, where: str, spec: DatasetSpec) -> tuple[np.ndarray, np.ndarray]:
    key = cifar_archive(spec).label_key
    d = _unpickle_batch(fh, where, key, spec)
    data = np.asarray(d["data"])
    try:
        labels = np.asarray(d[key], dtype=np.int64).reshape(-1)
    except (TypeError, ValueError) as e:
        raise corrupt(where, f"non-integer '{key}'", e, spec) from None
    if data.ndim != 2 or data.shape[1] != 3072 or data.dtype != np.uint8:
        raise DataError(
            f"Wrong data shape in dataset '{spec.name}' file {where}: 'data' is {data.dtype} {data.shape}, "
            f"expected uint8 (N, 3072) = 3x32x32 per row.\nFix: use the official CIFAR python version ({spec.origin})."
        )
    if len(labels) != len(data):
        raise DataError(
            f"Dataset '{spec.name}' file {where}: {len(data)} images but {len(labels)} labels.\n"
            f"Fix: use the official CIFAR python version ({spec.origin})."
        )
    check_labels(labels, spec, where)
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


def _parse_tar(path: str, spec: DatasetSpec) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    top, members = cifar_archive(spec).top, cifar_archive(spec).members
    parsed = {}
    try:
        with tarfile.open(path, "r:*") as tar:
            by_name = {m.name.lstrip("./"): m for m in tar.getmembers() if m.isfile()}
            absent = [f"{top}/{m}" for m in members if f"{top}/{m}" not in by_name]
            if absent:
                raise corrupt(path, "archive lacks " + ", ".join(absent), f"has {len(by_name)} files", spec)
            for m in members:
                fh = tar.extractfile(by_name[f"{top}/{m}"])
                parsed[m] = parse_cifar_batch(fh, f"{path}:{top}/{m}", spec)
    except DataError:
        raise
    except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
        raise corrupt(path, "corrupt or truncated tar.gz archive", e, spec) from None
    return parsed


def _parse_dir(path: str, spec: DatasetSpec) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    parsed = {}
    for m in cifar_archive(spec).members:
        p = os.path.join(path, m) if os.path.isdir(path) else os.path.join(os.path.dirname(path), m)
        try:
            with open(p, "rb") as fh:
                parsed[m] = parse_cifar_batch(fh, p, spec)
        except OSError as e:
            raise corrupt(p, "unreadable CIFAR batch", e, spec) from None
    return parsed


def read_cifar(path: str, fmt: str, spec: DatasetSpec) -> tuple[np.ndarray, ...]:
    """Read a CIFAR tarball (in memory, not extracted) or an extracted directory."""
    parsed = _parse_tar(path, spec) if fmt == "cifar-tar" else _parse_dir(path, spec)
    train, test = cifar_archive(spec).train, cifar_archive(spec).test
    x_train = np.concatenate([parsed[m][0] for m in train])
    y_train = np.concatenate([parsed[m][1] for m in train])
    return x_train, y_train, parsed[test][0], parsed[test][1]


# --------------------------------------------------------------------------- checks of the arrays
def check_labels(y: np.ndarray, spec: DatasetSpec, where: str) -> None:
    if y.size and (not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= spec.num_classes):
        bad = y[(y < 0) | (y >= spec.num_classes)] if np.issubdtype(y.dtype, np.number) else y
        raise DataError(
            f"Labels out of range in dataset '{spec.name}' ({where}): expected integers 0..{spec.num_classes - 1}, "
            f"found {y.dtype} values {np.unique(bad)[:5].tolist()} (min {y.min()}, max {y.max()}).\n"
            f"Fix: the file is not the official '{spec.name}' data; replace it ({spec.origin})."
        )


def _validate_part(spec: DatasetSpec, part: str, x: np.ndarray, y: np.ndarray, where: str):
    if x.ndim == 4 and spec.image_shape == (32, 32, 3) and x.shape[1:] == (3, 32, 32):
        x = x.transpose(0, 2, 3, 1)  # Keras with image_data_format=channels_first
    if x.ndim == 4 and x.shape[-1] == 1 and len(spec.image_shape) == 2:
        x = x[..., 0]
    if x.shape[1:] != spec.image_shape or x.shape[0] == 0:
        raise DataError(
            f"Wrong image shape in dataset '{spec.name}' ({where}): x_{part} is {x.shape}, expected "
            f"(N, {', '.join(map(str, spec.image_shape))}) with N > 0.\n"
            f"Fix: the file is not the official '{spec.name}' data; replace it ({spec.origin})."
        )
    if x.dtype != np.uint8:
        raise DataError(
            f"Wrong pixel type in dataset '{spec.name}' ({where}): x_{part} is {x.dtype}, expected uint8 0..255.\n"
            f"Fix: replace it with the official data ({spec.origin})."
        )
    y = y.reshape(-1) if y.ndim == 2 and y.shape[1] == 1 else y
    if y.ndim != 1 or len(y) != len(x):
        raise DataError(
            f"Wrong label shape in dataset '{spec.name}' ({where}): y_{part} is {y.shape} for {len(x)} images, "
            f"expected ({len(x)},).\nFix: replace it with the official data ({spec.origin})."
        )
    check_labels(y, spec, where)
    x = np.ascontiguousarray(x)
    y = y.astype(np.uint8)
    x.setflags(write=False)
    y.setflags(write=False)
    return x, y


def validate(spec: DatasetSpec, arrays: tuple[np.ndarray, ...], where: str) -> tuple[np.ndarray, ...]:
    """Shapes, dtypes and label range of (x_train, y_train, x_test, y_test); read-only uint8 copies."""
    x_tr, y_tr, x_te, y_te = (np.asarray(a) for a in arrays)
    return _validate_part(spec, "train", x_tr, y_tr, where) + _validate_part(spec, "test", x_te, y_te, where)
