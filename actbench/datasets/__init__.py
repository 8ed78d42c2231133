"""Datasets: a data-driven registry, where files are, official-format readers, verified
loading (once per process) and the stratified preprocessing every run shares.

    registry.py  one DatasetSpec per dataset (files, layouts, formats, checksums, shapes, classes, loader)
    locate.py    where a dataset's files are on this machine, and the message when they are not
    fetch.py     download into the Keras cache (Keras' origins or a mirror; verify, then rename)
    formats.py   npz, IDX, CIFAR pickle readers and array checks (pure NumPy)
    load.py      checksum verification, the real Keras loader for the Keras cache, the per-process cache
    split.py     scaling, stratified limits and the validation split (pure NumPy)

Only fetch.py touches the network; tensorflow/keras are imported only when a Keras loader is called.
"""

from .fetch import DEFAULT_TIMEOUT, ENV_OFFLINE, FetchPolicy, ensure_available, fetch, prefetch, unreachable
from .load import RawData, clear_cache, load
from .locate import (
    ENV_DATA_DIR,
    ENV_MIRROR,
    Location,
    check_available,
    describe,
    keras_cache_dir,
    locate,
    resolve_data_dir,
    status_details,
    status_rows,
    where_of,
)
from .registry import (
    IDX_DOTTED,
    IDX_FILES,
    MNIST_SAMPLE_PATH,
    NAMES,
    Checksum,
    CifarArchive,
    DatasetSpec,
    KerasLoader,
    Layout,
    names,
    spec_of,
)
from .split import SUBSET_SEED, VALIDATION_SEED, Prepared, allocate, prepare, stratified_indices

__all__ = [
    "DEFAULT_TIMEOUT",
    "ENV_DATA_DIR",
    "ENV_MIRROR",
    "ENV_OFFLINE",
    "IDX_DOTTED",
    "IDX_FILES",
    "MNIST_SAMPLE_PATH",
    "NAMES",
    "SUBSET_SEED",
    "VALIDATION_SEED",
    "Checksum",
    "CifarArchive",
    "DatasetSpec",
    "FetchPolicy",
    "KerasLoader",
    "Layout",
    "Location",
    "Prepared",
    "RawData",
    "allocate",
    "check_available",
    "clear_cache",
    "describe",
    "ensure_available",
    "fetch",
    "keras_cache_dir",
    "load",
    "locate",
    "names",
    "prefetch",
    "prepare",
    "resolve_data_dir",
    "spec_of",
    "status_details",
    "status_rows",
    "stratified_indices",
    "unreachable",
    "where_of",
]
