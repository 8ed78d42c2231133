"""User activation functions ('module:function'): where they are found, and their import.

Where modules are looked for, in this order: the config file's directory, then the
working directory. Only a `<module>.py` file or a `<module>/` package there is imported;
installed and standard-library modules are refused (so `os:system` is not an activation),
and so is a file whose name shadows a module Python has already imported.

A saved model's file (`model: {keras_model: FILE}`) is found by the same rule (locate_file):
FILE as given when absolute, else relative to the config's directory, then the working directory.

Nothing here imports Keras: checking that a function behaves like an activation needs a
backend, and lives with training (activation_check.py).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from actbench.errors import ActivationSpecError, last_line, machine_error

# top-level module name -> where config loading found it, and where it was imported from
_located: dict[str, Path] = {}
_imported: dict[str, Path] = {}
_located_files: dict[str, Path] = {}  # a saved model's FILE as given -> where config loading found it


def locate(spec: str, search_dirs: list[Path], what: str = "custom activation") -> Path:
    """The first of search_dirs holding the module of 'module:function', without importing it
    (the backend must be chosen before user code imports Keras); remembered for import_custom.
    `what` names the user's function in messages (a custom activation, a model builder)."""
    top = spec.partition(":")[0].split(".")[0]
    dirs = [Path(d).resolve() for d in search_dirs]
    root = next((d for d in dirs if (d / f"{top}.py").is_file() or (d / top / "__init__.py").is_file()), None)
    if root is None:
        raise ActivationSpecError(
            f"{what} '{spec}': no file {top}.py (or package {top}/) in {' or '.join(map(str, dirs))}; "
            f"{what}s are imported only from there, never from installed modules"
        )
    loaded = sys.modules.get(top)
    if loaded is not None and not _is_under(loaded, root) and top not in _imported:
        raise ActivationSpecError(
            f"{what} '{spec}': {root / top}.py has the name of a module Python "
            f"already uses ({getattr(loaded, '__file__', None) or 'built in'}); rename it"
        )
    _located[top] = root
    return root


def locate_file(given: str, search_dirs: list[Path], what: str = "keras_model") -> Path:
    """The file `given` names: itself when absolute, else under the first of search_dirs that
    holds it; remembered for located_file (the model is built later, once the backend is chosen)."""
    dirs = [Path(d).resolve() for d in search_dirs]
    candidates = [Path(given)] if Path(given).is_absolute() else [d / given for d in dirs]
    found = next((c for c in candidates if c.is_file()), None)
    if found is None:
        where = str(Path(given)) if Path(given).is_absolute() else " or ".join(map(str, dirs))
        raise ActivationSpecError(f"{what} '{given}': no such file in {where}")
    _located_files[given] = found.resolve()
    return _located_files[given]


def located_file(given: str) -> Path:
    """Where config loading found the file `given` (else looked for in the working directory)."""
    return _located_files.get(given) or locate_file(given, [Path.cwd()])


def import_custom(spec: str, search_dirs: list[Path] | None = None, what: str = "custom activation") -> Callable:
    """The function named by 'module:function', imported from the first of search_dirs that holds
    the module (default: where config loading located it, else the working directory)."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ActivationSpecError(f"{what} '{spec}' must look like 'module:function'")
    top = module_name.split(".")[0]
    if search_dirs is None:
        search_dirs = [_located.get(top, Path.cwd())]
    root = locate(spec, search_dirs, what)
    if top in sys.modules and not _is_under(sys.modules[top], root):
        for name in [n for n in sys.modules if n == top or n.startswith(top + ".")]:
            del sys.modules[name]  # the same name imported earlier from another config's directory
    module = _import_with_path(spec, module_name, root, what)
    if not _is_under(module, root):
        raise ActivationSpecError(f"{what} '{spec}': '{module_name}' is not a module file under {root}")
    _imported[top] = root
    fn = getattr(module, attr, None)
    if fn is None:
        raise ActivationSpecError(
            f"{what} '{spec}': module '{module_name}' ({module.__file__}) has no function '{attr}'"
        )
    if not callable(fn):
        raise ActivationSpecError(
            f"{what} '{spec}': '{attr}' in {module.__file__} is not a function but {type(fn).__name__} {fn!r:.40}"
        )
    return fn


def _import_with_path(spec: str, module_name: str, root: Path, what: str) -> ModuleType:
    """Import with root first on sys.path, writing no __pycache__ next to the user's file."""
    old_flag, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    sys.path.insert(0, str(root))
    try:
        importlib.invalidate_caches()
        return importlib.import_module(module_name)
    except MemoryError as e:  # the machine, not the module: named as such
        raise machine_error(e, f"importing '{module_name}' (custom activation '{spec}') from {root}") from None
    except (Exception, SystemExit) as e:  # whatever the user's module raises is a config problem
        raise ActivationSpecError(
            f"{what} '{spec}': importing '{module_name}' from {root} raised {last_line(e)}"
        ) from None
    finally:
        sys.path.remove(str(root))
        sys.dont_write_bytecode = old_flag


def _is_under(module: ModuleType, root: Path) -> bool:
    file = getattr(module, "__file__", None)
    return file is not None and Path(file).resolve().is_relative_to(root)
