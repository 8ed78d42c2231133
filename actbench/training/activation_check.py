"""The behaviour check of user activation functions, before anything is written or trained.

It calls each function on a small float32 tensor of the configured backend, eagerly and
inside the backend's compiled function with a gradient, and wants a finite tensor of the
input's shape and dtype back. Finding and importing the function is activations/custom.py's.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from actbench import activations
from actbench.errors import ActivationSpecError, ConfigError, last_line

from . import backends

PROBE_SHAPE = (2, 3, 3, 4)  # a batch of small feature maps, as after a convolution
HINT = "hint: write the function with keras.ops (not NumPy or math), and return a tensor of the input's shape and dtype"


def check_behaviour(exp, config_path: Path | None = None) -> None:
    """Call each custom activation of exp on the configured backend; ConfigError naming every
    one that raises or returns something an activation must not. No-op without custom ones."""
    specs = [s for s in exp.activations if ":" in s.name]
    if not specs:
        return
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
