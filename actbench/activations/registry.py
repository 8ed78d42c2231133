"""The activation registry: name -> entry (builtin.py's, entry.Activation), and lookup,
validation of a config entry, the Keras build, closed forms and descriptions.

User functions are given as "module:function"; custom.py finds and imports
them, training/activation_check.py checks them. Keras is imported lazily, inside the builders.
"""

from __future__ import annotations

import math
import re

import numpy as np

from actbench.errors import ActivationSpecError, did_you_mean

from .builtin import BUILTIN
from .custom import import_custom
from .entry import AUTO_FALLBACK, Activation
from .learnable import BUILD_OPTIONS, SHARED, layer_factory

CUSTOM_PATTERN = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*")


REGISTRY: dict[str, Activation] = {a.name: a for a in BUILTIN}
ALIASES = {alias: a.name for a in BUILTIN for alias in a.aliases}
# kernel_initializer "auto" -> the initializer per activation name (built-in names only)
AUTO_INITIALIZERS = {a.name: a.initializer for a in BUILTIN if a.initializer != AUTO_FALLBACK}


def is_custom(name: str) -> bool:
    return ":" in name


def names() -> list[str]:
    return sorted(REGISTRY)


def get(name: str) -> Activation:
    name = ALIASES.get(name, name)
    if name in REGISTRY:
        return REGISTRY[name]
    raise ActivationSpecError(
        f"unknown activation '{name}'{did_you_mean(name, names() + list(ALIASES))}; "
        f"valid: {', '.join(names())}, or 'module:function' for your own"
    )


def check_entry(name: str, params: dict) -> None:
    """Check a config entry without importing anything: a known name with allowed, finite
    numeric parameters, or a well-formed 'module:function' (imported later, see custom.py)."""
    if is_custom(name):
        if not CUSTOM_PATTERN.fullmatch(name):
            raise ActivationSpecError(
                f"custom activation '{name}' must look like 'module:function' "
                "(e.g. 'myacts:cube' for the function cube in myacts.py)"
            )
        return
    entry = get(name)
    unknown = sorted(set(params) - set(entry.params))
    if unknown:
        allowed = ", ".join(entry.params) or "none"
        raise ActivationSpecError(
            f"activation '{name}' has no parameter(s) {', '.join(unknown)}; its parameters: {allowed}"
        )
    for key, value in params.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            shown = str(value).lower() if isinstance(value, bool) else repr(value)
            raise ActivationSpecError(f"activation '{name}': parameter {key} must be a finite number, got {shown}")


def validate(name: str, params: dict) -> None:
    """check_entry, and for 'module:function' the import from the working directory."""
    check_entry(name, params)
    if is_custom(name):
        import_custom(name)


def check_learning(name: str, trainable: bool | None, shared: str | None) -> None:
    """`trainable` and `shared` of a config entry: only on an entry whose parameters can be learned."""
    if trainable is None and shared is None:
        return
    entry = None if is_custom(name) else get(name)
    if entry is None or entry.learn is None or not entry.params:
        learnable = ", ".join(n for n in names() if REGISTRY[n].learn is not None)
        raise ActivationSpecError(
            f"activation '{name}' has no parameters to learn: trainable and shared apply to {learnable}"
        )
    if shared is not None and shared not in SHARED:
        raise ActivationSpecError(f"activation '{name}': shared must be one of {', '.join(SHARED)}, got {shared!r}")
    if shared is not None and not learned(name, trainable):
        raise ActivationSpecError(f"activation '{name}': shared applies to learned parameters (trainable: true)")


def learned(name: str, trainable: bool | None) -> bool:
    """Whether the entry's parameters are learned: `trainable` when given, else the entry's default."""
    if trainable is not None:
        return trainable
    return not is_custom(name) and get(name).trainable_default


def default_label(name: str, params: dict, trainable: bool | None = None, shared: str | None = None) -> str:
    if is_custom(name):
        return name.split(":", 1)[1]
    base = ALIASES.get(name, name)
    label = base + "".join(f"-{k}={v}" for k, v in sorted(params.items()))
    if trainable is not None and trainable != get(name).trainable_default:
        label += "-learned" if trainable else "-fixed"
    if shared == "channel":
        label += "-per-channel"
    return label


def keras_activation(name: str, params: dict):
    """What goes where the activation goes: a callable, or a layer factory for learnable ones.
    `params` may carry the build options `trainable` and `shared` (learnable.BUILD_OPTIONS).

    Returns (callable_or_None, layer_factory_or_None).
    """
    options = {k: params[k] for k in BUILD_OPTIONS if k in params}
    params = {k: v for k, v in params.items() if k not in BUILD_OPTIONS}
    if is_custom(name):
        fn = import_custom(name)
        return ((lambda x: fn(x, **params)) if params else fn), None
    entry = get(name)
    if entry.layer is not None:
        return None, entry.layer
    if entry.learn is not None and learned(name, options.get("trainable")):
        return None, layer_factory(entry.name, entry.learn, {**entry.params, **params}, options.get("shared", "layer"))
    return entry.build(**params), None


def describe() -> list[dict]:
    """Rows for `actbench activations`."""
    rows = []
    for name in names():
        a = REGISTRY[name]
        rows.append(
            {
                "name": name,
                "formula": a.formula,
                "parameters": ", ".join(f"{k}={v}" for k, v in a.params.items()) or "-",
                "dead_rule": "output == 0" if a.dead_rule == "zero" else "|f'| < threshold",
                "bounded": f"[{a.bounds[0]:g}, {a.bounds[1]:g}]" if a.bounds else "-",
                "aliases": ", ".join(k for k, v in ALIASES.items() if v == name) or "-",
            }
        )
    return rows


def closed_form(name: str, params: dict):
    """(f, f') as NumPy functions with parameters bound, or (None, None) for custom code."""
    if is_custom(name):
        return None, None
    entry = get(name)
    f, df = entry.f, entry.df
    if f is None or df is None:
        return None, None
    p = {**entry.params, **params}
    return (lambda x: f(np.asarray(x, dtype=float), **p)), (lambda x: df(np.asarray(x, dtype=float), **p))


def sampled(name: str, params: dict, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(f(x), f'(x)) on the points x: the closed forms where known, else the Keras function
    evaluated, and differentiated numerically (custom code; imports Keras)."""
    f, df = closed_form(name, params)
    if f is not None and df is not None:
        return f(x), df(x)
    import keras

    fn, _ = keras_activation(name, params)
    y = np.asarray(keras.ops.convert_to_numpy(fn(keras.ops.convert_to_tensor(x.astype("float32")))))
    return y, np.gradient(y, x)
