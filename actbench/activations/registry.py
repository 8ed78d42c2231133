"""The activation registry: name -> how to build it, its formula and its closed forms.

Each entry knows:
- how to build it in Keras (a callable on tensors, or a layer for the learnable PReLU),
- its formula as text (for `actbench activations` and the README),
- NumPy closed forms of f and f' (for the formula tests and the shape plots; the report
  uses them without importing Keras),
- its dead-unit rule and, for bounded functions, its bounds (for diagnostics).

User functions are given as "module:function"; custom.py finds and imports
them, training/activation_check.py checks them. Keras is imported lazily, inside the builders.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from actbench.errors import ActivationSpecError, did_you_mean

from .custom import import_custom

CUSTOM_PATTERN = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*")


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _softplus(x):
    return np.logaddexp(0.0, x)


def _erf(x):
    return np.vectorize(math.erf, otypes=[float])(x)


def _phi(x):  # standard normal pdf
    return np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


SELU_ALPHA = 1.6732632423543772
SELU_SCALE = 1.0507009873554805


@dataclass(frozen=True)
class Activation:
    name: str
    formula: str
    keras_name: str | None  # keras.activations.<keras_name>, or None for custom code
    f: Callable | None  # NumPy closed form f(x, **params)
    df: Callable | None  # NumPy closed form f'(x, **params)
    params: dict = field(default_factory=dict)  # parameter -> default
    dead_rule: str = "derivative"  # "zero": output exactly 0; "derivative": |f'| < threshold
    bounds: tuple | None = None  # (low, high) for bounded functions: saturation is measured
    learnable: bool = False
    aliases: tuple = ()

    def build(self, **params):
        """A Keras callable x -> f(x) with these parameters (not for learnable entries)."""
        import keras

        p = {**self.params, **params}
        if self.name == "swish":
            beta = float(p["beta"])
            return lambda x: x * keras.ops.sigmoid(beta * x)
        fn = getattr(keras.activations, self.keras_name)
        return (lambda x: fn(x, **p)) if p else fn


REGISTRY: dict[str, Activation] = {}


def _register(a: Activation) -> None:
    REGISTRY[a.name] = a


_register(
    Activation(
        "relu", "max(0, x)", "relu", lambda x: np.maximum(0, x), lambda x: (x > 0).astype(float), dead_rule="zero"
    )
)
_register(
    Activation(
        "relu6",
        "min(max(0, x), 6)",
        "relu6",
        lambda x: np.clip(x, 0, 6),
        lambda x: ((x > 0) & (x < 6)).astype(float),
        dead_rule="zero",
    )
)
_register(
    Activation(
        "leaky_relu",
        "x if x > 0 else negative_slope * x",
        "leaky_relu",
        lambda x, negative_slope: np.where(x > 0, x, negative_slope * x),
        lambda x, negative_slope: np.where(x > 0, 1.0, negative_slope),
        params={"negative_slope": 0.2},
    )
)
_register(
    Activation(
        "prelu",
        "x if x > 0 else a * x, a learned per channel (initial a = 0)",
        None,
        lambda x: np.maximum(0, x),
        lambda x: (x > 0).astype(float),
        learnable=True,
    )
)
_register(
    Activation(
        "elu",
        "x if x > 0 else alpha * (exp(x) - 1)",
        "elu",
        lambda x, alpha: np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0))),
        lambda x, alpha: np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0))),
        params={"alpha": 1.0},
    )
)
_register(
    Activation(
        "selu",
        "scale * (x if x > 0 else alpha * (exp(x) - 1)), alpha=1.67326, scale=1.05070",
        "selu",
        lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(np.minimum(x, 0))),
        lambda x: SELU_SCALE * np.where(x > 0, 1.0, SELU_ALPHA * np.exp(np.minimum(x, 0))),
    )
)
_register(
    Activation(
        "gelu",
        "x * Phi(x) (exact, erf form)",
        "gelu",
        lambda x: 0.5 * x * (1 + _erf(x / math.sqrt(2))),
        lambda x: 0.5 * (1 + _erf(x / math.sqrt(2))) + x * _phi(x),
    )
)
_register(
    Activation(
        "silu", "x * sigmoid(x)", "silu", lambda x: x * _sigmoid(x), lambda x: _sigmoid(x) * (1 + x * (1 - _sigmoid(x)))
    )
)
_register(
    Activation(
        "swish",
        "x * sigmoid(beta * x)",
        None,
        lambda x, beta: x * _sigmoid(beta * x),
        lambda x, beta: _sigmoid(beta * x) + beta * x * _sigmoid(beta * x) * (1 - _sigmoid(beta * x)),
        params={"beta": 1.0},
    )
)
_register(
    Activation(
        "mish",
        "x * tanh(softplus(x))",
        "mish",
        lambda x: x * np.tanh(_softplus(x)),
        lambda x: np.tanh(_softplus(x)) + x * _sigmoid(x) * (1 - np.tanh(_softplus(x)) ** 2),
    )
)
_register(Activation("softplus", "log(1 + exp(x))", "softplus", _softplus, _sigmoid))
_register(
    Activation(
        "softsign",
        "x / (1 + |x|)",
        "softsign",
        lambda x: x / (1 + np.abs(x)),
        lambda x: 1 / (1 + np.abs(x)) ** 2,
        bounds=(-1.0, 1.0),
    )
)
_register(
    Activation(
        "sigmoid",
        "1 / (1 + exp(-x))",
        "sigmoid",
        _sigmoid,
        lambda x: _sigmoid(x) * (1 - _sigmoid(x)),
        bounds=(0.0, 1.0),
    )
)
_register(Activation("tanh", "tanh(x)", "tanh", np.tanh, lambda x: 1 - np.tanh(x) ** 2, bounds=(-1.0, 1.0)))
_register(
    Activation(
        "hard_sigmoid",
        "relu6(x + 3) / 6",
        "hard_sigmoid",
        lambda x: np.clip(x + 3, 0, 6) / 6,
        lambda x: ((x > -3) & (x < 3)) / 6.0,
        bounds=(0.0, 1.0),
    )
)
_register(
    Activation(
        "hard_silu",
        "x * relu6(x + 3) / 6",
        "hard_silu",
        lambda x: x * np.clip(x + 3, 0, 6) / 6,
        lambda x: np.where(x <= -3, 0.0, np.where(x >= 3, 1.0, (2 * x + 3) / 6)),
    )
)
_register(
    Activation(
        "linear",
        "x (no nonlinearity: a control)",
        "linear",
        lambda x: np.asarray(x, dtype=float),
        lambda x: np.ones_like(x, dtype=float),
    )
)

ALIASES = {"swish_beta": "swish", "lrelu": "leaky_relu", "hard_swish": "hard_silu", "identity": "linear"}


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


def default_label(name: str, params: dict) -> str:
    if is_custom(name):
        return name.split(":", 1)[1]
    base = ALIASES.get(name, name)
    return base + "".join(f"-{k}={v}" for k, v in sorted(params.items()))


def keras_activation(name: str, params: dict):
    """What goes where the activation goes: a callable, or a layer factory for learnable ones.

    Returns (callable_or_None, layer_factory_or_None).
    """
    if is_custom(name):
        fn = import_custom(name)
        return ((lambda x: fn(x, **params)) if params else fn), None
    entry = get(name)
    if entry.learnable:
        import keras

        # One slope per channel, shared over the spatial axes (as in He et al. 2015).
        return None, lambda layer_name, rank: keras.layers.PReLU(
            shared_axes=[1, 2] if rank == 4 else None, name=layer_name
        )
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
