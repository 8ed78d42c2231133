"""User activation functions ('module:function'): where they are found, and a check that
they behave like an activation before anything is written or trained.

Where modules are looked for, in this order: the config file's directory, then the
working directory. Only a `<module>.py` file or a `<module>/` package there is imported;
installed and standard-library modules are refused (so `os:system` is not an activation),
and so is a file whose name shadows a module Python has already imported.

The behaviour check calls each function on a small float32 tensor of the configured
backend, eagerly and inside the backend's compiled function with a gradient, and wants a
finite tensor of the input's shape and dtype back. Keras is imported only for that check.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np

from .errors import ConfigError, last_line

PROBE_SHAPE = (2, 3, 3, 4)  # a batch of small feature maps, as after a convolution
HINT = "hint: write the function with keras.ops (not NumPy or math), and return a tensor of the input's shape and dtype"

# top-level module name -> where config loading found it, and where it was imported from
_located: dict[str, Path] = {}
_imported: dict[str, Path] = {}


class ActivationSpecError(ValueError):
    """A config's activation entry is wrong (config.py reports it with file and line)."""


def locate(spec: str, search_dirs: list[Path]) -> Path:
    """The first of search_dirs holding the module of 'module:function', without importing it
    (the backend must be chosen before user code imports Keras); remembered for import_custom."""
    top = spec.partition(":")[0].split(".")[0]
    dirs = [Path(d).resolve() for d in search_dirs]
    root = next((d for d in dirs if (d / f"{top}.py").is_file() or (d / top / "__init__.py").is_file()), None)
    if root is None:
        raise ActivationSpecError(
            f"custom activation '{spec}': no file {top}.py (or package {top}/) in {' or '.join(map(str, dirs))}; "
            "custom activations are imported only from there, never from installed modules"
        )
    loaded = sys.modules.get(top)
    if loaded is not None and not _is_under(loaded, root) and top not in _imported:
        raise ActivationSpecError(
            f"custom activation '{spec}': {root / top}.py has the name of a module Python "
            f"already uses ({getattr(loaded, '__file__', None) or 'built in'}); rename it"
        )
    _located[top] = root
    return root


def import_custom(spec: str, search_dirs: list[Path] | None = None) -> Callable:
    """The function named by 'module:function', imported from the first of search_dirs that holds
    the module (default: where config loading located it, else the working directory)."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ActivationSpecError(f"custom activation '{spec}' must look like 'module:function'")
    top = module_name.split(".")[0]
    if search_dirs is None:
        search_dirs = [_located.get(top, Path.cwd())]
    root = locate(spec, search_dirs)
    if top in sys.modules and not _is_under(sys.modules[top], root):
        for name in [n for n in sys.modules if n == top or n.startswith(top + ".")]:
            del sys.modules[name]  # the same name imported earlier from another config's directory
    module = _import_with_path(spec, module_name, root)
    if not _is_under(module, root):
        raise ActivationSpecError(f"custom activation '{spec}': '{module_name}' is not a module file under {root}")
    _imported[top] = root
    fn = getattr(module, attr, None)
    if fn is None:
        raise ActivationSpecError(
            f"custom activation '{spec}': module '{module_name}' ({module.__file__}) has no function '{attr}'"
        )
    if not callable(fn):
        raise ActivationSpecError(
            f"custom activation '{spec}': '{attr}' in {module.__file__} is not a "
            f"function but {type(fn).__name__} {fn!r:.40}"
        )
    return fn


def _import_with_path(spec: str, module_name: str, root: Path) -> ModuleType:
    """Import with root first on sys.path, writing no __pycache__ next to the user's file."""
    old_flag, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    sys.path.insert(0, str(root))
    try:
        importlib.invalidate_caches()
        return importlib.import_module(module_name)
    except (Exception, SystemExit) as e:  # whatever the user's module raises is a config problem
        raise ActivationSpecError(
            f"custom activation '{spec}': importing '{module_name}' from {root} raised {last_line(e)}"
        ) from None
    finally:
        sys.path.remove(str(root))
        sys.dont_write_bytecode = old_flag


def _is_under(module: ModuleType, root: Path) -> bool:
    file = getattr(module, "__file__", None)
    return file is not None and Path(file).resolve().is_relative_to(root)


# ---------------------------------------------------------------- the behaviour check (imports Keras)


def check_behaviour(exp, config_path: Path | None = None) -> None:
    """Call each custom activation of exp on the configured backend; ConfigError naming every
    one that raises or returns something an activation must not. No-op without custom ones."""
    specs = [s for s in exp.activations if ":" in s.name]
    if not specs:
        return
    from . import activations, backends

    adapter = backends.for_name(exp.backend)
    adapter.configure(exp.training.deterministic)
    problems = []
    for spec in specs:
        try:
            fn, _ = activations.keras_activation(spec.name, spec.params)
        except ActivationSpecError as e:
            problems.append(f"  activation '{spec.label}': {str(e).removeprefix(f'custom activation {spec.name!r}: ')}")
            continue
        reason = misbehaviour(fn, adapter)
        if reason:
            problems.append(f"  activation '{spec.label}' ({spec.name}) {reason}")
    if problems:
        where = f"{config_path}: " if config_path else ""
        raise ConfigError(
            "\n".join([f"{where}custom activation check failed (nothing was run or written)", *problems, f"  {HINT}"])
        )


def misbehaviour(fn: Callable, adapter) -> str | None:
    """What is wrong with fn as an activation on a probe tensor, or None when nothing is."""
    import keras

    probe = np.linspace(-3.0, 3.0, int(np.prod(PROBE_SHAPE)), dtype="float32").reshape(PROBE_SHAPE)
    where = "when called eagerly"
    try:
        problem = _output_problem(fn(keras.ops.convert_to_tensor(probe)))
        if problem is None:
            where = f"inside {adapter.compiled_by} with a gradient"
            value, grad = adapter.compiled_value_and_grad(fn)(keras.ops.convert_to_tensor(probe))
            problem = _output_problem(value) or _output_problem(grad, "a gradient")
    except Exception as e:  # the user's code: any exception is the answer
        problem = f"raised {last_line(e)}"
    return None if problem is None else f"{problem} {where} on a float32 tensor of shape {PROBE_SHAPE}"


def _output_problem(y, what: str = "output") -> str | None:
    """What is wrong with an output (or its gradient) of the probe call, or None."""
    import keras

    said = "returned" if what == "output" else f"gave {what}:"
    if y is None:
        return f"has no gradient with respect to its input (is it computed with {keras.backend.backend()} ops?)"
    if not keras.ops.is_tensor(y):
        kind = f"{type(y).__module__}.{type(y).__name__}".removeprefix("builtins.")
        return f"{said} a value of type {kind}, not a {keras.backend.backend()} tensor"
    if tuple(y.shape) != PROBE_SHAPE:
        return f"{said} shape {tuple(y.shape)}, not the input's shape"
    dtype = keras.backend.standardize_dtype(y.dtype)
    if dtype != "float32":
        return f"{said} dtype {dtype}, not the input's float32"
    bad = int((~np.isfinite(keras.ops.convert_to_numpy(y))).sum())
    return f"{said} {bad} NaN or infinite value(s) of {int(np.prod(PROBE_SHAPE))}" if bad else None
