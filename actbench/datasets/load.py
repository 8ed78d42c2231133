"""Loading: verify checksums, read with the right reader (or the real Keras loader for the
Keras cache), validate, and keep the arrays once per process.

tensorflow/keras are imported lazily, only when a Keras loader is actually called.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import numpy as np

from actbench.errors import DataError

from . import formats
from .locate import Location, check_available, keras_cache_dir, locate, resolve_data_dir
from .registry import NAMES, Checksum, DatasetSpec, spec_of

_FIX_VERIFY = (
    "if it is an intentional re-packed copy, skip the check with `data_verify: false` "
    "in the config or `--no-verify-data`"
)
SKIPPED = "checksum skipped (verify=False)"


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


# --------------------------------------------------------------------------- checksums
def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def mismatch(name: str, path: str, ck: Checksum, actual: str, how_to_get: str) -> DataError:
    what = "decompressed content of" if ck.of == "content" else "file"
    return DataError(
        f"Checksum mismatch for dataset '{name}': {path}\n"
        f"  expected {ck.algo} of {what}: {ck.hexdigest} ({ck.source})\n"
        f"  actual   {ck.algo} of {what}: {actual}\n"
        "The file is corrupt, truncated, or not the official release.\n"
        f"Fix: delete it and download it again ({how_to_get}); {_FIX_VERIFY}."
    )


def _other_release(spec: DatasetSpec, official: tuple[str, ...], digests: list[str]) -> DatasetSpec | None:
    """Another registered dataset whose content checksums these files match (files in the wrong place)."""
    for other in NAMES.values():
        known = [other.checksums.get(o) for o in official]
        if other is not spec and any(
            ck is not None and ck.of == "content" and ck.hexdigest == d for ck, d in zip(known, digests)
        ):
            return other
    return None


def _wrong_release(spec: DatasetSpec, other: DatasetSpec, folder: str) -> DataError:
    home = other.data_dir_layouts[0].files[0].split("/")[0] if other.data_dir_layouts else ""
    return DataError(
        f"Dataset '{spec.name}' resolved to {other.title} files: {folder} holds the official {other.title} "
        f"IDX files (their content checksums match), not {spec.title} data.\n"
        f"Fix: put the {spec.title} files where `actbench datasets` looks for '{spec.name}' ({spec.needs}) "
        f"and move the {other.title} ones to data_dir/{home}/."
    )


def verify_content(
    spec: DatasetSpec, paths: list[str], official: tuple[str, ...], digests: list[str]
) -> tuple[bool, str]:
    """Check the decompressed-content checksums of a set of files. Returns (verified, note)."""
    other = _other_release(spec, official, digests)
    if other is not None:
        raise _wrong_release(spec, other, os.path.dirname(paths[0]))
    known = [ck for ck in (spec.checksums.get(o) for o in official) if ck is not None and ck.of == "content"]
    if len(known) != len(official):
        return False, f"no known checksum for {spec.title} IDX files (not verified)"
    for path, ck, digest in zip(paths, known, digests):
        if digest != ck.hexdigest:
            raise mismatch(spec.name, path, ck, digest, spec.origin)
    return True, f"sha256 of decompressed content OK (official {spec.title})"


def verify_file(spec: DatasetSpec, path: str, official: str) -> tuple[bool, str] | None:
    """Whole-file checksum: None when none is known, else (matches, note)."""
    ck = spec.checksums.get(official)
    if ck is None or ck.of != "file":
        return None
    return sha256_file(path) == ck.hexdigest, f"sha256 OK ({ck.source})"


def _require_file(spec: DatasetSpec, path: str, official: str) -> None:
    ck = spec.checksums[official]
    actual = sha256_file(path)
    if actual != ck.hexdigest:
        raise mismatch(spec.name, path, ck, actual, spec.origin)


# --------------------------------------------------------------------------- readers per layout
def _read_idx_set(spec: DatasetSpec, loc: Location, verify: bool) -> tuple[tuple[np.ndarray, ...], bool, str]:
    """The 4 IDX files (train images, train labels, test images, test labels): read, verify, check."""
    paths = loc.paths
    read = [formats.read_idx(p, 3 if i % 2 == 0 else 1, spec) for i, p in enumerate(paths)]
    arrays = [a for a, _ in read]
    verified, note = False, SKIPPED
    if verify:
        verified, note = verify_content(spec, paths, loc.official, [d for _, d in read])
    expected = f"(N, {', '.join(map(str, spec.image_shape))})"
    for path, images in zip(paths[::2], arrays[::2]):
        if images.shape[1:] != spec.image_shape:
            raise DataError(
                f"Wrong image shape in dataset '{spec.name}' file {path}: {images.shape}, expected "
                f"{expected}.\nFix: replace it with the official file ({spec.origin})."
            )
    for i in (0, 2):
        if len(arrays[i]) != len(arrays[i + 1]):
            raise DataError(
                f"Dataset '{spec.name}': {paths[i]} has {len(arrays[i])} images but {paths[i + 1]} has "
                f"{len(arrays[i + 1])} labels.\nFix: use matching official files ({spec.origin})."
            )
    return tuple(arrays), verified, note


def _call_keras(spec: DatasetSpec, paths: list[str]) -> tuple[np.ndarray, ...]:
    loader = spec.keras_loader
    if loader is None:  # a registry entry with a Keras cache layout must name its loader
        raise DataError(f"Dataset '{spec.name}' has no Keras loader for {', '.join(paths)}.")
    try:
        import keras  # lazy: heavy

        module = getattr(keras.datasets, loader.module)
        (x_tr, y_tr), (x_te, y_te) = module.load_data(**dict(loader.kwargs))
    except DataError:
        raise
    except Exception as e:  # noqa: BLE001 - corrupt cache files surface as many types
        raise formats.corrupt(
            ", ".join(paths), f"{spec.loader} failed on the cached file", f"{type(e).__name__}: {e}", spec
        ) from None
    return x_tr, y_tr, x_te, y_te


def _read_single(spec: DatasetSpec, loc: Location, verify: bool) -> tuple[tuple[np.ndarray, ...], bool, str, str]:
    """npz and CIFAR layouts (and the embedded sample). Returns (arrays, verified, note, via)."""
    paths = loc.paths
    checked = verify_file(spec, paths[0], loc.official[0])
    keras_ok = checked is None or checked[0]
    verified, note = False, SKIPPED
    if verify:
        if checked is None:
            note = f"no known checksum for an extracted {spec.title or spec.name} folder (not verified)"
        elif not keras_ok:
            _require_file(spec, paths[0], loc.official[0])
        else:
            verified, note = True, checked[1]
    if loc.kind == "keras-cache" and keras_ok:
        return _call_keras(spec, paths), verified, note, f", read by {spec.loader}"
    via = ", read directly: Keras would re-download a file that fails its hash" if loc.kind == "keras-cache" else ""
    if loc.fmt == "npz":
        return formats.read_npz(paths[0], spec), verified, note, via
    src = paths[0] if loc.fmt == "cifar-tar" else os.path.dirname(paths[0])
    return formats.read_cifar(src, loc.fmt, spec), verified, note, via


def _load_uncached(spec: DatasetSpec, loc: Location, verify: bool) -> RawData:
    paths = loc.paths
    if loc.fmt == "idx":
        arrays, verified, note = _read_idx_set(spec, loc, verify)  # validates + verifies content
        via = ""
        if loc.kind == "keras-cache":
            arrays = _call_keras(spec, paths)  # the real loader reads the cached files
            via = f", read by {spec.loader}"
    else:
        arrays, verified, note, via = _read_single(spec, loc, verify)
    where = paths[0] if len(paths) == 1 else os.path.dirname(paths[0])
    x_train, y_train, x_test, y_test = formats.validate(spec, arrays, where)
    src_files = (
        paths[0]
        if len(paths) == 1
        else f"{os.path.dirname(paths[0])}/{{{','.join(os.path.basename(p) for p in paths)}}}"
    )
    source = f"{loc.kind}: {src_files}{via} [{note}]"
    return RawData(
        spec.name,
        x_train,
        y_train,
        x_test,
        y_test,
        num_classes=spec.num_classes,
        source=source,
        verified=verified,
        verify_note=note,
    )


# --------------------------------------------------------------------------- one load per process
_CACHE: dict[tuple, RawData] = {}


def clear_cache() -> None:
    _CACHE.clear()


def load(name: str, data_dir: str | None = None, verify: bool = True) -> RawData:
    """Load a dataset from local files only (cached per process)."""
    spec = spec_of(name)
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
