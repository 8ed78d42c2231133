"""Where a dataset's files are on this machine, and the message when they are not.

Search order (first match wins): the embedded file; ``data_dir`` (explicit argument, else
``$ACTBENCH_DATA_DIR``) in each of the spec's layouts; the Keras cache
(``$KERAS_HOME/datasets``, default ``~/.keras/datasets``) with the exact Keras 3 names;
well-known system folders (Debian's ``/usr/share/datasets/fashion-mnist``).
No loading, no network (fetch.py downloads into the Keras cache).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass

from actbench.errors import DataError

from .registry import NAMES, DatasetSpec, spec_of

ENV_DATA_DIR = "ACTBENCH_DATA_DIR"
ENV_MIRROR = "ACTBENCH_DATA_MIRROR"  # read by fetch.py; named here for the "not found" message


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
    kind: str  # 'keras-cache' | 'data_dir' | 'system' | 'embedded' | 'missing'
    paths: list[str]
    available: bool
    detail: str
    fmt: str = ""  # on-disk format of `paths` (a reader in formats.py)
    official: tuple[str, ...] = ()  # official file name of each path (checksums are keyed by it)


def _missing_of(base: str, files: tuple[str, ...]) -> list[str]:
    return [f for f in files if not os.path.isfile(os.path.join(base, f))]


def _embedded(spec: DatasetSpec) -> Location:
    ok = os.path.isfile(spec.embedded)
    return Location(
        spec.name,
        "embedded" if ok else "missing",
        [spec.embedded],
        ok,
        "embedded in the actbench package"
        if ok
        else f"embedded file {spec.embedded} is missing; regenerate it with {spec.embedded_fix}",
        "npz",
        (os.path.basename(spec.embedded),),
    )


def _first_layout(spec: DatasetSpec, folder: str, layouts, kind: str, where: str) -> Location | list[str]:
    """The first complete layout in folder, else what is partly there."""
    partial = []
    for lay in layouts:
        missing = _missing_of(folder, lay.files)
        if not missing:
            return Location(
                spec.name,
                kind,
                [os.path.join(folder, f) for f in lay.files],
                True,
                f"{lay.label} in {where}",
                lay.fmt,
                tuple(lay.official_name(i) for i in range(len(lay.files))),
            )
        if len(missing) < len(lay.files):
            partial.append(f"{lay.label}: missing {', '.join(missing)}")
    return partial


def _in_data_dir(spec: DatasetSpec, ddir: str) -> Location | str:
    """The first complete layout in data_dir, else a note on what is there."""
    if not os.path.isdir(ddir):
        return f"data_dir {ddir} does not exist"
    found = _first_layout(spec, ddir, spec.data_dir_layouts, "data_dir", f"data_dir {ddir}")
    if isinstance(found, Location):
        return found
    return f"data_dir {ddir}: " + ("; ".join(found) if found else "none of " + ", ".join(spec.files))


def _in_system_dirs(spec: DatasetSpec) -> Location | str | None:
    notes = []
    for folder, what in spec.system_dirs:
        if not os.path.isdir(folder):
            continue
        found = _first_layout(spec, folder, spec.system_layouts, "system", f"{folder} ({what})")
        if isinstance(found, Location):
            return found
        notes.append(f"{folder} ({what}): " + ("; ".join(found) if found else "none of " + ", ".join(spec.files)))
    return "; ".join(notes) or None


def _in_keras_cache(spec: DatasetSpec) -> Location | str:
    cache = keras_cache_dir()
    lay = spec.keras_cache
    files = lay.files if lay else ()
    missing = _missing_of(cache, files)
    if lay and not missing:
        return Location(
            spec.name,
            "keras-cache",
            [os.path.join(cache, f) for f in files],
            True,
            f"Keras cache {cache} (read by {spec.loader})",
            lay.fmt,
            tuple(lay.official_name(i) for i in range(len(files))),
        )
    note = f"Keras cache {cache}: missing {', '.join(missing)}"
    legacy = [f for f in spec.legacy_keras_names if os.path.exists(os.path.join(cache, f))]
    if legacy:
        note += (
            f" (found old-Keras name {legacy[0]}; Keras 3 ignores it: rename the .tar.gz "
            f"to {files[0]}, or use it via data_dir)"
        )
    return note


def _searches(spec: DatasetSpec, ddir: str | None) -> Iterator[Location | str | None]:
    """Each place in search order: a Location when found there, else a note (lazily: stop at the first)."""
    yield _in_data_dir(spec, ddir) if ddir is not None else f"data_dir: not set (config data_dir / ${ENV_DATA_DIR})"
    yield _in_keras_cache(spec)
    yield _in_system_dirs(spec)


def locate(name: str, data_dir: str | None = None) -> Location:
    """Find where a dataset's files are; no loading, no network."""
    spec = spec_of(name)
    if spec.embedded:
        return _embedded(spec)
    ddir = resolve_data_dir(data_dir)
    notes: list[str] = []
    for found in _searches(spec, ddir):
        if isinstance(found, Location):
            return found
        if found:
            notes.append(found)
    cache = keras_cache_dir()
    want = [os.path.join(ddir, f) for lay in spec.data_dir_layouts for f in lay.files] if ddir else []
    keras_paths = [os.path.join(cache, f) for f in spec.keras_cache.files] if spec.keras_cache else []
    return Location(name, "missing", want + keras_paths, False, "; ".join(notes), "")


def _keras_side(spec: DatasetSpec, cache: str) -> str | None:
    files = spec.keras_cache.files if spec.keras_cache else ()
    if len(files) == 1:
        return f"{spec.name}: {os.path.join(cache, files[0])}"
    if files:
        return f"{spec.name}: {os.path.join(cache, os.path.dirname(files[0]))}/ holding the 4 IDX .gz files"
    return None


def check_available(
    names: list[str], data_dir: str | None = None, download_notes: dict[str, str] | None = None
) -> None:
    """Raise ONE DataError describing every unavailable dataset (unknown names first).

    `download_notes`: per dataset, why it was not downloaded (offline, or how the download failed)."""
    for n in names:
        spec_of(n)
    missing = [loc for loc in (locate(n, data_dir) for n in dict.fromkeys(names)) if not loc.available]
    if not missing:
        return
    notes = download_notes or {}
    lines = [f"Dataset files not found for: {', '.join(loc.name for loc in missing)}."]
    for loc in missing:
        spec = NAMES[loc.name]
        needs = (spec.needs or " or ".join(spec.files)) if spec.keras_cache else spec.embedded
        lines.append(f"- {loc.name}: needs {needs}")
        lines.append(f"    looked in: {loc.detail}")
        if loc.name in notes:
            lines.append("    " + notes[loc.name].replace("\n", "\n      "))
    specs = [NAMES[loc.name] for loc in missing]
    lines.extend(_fixes(specs))
    raise DataError("\n".join(lines))


def _fixes(specs: list[DatasetSpec]) -> list[str]:
    cache = keras_cache_dir()
    keras_side = [line for line in (_keras_side(s, cache) for s in specs) if line]
    if not keras_side:
        return [f"Fix: reinstall actbench or run `python {s.origin}`." for s in specs]
    fetchable = " ".join(s.name for s in specs if s.origins)
    lines = [
        "Fix, either:",
        f"  1. let actbench download them into the Keras cache: `actbench datasets fetch {fetchable}` or "
        "`actbench run` without --offline",
        f"     (needs the network; {ENV_MIRROR}=URL or --data-mirror URL for a mirror with the same file names);",
        f"  2. put them in the Keras cache {cache} ($KERAS_HOME/datasets, default "
        "~/.keras/datasets) with the exact Keras names:",
    ]
    lines.extend(f"       {k}" for k in keras_side)
    lines.extend(f"     {note}" for note in dict.fromkeys(s.keras_cache_note for s in specs if s.keras_cache_note))
    lines.append("     e.g. run `actbench datasets fetch` on a machine with internet and copy that folder;")
    lines.append(
        f"  3. or put official-format copies in a folder and set `data_dir:` in the config "
        f"or {ENV_DATA_DIR}=/path/to/folder (see 'needs' above)."
    )
    return lines


def describe(data_dir: str | None = None) -> list[dict]:
    rows = []
    for n, spec in NAMES.items():
        loc = locate(n, data_dir)
        rows.append(
            {
                "name": n,
                "description": spec.description,
                "shape": spec.input_shape,
                "classes": spec.num_classes,
                "kind": loc.kind,
                "paths": list(loc.paths) if loc.available else [],
                "available": loc.available,
                "detail": loc.detail,
            }
        )
    return rows


def _short(path: str) -> str:
    home = os.path.expanduser("~")
    return "~" + path[len(home) :] if home not in ("", "/") and path.startswith(home + os.sep) else path


def where_of(loc: Location) -> str:
    """A short answer to 'where is it': the file, or the folder of several files."""
    if not loc.available:
        return f"actbench datasets fetch {loc.name}" if NAMES[loc.name].origins else "-"
    if loc.kind == "embedded":
        return "inside the actbench package"
    return _short(loc.paths[0] if len(loc.paths) == 1 else os.path.dirname(loc.paths[0]) + "/")


def status_rows(data_dir: str | None = None) -> list[dict]:
    """What `actbench datasets` shows: one narrow row per dataset (fits an 80-column terminal)."""
    rows = []
    for name in NAMES:
        loc = locate(name, data_dir)
        rows.append(
            {"name": name, "available": "yes" if loc.available else "no", "source": loc.kind, "where": where_of(loc)}
        )
    return rows


def status_details(data_dir: str | None = None) -> str:
    """`actbench datasets --verbose`: per dataset, what it is, every place looked in and the files used."""
    blocks = []
    for r in describe(data_dir):
        shape = "x".join(map(str, r["shape"]))
        lines = [
            f"{r['name']}: {r['description']}; input {shape}, {r['classes']} classes",
            f"  {'found' if r['available'] else 'looked in'}: {r['detail']}",
        ]
        lines += [f"  file: {p}" for p in r["paths"]]
        blocks.append("\n".join(lines))
    return "\n".join(blocks)
