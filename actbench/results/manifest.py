"""The report manifest: which files of a report folder actbench wrote.

A report folder may hold the user's own files too (a `report/` they made before actbench
ever ran there, notes put next to the plots), so actbench replaces and removes only the
files its manifest lists. The manifest maps each name to the SHA-256 of what actbench
wrote: a file changed since then is the user's now and is left alone as well.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from ..errors import ResultsError
from .io import write_json

MANIFEST_FILE = ".actbench-report.json"


def read_manifest(folder: Path) -> dict[str, str]:
    """{file name: sha256} of the files actbench wrote in folder; {} without a readable manifest."""
    try:
        data = json.loads((Path(folder) / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, dict):
        return {}
    # Plain names only: a damaged or hand-edited manifest must never point outside the folder.
    return {n: h for n, h in files.items() if isinstance(n, str) and isinstance(h, str) and _plain_name(n)}


def is_actbench_file(folder: Path, name: str, manifest: dict[str, str]) -> bool:
    """Whether folder/name is a file actbench wrote and nobody changed since."""
    path = Path(folder) / name
    return name in manifest and path.is_file() and not path.is_symlink() and _sha256(path) == manifest[name]


def remove_report_files(folder: Path) -> list[Path]:
    """Remove the unchanged files the manifest lists, the manifest, and then the folder if that left
    it empty (never a folder with anything else in it). Returns the files removed."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    removed = [folder / n for n in manifest if is_actbench_file(folder, n, manifest)]
    for path in removed:
        path.unlink()
    if (folder / MANIFEST_FILE).is_file():  # without one actbench wrote nothing here: the folder is not touched
        (folder / MANIFEST_FILE).unlink()
        _remove_if_empty(folder)
    return removed


def install_report(staging: Path, folder: Path, overwrite: bool) -> list[Path]:
    """Move the report files written in staging into folder, replacing actbench's earlier report
    there and leaving every other file alone. A file of the same name that actbench did not write
    is refused (ResultsError naming it) unless overwrite; returns those replaced."""
    folder = Path(folder)
    old = read_manifest(folder)
    names = sorted(p.name for p in Path(staging).iterdir())
    clashes = [folder / n for n in names if os.path.lexists(folder / n) and not is_actbench_file(folder, n, old)]
    folders = [p for p in clashes if p.is_dir() and not p.is_symlink()]
    if folders or (clashes and not overwrite):
        raise ResultsError(_clash_message(folder, folders or clashes, can_overwrite=not folders))
    for name in old:  # actbench's files of the earlier report that this one does not have (stale plots)
        if name not in names and is_actbench_file(folder, name, old):
            (folder / name).unlink()
    written = {}
    for name in names:
        written[name] = _sha256(Path(staging) / name)
        os.replace(Path(staging) / name, folder / name)
    write_json(folder / MANIFEST_FILE, {"written_by": "actbench", "files": written})
    return clashes


def _clash_message(folder: Path, clashes: list[Path], can_overwrite: bool) -> str:
    listing = "\n  ".join(str(p) for p in clashes)
    remedy = "Move or rename them" + (", or use --overwrite to replace them" if can_overwrite else " (folders)")
    return (
        f"report: {folder} holds files actbench did not write (or that were changed since) under the names "
        f"of report files:\n  {listing}\nactbench leaves them alone. {remedy}; or write the report "
        "elsewhere: actbench report RESULT_DIR -o OTHER_DIR."
    )


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()  # fails, as wanted, when anything is left in it
    except OSError:
        pass


def _plain_name(name: str) -> bool:
    return name not in ("", ".", "..") and "/" not in name and "\\" not in name


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
