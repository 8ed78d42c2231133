"""The built-in activations, one self-contained entry each (entry.Activation, by keyword).

A new activation is one entry here: its formula, NumPy closed forms of f and f', its Keras
build (a keras.activations name, a function of its parameters, or a layer for a learnable
one), its parameters, its dead-unit rule and bounds, and its "auto" kernel initializer.
"auto" means He for the relu family (He et al. 2015 derive it for ReLU/PReLU; the ELU paper
uses it), LeCun for selu (what self-normalization assumes), Glorot (Keras' default) otherwise.
The tests check every entry against its closed form.
"""

from __future__ import annotations

import math

import numpy as np

from .entry import Activation


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


def _swish(beta):
    import keras

    beta = float(beta)
    return lambda x: x * keras.ops.sigmoid(beta * x)


def _prelu(layer_name: str, rank: int):
    import keras

    # One slope per channel, shared over the spatial axes (as in He et al. 2015).
    return keras.layers.PReLU(shared_axes=[1, 2] if rank == 4 else None, name=layer_name)


BUILTIN: tuple[Activation, ...] = (
    Activation(
        name="relu",
        formula="max(0, x)",
        f=lambda x: np.maximum(0, x),
        df=lambda x: (x > 0).astype(float),
        keras="relu",
        dead_rule="zero",
        initializer="he_normal",
    ),
    Activation(
        name="relu6",
        formula="min(max(0, x), 6)",
        f=lambda x: np.clip(x, 0, 6),
        df=lambda x: ((x > 0) & (x < 6)).astype(float),
        keras="relu6",
        dead_rule="zero",
        initializer="he_normal",
    ),
    Activation(
        name="leaky_relu",
        formula="x if x > 0 else negative_slope * x",
        f=lambda x, negative_slope: np.where(x > 0, x, negative_slope * x),
        df=lambda x, negative_slope: np.where(x > 0, 1.0, negative_slope),
        keras="leaky_relu",
        params={"negative_slope": 0.2},
        initializer="he_normal",
        aliases=("lrelu",),
    ),
    Activation(
        name="prelu",
        formula="x if x > 0 else a * x, a learned per channel (initial a = 0)",
        f=lambda x: np.maximum(0, x),
        df=lambda x: (x > 0).astype(float),
        layer=_prelu,
        initializer="he_normal",
    ),
    Activation(
        name="elu",
        formula="x if x > 0 else alpha * (exp(x) - 1)",
        f=lambda x, alpha: np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0))),
        df=lambda x, alpha: np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0))),
        keras="elu",
        params={"alpha": 1.0},
        initializer="he_normal",
    ),
    Activation(
        name="selu",
        formula="scale * (x if x > 0 else alpha * (exp(x) - 1)), alpha=1.67326, scale=1.05070",
        f=lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(np.minimum(x, 0))),
        df=lambda x: SELU_SCALE * np.where(x > 0, 1.0, SELU_ALPHA * np.exp(np.minimum(x, 0))),
        keras="selu",
        initializer="lecun_normal",
    ),
    Activation(
        name="gelu",
        formula="x * Phi(x) (exact, erf form)",
        f=lambda x: 0.5 * x * (1 + _erf(x / math.sqrt(2))),
        df=lambda x: 0.5 * (1 + _erf(x / math.sqrt(2))) + x * _phi(x),
        keras="gelu",
    ),
    Activation(
        name="silu",
        formula="x * sigmoid(x)",
        f=lambda x: x * _sigmoid(x),
        df=lambda x: _sigmoid(x) * (1 + x * (1 - _sigmoid(x))),
        keras="silu",
    ),
    Activation(
        name="swish",
        formula="x * sigmoid(beta * x)",
        f=lambda x, beta: x * _sigmoid(beta * x),
        df=lambda x, beta: _sigmoid(beta * x) + beta * x * _sigmoid(beta * x) * (1 - _sigmoid(beta * x)),
        keras=_swish,
        params={"beta": 1.0},
        aliases=("swish_beta",),
    ),
    Activation(
        name="mish",
        formula="x * tanh(softplus(x))",
        f=lambda x: x * np.tanh(_softplus(x)),
        df=lambda x: np.tanh(_softplus(x)) + x * _sigmoid(x) * (1 - np.tanh(_softplus(x)) ** 2),
        keras="mish",
    ),
    Activation(name="softplus", formula="log(1 + exp(x))", f=_softplus, df=_sigmoid, keras="softplus"),
    Activation(
        name="softsign",
        formula="x / (1 + |x|)",
        f=lambda x: x / (1 + np.abs(x)),
        df=lambda x: 1 / (1 + np.abs(x)) ** 2,
        keras="softsign",
        bounds=(-1.0, 1.0),
    ),
    Activation(
        name="sigmoid",
        formula="1 / (1 + exp(-x))",
        f=_sigmoid,
        df=lambda x: _sigmoid(x) * (1 - _sigmoid(x)),
        keras="sigmoid",
        bounds=(0.0, 1.0),
    ),
    Activation(
        name="tanh", formula="tanh(x)", f=np.tanh, df=lambda x: 1 - np.tanh(x) ** 2, keras="tanh", bounds=(-1.0, 1.0)
    ),
    Activation(
        name="hard_sigmoid",
        formula="relu6(x + 3) / 6",
        f=lambda x: np.clip(x + 3, 0, 6) / 6,
        df=lambda x: ((x > -3) & (x < 3)) / 6.0,
        keras="hard_sigmoid",
        bounds=(0.0, 1.0),
    ),
    Activation(
        name="hard_silu",
        formula="x * relu6(x + 3) / 6",
        f=lambda x: x * np.clip(x + 3, 0, 6) / 6,
        df=lambda x: np.where(x <= -3, 0.0, np.where(x >= 3, 1.0, (2 * x + 3) / 6)),
        keras="hard_silu",
        aliases=("hard_swish",),
    ),
    Activation(
        name="linear",
        formula="x (no nonlinearity: a control)",
        f=lambda x: np.asarray(x, dtype=float),
        df=lambda x: np.ones_like(x, dtype=float),
        keras="linear",
        aliases=("identity",),
    ),
)
